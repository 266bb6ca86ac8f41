"""When the queue's storage fails under a running gateway (issue 12 items 9 and 10).

* A full disk is ``QueueFull`` (452 4.3.1, RFC 3463 "mail system full"), from a real full file
  system (a 1 MiB tmpfs; skipped where it cannot be mounted).
* Outcomes that could not be recorded are recorded as soon as the queue takes writes again,
  not after their 10-minute lease; no worker claims more work meanwhile.
* A queue file removed under the gateway: nothing more is accepted (SMTP 451, P1 transfers
  refused so the sending MTA keeps the message), and the gateway says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import smtplib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.codec import encode_apdu
from bridge.errors import AssociationError
from bridge.queue.model import Recipient, Submission
from bridge.queue.store import Queue
from bridge.queue.types import QueueError, QueueFull, QueueGone
from bridge.x400.peers import LocalMTA, Peer
from bridge.x400.shell import Association
from tests.test_gateway import mime, run, smtp_send, wait_for, world, x400_message


def _submission(n: int, size: int = 2000) -> Submission:
    return Submission(direction="to-x400", origin="smtp", sender="a@example.org",
                      recipients=(Recipient(address=f"b{n}@example.org", route="spool"),),
                      data=b"Subject: x\r\n\r\n" + os.urandom(size).hex().encode())


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "fs"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_is_452_4_3_1_and_passes(small_fs: Path) -> None:
    queue = Queue(small_fs / "queue.sqlite")
    filler = small_fs / "filler"
    try:
        with contextlib.suppress(OSError), filler.open("wb") as f:   # close() may fail too
            while True:
                f.write(bytes(16384))
                f.flush()
        with pytest.raises(QueueFull) as info:
            for n in range(200):
                queue.submit(_submission(n))
        assert (info.value.smtp.code, info.value.smtp.enhanced) == (452, "4.3.1")
        filler.unlink()
        queue.submit(_submission(999))                      # space is back: accepted again
    finally:
        queue.close()


def test_a_removed_queue_file_stops_acceptance(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "queue.sqlite")
    try:
        queue.submit(_submission(1))
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                (tmp_path / f"queue.sqlite{suffix}").unlink()
        with pytest.raises(QueueGone):
            queue.submit(_submission(2))
        with pytest.raises(QueueGone):
            queue.check_file()
    finally:
        queue.close()


def test_outcomes_are_recorded_as_soon_as_the_queue_takes_writes(tmp_path: Path) -> None:
    """The first records fail (as on a full disk): the message is delivered once, its outcome
    recorded when writes work again -- the queue is settled in seconds, not a lease."""
    async def main() -> None:
        async with world(tmp_path) as (app, remote, _):
            real = app.queue.record
            failures = {"left": 3}

            def record(job: Any, outcomes: Any) -> None:
                if failures["left"]:
                    failures["left"] -= 1
                    raise QueueFull("database or disk is full (simulated)")
                real(job, outcomes)

            app.queue.record = record  # type: ignore[method-assign]
            await smtp_send(app.smtp_port, "alice@internet.example",
                            ["John.Smith@x400.example"],
                            mime("alice@internet.example", "John.Smith@x400.example", "full"))
            await wait_for(lambda: len(remote.apdus) >= 1, remote.arrived)
            for _ in range(200):
                stats = app.queue.stats()
                if not stats.in_flight and not stats.depth:
                    break
                await asyncio.sleep(0.05)
            assert app.queue.stats().in_flight == 0 and failures["left"] == 0
            assert len(remote.apdus) == 1                     # delivered once
            assert not app.gateway._unrecorded
    run(main)


def test_gateway_refuses_when_its_queue_file_is_gone(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with world(tmp_path) as (app, _, _):
            path = Path(app.queue.path)
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{suffix}").unlink()
            with pytest.raises(smtplib.SMTPDataError) as smtp_error:
                await smtp_send(app.smtp_port, "alice@internet.example",
                                ["John.Smith@x400.example"],
                                mime("alice@internet.example", "John.Smith@x400.example",
                                     "lost?"))
            assert smtp_error.value.smtp_code == 451
            res = x400_message(app, "John.Smith@x400.example", "bob@internet.example", "p1")
            assoc = await Association.open(
                Peer(key="gw", mta_name="gateway", password="gwpw", host="127.0.0.1",
                     port=app.p1_port), LocalMTA(name="remote", password="rpw"))
            with pytest.raises(AssociationError):          # not confirmed: the MTA keeps it
                await assoc.transfer(encode_apdu(res.apdu))
            with pytest.raises(QueueError):
                app.queue.check_file()
    run(main)


def test_smtp_gets_452_when_the_disk_is_full(tmp_path: Path) -> None:
    """RFC 3463 4.3.1 / RFC 5321 452 -- one log line, no traceback (issue 12 item 9)."""
    async def main() -> None:
        async with world(tmp_path) as (app, _, _):
            def full(*args: Any, **kw: Any) -> None:
                raise QueueFull("database or disk is full (simulated)")

            app.queue.submit_many = full  # type: ignore[method-assign]
            app.queue.submit = full  # type: ignore[method-assign]
            with pytest.raises(smtplib.SMTPDataError) as info:
                await smtp_send(app.smtp_port, "alice@internet.example",
                                ["John.Smith@x400.example"],
                                mime("alice@internet.example", "John.Smith@x400.example", "x"))
            assert (info.value.smtp_code, info.value.smtp_error[:5]) == (452, b"4.3.1")
    run(main)


def test_the_poison_message_is_refused_at_data(tmp_path: Path) -> None:
    """Issue 12 item 1: 50,000 encoded-words in a Subject -- 552 5.3.4 before the 250, so
    the message never reaches the queue or a conversion process."""
    async def main() -> None:
        async with world(tmp_path) as (app, _, _):
            words = ["=?utf-8?q?ab=C3=A9?="] * 50_000      # folded: lines under 1000 octets
            subject = "\r\n ".join(" ".join(words[i:i + 40]) for i in range(0, len(words), 40))
            data = (f"From: alice@internet.example\r\nTo: John.Smith@x400.example\r\n"
                    f"Subject: {subject}\r\n\r\nbody\r\n").encode()
            with pytest.raises(smtplib.SMTPDataError) as info:
                await smtp_send(app.smtp_port, "alice@internet.example",
                                ["John.Smith@x400.example"], data)
            assert info.value.smtp_code == 552 and b"5.3.4" in info.value.smtp_error
            assert app.queue.stats().depth == 0
            assert app.responder is not None
            assert app.responder.limits == app.config.x400.limits
    run(main)
