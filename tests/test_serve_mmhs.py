"""Military messaging end to end through ``x400bridge serve`` (a child process), a real
Postfix and an X.400 MTA (issue 14 "Done when"; CONFORMANCE MIL-1, MIL-2, MIL-4).

    client --SMTP, MT-PRIORITY--> serve --P1 (P772)--> remote MTA
    client --> Postfix A (no MT-PRIORITY: RFC 6758 MT-Priority field) --> serve --P1--> ...
    remote MTA --P1 (P772)--> serve --SMTP--> Postfix B --> Maildir

The gateway runs the STANAG4406 priority policy (RFC 6710 App A).  Postfix offers no
MT-PRIORITY, so the priority crosses it in the RFC 6758 ``MT-Priority`` header field both
ways.  Assertions are on the transferred APDUs and the delivered bytes, never on logs.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import pytest

from bridge.codec import decode_apdu, decode_content, encode_apdu
from bridge.config import load_config
from bridge.convert.to_x400 import mime_to_x400
from bridge.gateway.wiring import context_for, mapper_for
from bridge.model.apdu import Message
from bridge.model.common import Priority
from bridge.model.ipm import IPM
from bridge.model.mmhs import ID_MM_PRIMARY_PRECEDENCE, ID_MMHS_CONT_MM88, PrimaryPrecedence
from bridge.x400.peers import LocalMTA, Peer
from bridge.x400.shell import Association, Timeouts
from tests.gateway_proc import (
    INTERNET_RECIPIENT,
    RECIPIENT,
    SENDER,
    X400_SENDER,
    GatewayProcess,
    RemoteMTA,
    write_config,
)
from tests.postfix import Postfix, free_port, instance_root, require_postfix

pytestmark = pytest.mark.oracle

#: STANAG 4406 A1.8 precedence levels used here (bridge.model.mmhs.Precedence)
ROUTINE, IMMEDIATE, FLASH = 1, 3, 4


@dataclass
class World:
    gateway: GatewayProcess
    remote: RemoteMTA
    relay: Postfix            # Postfix A: relays everything to the gateway
    mailbox: Postfix          # Postfix B: the gateway's smarthost, Maildir for Internet mail
    config: Path
    smtp: int
    p1: int


@contextmanager
def world(tmp_path: Path, *, workers: int = 2) -> Iterator[World]:
    require_postfix()
    b_port = free_port()
    with RemoteMTA() as remote, instance_root() as root:
        internet = INTERNET_RECIPIENT.partition("@")[2]
        mailbox = Postfix(root / "b", name="b", smtpd_port=b_port,
                          maildir_domains=(internet,))
        config = write_config(tmp_path, remote_port=remote.port, workers=workers,
                              smarthost_port=b_port,
                              extra={"smtp.in": {"mt-priority-policy": "STANAG4406"}})
        with GatewayProcess(config, tmp_path / "serve.log") as gateway:
            ports = gateway.start()
            relay = Postfix(root / "a", name="a", smtpd_port=free_port(),
                            relay_to=("127.0.0.1", ports.smtp))
            try:
                mailbox.start()
                relay.start()
                yield World(gateway, remote, relay, mailbox, config, ports.smtp, ports.p1)
            finally:
                relay.stop()
                mailbox.stop()


def military(subject: str, *, precedence: str | None = None, extra: str = "") -> bytes:
    """An RFC 5322 message with RFC 6477 MMHS-* fields (so the gateway makes P772)."""
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = RECIPIENT
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '.')}@client.test>"
    msg["MMHS-Copy-Precedence"] = "routine"
    msg["MMHS-Message-Type"] = "exercise"
    if precedence is not None:
        msg["MMHS-Primary-Precedence"] = precedence
    msg.set_content(f"{subject}\n{extra}")
    return msg.as_bytes(policy=SMTP_POLICY)


def smtp_send(port: int, data: bytes, options: tuple[str, ...] = (),
              sender: str = SENDER, rcpt: str = RECIPIENT) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        assert client.sendmail(sender, [rcpt], data, mail_options=list(options)) == {}


def p772_of(apdu: bytes) -> tuple[Message, IPM]:
    """The transferred message and its P772 content (asserting it is P772)."""
    message = decode_apdu(apdu)
    assert isinstance(message, Message)
    assert message.envelope.content_type == ID_MMHS_CONT_MM88
    ipm = decode_content(message.content)
    assert isinstance(ipm, IPM)
    return message, ipm


def precedence_of(ipm: IPM) -> int:
    [ext] = [e for e in ipm.heading.extensions or () if e.type == ID_MM_PRIMARY_PRECEDENCE]
    assert isinstance(ext.value, PrimaryPrecedence)
    return ext.value.level


def test_smtp_with_mmhs_fields_and_mt_priority_leaves_as_p772(tmp_path: Path) -> None:
    """MT-PRIORITY=4 (flash, RFC 6710 App A) on MAIL FROM straight to serve, and the same
    priority tunnelled through a real Postfix in an MT-Priority field (RFC 6758): both leave
    over P1 as P772 with primary precedence flash and X.400 priority urgent; an explicit
    MMHS-Primary-Precedence wins over the transfer priority for the heading."""
    with world(tmp_path) as w:
        smtp_send(w.smtp, military("direct flash"), ("MT-PRIORITY=4",))
        tunnelled = b"MT-Priority: 4 (flash)\r\n" + military("tunnelled flash")
        smtp_send(w.relay.smtpd_port, tunnelled)
        smtp_send(w.smtp, military("explicit immediate", precedence="immediate"),
                  ("MT-PRIORITY=4",))
        w.remote.wait(lambda r: len(r.apdus) >= 3, timeout=90, what="three P772 transfers")
        by_subject = {}
        for apdu in w.remote.snapshot():
            message, ipm = p772_of(apdu)
            by_subject[ipm.heading.subject] = (message, ipm)
        for subject in ("direct flash", "tunnelled flash"):
            message, ipm = by_subject[subject]
            assert message.envelope.priority == Priority.URGENT, subject
            assert precedence_of(ipm) == FLASH, subject
        message, ipm = by_subject["explicit immediate"]
        assert precedence_of(ipm) == IMMEDIATE
        assert message.envelope.priority == Priority.URGENT     # MT-PRIORITY sets P1's


def test_p772_over_p1_reaches_postfix_with_fields_and_priority(tmp_path: Path) -> None:
    """A P772 message (precedence immediate) transferred into serve reaches a Maildir behind
    a real Postfix with its MMHS-* fields (RFC 6477 §6) and, since Postfix offers no
    MT-PRIORITY, its STANAG4406 priority 2 in an MT-Priority field (RFC 6758 §3.3)."""
    with world(tmp_path) as w:
        config = load_config(w.config)
        ctx = context_for(config.gateway, mapper_for(config.gateway))
        data = military("from the field", precedence="immediate").replace(
            f"From: {SENDER}".encode(), f"From: {X400_SENDER}".encode()).replace(
            f"To: {RECIPIENT}".encode(), f"To: {INTERNET_RECIPIENT}".encode())
        apdu = mime_to_x400(data, X400_SENDER, [INTERNET_RECIPIENT], ctx).apdu
        assert isinstance(apdu, Message)
        assert apdu.envelope.content_type == ID_MMHS_CONT_MM88

        async def transfer() -> None:
            assoc = await Association.open(
                Peer(key="gateway", mta_name="gateway", password="gwpw", host="127.0.0.1",
                     port=w.p1), LocalMTA(name="remote", password="rpw"),
                timeouts=Timeouts(connect=5, bind=10, transfer=20, release=5))
            await assoc.transfer(encode_apdu(apdu))
            await assoc.release()
        asyncio.run(asyncio.wait_for(transfer(), 60))
        [raw] = w.mailbox.wait_for_messages(INTERNET_RECIPIENT, 1, 90)
        delivered = email.message_from_bytes(raw, policy=email.policy.default)
        assert delivered["Subject"] == "from the field"
        assert delivered["MMHS-Primary-Precedence"].strip().lower() == "immediate"
        assert delivered["MMHS-Copy-Precedence"].strip().lower() == "routine"
        assert delivered["MMHS-Message-Type"].strip().lower().startswith("exercise")
        assert delivered.get_all("MT-Priority") == ["2"]


def test_flash_overtakes_a_routine_backlog(tmp_path: Path) -> None:
    """Higher precedence first (issue 14; RFC 6710 §5): with the only worker stuck in a
    transfer, a routine backlog and then one flash message are queued; when the peer takes
    transfers again the flash message is the next one sent, ahead of the whole backlog."""
    backlog = 10
    with world(tmp_path, workers=1) as w:
        w.remote.hold()
        smtp_send(w.smtp, military("routine 0"), ("MT-PRIORITY=-2",))
        w.remote.wait(lambda r: r.held >= 1, timeout=60, what="the first transfer held")
        for n in range(1, backlog + 1):
            smtp_send(w.smtp, military(f"routine {n}"), ("MT-PRIORITY=-2",))
        smtp_send(w.smtp, military("flash"), ("MT-PRIORITY=4",))
        w.remote.let_go()
        w.remote.wait(lambda r: len(r.apdus) >= backlog + 2, timeout=120,
                      what="the backlog and the flash message")
        order = [p772_of(apdu)[1].heading.subject for apdu in w.remote.snapshot()]
        assert order[:2] == ["routine 0", "flash"], order
        assert sorted(order[2:]) == sorted(f"routine {n}" for n in range(1, backlog + 1))
