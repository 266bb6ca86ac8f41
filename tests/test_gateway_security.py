"""Hostile clients against the running gateway (issue 6 security tests): open relay, SMTP
smuggling, oversize messages, wrong P1 passwords -- each refused, nothing queued.  Issue 12
(the adversarial probe): DATA without end is read but not kept, NOOP forever is cut off, and
the RCPT decisions that belong to the routing layer (marked xfail with what to change)."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import pytest

from bridge.config import parse_config
from bridge.errors import AssociationError
from bridge.gateway.wiring import router_for
from bridge.smtp.data import DataReader
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


# ------------------------------------------------------------------------------- issue 12

STD_OR = '"/C=GB/ADMD= /PRMD=Acme/O=Sales/S=Smith/"'


async def _session(port: int, script: bytes) -> list[bytes]:
    """Send ``script`` in one write; every reply line until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(script)
    lines = []
    while line := await asyncio.wait_for(reader.readline(), 20):
        lines.append(line)
    writer.close()
    await writer.wait_closed()
    return lines


def test_data_without_end_is_read_but_not_kept(tmp_path: Path) -> None:
    """Issue 12 #2, the probe's case scaled down: two connections at once send 8 MB each of
    DATA without the terminator to a gateway with a 1 MiB limit.  Each connection holds no
    more than the limit (the reader's own count; the probe saw RSS grow by the data), and
    the terminator gets 552 5.3.4; nothing is queued."""
    mib = 1024 * 1024

    async def main() -> None:
        async with world(tmp_path, smtp__in={"listen": "127.0.0.1:0",
                                             "relay-networks": ["127.0.0.0/8"],
                                             "max-message-size": mib}) as (app, _, _):
            readers: dict[int, DataReader] = {}

            async def flood() -> bytes:
                reader, writer = await asyncio.open_connection("127.0.0.1", app.smtp_port)
                writer.write(b"EHLO c\r\nMAIL FROM:<alice@internet.example>\r\n"
                             b"RCPT TO:<John.Smith@x400.example>\r\nDATA\r\n")
                block = (b"x" * 510 + b"\r\n") * 128
                for _ in range(8 * mib // len(block)):
                    writer.write(block)
                    await writer.drain()
                # still inside DATA: the server is reading it
                readers.update((id(c.data_reader), c.data_reader)
                               for c in app.smtp.connections if c.data_reader is not None)
                writer.write(b".\r\nQUIT\r\n")
                replies = await asyncio.wait_for(reader.read(), 30)
                writer.close()
                await writer.wait_closed()
                return replies

            for replies in await asyncio.gather(flood(), flood()):
                assert b"\r\n552 5.3.4 " in replies, replies
            assert len(readers) == 2
            for data_reader in readers.values():
                assert data_reader.octets == 8 * mib
                assert data_reader.peak <= mib + 2 * 64 * 1024 + 256 * 1024
            assert app.queue.stats().messages == 0
    run(main)


def test_noop_forever_is_cut_off(tmp_path: Path) -> None:
    """Issue 12 #4: a client that sends NOOP without end (here 1000, pipelined) gets
    ``junk-command-limit`` (100) answers, then 421 4.7.0, and the connection is closed."""
    async def main() -> None:
        async with world(tmp_path) as (app, _, _):
            lines = await _session(app.smtp_port, b"EHLO c\r\n" + b"NOOP\r\n" * 1000)
            noops = [line for line in lines if line.startswith(b"250 2.0.0")]
            assert len(noops) == 99                     # EHLO counted too: 1 + 99 = 100
            assert lines[-1].startswith(b"421 4.7.0 ")
    run(main)


def test_std_or_local_part_at_the_gateway_domain_goes_to_x400(tmp_path: Path) -> None:
    """RFC 2156 §4.3.4 Stage I: at the gateway's own domain, a std-or local part is the
    X.400 address (the counterpart of the refusal below, which must keep working)."""
    router = router_for(parse_config({}, base=tmp_path))
    decision = router.smtp_recipient(f"{STD_OR}@x400-gateway.invalid")
    assert decision.direction == "to-x400"
    assert decision.or_address == "/S=Smith/O=Sales/PRMD=Acme/ADMD= /C=GB/"


STAGE_I_FIX = ("issue 12 #5, for bridge/mapping/address.py: AddressMapper._map_to_x400 reads "
               "an O/R address out of the local part (Stage I steps 4-6) for any domain; RFC "
               "2156 §4.3.4 Stage I reads it only where the domain is the gateway's own or has "
               "an MCGAM (_rhs_from_domain finds one), elsewhere the address goes to Stage II")



def test_std_or_local_part_at_another_domain_is_an_internet_address(tmp_path: Path) -> None:
    """Issue 12 #5: ``"/C=GB/.../S=Smith/"@example.com`` names a mailbox at example.com
    (Stage II): relayed by SMTP like any Internet address, not taken into X.400."""
    router = router_for(parse_config({}, base=tmp_path))
    decision = router.smtp_recipient(f"{STD_OR}@example.com")
    assert (decision.direction, decision.route) == ("to-smtp", "example.com")



def test_std_or_local_part_at_another_domain_is_relaying(tmp_path: Path) -> None:
    """The probe's case: from a client outside relay-networks the address got 250 and went
    into X.400; it is relaying, and must get 550 5.7.1."""
    async def main() -> None:
        async with world(tmp_path, smtp__in={"listen": "127.0.0.1:0",
                                             "relay-networks": ["192.0.2.0/24"]}) as (app, _, _):
            lines = await _session(app.smtp_port, (
                f"EHLO c\r\nMAIL FROM:<a@internet.example>\r\nRCPT TO:<{STD_OR}@example.com>"
                "\r\nQUIT\r\n").encode())
            assert lines[-2].startswith(b"550 5.7.1 "), lines
    run(main)


NON_ASCII_FIX = ("issue 12 #11, for bridge/gateway/routing.py: Router.smtp_recipient maps every "
                 "RCPT to X.400 first and turns the MappingError of Stage II (a non-ASCII "
                 "address cannot be ps-encoded into the RFC-822 DDA) into the refusal "
                 "'553 5.1.3 Address cannot be represented in X.400', also for Internet "
                 "recipients, which never need an X.400 form: a MappingError for an address "
                 "whose domain is neither the gateway's nor has an MCGAM must route it "
                 "to-smtp by its domain (an X.400-bound one: 553 5.6.7, RFC 6531 §3.5)")



def test_non_ascii_internet_recipient_is_routed_to_smtp(tmp_path: Path) -> None:
    """Issue 12 #11: with SMTPUTF8 (RFC 6531) a non-ASCII Internet address from a trusted
    client is relayed (the SMTP client sends it with SMTPUTF8), not refused as "cannot be
    represented in X.400"."""
    router = router_for(parse_config({}, base=tmp_path))
    for address in ("jösé@example.com", "bob@bücher.example"):
        decision = router.smtp_recipient(address)
        assert decision.direction == "to-smtp", (address, decision)



def test_non_ascii_internet_recipient_from_a_trusted_client_is_accepted(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path) as (app, _, _):
            lines = await _session(app.smtp_port, (
                "EHLO c\r\nMAIL FROM:<a@internet.example> SMTPUTF8\r\n"
                "RCPT TO:<jösé@example.com>\r\nQUIT\r\n").encode())
            assert lines[-2].startswith(b"250 2.1.5 "), lines
    run(main)


def test_non_ascii_address_without_smtputf8_says_so(tmp_path: Path) -> None:
    """RFC 6531 §3.5: a non-ASCII address without SMTPUTF8 gets 553 5.6.7 saying that
    SMTPUTF8 is needed (the SMTP endpoint's own answer, before any mapping)."""
    async def main() -> None:
        async with world(tmp_path) as (app, _, _):
            lines = await _session(app.smtp_port, (
                "EHLO c\r\nMAIL FROM:<a@internet.example>\r\n"
                "RCPT TO:<jösé@example.com>\r\nQUIT\r\n").encode())
            assert lines[-2] == b"553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n", lines
    run(main)
