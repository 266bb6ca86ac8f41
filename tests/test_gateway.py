"""The gateway end to end inside one process, over real sockets (no Postfix needed).

A remote X.400 MTA is played by our own P1 responder / initiator; the Internet side by an
aiosmtpd sink used as smarthost.  Covers: SMTP -> X.400 (P1), X.400 -> SMTP, an SMTP failure
becoming an X.400 NDR, an X.400 NDR becoming a DSN, refusals at RCPT (unmappable, relay),
queue durability before "250".
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import smtplib
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from bridge.codec import decode_apdu, decode_content, encode_apdu
from bridge.config import Config, parse_config
from bridge.convert.gateway_reports import RecipientFate, message_report
from bridge.gateway.app import App
from bridge.model.apdu import Message
from bridge.model.report import NonDeliveryOutcome, Report
from bridge.x400.peers import LocalMTA, Peer, PeerTable
from bridge.x400.shell import Association, Responder

TABLE2 = "x400.example#O$acme.PRMD$acme.ADMD$ .C$gb#\n"        # domain -> O/R
TABLE1 = "O$acme.PRMD$acme.ADMD$ .C$gb#x400.example#\n"        # O/R -> domain
ROUTES = "O$acme.PRMD$acme.ADMD$ .C$gb#remote#\n"


class Sink:
    """The Internet side: an SMTP server taking everything except nobody@."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []
        self.arrived = asyncio.Event()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        self.arrived.set()
        return "250 2.0.0 Ok"


class RemoteMTA:
    """The X.400 side: our P1 responder as a remote MTA that stores what it receives."""

    def __init__(self) -> None:
        self.apdus: list[bytes] = []
        self.arrived = asyncio.Event()

    async def __call__(self, apdu: bytes, peer: Peer) -> None:
        self.apdus.append(apdu)
        self.arrived.set()


async def wait_for(cond: Callable[[], bool], event: asyncio.Event, timeout: float = 30) -> None:
    async def loop() -> None:
        while not cond():
            event.clear()
            if cond():
                return
            await event.wait()
    await asyncio.wait_for(loop(), timeout)


def x400_message(app: App, sender: str, rcpt: str, subject: str) -> Any:
    """An X.400 message from ``sender`` to ``rcpt``, made with the gateway's own mapping."""
    from bridge.convert.to_x400 import mime_to_x400

    ctx = app.gateway.ctx()
    return mime_to_x400(mime(sender, rcpt, subject), sender, [rcpt], ctx)


async def settled(app: App, timeout: float = 30) -> None:
    """Wait until the queue has nothing active and no report left to make (bounded poll)."""
    async def loop() -> None:
        while app.queue.stats().depth or app.queue.reports_due():
            await asyncio.sleep(0.05)
    await asyncio.wait_for(loop(), timeout)


def make_config(tmp: Path, *, remote_port: int, sink_port: int, **over: Any) -> Config:
    tables = tmp / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    (tables / "table1").write_text(TABLE1)
    (tables / "table2").write_text(TABLE2)
    (tables / "gate1").write_text("")
    (tables / "gate2").write_text("")
    (tmp / "routes.txt").write_text(ROUTES)
    data: dict[str, Any] = {
        "gateway": {"domain": "gw.example", "or-address": "/O=gateway/PRMD=bridge/ADMD= /C=GB/",
                    "tables": str(tables), "state-dir": str(tmp / "var")},
        "smtp": {"in": {"listen": "127.0.0.1:0", "relay-networks": ["127.0.0.0/8"]},
                 "out": {"smarthost": f"127.0.0.1:{sink_port}", "timeout": 10}},
        "x400": {"listen": "127.0.0.1:0", "name": "gateway", "password": "gwpw",
                 "routes": str(tmp / "routes.txt"),
                 "peers": {"remote": {"mta-name": "remote", "password": "rpw",
                                      "host": "127.0.0.1", "port": remote_port,
                                      "timeout": 10}}},
        "queue": {"retry-initial": "1s", "retry-max": "2s", "workers": 1},
        "metrics": {"listen": ""},
    }
    for key, value in over.items():
        *sections, name = key.split("__")       # smtp__in__mt_priority_policy: nested
        table = data
        for section in sections:
            table = table.setdefault(section, {})
        table[name.replace("_", "-")] = value
    (tmp / "var").mkdir(exist_ok=True)
    return parse_config(data, base=tmp)


