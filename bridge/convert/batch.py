"""``x400bridge convert``: convert archives in bulk, in parallel, resumably.

Each message is converted by the same pure functions the gateway uses
(:func:`convert_one`); this module only finds the inputs, runs workers, writes outputs
atomically and keeps a journal (``<out>/.x400bridge-convert.jsonl``, one line per finished
message, flushed as it goes) so that ``--resume`` skips what a previous run finished and the
report never needs the whole run in memory.  A message that fails is recorded with its reason;
the others still convert.
"""

from __future__ import annotations

import email.utils
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bridge.convert.context import Context
from bridge.convert.inputs import Item, iter_items
from bridge.errors import BridgeError

JOURNAL = ".x400bridge-convert.jsonl"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a worker needs to build its :class:`Context` (picklable)."""

    direction: str  # "x400" or "mime"
    out_dir: str
    tables: str
    gateway_domain: str
    gateway_or: str
    postmaster: str
    mta_name: str
    policy: str = "rfc2156"
    #: policy options on top of the preset, e.g. (("ipn_as_mdn", True),)
    policy_options: tuple[tuple[str, Any], ...] = ()


# ------------------------------------------------------------------------------ one message


def build_context(s: Settings) -> Context:
    from bridge.convert.policy import PRESETS
    from bridge.mapping.address import AddressMapper, GatewayIdentity
    from bridge.mapping.tables import MappingTables
    from bridge.model.common import GlobalDomainIdentifier
    from bridge.model.ortext import parse_or_address

    gw_or = parse_or_address(s.gateway_or)
    mapper = AddressMapper(MappingTables.load(Path(s.tables)),
                           GatewayIdentity(domain=s.gateway_domain, or_address=gw_or))
    domain_id = GlobalDomainIdentifier(country=gw_or.country or "ZZ", admd=gw_or.admd or " ",
                                       prmd=gw_or.prmd)
    policy = PRESETS[s.policy].clone(**dict(s.policy_options))
    return Context(mapper=mapper, now=datetime.now(UTC), postmaster=s.postmaster,
                   mta_name=s.mta_name, domain_id=domain_id, policy=policy)


def _envelope_from_headers(data: bytes) -> tuple[str, list[str]]:
    """An archived message has no SMTP envelope: take Return-Path/Sender/From and the
    To/Cc/Bcc addresses (RFC 5321 §4.4 Return-Path records the reverse-path)."""
    from email.parser import BytesHeaderParser
    from email.policy import compat32

    headers = BytesHeaderParser(policy=compat32).parsebytes(data)
    sender = ""
    try:
        for field in ("Return-Path", "Sender", "From"):
            found = email.utils.getaddresses(headers.get_all(field, []))
            if found and found[0][1]:
                sender = found[0][1]
                break
        rcpts = [a for _, a in email.utils.getaddresses(
            headers.get_all("To", []) + headers.get_all("Cc", []) + headers.get_all("Bcc", []))
            if a]
    except (RecursionError, ValueError, IndexError) as exc:  # the stdlib parser's limits
        raise BridgeError(f"cannot read the addresses of the message headers ({exc!r})") from None
    return sender, rcpts


def convert_one(item: Item, ctx: Context, direction: str) -> tuple[list[tuple[str, bytes]],
                                                                   list[str]]:
    """Convert one message; returns (output suffix, bytes) pairs and the defects."""
    data = item.read()
    if direction == "x400":
        from bridge.codec import encode_apdu

        if item.kind != "eml":
            raise BridgeError("--to x400 takes RFC 5322 messages (.eml, mbox, Maildir)")
        mail_from, rcpts = _envelope_from_headers(data)
        from bridge.convert.reports import internet_to_x400

        res = internet_to_x400(data, mail_from, rcpts, ctx)
        outputs = [(".p1", encode_apdu(res.apdu))]
        outputs += [(f".{n}.p1", encode_apdu(extra)) for n, extra in enumerate(res.extra, 2)]
        return outputs, [str(d) for d in res.defects]
    if item.kind != "ber":
        raise BridgeError("--to mime takes BER X.400 files (.p1, .ber, .p22)")
    return _x400_to_mime(data, ctx)


def _x400_to_mime(data: bytes, ctx: Context) -> tuple[list[tuple[str, bytes]], list[str]]:
    from bridge.codec import decode_any, encode_content
    from bridge.model import IPM, IPN, Message, Probe, Report

    obj = decode_any(data)
    if isinstance(obj, Probe):
        raise BridgeError("a probe carries no message to convert")
    if isinstance(obj, Report):
        from bridge.convert.reports import report_to_dsn

        res = report_to_dsn(obj, ctx)
    else:
        from bridge.convert.to_mime import x400_to_mime

        if isinstance(obj, IPM | IPN):
            obj = Message(envelope=_synthetic_envelope(obj, ctx), content=encode_content(obj))
        res = x400_to_mime(obj, ctx)
    return [(".eml", res.message)], [str(d) for d in res.defects]


def _synthetic_envelope(content: Any, ctx: Context) -> Any:
    """Bare P22 content from an archive has no P1 envelope: originator and recipients come
    from the heading (or the gateway), the identifier from this-IPM."""
    from bridge.model import (
        IPM,
        Envelope,
        MTSIdentifier,
        ORName,
        PerRecipientIndicators,
        Recipient,
        TraceElement,
    )

    gateway = ORName(address=ctx.mapper.gateway.or_address)
    originator, names = gateway, [gateway]
    if isinstance(content, IPM):
        h = content.heading
        if h.originator is not None and h.originator.formal_name is not None:
            originator = h.originator.formal_name
        specs = (h.primary or ()) + (h.copy or ()) + (h.blind_copy or ())
        names = [s.recipient.formal_name for s in specs if s.recipient.formal_name] or names
    local = (content.heading.this_ipm.local if isinstance(content, IPM)
             else content.subject_ipm.local)[:32] or "archive"
    return Envelope(
        identifier=MTSIdentifier(domain=ctx.domain_id, local=local),
        originator=originator, content_type=22,
        recipients=tuple(Recipient(name=n, number=i, indicators=PerRecipientIndicators
                                   .RESPONSIBILITY) for i, n in enumerate(names, 1)),
        trace=(TraceElement(domain=ctx.domain_id, arrival_time=ctx.now),))


# ------------------------------------------------------------------------------ workers

_CTX: Context | None = None


def _init(settings: Settings) -> None:
    global _CTX
    _CTX = build_context(settings)


def _work(item: Item, settings: Settings) -> dict[str, Any]:
    assert _CTX is not None
    record: dict[str, Any] = {"input": item.id, "status": "ok", "outputs": [], "defects": []}
    if item.error:                 # found by the walk but not readable as a message
        record.update(status="failed", error=item.error)
        return record
    try:
        outputs, defects = convert_one(item, _CTX, settings.direction)
        base = Path(settings.out_dir) / _output_name(item.id)
        for suffix, data in outputs:
            path = base.with_name(base.name + suffix)
            _write_atomic(path, data)
            record["outputs"].append(str(path))
        record["defects"] = defects
    except BridgeError as exc:
        record.update(status="failed", error=str(exc))
    except OSError as exc:
        record.update(status="failed", error=f"{exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - a converter bug must not stop the archive run
        record.update(status="failed", error=f"internal error: {type(exc).__name__}: {exc}")
    return record


def _output_name(item_id: str) -> str:
    """A stable, flat output name for an input id (path separators and '#' replaced)."""
    name = item_id.lstrip("./").replace(os.sep, "_").replace("#", ".")
    return name if len(name) < 200 else name[-200:]


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------ the run


def _done_ids(journal: Path) -> set[str]:
    done: set[str] = set()
    if journal.exists():
        with journal.open(encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut by a crash: that message is redone
                if rec.get("status") == "ok":
                    done.add(rec["input"])
    return done


def _keep_finished(journal: Path) -> None:
    """Rewrite the journal with only its successful lines (streamed, atomically)."""
    tmp = journal.with_name(journal.name + ".tmp")
    with journal.open(encoding="utf-8") as src, tmp.open("w", encoding="utf-8") as dst:
        for line in src:
            try:
                if json.loads(line).get("status") == "ok":
                    dst.write(line if line.endswith("\n") else line + "\n")
            except ValueError:
                continue
    os.replace(tmp, journal)


@dataclass
class Totals:
    ok: int = 0
    failed: int = 0
    skipped: int = 0


def run(inputs: list[Path], settings: Settings, *, jobs: int = 1, resume: bool = False,
        report: Path | None = None, progress: TextIO | None = None) -> Totals:
    """Convert every message under ``inputs``; returns the totals."""
    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    journal = out / JOURNAL
    done = _done_ids(journal) if resume else set()
    if resume and journal.exists():
        _keep_finished(journal)  # failed messages are tried again and reported once
    elif journal.exists():
        journal.unlink()
    totals = Totals()
    started = time.monotonic()
    items = (i for i in iter_items(inputs) if not (i.id in done and _count_skip(totals)))
    with journal.open("a", encoding="utf-8") as jf:
        for record in _results(items, settings, jobs):
            # ASCII with \u escapes: a file name or a header that is not UTF-8 arrives as
            # lone surrogates (surrogateescape), which no UTF-8 file can hold; escaped they
            # round-trip exactly, so --resume recognises the message
            jf.write(json.dumps(record, ensure_ascii=True) + "\n")
            jf.flush()
            if record["status"] == "ok":
                totals.ok += 1
            else:
                totals.failed += 1
            if progress is not None:
                rate = (totals.ok + totals.failed) / max(time.monotonic() - started, 1e-6)
                progress.write(f"\r{totals.ok} converted, {totals.failed} failed, "
                               f"{totals.skipped} skipped ({rate:.0f}/s)")
                progress.flush()
    if progress is not None:
        progress.write("\n")
    if report is not None:
        _write_report(journal, report, totals)
    return totals


def _count_skip(totals: Totals) -> bool:
    totals.skipped += 1
    return True


def _results(items: Iterator[Item], settings: Settings, jobs: int) -> Iterator[dict[str, Any]]:
    if jobs <= 1:
        _init(settings)
        for item in items:
            yield _work(item, settings)
        return
    window = jobs * 4  # bounded number of chunks in flight: memory stays flat
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init,
                             initargs=(settings,)) as pool:
        pending: set[Future[list[dict[str, Any]]]] = set()
        for chunk in _chunks(items, CHUNK):
            pending.add(pool.submit(_work_many, chunk, settings))
            if len(pending) >= window:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    yield from fut.result()
        for fut in pending:
            yield from fut.result()


#: messages per task sent to a worker process: fewer, larger tasks keep the inter-process
#: overhead small next to the conversions
CHUNK = 16


def _chunks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _work_many(items: list[Item], settings: Settings) -> list[dict[str, Any]]:
    return [_work(item, settings) for item in items]


def _write_report(journal: Path, report: Path, totals: Totals) -> None:
    """The --report JSON, streamed from the journal (per message: status, outputs, defects,
    error) with totals."""
    tmp = report.with_name(report.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out, journal.open(encoding="utf-8") as jf:
        out.write('{"totals": ' + json.dumps(
            {"converted": totals.ok, "failed": totals.failed, "skipped": totals.skipped}))
        out.write(', "messages": [\n')
        first = True
        for line in jf:
            line = line.strip()
            if not line:
                continue
            out.write(("" if first else ",\n") + line)
            first = False
        out.write("\n]}\n")
    os.replace(tmp, report)


def progress_stream() -> TextIO | None:
    return sys.stderr if sys.stderr.isatty() else None
