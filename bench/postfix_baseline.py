"""Postfix's own durable accept rate on this machine: the yardstick for bench/gateway.py.

A private destination instance (tests/postfix.py) accepts mail from Postfix's load generator
``smtp-source -4 -c -m N -s 10 -l SIZE -f a@x -t b@y 127.0.0.1:PORT`` (10 parallel sessions,
N messages of SIZE octets) and delivers each to a Maildir with virtual(8). The clock runs from
starting smtp-source until all N files are in the Maildir, so the figure covers Postfix's
fsync'd queue file (the "250" after DATA, RFC 5321 §4.1.1.4 / §6.1) plus one local delivery.
Reference (PEERS.md): ~430 messages/s on a 2-core machine for N=2000, SIZE=4096.

Run: ``python bench/postfix_baseline.py [--messages N] [--size BYTES]`` (root, Postfix installed:
``.ci/install-peers``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.postfix import (  # noqa: E402
    Postfix,
    free_port,
    instance_root,
    postfix_unavailable,
)

SESSIONS = 10  # smtp-source -s: parallel SMTP sessions
POLL = 0.02  # seconds between counts of the Maildir
TIMEOUT_PER_MESSAGE = 0.25  # generous bound: 4 msg/s would be 100x below the reference
MIN_TIMEOUT = 60.0


def _count(maildir: Path) -> int:
    total = 0
    for sub in ("new", "cur"):
        try:
            total += sum(1 for _ in (maildir / sub).iterdir())
        except FileNotFoundError:
            continue
    return total


def postfix_accept_rate(n: int = 2000, size: int = 4096) -> float:
    """Messages/s for Postfix to accept ``n`` messages of ``size`` octets and deliver them all.

    Raises RuntimeError when Postfix cannot run here, when smtp-source fails, or when the
    messages are not all delivered within a bound proportional to ``n``.
    """
    reason = postfix_unavailable()
    if reason is not None:
        raise RuntimeError(f"Postfix unavailable: {reason}")
    if n < 1 or size < 1:
        raise ValueError("n and size must be positive")
    timeout = max(MIN_TIMEOUT, n * TIMEOUT_PER_MESSAGE)
    with instance_root(prefix="x400bridge-bench-") as root:
        pf = Postfix(root / "baseline", name="baseline", smtpd_port=free_port())
        pf.start()
        try:
            maildir = pf.maildir_base / "catchall"
            argv = [
                "smtp-source", "-4", "-c", "-m", str(n), "-s", str(SESSIONS), "-l", str(size),
                "-f", "a@x", "-t", "b@y", f"127.0.0.1:{pf.smtpd_port}",
            ]  # fmt: skip
            started = time.perf_counter()
            deadline = time.monotonic() + timeout
            source = subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            try:
                while (done := _count(maildir)) < n:
                    if source.poll() not in (None, 0):
                        raise RuntimeError(
                            f"smtp-source exited {source.returncode}: {source.stderr.read()}"
                            if source.stderr
                            else f"smtp-source exited {source.returncode}"
                        )
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"{done} of {n} messages delivered after {timeout:.0f} s\n"
                            f"--- maillog (tail) ---\n{pf.log()[-4000:]}"
                        )
                    time.sleep(POLL)
                elapsed = time.perf_counter() - started
                source.wait(timeout=MIN_TIMEOUT)
            finally:
                if source.poll() is None:
                    source.kill()
                    source.wait()
                if source.stderr:
                    source.stderr.close()
        finally:
            pf.stop()
    return n / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args(argv)
    rate = postfix_accept_rate(args.messages, args.size)
    print(
        f"postfix durable accept + Maildir delivery: {args.messages} x {args.size} B, "
        f"{SESSIONS} sessions: {rate:.0f} msg/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