@asynccontextmanager
async def world(tmp: Path, **over: Any) -> AsyncIterator[tuple[App, RemoteMTA, Sink]]:
    loop = asyncio.get_running_loop()
    sink = Sink()
    smtp_server = await loop.create_server(
        lambda: SMTP(sink, hostname="sink.test", loop=loop), "127.0.0.1", 0)
    remote = RemoteMTA()
    responder = Responder(PeerTable(local=LocalMTA(name="remote", password="rpw"), peers={
        "gateway": Peer(key="gateway", mta_name="gateway", password="gwpw")}), remote)
    await responder.start("127.0.0.1", 0)
    config = make_config(tmp, remote_port=responder.port,
                         sink_port=smtp_server.sockets[0].getsockname()[1], **over)
    app = App(config)
    await app.start()
    try:
        yield app, remote, sink
    finally:
        await app.stop(drain=5)
        await responder.close(drain=1)
        smtp_server.close()
        await smtp_server.wait_closed()


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 120))


def mime(sender: str, to: str, subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = "<test.1@internet.example>"
    msg.set_content("Hello from the Internet.\n")
    return msg.as_bytes(policy=SMTP_POLICY)


async def smtp_send(port: int, sender: str, rcpts: list[str], data: bytes) -> Any:
    def send() -> Any:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
            return s.sendmail(sender, rcpts, data)
    return await asyncio.to_thread(send)


def test_smtp_to_x400_over_p1(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path) as (app, remote, _):
            refused = await smtp_send(app.smtp_port, "alice@internet.example",
                                      ["John.Smith@x400.example"],
                                      mime("alice@internet.example", "John.Smith@x400.example",
                                           "Across the gateway"))
            assert refused == {}
            await wait_for(lambda: len(remote.apdus) >= 1, remote.arrived)
            msg = decode_apdu(remote.apdus[0])
            assert isinstance(msg, Message)
            ipm = decode_content(msg.content)
            assert ipm.heading.subject == "Across the gateway"  # type: ignore[union-attr]
            names = [str(r.name.address) for r in msg.envelope.recipients]
            assert any("acme" in n.lower() for n in names)
    run(main)


def test_x400_to_smtp_and_probe(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path) as (app, remote, sink):
            res = x400_message(app, "John.Smith@x400.example", "bob@internet.example", "From X.400")
            await p1_send(app, encode_apdu(res.apdu))
            await wait_for(lambda: len(sink.messages) >= 1, sink.arrived)
            env = sink.messages[0]
            assert env.rcpt_tos == ["bob@internet.example"]
            assert b"Subject: From X.400" in (env.original_content or b"")
    run(main)


def test_smtp_failure_becomes_an_x400_ndr(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path) as (app, remote, sink):
            res = x400_message(app, "John.Smith@x400.example", "nobody@internet.example", "Doomed")
            await p1_send(app, encode_apdu(res.apdu))
            await wait_for(lambda: len(remote.apdus) >= 1, remote.arrived)
            report = decode_apdu(remote.apdus[0])
            assert isinstance(report, Report)
            [r] = report.recipients
            assert isinstance(r.outcome, NonDeliveryOutcome)
            assert r.outcome.reason == 1                 # unable-to-transfer
            assert report.subject_identifier == res.apdu.envelope.identifier  # type: ignore[union-attr]
    run(main)


def test_x400_ndr_becomes_a_dsn(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path) as (app, remote, sink):
            ctx = app.gateway.ctx()
            from bridge.convert.to_x400 import mime_to_x400

            # a message alice@internet.example sent earlier into X.400, refused there
            sent = mime_to_x400(mime("alice@internet.example", "John.Smith@x400.example",
                                     "Bounce me"), "alice@internet.example",
                                ["John.Smith@x400.example"], ctx).apdu
            assert isinstance(sent, Message)
            ndr = message_report(sent, {sent.envelope.recipients[0].number: RecipientFate(
                status="5.1.1", diagnostic="no such recipient")}, ctx)
            assert ndr is not None
            assoc = await Association.open(
                Peer(key="gw", mta_name="gateway", password="gwpw", host="127.0.0.1",
                     port=app.p1_port), LocalMTA(name="remote", password="rpw"))
            await assoc.transfer(encode_apdu(ndr))
            await assoc.release()
            await wait_for(lambda: len(sink.messages) >= 1, sink.arrived)
            env = sink.messages[0]
            assert env.mail_from in ("", "<>")
            assert env.rcpt_tos == ["alice@internet.example"]
            body = env.original_content or b""
            assert b"report-type=delivery-status" in body
            assert b"Action: failed" in body
    run(main)


def test_rcpt_refusals(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path, smtp__in={"listen": "127.0.0.1:0",
                                             "relay-networks": ["192.0.2.0/24"]}) as (app, _, _):
            def probe() -> list[tuple[int, bytes]]:
                with smtplib.SMTP("127.0.0.1", app.smtp_port, timeout=20) as s:
                    s.ehlo("client.test")
                    s.mail("alice@internet.example")
                    return [s.rcpt("nobody@gw.example"), s.rcpt("bob@elsewhere.example"),
                            s.rcpt("John.Smith@x400.example")]
            unmappable, relay, ok = await asyncio.to_thread(probe)
            assert unmappable[0] == 550 and b"5.1.1" in unmappable[1]
            assert relay[0] == 550 and b"5.7.1" in relay[1]     # not an open relay
            assert ok[0] == 250
    run(main)


def test_accepted_mail_is_in_the_queue_before_250(tmp_path: Path) -> None:
    """Durable before 250: with the remote MTA down, the accepted message is queued."""
    async def main() -> None:
        async with world(tmp_path) as (app, remote, _):
            await app.gateway.stop()                   # no delivery: just intake
            await smtp_send(app.smtp_port, "alice@internet.example",
                            ["John.Smith@x400.example"],
                            mime("alice@internet.example", "John.Smith@x400.example", "Kept"))
            stats = app.queue.stats()
            assert stats.depth == 1
    run(main)


async def p1_send(app: App, apdu: bytes) -> None:
    assoc = await Association.open(
        Peer(key="gw", mta_name="gateway", password="gwpw", host="127.0.0.1",
             port=app.p1_port), LocalMTA(name="remote", password="rpw"))
    await assoc.transfer(apdu)
    await assoc.release()


def test_probe_is_answered_by_the_gateway(tmp_path: Path) -> None:
    """G-3 (RFC 2156 §5.3.9): a probe gets a report naming the gateway, per recipient."""
    async def main() -> None:
        async with world(tmp_path) as (app, remote, _):
            from bridge.model.apdu import Probe

            ctx = app.gateway.ctx()
            from bridge.convert.to_x400 import mime_to_x400

            msg = mime_to_x400(mime("John.Smith@x400.example", "bob@internet.example", "P"),
                               "John.Smith@x400.example", ["bob@internet.example"], ctx).apdu
            assert isinstance(msg, Message)
            probe = Probe(envelope=msg.envelope)  # type: ignore[call-arg]
            await p1_send(app, encode_apdu(probe))
            await wait_for(lambda: len(remote.apdus) >= 1, remote.arrived)
            report = decode_apdu(remote.apdus[0])
            assert isinstance(report, Report)
            [r] = report.recipients
            assert not isinstance(r.outcome, NonDeliveryOutcome)       # deliverable
            assert "gw.example" in (r.supplementary_information or "")
    run(main)


def test_delivery_report_when_the_x400_originator_asks(tmp_path: Path) -> None:
    """A-29: a positive DR for a recipient whose indicators request one."""
    async def main() -> None:
        async with world(tmp_path) as (app, remote, sink):
            import dataclasses

            from bridge.model.envelope import PerRecipientIndicators as PRI
            from bridge.model.report import DeliveryOutcome

            ctx = app.gateway.ctx()
            from bridge.convert.to_x400 import mime_to_x400

            msg = mime_to_x400(mime("John.Smith@x400.example", "bob@internet.example", "DR"),
                               "John.Smith@x400.example", ["bob@internet.example"], ctx).apdu
            assert isinstance(msg, Message)
            r0 = msg.envelope.recipients[0]
            asking = dataclasses.replace(msg, envelope=dataclasses.replace(
                msg.envelope, recipients=(dataclasses.replace(
                    r0, indicators=r0.indicators | PRI.ORIGINATOR_REPORT),)))
            await p1_send(app, encode_apdu(asking))
            await wait_for(lambda: len(remote.apdus) >= 1, remote.arrived)
            report = decode_apdu(remote.apdus[0])
            assert isinstance(report, Report)
            assert isinstance(report.recipients[0].outcome, DeliveryOutcome)
            assert len(sink.messages) == 1
    run(main)


def test_notify_success_gets_a_relayed_dsn_and_never_gets_none(tmp_path: Path) -> None:
    """R-13 (RFC 3461 §5.2.4 b/c): SUCCESS -> a "relayed" DSN; NEVER -> no DSN at all, even
    when the X.400 side fails."""
    async def main() -> None:
        async with world(tmp_path) as (app, remote, sink):
            def send(rcpt: str, notify: str, subject: str) -> None:
                with smtplib.SMTP("127.0.0.1", app.smtp_port, timeout=20) as s:
                    s.ehlo("client.test")
                    s.sendmail("alice@internet.example", [rcpt],
                               mime("alice@internet.example", rcpt, subject),
                               rcpt_options=[f"NOTIFY={notify}"])
            await asyncio.to_thread(send, "John.Smith@x400.example", "SUCCESS", "Tell me")
            await wait_for(lambda: len(sink.messages) >= 1, sink.arrived)
            dsn = sink.messages[0].original_content or b""
            assert b"Action: relayed" in dsn and sink.messages[0].rcpt_tos == [
                "alice@internet.example"]
            # a message in a MIXER loop (RFC 2156 §5.1.5) fails; FAILURE reports it, NEVER not
            loop = b"".join(b"X400-Received: by /ADMD= /C=ZZ/; Relayed; converted "
                            b"(1.3.6.1.7.1.3.5); Sat, 28 Nov 2026 10:00:0%d +0000\r\n" % n
                            for n in range(5))

            def send_raw(notify: str, subject: str) -> None:
                data = loop + mime("alice@internet.example", "John.Smith@x400.example",
                                   subject)
                with smtplib.SMTP("127.0.0.1", app.smtp_port, timeout=20) as s:
                    s.ehlo("client.test")
                    s.sendmail("alice@internet.example", ["John.Smith@x400.example"], data,
                               rcpt_options=[f"NOTIFY={notify}"])
            await asyncio.to_thread(send_raw, "NEVER", "Loop quietly")
            await asyncio.to_thread(send_raw, "FAILURE", "Loop loudly")
            await wait_for(lambda: len(sink.messages) >= 2, sink.arrived)
            await settled(app)
            failed = sink.messages[1].original_content or b""
            assert b"Action: failed" in failed and b"Loop loudly" in failed
            assert not any(b"Loop quietly" in (m.original_content or b"")
                           for m in sink.messages)
            assert len(remote.apdus) == 1              # only the first message crossed
    run(main)


def test_extra_intake_processes_share_the_port(tmp_path: Path) -> None:
    """[smtp.in] processes = 2: a spawned process takes part of the connections on the same
    port (SO_REUSEPORT), queues durably, and wakes the gateway's workers."""
    async def main() -> None:
        async with world(tmp_path, smtp__in={"listen": "127.0.0.1:0", "processes": 2,
                                             "relay-networks": ["127.0.0.0/8"]}) as (app, remote,
                                                                                     _):
            assert len(app.intake) == 1 and app.intake[0].is_alive()
            subjects = [f"Parallel {n}" for n in range(24)]

            def send(subject: str) -> None:
                with smtplib.SMTP("127.0.0.1", app.smtp_port, timeout=30) as s:
                    s.sendmail("alice@internet.example", ["John.Smith@x400.example"],
                               mime("alice@internet.example", "John.Smith@x400.example",
                                    subject))
            # the clients get threads of their own: the default executor is the gateway's
            loop = asyncio.get_running_loop()
            with ThreadPoolExecutor(max_workers=8) as clients:
                await asyncio.gather(*(loop.run_in_executor(clients, send, s)
                                       for s in subjects))
            await wait_for(lambda: len(remote.apdus) >= len(subjects), remote.arrived, 60)
            got = set()
            for apdu in remote.apdus:
                msg = decode_apdu(apdu)
                assert isinstance(msg, Message)
                got.add(decode_content(msg.content).heading.subject)  # type: ignore[union-attr]
            assert got == set(subjects)
            queued = [app.queue.get(m.message_id) for m in app.queue.list(limit=100)]
            assert {info.origin for info in queued if info} == {"smtp"}
            takers = {info.meta.get("intake") for info in queued if info}
            # 24 connections spread by the kernel: both processes took some (the chance that
            # all went to one of two sockets is 2**-23)
            assert None in takers and app.intake[0].pid in takers
            # the metric counts the messages every process accepted (the intake process's by
            # its wake-up datagrams)
            for _ in range(200):
                if app.metrics.registry.get_sample_value(
                        "x400bridge_messages_accepted_total",
                        {"node": app.node, "direction": "to-x400",
                         "origin": "smtp"}) == len(subjects):
                    break
                await asyncio.sleep(0.05)         # bounded poll of a counter
            else:
                raise AssertionError("accepted messages not counted")
        assert not app.intake                     # stopped with the gateway
    run(main)


def test_file_spool_both_ways(tmp_path: Path) -> None:
    """The spool transport: an APDU dropped in spool/in reaches SMTP; mail for an O/R address
    routed to "spool" lands in spool/out as a BER MTS-APDU."""
    async def main() -> None:
        async with world(tmp_path) as (app, remote, sink):
            (tmp_path / "routes.txt").write_text(ROUTES + "O$spooled.PRMD$acme.ADMD$ .C$gb#"
                                                 "spool#\n")
            (tmp_path / "tables" / "table2").write_text(
                TABLE2 + "spool.example#O$spooled.PRMD$acme.ADMD$ .C$gb#\n")
            app.reload()
            # in: a message from X.400 left in the spool by another MTA
            res = x400_message(app, "John.Smith@x400.example", "carol@internet.example",
                               "Via the spool")
            app.gateway.spool.put("in", encode_apdu(res.apdu))
            await wait_for(lambda: len(sink.messages) >= 1, sink.arrived)
            assert sink.messages[0].rcpt_tos == ["carol@internet.example"]
            # out: mail for an O/R address routed to the spool
            await smtp_send(app.smtp_port, "alice@internet.example", ["Dave@spool.example"],
                            mime("alice@internet.example", "Dave@spool.example", "To a file"))
            await settled(app)
            [out] = list((app.config.x400.spool / "out").glob("*.ber"))
            msg = decode_apdu(out.read_bytes())
            assert isinstance(msg, Message)
            assert decode_content(msg.content).heading.subject == "To a file"  # type: ignore[union-attr]
            assert remote.apdus == []
    run(main)


def test_deferred_mapping_lookups_are_temporary(tmp_path: Path) -> None:
    """A-12 (RFC 2156 §4.2.1): a mapping lookup that cannot be answered now (DNS timeout) is a
    temporary refusal at RCPT (451 4.4.3), and a refused -- not a failed -- P1 transfer."""
    from bridge.errors import AssociationError
    from bridge.mapping.source import LookupDeferred

    def deferred(*args: object, **kwargs: object) -> object:
        raise LookupDeferred("DNS timed out")

    async def main() -> None:
        # conversions in this process: a P1 arrival is mapped with the mapper patched here
        async with world(tmp_path, queue__convert_processes=0) as (app, remote, sink):
            res = x400_message(app, "John.Smith@x400.example", "bob@internet.example", "Later")
            app.router.mapper.to_x400 = deferred  # type: ignore[method-assign]
            app.gateway.context.mapper.to_rfc822 = deferred  # type: ignore[method-assign]

            def rcpt() -> tuple[int, bytes]:
                with smtplib.SMTP("127.0.0.1", app.smtp_port, timeout=20) as s:
                    s.ehlo("client.test")
                    s.mail("alice@internet.example")
                    return s.rcpt("John.Smith@x400.example")
            code, text = await asyncio.to_thread(rcpt)
            assert code == 451 and b"4.4.3" in text
            with pytest.raises(AssociationError):
                await p1_send(app, encode_apdu(res.apdu))
            assert app.queue.stats().messages == 0 and not remote.apdus
    run(main)


async def smtp_send_with(port: int, sender: str, rcpts: list[str], data: bytes,
                         options: list[str]) -> Any:
    def send() -> Any:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
            return s.sendmail(sender, rcpts, data, mail_options=options)
    return await asyncio.to_thread(send)


def test_mt_priority_becomes_the_x400_priority_over_p1(tmp_path: Path) -> None:
    """RFC 6710 §4.5 / App B: MT-PRIORITY=4 on SMTP leaves over P1 as priority urgent."""
    from bridge.model.common import Priority

    async def main() -> None:
        async with world(tmp_path) as (app, remote, _):
            refused = await smtp_send_with(
                app.smtp_port, "alice@internet.example", ["John.Smith@x400.example"],
                mime("alice@internet.example", "John.Smith@x400.example", "Flash traffic"),
                ["MT-PRIORITY=4"])
            assert refused == {}
            await wait_for(lambda: len(remote.apdus) >= 1, remote.arrived)
            msg = decode_apdu(remote.apdus[0])
            assert isinstance(msg, Message)
            assert msg.envelope.priority == Priority.URGENT
    run(main)


def test_mt_priority_stanag4406_sets_the_p772_precedence(tmp_path: Path) -> None:
    """STANAG4406 policy (RFC 6710 App A): MT-PRIORITY=6 on a message with MMHS-* fields
    (P772) and no MMHS-Primary-Precedence -> primary precedence override, priority urgent."""
    from bridge.model.common import Priority
    from bridge.model.mmhs import ID_MM_PRIMARY_PRECEDENCE, PrimaryPrecedence

    data = mime("alice@internet.example", "John.Smith@x400.example", "Override")
    data = data.replace(b"Subject:", b"MMHS-Copy-Precedence: routine\r\nSubject:", 1)

    async def main() -> None:
        async with world(tmp_path, smtp__in__mt_priority_policy="STANAG4406") as (
                app, remote, _):
            await smtp_send_with(app.smtp_port, "alice@internet.example",
                                 ["John.Smith@x400.example"], data, ["MT-PRIORITY=6"])
            await wait_for(lambda: len(remote.apdus) >= 1, remote.arrived)
            msg = decode_apdu(remote.apdus[0])
            assert isinstance(msg, Message)
            assert msg.envelope.priority == Priority.URGENT
            ipm = decode_content(msg.content)
            [ext] = [e for e in ipm.heading.extensions or ()  # type: ignore[union-attr]
                     if e.type == ID_MM_PRIMARY_PRECEDENCE]
            assert ext.value == PrimaryPrecedence(level=5)
    run(main)


def test_dsn_goes_with_the_priority_of_its_message(tmp_path: Path) -> None:
    """RFC 6710 §4.6: a delivery report the gateway makes takes the priority of the message
    it reports on -- queued with it, and sent with it (here tunnelled in an MT-Priority field,
    RFC 6758 §3.3, since the sink does not offer MT-PRIORITY)."""
    async def main() -> None:
        async with world(tmp_path) as (app, remote, sink):
            def send() -> None:
                with smtplib.SMTP("127.0.0.1", app.smtp_port, timeout=20) as s:
                    s.ehlo("client.test")
                    s.sendmail("alice@internet.example", ["John.Smith@x400.example"],
                               mime("alice@internet.example", "John.Smith@x400.example",
                                    "Urgent, tell me"),
                               mail_options=["MT-PRIORITY=4"], rcpt_options=["NOTIFY=SUCCESS"])
            await asyncio.to_thread(send)
            await wait_for(lambda: len(sink.messages) >= 1, sink.arrived)
            dsn = email.message_from_bytes(sink.messages[0].original_content or b"")
            assert dsn.get_content_type() == "multipart/report"
            assert dsn.get_all("MT-Priority") == ["4"]
    run(main)


def test_an_x400_message_of_normal_priority_gets_no_mt_priority_field(tmp_path: Path) -> None:
    """X.400 normal priority is MT-PRIORITY 0, the SMTP default: toward a server without
    MT-PRIORITY no MT-Priority field is added for it (RFC 6758 §3.3 adds one only for a
    priority the message came with); an urgent one gets MT-Priority: 4 (RFC 6710 App B)."""
    from bridge.model.common import Priority

    async def main() -> None:
        async with world(tmp_path) as (app, remote, sink):
            for subject, priority in (("Normal", Priority.NORMAL), ("Urgent", Priority.URGENT)):
                res = x400_message(app, "John.Smith@x400.example", "bob@internet.example",
                                   subject)
                assert isinstance(res.apdu, Message)
                apdu = dataclasses.replace(res.apdu, envelope=dataclasses.replace(
                    res.apdu.envelope, priority=priority))
                await p1_send(app, encode_apdu(apdu))
            await wait_for(lambda: len(sink.messages) >= 2, sink.arrived)
            fields = {email.message_from_bytes(m.original_content or b"")["Subject"]:
                      email.message_from_bytes(m.original_content or b"").get_all("MT-Priority")
                      for m in sink.messages}
            assert fields == {"Normal": None, "Urgent": ["4"]}
    run(main)
