"""The gateway on the PostgreSQL queue backend (issue 15, first slice): SMTP in, X.400 out,
and X.400 in, SMTP out, with [queue] backend = "postgresql" on a private cluster."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bridge.codec import decode_apdu, encode_apdu
from bridge.model.apdu import Message
from bridge.queue.pg import PgQueue
from bridge.queue.types import Job
from tests.pgserver import require_postgres, shared_cluster
from tests.test_gateway import (
    mime,
    p1_send,
    run,
    smtp_send,
    wait_for,
    world,
    x400_message,
)
from tests.test_gateway_nodes import _submission, node


def test_both_directions_on_a_postgresql_queue(tmp_path: Path) -> None:
    require_postgres()
    dsn = shared_cluster().create_database()

    async def main() -> None:
        async with world(tmp_path, queue__backend="postgresql", queue__dsn=dsn) \
                as (app, remote, sink):
            assert type(app.queue).__name__ == "PgQueue"
            await smtp_send(app.smtp_port, "alice@internet.example",
                            ["John.Smith@x400.example"],
                            mime("alice@internet.example", "John.Smith@x400.example", "pg"))
            await wait_for(lambda: len(remote.apdus) >= 1, remote.arrived)
            msg = decode_apdu(remote.apdus[0])
            assert isinstance(msg, Message)
            res = x400_message(app, "John.Smith@x400.example", "bob@internet.example", "back")
            await p1_send(app, encode_apdu(res.apdu))
            await wait_for(lambda: len(sink.messages) >= 1, sink.arrived)
            assert sink.messages[0].rcpt_tos == ["bob@internet.example"]
    run(main)


class CountingClaims(PgQueue):
    """A PostgreSQL queue that counts its claims."""

    claims = 0

    def claim(self, *args: Any, **kw: Any) -> list[Job]:
        type(self).claims += 1
        return super().claim(*args, **kw)


def test_workers_woken_together_share_one_claim(tmp_path: Path) -> None:
    """Eight idle workers, one NOTIFY (another node's message): one claim finds it and the
    seven others, whose look it covered, claim nothing -- each claimed before, so an idle
    direction cost eight statements per message submitted anywhere.  Sent exactly once."""
    require_postgres()
    dsn = shared_cluster().create_database()

    async def main() -> None:
        other = PgQueue(dsn)
        try:
            async with node(tmp_path, dsn, "node-b", rescan=3600.0, queue=CountingClaims(dsn),
                            workers=8) as (gateway, recorder, _):
                await asyncio.wait_for(gateway.asleep.wait(), 30)
                await asyncio.sleep(0.5)                   # every worker asleep, bell listening
                before = CountingClaims.claims
                await asyncio.to_thread(other.submit, _submission("once"))
                await wait_for(lambda: bool(recorder.sent), recorder.arrived, timeout=30)
                await asyncio.sleep(0.5)                   # the workers settle again
                # the claim that found it and its worker's next look (empty); no one else's
                assert CountingClaims.claims - before <= 3
                assert recorder.sent == ["bob@internet.example"]
        finally:
            other.close()
    run(main)
