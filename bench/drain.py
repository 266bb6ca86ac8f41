"""Delivery alone: how fast the gateway drains a queue of SMTP -> X.400 messages over P1.

bench/gateway.py measures the whole path under smtp-source; this isolates its second half so
that work on the delivery workers (claim -> RFC 2156 conversion -> P1 transfer -> record) can
be measured without the SMTP intake competing for the same CPU.

The queue is filled before the gateway starts, with N submissions built the way the SMTP
handler builds them (the recipient decision from the gateway's own router, a Received field,
the RFC 3461 metadata), each message shaped like smtp-source's (headers + SIZE octets of
text).  Then ``python -m bridge serve --config F`` starts and its workers transfer every
message over RFC 1006 to our responder in this process playing the remote MTA (the same rig
as bench/gateway.py).  Reported: messages/s from the first to the last P1 transfer
confirmation, and CPU ms per message of the gateway (with its conversion process) and of the
remote MTA.  No goal: compare runs before and after a change, on the same machine.

Run: ``python bench/drain.py [--messages N] [--size BYTES] [--workers N] [--profile FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._gateway_rig import (  # noqa: E402
    GatewayProcess,
    RemoteMTA,
    remote_responder,
    tree_cpu_seconds,
    write_config,
)
from bench.gateway import RECIPIENT, SENDER, profiler  # noqa: E402
from bridge.config import DEFAULT_WORKERS, load_config  # noqa: E402
from bridge.gateway.wiring import mapper_for, router_for  # noqa: E402
from bridge.queue.model import Recipient, Submission  # noqa: E402
from bridge.queue.store import Queue  # noqa: E402
from tests.postfix import free_port  # noqa: E402

NEVER = re.compile(rb"(?!)(x)")          # RemoteMTA's tag pattern: nothing is tagged here
TIMEOUT_PER_MESSAGE = 0.05
MIN_TIMEOUT = 60.0


def message(i: int, size: int) -> bytes:
    """An smtp-source-like message: a few header fields and ``size`` octets of body text."""
    head = (f"Received: from localhost ([127.0.0.1])\r\n\tby gw.example (x400bridge) with "
            f"ESMTP id {i:016x}\r\n\tfor <{RECIPIENT}>; Sat, 28 Nov 2026 20:00:00 +0000\r\n"
            f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nDate: Sat, 28 Nov 2026 20:00:00 +0000"
            f"\r\nMessage-Id: <{i}.drain@internet.example>\r\nSubject: drain {i}\r\n\r\n")
    line = "La" * 39 + "\r\n"
    body = line * (size // len(line) + 1)
    return (head + body[:size - size % len(line) or len(line)]).encode("ascii")


def fill(config_path: Path, n: int, size: int) -> None:
    """N submissions in the gateway's queue, built as the SMTP handler builds them."""
    config = load_config(config_path)
    decision = router_for(config, mapper_for(config.gateway)).smtp_recipient(RECIPIENT)
    if decision.direction != "to-x400":
        raise RuntimeError(f"{RECIPIENT} does not route to X.400: {decision}")
    recipient = Recipient(address=RECIPIENT, route=decision.route,
                          extra={"or": decision.or_address} if decision.or_address else {})
    subs = [Submission(direction="to-x400", origin="smtp", sender=SENDER,
                       recipients=(recipient,), data=message(i, size),
                       meta={"envid": None, "ret": None, "client": "127.0.0.1",
                             "helo": "localhost", "smtputf8": False, "body": "7BIT",
                             "tracking": f"{i:016x}", "protocol": "ESMTP", "auth": None})
            for i in range(n)]
    queue = Queue(config.queue.path)
    try:
        for start in range(0, n, 500):
            queue.submit_many(subs[start:start + 500])
    finally:
        queue.close()


async def drain(args: argparse.Namespace) -> tuple[float, float, float, float]:
    """(messages/s, gateway CPU s, of which its own process, remote MTA CPU s) for draining
    ``args.messages``."""
    remote = RemoteMTA(NEVER)
    responder = await remote_responder(remote)
    try:
        with tempfile.TemporaryDirectory(prefix="x400bridge-bench-drain-") as tmp:
            work = Path(tmp)
            config = write_config(work, remote_port=responder.port,
                                  smarthost_port=free_port(), workers=args.workers,
                                  log_level=args.log_level)
            fill(config, args.messages, args.size)
            gateway = GatewayProcess(config, work / "gateway.log")
            own = resource.getrusage(resource.RUSAGE_SELF)
            try:
                await gateway.start()
                assert gateway.proc is not None
                cpu = tree_cpu_seconds(gateway.proc.pid)
                main = tree_cpu_seconds(gateway.proc.pid, descendants=False)
                async with profiler(gateway, args.profile):
                    await remote.wait(lambda: remote.count >= args.messages,
                                      max(MIN_TIMEOUT, args.messages * TIMEOUT_PER_MESSAGE))
                cpu = tree_cpu_seconds(gateway.proc.pid) - cpu
                main = tree_cpu_seconds(gateway.proc.pid, descendants=False) - main
            finally:
                await gateway.stop()
            end = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await responder.close(drain=5)
    wall = remote.confirmed[-1] - remote.confirmed[0]
    remote_cpu = (end.ru_utime + end.ru_stime) - (own.ru_utime + own.ru_stime)
    return (args.messages - 1) / wall, cpu, main, remote_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help="the gateway's queue.workers (default: the gateway's default)")
    parser.add_argument("--log-level", default="info", help="the gateway's log.level")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="py-spy raw stacks of the gateway while it drains")
    args = parser.parse_args(argv)
    if min(args.messages, args.size, args.workers) < 2:
        parser.error("--messages, --size and --workers must be at least 2")
    began = time.monotonic()
    rate, cpu, main, remote_cpu = asyncio.run(drain(args))
    per = 1e3 / args.messages
    print(f"gateway delivery alone (pre-filled queue -> RFC 2156 -> P1), {args.messages} x "
          f"{args.size} B, queue.workers={args.workers}, log {args.log_level}:")
    print(f"  {rate:,.0f} msgs/s   CPU per message (from the gateway's ready line): gateway "
          f"{cpu * per:.2f} ms = {main * per:.2f} its own process + {(cpu - main) * per:.2f} "
          f"conversion; remote MTA {remote_cpu * per:.2f} ms   (bench wall time "
          f"{time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
