"""Conversion speed, parallel speed-up and memory of ``x400bridge convert``.

Prints, for the corpus (../shared/corpus, when present) and for a synthetic typical message:
msgs/s MIME -> X.400 and X.400 -> MIME, each against the stdlib ``email`` package
(policy.default) parsing and generating the same messages in the same run (goal: cost <= 1.0x
the baseline's, i.e. ratio >= 1.0).

Then P772 against P22 (issue 14: "P772 conversion stays within 1.2x the cost of P22
conversion of the same message"): a memo with the 14 RFC 6477 §3 example fields, as MMHS-*
(P772) and as X-MMHS-* (P22), a pool of them with the date, identifiers and references of
each its own, converted both ways, interleaved, the ratio per direction -- bench/mmhs.py's
measurement (``--mmhs-rounds``, ``--mmhs-number``).

Then the batch (issue 13): an archive of ``--batch`` messages (default 100,000) generated from
the corpus -- its messages of at most ``--max-size`` octets, cycled, each copy with an
``X-Bench-Copy`` header of its own, in mbox files of 1,000 messages in 10 folders -- is
converted with ``x400bridge convert --to x400 --jobs 1`` and ``--jobs 2``: wall time, msgs/s
and the speed-up (goal >= 1.8x); and the peak RSS of the run (and of its largest worker) for
the whole archive against the first 1,000 messages of it (goal: flat, ratio ~1.0).  Without the
corpus the typical synthetic message is used.  Ratios are taken in the same run.
Run: ``python bench/convert.py [--seconds N] [--batch N] [--max-size N] [--corpus DIR]
[--batch-only] [--mmhs-rounds N] [--mmhs-number N]``.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.generator import BytesGenerator
from email.parser import BytesParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import mmhs  # noqa: E402
from bridge.codec import decode_apdu, encode_apdu  # noqa: E402
from bridge.convert.context import Context  # noqa: E402
from bridge.convert.to_mime import x400_to_mime  # noqa: E402
from bridge.convert.to_x400 import mime_to_x400  # noqa: E402
from bridge.errors import BridgeError  # noqa: E402
from bridge.model import Message  # noqa: E402
from tests.helpers import RFC2156_TABLES as TABLES  # noqa: E402
from tests.helpers import gateway_context  # noqa: E402

LINE = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n"


def context() -> Context:
    """The RFC 2156 example gateway the conversion tests use (tests/helpers.py)."""
    return gateway_context(datetime(2026, 11, 28, tzinfo=UTC), country="GB")


def typical(n: int = 0) -> bytes:
    body = (LINE * 60)[:4096]
    return (f"From: Jo Bloggs <Jo.Bloggs@cs.ucl.ac.uk>\r\n"
            f"To: Marshall Rose <Marshall.Rose@cs.ucl.ac.uk>, hans@siemens.de\r\n"
            f"Cc: jj@seismo.css.gov\r\nSubject: Quarterly figures {n}\r\n"
            f"Message-ID: <{n}.20261128@cs.ucl.ac.uk>\r\nDate: Sat, 28 Nov 2026 09:30:15 +0000\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            f"--b\r\nContent-Type: text/plain\r\n\r\n{body}\r\n"
            f"--b\r\nContent-Type: text/plain\r\n\r\n{body}\r\n--b--\r\n").encode()


def email_round(data: bytes) -> None:
    msg = BytesParser(policy=policy.default).parsebytes(data)
    BytesGenerator(io.BytesIO(), policy=policy.default).flatten(msg)


def rate(fn: Callable[[bytes], object], items: list[bytes], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or n == 0:
        for data in items:
            fn(data)
        n += len(items)
    return n / elapsed


def measure(label: str, mimes: list[bytes], ctx: Context, seconds: float) -> None:
    x400s, back = [], []
    for data in mimes:
        try:
            res = mime_to_x400(data, "a@b.example", ["c@d.example"], ctx)
            ber = encode_apdu(res.apdu)
            x400s.append(ber)
            back.append(x400_to_mime(decode_apdu(ber), ctx).message)  # type: ignore[arg-type]
        except BridgeError:
            continue
    print(f"{label}: {len(mimes)} messages, {len(x400s)} convert both ways")

    def to_x400(data: bytes) -> None:
        encode_apdu(mime_to_x400(data, "a@b.example", ["c@d.example"], ctx).apdu)

    def to_mime(data: bytes) -> None:
        apdu = decode_apdu(data)
        assert isinstance(apdu, Message)
        x400_to_mime(apdu, ctx)

    # the same messages for both sides: those we convert and the stdlib can round-trip (the
    # stdlib's generator itself fails on some malformed corpus messages)
    ok_mimes = [m for m in mimes if _converts(m, ctx) and _email_ok(m)]
    back = [b for b in back if _email_ok(b)]
    for name, fn, items, base_items in (("MIME -> X.400", to_x400, ok_mimes, ok_mimes),
                                        ("X.400 -> MIME", to_mime, x400s, back)):
        ours = rate(fn, items, seconds)
        base = rate(email_round, base_items, seconds)
        print(f"  {name}: {ours:8.0f} msgs/s; email parse+generate {base:8.0f} msgs/s; "
              f"ratio {ours / base:.2f}x (goal >= 1.0)")


def _email_ok(data: bytes) -> bool:
    try:
        email_round(data)
        return True
    except Exception:  # noqa: BLE001 - the baseline's own failures are excluded
        return False


def _converts(data: bytes, ctx: Context) -> bool:
    try:
        mime_to_x400(data, "a@b.example", ["c@d.example"], ctx)
        return True
    except BridgeError:
        return False


def measure_p772(rounds: int, number: int) -> None:
    """P772 / P22 conversion cost of the same message, both ways (bench/mmhs.py)."""
    print(f"P772 / P22 (issue 14, goal <= {mmhs.GOAL}x; best of {rounds} interleaved runs "
          f"of {number}):")
    results = mmhs.measure(rounds, number)
    mmhs.report(results, indent="  ")
    print("  " + "; ".join(f"{name}: {p772 / p22:.2f}x "
                           f"({'met' if p772 / p22 <= mmhs.GOAL else 'NOT met'})"
                           for name, p22, p772 in results))


def make_archive(root: Path, messages: list[bytes], n: int, per_box: int = 1000) -> Path:
    """``n`` messages cycled from ``messages`` into mbox files (mboxrd quoting, RFC 4155) of
    ``per_box`` messages, spread over 10 folders."""
    quote = re.compile(rb"^(>*From )", re.MULTILINE)
    boxes = (n + per_box - 1) // per_box
    for b in range(boxes):
        folder = root / f"part-{b % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"box-{b:04d}.mbox").open("wb") as f:
            for i in range(b * per_box, min(n, (b + 1) * per_box)):
                data = messages[i % len(messages)]
                eol = b"\r\n" if b"\r\n" in data[:200] else b"\n"
                data = b"X-Bench-Copy: %d" % i + eol + data
                f.write(b"From bench Sat Nov 28 09:00:00 2026\n" + quote.sub(rb">\1", data)
                        + (b"" if data.endswith(b"\n") else b"\n") + b"\n")
    return root


@dataclass
class Run:
    wall: float                    # s
    cpu: float                     # s, the run and its workers, user + system
    rss: int                       # KiB, the run's process
    worker_rss: int                # KiB, its largest worker (0: none)
    load: float                    # the machine's 1-minute load average at the end
    summary: str


def batch(src: Path, jobs: int, out: Path) -> Run:
    """`x400bridge convert --to x400 --jobs N` over ``src``, measured."""
    # VmHWM: this process's peak RSS since exec (ru_maxrss would include the forked parent's)
    code = ("import resource, sys; from bridge.cli import main; main(sys.argv[1:]); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]; "
            "me = resource.getrusage(resource.RUSAGE_SELF); "
            "kids = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime; "
            "print('RSS', hwm[0].split()[1], kids.ru_maxrss, cpu, file=sys.stderr)")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, "convert", "--to", "x400", "--jobs",
                           str(jobs), "--out", str(out), "--tables", str(TABLES), str(src)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    rss = next(ln for ln in proc.stderr.splitlines() if ln.startswith("RSS ")).split()
    return Run(wall=elapsed, cpu=float(rss[3]), rss=int(rss[1]), worker_rss=int(rss[2]),
               load=os.getloadavg()[0], summary=proc.stdout.splitlines()[0])


def run_batches(messages: list[bytes], n: int, small: int, workdir: Path) -> None:
    big_src = make_archive(workdir / "archive", messages, n)
    small_src = make_archive(workdir / "archive-small", messages, small)
    octets = sum(p.stat().st_size for p in big_src.rglob("*.mbox"))
    print(f"batch: {n:,} messages ({octets / 2**20:,.0f} MiB of mbox) from "
          f"{len(messages)} distinct ones")
    one = batch(big_src, 1, workdir / "out-1")
    print(f"  --jobs 1: {one.wall:7.1f} s, {n / one.wall:6.0f} msgs/s, CPU "
          f"{one.cpu / n * 1000:.2f} ms/msg, peak RSS {one.rss / 1024:.0f} MiB, load "
          f"{one.load:.1f}  [{one.summary}]")
    two = batch(big_src, 2, workdir / "out-2")
    print(f"  --jobs 2: {two.wall:7.1f} s, {n / two.wall:6.0f} msgs/s, CPU "
          f"{two.cpu / n * 1000:.2f} ms/msg, peak RSS {two.rss / 1024:.0f} MiB, largest "
          f"worker {two.worker_rss / 1024:.0f} MiB, load {two.load:.1f}  [{two.summary}]")
    # the CPU ratio: what --jobs 2 would give on two otherwise idle cores (work, not waiting)
    print(f"  speed-up --jobs 2 / --jobs 1: {one.wall / two.wall:.2f}x (goal >= 1.8x; "
          f"{os.cpu_count()} cores); CPU per message --jobs 2 / --jobs 1: "
          f"{two.cpu / one.cpu:.2f} (parallel overhead)")
    small_run = batch(small_src, 1, workdir / "out-small")
    print(f"  peak RSS --jobs 1: {small:,} messages {small_run.rss / 1024:.0f} MiB, {n:,} "
          f"messages {one.rss / 1024:.0f} MiB: ratio {one.rss / small_run.rss:.2f} "
          f"(goal: flat, ~1.0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=100_000,
                        help="messages in the generated archive")
    parser.add_argument("--small", type=int, default=1000,
                        help="messages of the small archive (the RSS baseline)")
    parser.add_argument("--max-size", type=int, default=32 * 1024,
                        help="largest corpus message used in the archive (octets)")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--batch-only", action="store_true",
                        help="skip the msgs/s comparisons with the email package")
    parser.add_argument("--mmhs-rounds", type=int, default=40,
                        help="interleaved runs of the P772 / P22 comparison")
    parser.add_argument("--mmhs-number", type=int, default=25,
                        help="conversions per run of the P772 / P22 comparison")
    args = parser.parse_args()
    ctx = context()
    manifest = args.corpus / "manifest.json"
    corpus: list[bytes] = []
    if manifest.exists():
        from tests.test_corpus import corpus_messages

        corpus = [m.read() for m in corpus_messages(args.corpus)]
        if not args.batch_only:
            measure("corpus", corpus, ctx, args.seconds)
    else:
        print(f"corpus: {args.corpus} not found, skipped")
    if not args.batch_only:
        measure("synthetic typical message", [typical(i) for i in range(20)], ctx,
                args.seconds)
        measure_p772(args.mmhs_rounds, args.mmhs_number)
    messages = [m for m in corpus if 0 < len(m) <= args.max_size] or [typical(0)]
    with tempfile.TemporaryDirectory() as tmp:
        run_batches(messages, args.batch, args.small, Path(tmp))


if __name__ == "__main__":
    main()
