"""``x400bridge convert``: convert archives in bulk, in parallel, resumably (docs/convert.md).

Each message is converted by the same pure functions the gateway uses (:func:`convert_one`);
this module runs them over what :mod:`bridge.convert.inputs` finds, in worker processes that
die with this one (:func:`bridge.procutil.die_with_parent`), writes each output atomically
under a name fixed by the input tree (a temporary file renamed into place), and keeps a
journal, ``<out>/.x400bridge-convert.jsonl``: a header line, then one line per finished
message.  A message is journalled only after its outputs are in place (and, once a second,
on disk: ``syncfs`` before the lines are written), so ``--resume`` after a ``kill -9`` at any
point skips exactly what is done and converts the rest again to the same names: no output is
lost or doubled.  The report is streamed from the journal; nothing grows with the archive but
the set of finished messages when resuming (8 octets a message).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bridge.convert.context import Context
from bridge.convert.inputs import Item, iter_items
from bridge.convert.journal import JOURNAL as JOURNAL
from bridge.convert.journal import JOURNAL_VERSION as JOURNAL_VERSION
from bridge.convert.journal import LOCK as LOCK
from bridge.convert.journal import Journal
from bridge.convert.journal import ResumeMismatch as ResumeMismatch
from bridge.convert.result import Defect
from bridge.errors import BridgeError
from bridge.procutil import die_with_parent

REPORT_VERSION = 1
#: the suffix of each direction's outputs; a message's n-th extra output is ``name.n``
SUFFIXES = {"x400": ".p1", "mime": ".eml"}


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
    #: --owner: the envelope recipient of a message whose headers name none
    owner: str | None = None


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
                   mta_name=s.mta_name, domain_id=domain_id, policy=policy,
                   archive_owner=s.owner)


def convert_one(item: Item, ctx: Context, direction: str) -> tuple[list[tuple[str, bytes]],
                                                                   list[Defect]]:
    """Convert one message; returns (output suffix, bytes) pairs and the defects."""
    data = item.read()
    if direction == "x400":
        from bridge.codec import encode_apdu

        if item.kind != "eml":
            raise BridgeError("--to x400 takes RFC 5322 messages (.eml, mbox, Maildir)")
        from bridge.convert.archive import archive_to_x400

        res = archive_to_x400(data, ctx)      # the envelope from the headers, each choice a defect
        outputs = [(".p1", encode_apdu(res.apdu))]
        outputs += [(f".{n}.p1", encode_apdu(extra)) for n, extra in enumerate(res.extra, 2)]
        return outputs, list(res.defects)
    if item.kind != "ber":
        raise BridgeError("--to mime takes BER X.400 files (.p1, .ber, .p22)")
    return _x400_to_mime(data, ctx)


def _x400_to_mime(data: bytes, ctx: Context) -> tuple[list[tuple[str, bytes]], list[Defect]]:
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
    return [(".eml", res.message)], list(res.defects)


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
    """The conversion context of this run, built once (in the parent before the workers are
    forked, so that they inherit it and the compiled ASN.1 specification)."""
    global _CTX
    from bridge.codec.asn1 import compile_now

    _CTX = build_context(settings)
    compile_now()


def _init_worker(settings: Settings, parent: int) -> None:
    die_with_parent(parent)                    # kill -9 of the run ends its workers too
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle
    if _CTX is None:                           # started by spawn: nothing inherited
        _init(settings)


def _work(item: Item, settings: Settings) -> dict[str, Any]:
    """Convert one message and write its outputs; the journal record of it."""
    assert _CTX is not None
    base = Path(settings.out_dir) / (item.name or _fallback_name(item.id))
    record: dict[str, Any] = {"id": item.name or _fallback_name(item.id), "input": item.id,
                              "status": "ok", "lossy": False, "outputs": [], "defects": []}
    error = item.error             # set: found by the walk but not readable as a message
    if not error:
        try:
            outputs, defects = convert_one(item, _CTX, settings.direction)
            paths = [_output_path(base, suffix) for suffix, _ in outputs]
            for path, (_, data) in zip(paths, outputs, strict=True):
                _write_atomic(path, data)
            record.update(outputs=[str(p) for p in paths], defects=[str(d) for d in defects],
                          lossy=any(d.lossy for d in defects))
            return record
        except BridgeError as exc:
            error = str(exc) or type(exc).__name__
        except OSError as exc:
            error = f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
        except Exception as exc:  # noqa: BLE001 - a converter bug must not stop the archive run
            error = f"internal error: {type(exc).__name__}: {exc}"
    _remove_outputs(base, SUFFIXES[settings.direction])
    record.update(status="failed", error=error, reason=reason_of(error))
    return record


def _work_many(items: list[Item], settings: Settings) -> list[dict[str, Any]]:
    return [_work(item, settings) for item in items]


def _fallback_name(item_id: str) -> str:
    """An output name for an :class:`Item` made without one (not by the walk)."""
    return item_id.lstrip("./").replace(os.sep, "_").replace("#", ".")[-200:]


def _output_path(base: Path, suffix: str) -> Path:
    return base.with_name(base.name + suffix)


def _temporary(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place: a fixed name, so that a
    run killed while writing it leaves nothing the conversion again does not overwrite."""
    digest = hashlib.blake2b(os.fsencode(path.name), digest_size=8).hexdigest()
    return path.with_name(f".x400bridge-{digest}.tmp")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = _temporary(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remove_outputs(base: Path, suffix: str) -> None:
    """A message that fails now keeps no output of an earlier run (its input changed)."""
    try:
        for path in (_output_path(base, suffix), _temporary(_output_path(base, suffix))):
            path.unlink(missing_ok=True)
        n = 2
        while (extra := _output_path(base, f".{n}{suffix}")).exists():
            extra.unlink()
            _temporary(extra).unlink(missing_ok=True)
            n += 1
    except OSError:
        pass                       # e.g. the output folder cannot even be listed


#: variable parts of an error message, masked so that failures group by their kind
_VARIABLE = re.compile(r"'[^']*'|\"[^\"]*\"|<[^<>]*>|\([^()]*\)|\b0x[0-9a-fA-F]+\b|\b\d+\b")
_MASKS = {"'": "'...'", '"': '"..."', "<": "<...>", "(": "(...)"}
#: distinct reasons counted; the rest are "other"
MAX_REASONS = 100


def reason_of(error: str) -> str:
    """The kind of a failure, for the summary and the report: the error class of an internal
    error, else the message with its quoted, bracketed and numeric parts masked."""
    if error.startswith("internal error: "):
        return ": ".join(error.split(": ", 2)[:2])
    masked = _VARIABLE.sub(lambda m: _MASKS.get(m.group()[0], "N"), error)
    return masked if len(masked) <= 100 else masked[:97] + "..."


# ------------------------------------------------------------------------------ the workers


#: messages per task sent to a worker process: fewer, larger tasks keep the inter-process
#: overhead small next to the conversions
CHUNK = 16
#: chunks in flight per worker: enough to keep it busy while the parent writes the journal
WINDOW = 6


def _chunks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _results(items: Iterator[Item], settings: Settings,
             jobs: int) -> Iterator[tuple[Item, dict[str, Any]]]:
    """Each message with its record, converted here (``jobs`` 1) or by ``jobs`` processes
    (as they finish)."""
    _init(settings)                # this run's context (a process may run several)
    if jobs <= 1:
        for item in items:
            yield item, _work(item, settings)
        return
    yield from _Workers(settings, jobs).run(items)


class _Workers:
    """``jobs`` forked worker processes fed chunks of messages, a bounded number in flight
    (memory stays flat).  A worker that dies (a signal, the OOM killer) breaks the pool: the
    messages it had in hand are run again one at a time in a new pool, and the one that
    kills its process again is failed -- the rest of the archive goes on."""

    def __init__(self, settings: Settings, jobs: int) -> None:
        self.settings, self.jobs = settings, jobs
        self.pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        return ProcessPoolExecutor(max_workers=self.jobs, mp_context=context,
                                   initializer=_init_worker,
                                   initargs=(self.settings, os.getpid()))

    def run(self, items: Iterator[Item]) -> Iterator[tuple[Item, dict[str, Any]]]:
        pending: dict[Future[list[dict[str, Any]]], list[Item]] = {}
        try:
            for chunk in _chunks(items, CHUNK):
                pending[self.pool.submit(_work_many, chunk, self.settings)] = chunk
                while len(pending) >= self.jobs * WINDOW:
                    yield from self._collect(pending)
            while pending:
                yield from self._collect(pending)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _collect(self, pending: dict[Future[list[dict[str, Any]]], list[Item]]
                 ) -> Iterator[tuple[Item, dict[str, Any]]]:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        lost: list[Item] = []
        for fut in finished:
            chunk = pending.pop(fut)
            try:
                yield from zip(chunk, fut.result(), strict=True)
            except BrokenProcessPool:
                lost += chunk
        if not lost:
            return
        for fut, chunk in list(pending.items()):   # the pool is broken: every other task
            del pending[fut]                        # ends, done or broken
            try:
                yield from zip(chunk, fut.result(), strict=True)
            except BrokenProcessPool:
                lost += chunk
        self._restart()
        for item in lost:
            yield item, self._alone(item)

    def _alone(self, item: Item) -> dict[str, Any]:
        try:
            return self.pool.submit(_work_many, [item], self.settings).result()[0]
        except BrokenProcessPool:
            self._restart()
            error = "the conversion process died converting this message"
            return {"id": item.name or _fallback_name(item.id), "input": item.id,
                    "status": "failed", "lossy": False, "outputs": [], "defects": [],
                    "error": error, "reason": error}

    def _restart(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = self._start()


# ------------------------------------------------------------------------------ the run


@dataclass
class Totals:
    """What a run did; ``earlier``: what the journal held from an earlier run (--resume)."""

    converted: int = 0             # without loss
    lossy: int = 0                 # converted with loss (a lossy defect)
    failed: int = 0
    skipped: int = 0               # converted by an earlier run
    reasons: Counter[str] = field(default_factory=Counter)
    earlier: Counter[str] = field(default_factory=Counter)

    @property
    def done(self) -> int:
        return self.converted + self.lossy + self.failed + self.skipped

    def count(self, record: dict[str, Any]) -> None:
        if record["status"] != "ok":
            self.failed += 1
            reason = record.get("reason", "")
            if reason in self.reasons or len(self.reasons) < MAX_REASONS:
                self.reasons[reason] += 1
            else:
                self.reasons["other reasons"] += 1
        elif record["lossy"]:
            self.lossy += 1
        else:
            self.converted += 1

    def archive(self) -> dict[str, int]:
        """Totals over the whole journal: this run and the earlier ones it resumed."""
        converted = self.converted + self.earlier["converted"]
        lossy = self.lossy + self.earlier["converted_with_loss"]
        return {"messages": converted + lossy + self.failed, "converted": converted,
                "converted_with_loss": lossy, "failed": self.failed, "skipped": self.skipped}


def run(inputs: list[Path], settings: Settings, *, jobs: int = 1, resume: bool = False,
        report: Path | None = None, progress: TextIO | None = None) -> Totals:
    """Convert every message under ``inputs`` into ``settings.out_dir``; returns the totals.
    ``progress``: a terminal to show a progress bar on (None: quiet)."""
    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = {"journal": JOURNAL_VERSION, "direction": settings.direction,
              "inputs": [os.path.abspath(p) for p in inputs]}
    journal = Journal(out, header, resume=resume)
    totals = Totals(earlier=journal.earlier)
    bar = _Bar(progress, inputs, out) if progress is not None else None
    try:
        todo = _todo(iter_items(inputs, exclude=out), journal, totals, bar)
        for item, record in _results(todo, settings, jobs):
            journal.add(record)
            totals.count(record)
            if bar is not None:
                bar.advance(item.size, totals)
    finally:
        journal.close()
        if bar is not None:
            bar.close(totals)
    if report is not None:
        write_report(journal.path, report, totals, settings)
    return totals


def _todo(items: Iterator[Item], journal: Journal, totals: Totals,
          bar: _Bar | None) -> Iterator[Item]:
    """The messages not converted by an earlier run (those are counted as skipped)."""
    for item in items:
        if journal.done and journal.finished(item.name):
            totals.skipped += 1
            if bar is not None:
                bar.advance(item.size, totals)
            continue
        yield item


class _Bar:
    """A tqdm progress bar over the octets of the archive (counted first, without reading
    the messages: so it has an ETA), with messages, their rate and the failures beside it."""

    def __init__(self, stream: TextIO, inputs: list[Path], out: Path) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]

        tqdm.monitor_interval = 0  # no monitor thread: the workers are forked
        total = sum(i.size for i in iter_items(inputs, exclude=out, split_mbox=False))
        try:                       # a terminal that gives no size (0 x 0): 100 x 24
            width = os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError):
            width = 0
        shape: dict[str, Any] = ({"dynamic_ncols": True} if width
                                 else {"ncols": 100, "nrows": 24})
        self.bar = tqdm(total=total or None, unit="B", unit_scale=True, unit_divisor=1024,
                        file=stream, desc="converting", mininterval=0.5, smoothing=0.05,
                        **shape)
        self.started = self.shown = time.monotonic()

    def advance(self, size: int, totals: Totals) -> None:
        now = time.monotonic()
        if now - self.shown >= 0.5:
            self.shown = now
            self.bar.set_postfix_str(self._counts(totals, now), refresh=False)
        self.bar.update(size)

    def _counts(self, totals: Totals, now: float) -> str:
        rate = (totals.done - totals.skipped) / max(now - self.started, 1e-6)
        return (f"{totals.done:,} msgs {rate:,.0f}/s, {totals.lossy:,} with loss, "
                f"{totals.failed:,} failed")

    def close(self, totals: Totals) -> None:
        self.bar.set_postfix_str(self._counts(totals, time.monotonic()), refresh=False)
        if self.bar.total:
            self.bar.update(max(self.bar.total - self.bar.n, 0))
        self.bar.close()


