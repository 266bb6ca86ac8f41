"""Interoperation with PP 6.0 (ISODE 8.3), replayed from the captures in x400-samples/pp.

Each test feeds the *peer's* octets, as captured on loopback with a live PP (their README says
what each file shows), to our engines or our real responder on a loopback socket, and checks
that what failed with PP now works (issue 11; conformance rows O-4, G-4, T-1, B-1):

* PP's transferred APDU as an indefinite-length EXTERNAL is received;
* our acknowledgements travel behind PLEASE TOKENS, as X.225 §6.3.7 and ISODE want;
* PP's RTOAC raising the checkpoint size is tolerated and noted;
* PP's bind refusal (RTORJ with a bare INTEGER) reads as authentication-error;
* PP's report with X.411 (1988) extension fields and a three-digit UTCTime year decodes and
  converts to a DSN.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bridge.codec import decode_apdu, encode_apdu
from bridge.codec.rtpdu import MTABind
from bridge.convert.reports import report_to_dsn
from bridge.model.common import StandardExtension
from bridge.model.report import Report
from bridge.x400.mta import (
    Aborted,
    BindAccept,
    BindIndication,
    BindReject,
    BindRequest,
    Transfer,
    TransferAccept,
)
from bridge.x400.peers import LocalMTA, Peer, PeerTable
from bridge.x400.shell import Responder, Timeouts
from bridge.x400.stack import Stack
from tests.capture import Connection, connections, pp_sample
from tests.helpers import gateway_context

#: what the captures were made with (x400-samples/README.md)
PP_TABLE = PeerTable(local=LocalMTA(name="x400bridge", password="bridgepass"),
                     peers={"pp": Peer(key="pp", mta_name="PPMTA", password="pppass")})
OUR_BIND = MTABind(name="x400bridge", password="bridgepass")

#: TPKT (4) + COTP DT (3): where the session SPDUs start in a data TPDU
_SPDUS = 7
_PT_AEA = b"\x02\x00\x2a"      # PLEASE TOKENS (empty) + ACTIVITY END ACK
_GT_AEA = b"\x01\x00\x2a"      # what we used to send, and PP aborted on


def _tpkts(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i + 4 <= len(data):
        n = int.from_bytes(data[i + 2:i + 4], "big")
        out.append(data[i:i + n])
        i += n
    return out


def _is_abort(segment: bytes) -> bool:
    """A session ABORT SPDU (SI 25) as the first SPDU of a data TPDU."""
    return len(segment) > _SPDUS and segment[5] == 0xF0 and segment[_SPDUS] == 0x19


# ------------------------------------------------------------------------ sans-IO replays

def _responder_replay(conn: Connection) -> tuple[list[object], bytes]:
    """PP's side of ``conn`` into a responder Stack; binds accepted, transfers stored."""
    stack = Stack("responder", mode=None)
    events: list[object] = []
    sent = bytearray()
    for direction, payload in conn.segments:
        if direction != "I" or _is_abort(payload):
            continue
        stack.receive_data(payload)
        while (ev := stack.next_event()) is not None:
            events.append(ev)
            if isinstance(ev, BindIndication):
                stack.send(BindAccept(responder=OUR_BIND))
            elif isinstance(ev, Transfer):
                stack.send(TransferAccept())
        sent += stack.data_to_send()
    return events, bytes(sent)


def test_pp_report_transfer_with_indefinite_external_is_received() -> None:
    """O-4: PP's NDR arrives as ``28 80 02 01 05 a0 80 ...`` -- taken, not aborted."""
    conn = connections(pp_sample("pp-to-responder-ndr.pcap"))[1]
    first_data = next(p for d, p in conn.segments if d == "I" and b"\x28\x80" in p)
    assert b"\x28\x80\x02\x01\x05\xa0\x80" in first_data     # the capture is what we think
    events, sent = _responder_replay(conn)
    [bind] = [e for e in events if isinstance(e, BindIndication)]
    assert bind.initiator == MTABind(name="PPMTA", password=b"pppass")
    assert not [e for e in events if isinstance(e, Aborted)]
    [transfer] = [e for e in events if isinstance(e, Transfer)]
    report = decode_apdu(transfer.apdu)
    assert isinstance(report, Report)
    assert report.recipients[0].outcome.diagnostic == 4  # type: ignore[union-attr]
    assert _PT_AEA in sent and _GT_AEA not in sent


