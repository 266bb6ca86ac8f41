"""Hostile clients against the running gateway (issue 6 security tests): open relay, SMTP
smuggling, oversize messages, wrong P1 passwords -- each refused, nothing queued."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import pytest

from bridge.errors import AssociationError
from bridge.x400.peers import LocalMTA, Peer
from bridge.x400.shell import Association
from tests.test_gateway import mime, run, world


def test_open_relay_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path, smtp__in={"listen": "127.0.0.1:0",
                                             "relay-networks": ["192.0.2.0/24"]}) as (app, _, _):
            def attempt() -> tuple[int, bytes]:
                with smtplib.SMTP("127.0.0.1", app.smtp_port, timeout=20) as s:
                    s.ehlo("spammer.test")
                    s.mail("spam@spammer.test")
                    return s.rcpt("victim@elsewhere.example")
            code, text = await asyncio.to_thread(attempt)
            assert code == 550 and b"5.7.1" in text
            assert app.queue.stats().messages == 0
    run(main)


@pytest.mark.parametrize("smuggle", [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n"])
def test_smuggled_second_message_is_not_accepted(tmp_path: Path, smuggle: bytes) -> None:
    """SMTP smuggling: a non-CRLF end-of-data followed by a second transaction in the data
    must neither end the message nor start another one."""
    async def main() -> None:
        async with world(tmp_path) as (app, _, _):
            async def talk() -> bytes:
                reader, writer = await asyncio.open_connection("127.0.0.1", app.smtp_port)
                script = (b"EHLO client.test\r\nMAIL FROM:<alice@internet.example>\r\n"
                          b"RCPT TO:<John.Smith@x400.example>\r\nDATA\r\n"
                          b"Subject: first\r\n\r\nhello" + smuggle +
                          b"MAIL FROM:<evil@internet.example>\r\n"
                          b"RCPT TO:<John.Smith@x400.example>\r\nDATA\r\n"
                          b"Subject: smuggled\r\n\r\nevil\r\n.\r\nQUIT\r\n")
                writer.write(script)
                await writer.drain()
                data = await asyncio.wait_for(reader.read(), 20)
                writer.close()
                return data
            replies = await talk()
            summaries = app.queue.list()
            assert len(summaries) <= 1
            for summary in summaries:
                info = app.queue.get(summary.message_id)
                assert info is not None and b"smuggled" not in info.data.split(b"\r\n\r\n")[0]
            assert replies.count(b"250 2.0.0 Ok: queued") <= 1
    run(main)


def test_oversize_message_is_refused_with_552(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path, smtp__in={"listen": "127.0.0.1:0",
                                             "max-message-size": 2000}) as (app, _, _):
            big = mime("alice@internet.example", "John.Smith@x400.example", "Big") + \
                b"x" * 5000 + b"\r\n"

            def send() -> None:
                with smtplib.SMTP("127.0.0.1", app.smtp_port, timeout=20) as s:
                    s.sendmail("alice@internet.example", ["John.Smith@x400.example"], big)
            with pytest.raises(smtplib.SMTPException) as info:
                await asyncio.to_thread(send)
            assert "552" in str(info.value)
            assert app.queue.stats().messages == 0
    run(main)


def test_wrong_p1_password_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path) as (app, _, _):
            with pytest.raises(AssociationError, match="refused the bind"):
                await Association.open(
                    Peer(key="gw", mta_name="gateway", password="gwpw", host="127.0.0.1",
                         port=app.p1_port, timeout=10),
                    LocalMTA(name="remote", password="not-rpw"))
            with pytest.raises(AssociationError, match="refused the bind"):
                await Association.open(
                    Peer(key="gw", mta_name="gateway", password="gwpw", host="127.0.0.1",
                         port=app.p1_port, timeout=10),
                    LocalMTA(name="impostor", password="rpw"))
            assert app.queue.stats().messages == 0
    run(main)
