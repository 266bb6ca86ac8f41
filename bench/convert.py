"""Conversion speed, parallel speed-up and memory of ``x400bridge convert``.

Prints, for the corpus (../shared/corpus, when present) and for a synthetic typical message:
msgs/s MIME -> X.400 and X.400 -> MIME, each against the stdlib ``email`` package
(policy.default) parsing and generating the same messages in the same run (goal: cost <= 1.0x
the baseline's, i.e. ratio >= 1.0); the ``--jobs 2`` vs ``--jobs 1`` speed-up of a batch run
(goal >= 1.8x); and the peak RSS of converting 1k vs 20k messages (goal: flat).
Run: ``python bench/convert.py [--seconds N] [--big N] [--corpus DIR]``.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.generator import BytesGenerator
from email.parser import BytesParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.codec import decode_apdu, encode_apdu  # noqa: E402
from bridge.convert.context import Context  # noqa: E402
from bridge.convert.to_mime import x400_to_mime  # noqa: E402
from bridge.convert.to_x400 import mime_to_x400  # noqa: E402
from bridge.errors import BridgeError  # noqa: E402
from bridge.mapping.address import AddressMapper, GatewayIdentity  # noqa: E402
from bridge.mapping.tables import MappingTables  # noqa: E402
from bridge.model import GlobalDomainIdentifier, Message, ORAddress  # noqa: E402

TABLES = ROOT / "tests" / "data" / "mappings" / "rfc2156"
LINE = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n"


def context() -> Context:
    mapper = AddressMapper(MappingTables.load(TABLES), GatewayIdentity(
        domain="gw.example.ac.uk", or_address=ORAddress.parse("/O=mr/PRMD=uk.ac/ADMD= /C=gb/")))
    return Context(mapper=mapper, now=datetime(2026, 11, 28, tzinfo=UTC),
                   postmaster="postmaster@gw.example.ac.uk", mta_name="gw.example.ac.uk",
                   domain_id=GlobalDomainIdentifier(country="GB", admd=" ", prmd="uk.ac"))


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


def batch(n: int, jobs: int, workdir: Path) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of `x400bridge convert --to x400` on n messages."""
    src = workdir / f"in-{n}.mbox"
    if not src.exists():
        with src.open("wb") as f:
            for i in range(n):
                f.write(b"From bench Sat Nov 28 09:00:00 2026\n"
                        + typical(i).replace(b"\r\n", b"\n") + b"\n")
    out = workdir / f"out-{n}-{jobs}"
    # VmHWM: this process's peak RSS since exec (ru_maxrss would include the forked parent's)
    code = ("import sys; from bridge.cli import main; main(sys.argv[1:]); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]; "
            "print(hwm[0].split()[1], file=sys.stderr)")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, "convert", "--to", "x400", "--jobs",
                           str(jobs), "--out", str(out), "--tables", str(TABLES), str(src)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    rss = int(proc.stderr.strip().split()[-1])
    return elapsed, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=400, help="messages for the jobs test")
    parser.add_argument("--big", type=int, default=20000, help="messages for the RSS test")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()
    ctx = context()
    manifest = args.corpus / "manifest.json"
    if manifest.exists():
        files = json.loads(manifest.read_text())["files"]
        corpus = [(args.corpus / name).read_bytes() for name, meta in sorted(files.items())
                  if meta.get("format") == "eml"]
        measure("corpus", corpus, ctx, args.seconds)
    else:
        print(f"corpus: {args.corpus} not found, skipped")
    measure("synthetic typical message", [typical(i) for i in range(20)], ctx, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        t1, _ = batch(args.batch, 1, Path(tmp))
        t2, _ = batch(args.batch, 2, Path(tmp))
        print(f"batch of {args.batch}: --jobs 1 {t1:.1f} s, --jobs 2 {t2:.1f} s, "
              f"speed-up {t1 / t2:.2f}x (goal >= 1.8x)")
        _, small = batch(1000, 1, Path(tmp))
        _, big = batch(args.big, 1, Path(tmp))
        print(f"peak RSS: 1000 messages {small / 1024:.0f} MiB, {args.big} messages "
              f"{big / 1024:.0f} MiB (goal: flat)")


if __name__ == "__main__":
    main()