def progress_stream() -> TextIO | None:
    """stderr when it is a terminal (a progress bar there), else None (quiet)."""
    return sys.stderr if sys.stderr.isatty() else None


def summary(totals: Totals) -> str:
    """The closing lines: converted / converted with loss / failed, the failures by
    reason (most frequent first)."""
    lines = [f"{totals.converted} converted, {totals.lossy} converted with loss, "
             f"{totals.failed} failed, {totals.skipped} skipped (converted by an earlier run)"]
    if totals.reasons:
        lines.append("failed, by reason:")
        lines += [f"{count:8d}  {reason}" for reason, count in totals.reasons.most_common()]
    return "\n".join(lines)


def write_report(journal: Path, report: Path, totals: Totals, settings: Settings) -> None:
    """The --report JSON (docs/convert.md): totals, failures by reason, then one entry per
    message as journalled (in the order they finished), streamed from the journal."""
    tmp = report.with_name(report.name + ".tmp")
    head = {"report": REPORT_VERSION, "direction": settings.direction,
            "out": settings.out_dir, "totals": totals.archive(),
            "failures": dict(totals.reasons.most_common())}
    with tmp.open("w", encoding="ascii") as out, journal.open(encoding="ascii") as jf:
        out.write(json.dumps(head, ensure_ascii=True)[:-1] + ', "messages": [\n')
        first = True
        for line in jf:
            line = line.strip()
            if not line or line.startswith('{"journal"'):
                continue
            out.write(("" if first else ",\n") + line)
            first = False
        out.write("\n]}\n")
    os.replace(tmp, report)
