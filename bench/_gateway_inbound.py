"""X.400 -> SMTP for bench/gateway.py: P1 transfers into the gateway, delivered to a real Postfix,
and the yardstick: Postfix relaying as many messages to the same Postfix.

* :func:`make_apdus` converts N RFC 5322 messages of about SIZE octets (from
  ``John.Smith@x400.example`` to ``b@internet.example``) into P1 MTS-APDUs with the gateway's
  own conversion context, before any clock runs.
* :func:`p1_rate`: ``SESSIONS`` associations (spread over the nodes) transfer them from a child
  process (it must not share a GIL with the remote MTA of this process); the gateway confirms
  each transfer once the message is durable in its queue (X.411 §12.2.1.1), converts it
  (RFC 2156 §5) and hands it to its smarthost, a Postfix destination instance delivering to a
  Maildir.  The clock runs from starting the transfers until the N-th new file is in the
  Maildir -- the clock of bench/postfix_baseline.py.
* :func:`postfix_relay_rate`: ``smtp-source`` sends N messages to a Postfix *relay* instance
  that hands them to the same destination instance: the rate of a plain SMTP relay hop on this
  machine, same clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from bench._gateway_rig import DOMAIN, GATEWAY_MTA, REMOTE_MTA
from bench.postfix_baseline import SESSIONS, _count
from bridge.codec import encode_apdu
from bridge.config import load_config
from bridge.convert.to_x400 import mime_to_x400
from bridge.gateway.wiring import conversion_context
from bridge.x400.peers import LocalMTA, Peer
from bridge.x400.shell import Association, Timeouts

X400_SENDER = f"John.Smith@{DOMAIN}"
INTERNET_RECIPIENT = "b@internet.example"
POLL = 0.02                      # seconds between counts of the Maildir
TIMEOUT_PER_MESSAGE = 0.05       # s: 20 msg/s, far below Postfix's relay rate here
MIN_TIMEOUT = 60.0
TRANSFER = Timeouts(connect=30, bind=30, transfer=60, release=30)


def make_apdus(config: Path, n: int, size: int) -> list[bytes]:
    """``n`` distinct P1 messages for the Internet recipient, converted as the gateway would."""
    ctx = conversion_context(load_config(config).gateway)
    line = "The quick brown fox jumps over the lazy dog, 0123456789.\n"
    apdus = []
    for i in range(n):
        msg = EmailMessage()
        msg["From"] = X400_SENDER
        msg["To"] = INTERNET_RECIPIENT
        msg["Subject"] = f"x400 in {i}"
        msg["Message-ID"] = f"<in-{i}-{time.time_ns()}@{DOMAIN}>"
        msg.set_content(line * max(1, size // len(line)))
        data = msg.as_bytes(policy=SMTP_POLICY)
        apdus.append(encode_apdu(mime_to_x400(data, X400_SENDER, [INTERNET_RECIPIENT],
                                              ctx).apdu))
    return apdus


async def _transfer_all(port: int, apdus: Sequence[bytes]) -> None:
    """One association to the gateway at ``port``: every APDU, one after another."""
    peer = Peer(key="gateway", mta_name=GATEWAY_MTA[0], password=GATEWAY_MTA[1],
                host="127.0.0.1", port=port)
    assoc = await Association.open(peer, LocalMTA(name=REMOTE_MTA[0], password=REMOTE_MTA[1]),
                                   timeouts=TRANSFER)
    for apdu in apdus:
        await assoc.transfer(apdu)
    await assoc.release()


def _senders(shares: list[tuple[int, list[bytes]]]) -> None:
    """Run in a child process: the associations, concurrently."""
    async def main() -> None:
        await asyncio.gather(*(_transfer_all(port, apdus) for port, apdus in shares))
    asyncio.run(main())


def _ready() -> None:
    """Run in the child before the clock starts: importing this module is its warm-up."""


async def _until_delivered(maildir: Path, target: int, n: int,
                           running: asyncio.Future[Any],
                           abort: Callable[[], str | None]) -> None:
    """Wait until the Maildir holds ``target`` messages; RuntimeError when the sender failed,
    ``abort()`` names a reason, or the bound (proportional to ``n``) runs out."""
    deadline = time.monotonic() + max(MIN_TIMEOUT, n * TIMEOUT_PER_MESSAGE)
    while (done := _count(maildir)) < target:
        if running.done() and running.exception() is not None:
            raise RuntimeError(f"the sender failed: {running.exception()!r}")
        reason = abort()
        if reason is not None:
            raise RuntimeError(reason)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{done - target + n} of {n} messages in {maildir} in time")
        await asyncio.sleep(POLL)


async def p1_rate(ports: Sequence[int], apdus: list[bytes], maildir: Path,
                  abort: Callable[[], str | None]) -> float:
    """Messages/s from the first P1 transfer to the last message in ``maildir``."""
    n = len(apdus)
    chunks = [apdus[i::SESSIONS] for i in range(SESSIONS)]
    shares = [(ports[i % len(ports)], chunk) for i, chunk in enumerate(chunks) if chunk]
    target = _count(maildir) + n
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        await loop.run_in_executor(pool, _ready)
        started = time.perf_counter()
        sending = loop.run_in_executor(pool, _senders, shares)
        try:
            await _until_delivered(maildir, target, n, sending, abort)
        finally:
            elapsed = time.perf_counter() - started
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sending, MIN_TIMEOUT)
    return n / elapsed


async def postfix_relay_rate(relay_port: int, maildir: Path, n: int, size: int) -> float:
    """Messages/s for a Postfix relay to take ``n`` messages (smtp-source, ``SESSIONS``
    sessions) and hand them all to the destination delivering into ``maildir``."""
    target = _count(maildir) + n
    started = time.perf_counter()
    source = await asyncio.create_subprocess_exec(
        "smtp-source", "-4", "-c", "-m", str(n), "-s", str(SESSIONS), "-l", str(size),
        "-f", "a@x", "-t", INTERNET_RECIPIENT, f"127.0.0.1:{relay_port}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    waiting = asyncio.ensure_future(source.wait())
    try:
        await _until_delivered(maildir, target, n, waiting,
                               lambda: None if source.returncode in (None, 0)
                               else f"smtp-source exited {source.returncode}")
        elapsed = time.perf_counter() - started
    finally:
        if source.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                source.kill()
        await waiting
    return n / elapsed