def test_acknowledgements_go_behind_please_tokens() -> None:
    """O-4, X.225 §6.3.7: the AEA (and every other acknowledgement) behind PT, never GT --
    the capture where PP aborted on ``01 00 2a`` now ends with the message taken."""
    conn = connections(pp_sample("pp-to-responder-abort-after-ack.pcap"))[0]
    theirs = [p for d, p in conn.segments if d == "O"]
    assert any(_GT_AEA in p for p in theirs)                  # the old bytes PP refused
    events, sent = _responder_replay(conn)
    assert [type(e) for e in events] == [BindIndication, Transfer]
    acks = [t[_SPDUS:] for t in _tpkts(sent) if t[_SPDUS:_SPDUS + 3] in (_PT_AEA, _GT_AEA)]
    assert acks and all(a.startswith(_PT_AEA) for a in acks)


def _initiator_replay(conn: Connection, checkpoint_size: int = 0) -> tuple[Stack, list[object]]:
    """PP's answers in ``conn`` into an initiator Stack that binds as x400bridge."""
    stack = Stack("initiator", mode="normal")
    stack.send(BindRequest(name="x400bridge", password="bridgepass",
                           checkpoint_size=checkpoint_size))
    stack.data_to_send()
    events: list[object] = []
    for direction, payload in conn.segments:
        if direction == "O":
            stack.receive_data(payload)
            while (ev := stack.next_event()) is not None:
                events.append(ev)
            stack.data_to_send()
    return stack, events


def test_initiator_takes_pp_rtoac_raising_the_checkpoint_size() -> None:
    """O-4: PP answers checkpoint size 1 to our 0 (X.228 §7.2.2 allows only lowering): the
    association is used with 1 KiB checkpoints, and the deviation is reported for the log."""
    conn = connections(pp_sample("pp-rtoac-and-bind-refusal.pcap"))[2]
    stack, events = _initiator_replay(conn)
    [accept] = events
    assert isinstance(accept, BindAccept)
    assert accept.responder == MTABind(name="PPMTA", password=b"pppass")
    assert stack.mta.rtse.checkpoint_size == 1
    assert any("checkpoint size from 0 to 1" in d for d in accept.deviations)
    # and the association works with it: a 5 KiB transfer goes out in 1 KiB segments,
    # each followed by a minor sync (X.228 §7.4.2)
    stack.send(Transfer(apdu=b"\x04\x82\x14\x00" + bytes(5120)))
    assert stack.data_to_send().count(b"\x31") >= 5  # MIP SPDUs (SI 49)


def test_pp_bind_refusal_reads_as_authentication_error() -> None:
    """O-4: PP's RTORJ carries a bare universal INTEGER 2 (no ROS bind-error tag)."""
    conn = connections(pp_sample("pp-rtoac-and-bind-refusal.pcap"))[1]
    _, events = _initiator_replay(conn)
    [reject] = events
    assert isinstance(reject, BindReject)
    assert reject.error == 2
    assert "authentication-error" in reject.reason


# ------------------------------------------------------------------------ socket replays

async def _socket_replay(conn: Connection) -> tuple[list[bytes], bytes]:
    """PP's side of ``conn`` against our real Responder on loopback; returns what it stored
    and every octet it sent back."""
    stored: list[bytes] = []

    async def on_apdu(apdu: bytes, peer: Peer) -> None:
        assert peer.key == "pp"
        stored.append(apdu)

    responder = Responder(PP_TABLE, on_apdu, timeouts=Timeouts(bind=5, idle=5, transfer=5))
    await responder.start("127.0.0.1", 0)
    received = bytearray()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", responder.port)
        for direction, payload in conn.segments:
            if direction == "I":
                if _is_abort(payload):
                    break
                writer.write(payload)
                await writer.drain()
            else:                                  # wait for as many TPDUs as PP got
                for _ in _tpkts(payload):
                    head = await asyncio.wait_for(reader.readexactly(4), 10)
                    body = await reader.readexactly(int.from_bytes(head[2:4], "big") - 4)
                    received += head + body
        # the confirmation of the last transfer (S-ACTIVITY-END response)
        while _PT_AEA not in received and _GT_AEA not in received:
            head = await asyncio.wait_for(reader.readexactly(4), 10)
            received += head + await reader.readexactly(int.from_bytes(head[2:4], "big") - 4)
        writer.close()
    finally:
        await responder.close(drain=1)
    return stored, bytes(received)


