"""Replays of a live session with PP 6.0 (tests/data/pp-live/README.md): what PP sent when
x400bridge, configured as docs/x400-endpoint.md says for PP, exchanged mail with it both ways.

* As the initiator, our stack meets PP's answers to a bind and a transfer and gets the
  transfer confirmed (PP delivered that message to a local mailbox).
* As the responder, PP's report and PP's message are received, decode, and convert: the
  report to a DSN with the status the gateway sent, the message to Internet mail.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bridge.codec import decode_apdu
from bridge.codec.rtpdu import MTABind
from bridge.convert.reports import report_to_dsn
from bridge.convert.to_mime import x400_to_mime
from bridge.model.apdu import Message
from bridge.model.report import NonDeliveryOutcome, Report
from bridge.x400.mta import (
    BindAccept,
    BindRequest,
    Selectors,
    Transfer,
    TransferConfirm,
)
from bridge.x400.stack import Stack
from tests.capture import Connection, connections
from tests.helpers import gateway_context
from tests.test_pp_interop import _responder_replay

CAPTURE = Path(__file__).parent / "data" / "pp-live" / "live-2026-12-07.pcapng"
CTX = gateway_context(datetime(2026, 12, 7, 18, 30, tzinfo=UTC))


def _conn(n: int) -> Connection:
    return connections(CAPTURE)[n]


def _our_apdus(conn: Connection) -> list[bytes]:
    """The APDUs we transferred on ``conn`` (our own octets, read back by our responder)."""
    ours = Connection(client=conn.client, server=conn.server,
                      segments=[(d, p) for d, p in conn.segments if d == "I"])
    events, _ = _responder_replay(ours)
    return [e.apdu for e in events if isinstance(e, Transfer)]


def test_our_initiator_meets_pps_answers_and_gets_the_transfer_confirmed() -> None:
    conn = _conn(0)
    [apdu] = _our_apdus(conn)
    stack = Stack("initiator", mode="normal")
    stack.send(BindRequest(name="x400bridge", password="bridgepass", checkpoint_size=1,
                           called=Selectors(tsel=b"x400in88")))
    stack.data_to_send()
    answers = [p for d, p in conn.segments if d == "O"]
    seen: list[object] = []

    def feed(segment: bytes) -> None:
        stack.receive_data(segment)
        while (ev := stack.next_event()) is not None:
            seen.append(ev)
            if isinstance(ev, BindAccept):
                stack.send(Transfer(apdu=apdu))
        stack.data_to_send()

    for segment in answers:
        feed(segment)
    kinds = [type(e) for e in seen]
    assert kinds[:2] == [BindAccept, TransferConfirm], kinds
    assert seen[0] == BindAccept(responder=MTABind(name="PPMTA", password=b"pppass"),
                                 deviations=())            # we proposed 1, PP answered 1
    message = decode_apdu(apdu)                # what we sent PP: the 1988 form, no eit-mixer
    assert isinstance(message, Message)
    assert message.envelope.original_eits is None or \
        "1.3.6.1.7.1.3.5" not in message.envelope.original_eits.extended


def test_pps_non_delivery_report_converts_to_a_dsn() -> None:
    events, sent = _responder_replay(_conn(9))
    [transfer] = [e for e in events if isinstance(e, Transfer)]
    report = decode_apdu(transfer.apdu)
    assert isinstance(report, Report)
    [r] = report.recipients
    assert isinstance(r.outcome, NonDeliveryOutcome)
    assert str(r.actual_recipient.address).startswith("/S=ghost/")
    dsn = report_to_dsn(report, CTX)
    assert b"Action: failed" in dsn.message and b"ghost" in dsn.message
    assert b"\x02\x00\x2a" in sent                           # confirmed behind PLEASE TOKENS


def test_pps_message_converts_to_internet_mail() -> None:
    events, _ = _responder_replay(_conn(15))
    [transfer] = [e for e in events if isinstance(e, Transfer)]
    message = decode_apdu(transfer.apdu)
    assert isinstance(message, Message)
    assert message.repairs                                 # PP's three-digit UTCTime years
    res = x400_to_mime(message, CTX)
    assert b"Subject: captured PP to internet" in res.message
    assert b"hello from PP, captured" in res.message
