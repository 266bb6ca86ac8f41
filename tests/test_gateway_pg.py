"""The gateway on the PostgreSQL queue backend (issue 15, first slice): SMTP in, X.400 out,
and X.400 in, SMTP out, with [queue] backend = "postgresql" on a private cluster."""

from __future__ import annotations

from pathlib import Path

from bridge.codec import decode_apdu, encode_apdu
from bridge.model.apdu import Message
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