def test_pp_ndr_association_replayed_over_tcp_converts_to_a_dsn() -> None:
    """Done-when of issue 11: the bind is accepted, the transfer confirmed (AEA behind PT),
    the report stored, and it converts to an RFC 3464 DSN."""
    conn = connections(pp_sample("pp-to-responder-ndr.pcap"))[1]
    stored, received = asyncio.run(_socket_replay(conn))
    assert len(stored) == 1
    assert _PT_AEA in received
    report = decode_apdu(stored[0])
    assert isinstance(report, Report)
    dsn = report_to_dsn(report, gateway_context(datetime(2026, 12, 7, 17, 0, tzinfo=UTC)))
    text = dsn.message.decode("ascii")
    assert "Content-Type: multipart/report; report-type=delivery-status" in text
    assert "Action: failed" in text
    assert "User @lab.pptest.gb not local!" in text
    assert dsn.mail_from == ""                                  # RFC 3461 §6.1
    assert any(d.kind == "repaired" and "UTCTime" in d.detail for d in dsn.defects)


def test_pp_message_association_replayed_over_tcp_is_stored() -> None:
    """The capture PP aborted after our GT+AEA: now the message is stored and confirmed."""
    conn = connections(pp_sample("pp-to-responder-abort-after-ack.pcap"))[0]
    stored, received = asyncio.run(_socket_replay(conn))
    assert len(stored) == 1 and _PT_AEA in received and _GT_AEA not in received
    message = decode_apdu(stored[0])
    assert not isinstance(message, Report)


# ------------------------------------------------------------------------ PP's report

def test_pp_ndr_decodes_with_1988_extensions_and_repairs() -> None:
    """G-4: ``ExtensionField.type`` as ``a0 03 02 01 26`` (X.411 (1988)) is read; the
    three-digit UTCTime year (``1261207164229Z``) is repaired, with a note."""
    data = pp_sample("pp-ndr.p1.ber").read_bytes()
    assert b"\xa0\x03\x02\x01\x26" in data and b"1261207164229Z" in data
    report = decode_apdu(data)
    assert isinstance(report, Report)
    [ext] = report.envelope_extensions
    assert ext.type == StandardExtension.INTERNAL_TRACE_INFORMATION
    assert isinstance(ext.value, tuple) and ext.value[0].mta_name == "pptest.lab"
    assert report.trace[0].arrival_time == datetime(2026, 12, 7, 16, 42, 29, tzinfo=UTC)
    assert any("three-digit year" in n and "2026" in n for n in report.repairs)
    # and it goes back out in the form it came: byte for byte where PP used the 1988 form
    again = encode_apdu(report, extension_form="1988")
    assert b"\xa0\x03\x02\x01\x26" in again
    assert decode_apdu(again) == report


@pytest.mark.parametrize("name", ["pp-to-responder-ndr.pcap",
                                  "pp-to-responder-abort-after-ack.pcap"])
def test_every_pp_transfer_in_the_captures_decodes(name: str) -> None:
    for conn in connections(pp_sample(name)):
        events, _ = _responder_replay(conn)
        for ev in events:
            if isinstance(ev, Transfer):
                decode_apdu(ev.apdu)


def test_a_peer_that_goes_away_mid_transfer_is_logged_as_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    """Issue 11 item 10: PP reports transfers that failed as done -- our log must show them.
    PP's bind and the first half of its report, then the connection closes."""
    conn = connections(pp_sample("pp-to-responder-ndr.pcap"))[1]
    data = [p for d, p in conn.segments if d == "I"]
    cut = Connection(client=conn.client, server=conn.server,
                     segments=[s for s in conn.segments if s[1] is not data[-1]]
                     + [("I", data[-1][:len(data[-1]) // 2])])

    async def main() -> None:
        stored: list[bytes] = []

        async def on_apdu(apdu: bytes, peer: Peer) -> None:
            stored.append(apdu)

        responder = Responder(PP_TABLE, on_apdu, timeouts=Timeouts(bind=5, idle=5))
        await responder.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", responder.port)
            for direction, payload in cut.segments:
                if direction == "I":
                    writer.write(payload)
                    await writer.drain()
                else:
                    for _ in _tpkts(payload):
                        head = await asyncio.wait_for(reader.readexactly(4), 10)
                        await reader.readexactly(int.from_bytes(head[2:4], "big") - 4)
            writer.close()
            await asyncio.wait_for(reader.read(), 10)         # our side closes too
        finally:
            await responder.close(drain=5)
        assert stored == []

    with caplog.at_level("INFO", logger="x400bridge.x400"):
        asyncio.run(main())
    [record] = [r for r in caplog.records if "PPMTA" in r.getMessage()
                and "transfer(s)" in r.getMessage()]
    assert record.levelname == "WARNING"
    assert "after 0 transfer(s)" in record.getMessage()
