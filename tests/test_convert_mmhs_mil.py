"""Military messaging beyond the RFC 6477 fields (issue 14): RFC 7912 MMHS-Authorizing-Users,
the MM-Message, military notifications, the per-peer content policy and the X.400 priority of
a P772 message.

* MIL-3 (RFC 7912 §5): ``MMHS-Authorizing-Users`` <-> authorizing-users and ``From:`` <->
  originator in a military message, both ways, golden and round trip;
* MIL-2 (RFC 6477 §6): message/rfc822 in a P772 message -> MM-Message and back as
  message/rfc822; P772 -> MIME -> P772 keeps it; tshark's p772 dissector reads it;
* ACP 127 notification request / response (STANAG 4406 A2.1, A3.1) decoded and mapped to
  the IPN text and MDN fields (N-4/N-5 style), both ways;
* the peer ``content`` policy (p772 / p22) and MIL-4's X.400 priority from the primary
  precedence without MT-PRIORITY.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bridge import samples
from bridge.codec import decode_apdu, decode_content, encode_apdu, encode_content
from bridge.codec.p772 import other_notification_from, other_notification_to
from bridge.convert.mdn import ipn_to_mdn, mdn_to_ipn
from bridge.convert.policy import LENIENT
from bridge.convert.to_mime import ContentTypeNotSupported, x400_to_mime
from bridge.convert.to_x400 import mime_to_x400
from bridge.errors import ConfigError
from bridge.model import (
    IPM,
    Heading,
    IPMSExtension,
    Message,
    MessageBodyPart,
    ORDescriptor,
    RecipientSpecifier,
    mmhs,
)
from bridge.model.common import Opaque, Priority
from bridge.model.ipm import IPN, OtherNotificationFields, ReceiptFields
from bridge.x400.peers import load_peer_table
from bridge.x400.profile import PeerProfile, prepare
from tests.helpers import gateway_context
from tests.test_convert_mdn import envelope as ipn_envelope
from tests.test_convert_mdn import notification, parse
from tests.test_convert_mmhs import (
    CTX,
    NOW,
    ROSE,
    SMITH,
    THIS_IPM,
    TSHARK_UNKNOWN_OID,
    header_lines,
    mime,
    p772,
    to_x400,
)

MDN_CTX = gateway_context(NOW, policy=LENIENT.clone(ipn_as_mdn=True))
JO = "Jo Bloggs <Jo.Bloggs@cs.ucl.AC.UK>"
COL = "Col Bloggs <col.bloggs@cs.ucl.AC.UK>"
#: military encodings made here, for the tshark test at the end
WIRE: list[bytes] = []


def _formal(d: ORDescriptor | None) -> str:
    assert d is not None and d.formal_name is not None
    return str(d.formal_name)


# ------------------------------------------------------------------- RFC 7912 (MIL-3)


def test_authorizing_users_field_to_heading() -> None:
    """MIL-3: MMHS-Authorizing-Users -> authorizing-users, From -> originator (RFC 7912 §5),
    and the field alone makes the message P772."""
    wire, ipm, defects = to_x400(mime(f"MMHS-Authorizing-Users: {COL}, duty@AC.UK"))
    WIRE.append(encode_apdu(wire))
    assert wire.envelope.content_type == mmhs.ID_MMHS_CONT_MM88
    h = ipm.heading
    assert h.originator is not None and h.originator.free_form_name == "Jo Bloggs"
    assert "/S=Bloggs/" in _formal(h.originator) and "/G=Jo/" in _formal(h.originator)
    assert h.authorizing_users is not None
    assert [d.free_form_name for d in h.authorizing_users] == ["Col Bloggs", None]
    assert "/S=duty/" in _formal(h.authorizing_users[1])
    assert not [d for d in defects if "Sender" in d]


def test_rfc2156_mapping_unchanged_without_military_fields() -> None:
    """A P22 message keeps RFC 2156 §5.1.3: Sender -> originator, From -> authorizing-users."""
    _, ipm, _ = to_x400(mime("Sender: sec@cs.ucl.AC.UK"))
    assert "/S=sec/" in _formal(ipm.heading.originator)
    assert ipm.heading.authorizing_users is not None
    assert ipm.heading.authorizing_users[0].free_form_name == "Jo Bloggs"


def test_military_sender_kept_in_rfc822_field() -> None:
    """RFC 7912 §5: in a military message From stays the originator; Sender has no heading
    field and goes, verbatim, to rfc-822-field (a non-lossy defect), and comes back."""
    wire, ipm, defects = to_x400(mime("MMHS-Primary-Precedence: flash",
                                      "Sender: sec@cs.ucl.AC.UK"))
    assert ipm.heading.originator is not None
    assert ipm.heading.originator.free_form_name == "Jo Bloggs"
    assert ipm.heading.authorizing_users is None
    assert any(d.startswith("mmhs: Sender: kept") for d in defects)
    lines, _ = header_lines(wire)
    assert "Sender: sec@cs.ucl.AC.UK" in lines
    assert f"From: {JO}" in lines


def test_military_several_authors_sender_is_originator() -> None:
    """RFC 5322 §3.6.2: several From mailboxes need a Sender; in a military message it is the
    originator and From is kept in rfc-822-field."""
    data = mime("MMHS-Primary-Precedence: routine", "Sender: sec@cs.ucl.AC.UK").replace(
        f"From: {JO}".encode(), f"From: {JO}, b@AC.UK".encode())
    _, ipm, defects = to_x400(data)
    assert "/S=sec/" in _formal(ipm.heading.originator)
    fields = [e.value for e in ipm.heading.extensions or () if isinstance(e.value, tuple)]
    assert any(f.startswith("From: ") for v in fields for f in v)
    assert any("several mailboxes" in d for d in defects)


def test_heading_to_authorizing_users_field() -> None:
    """MIL-3 golden, X.400 -> 822: a P772 heading with originator and authorizing users."""
    msg = p772(IPMSExtension(type=mmhs.ID_MM_PRIMARY_PRECEDENCE,
                             value=mmhs.PrimaryPrecedence(level=4)))
    ipm = decode_content(msg.content)
    assert isinstance(ipm, IPM)
    heading = replace(ipm.heading, authorizing_users=(ORDescriptor(formal_name=ROSE),))
    msg = replace(msg, content=encode_content(replace(ipm, heading=heading)))
    lines, _ = header_lines(msg)
    roles = [x for x in lines if x.split(":")[0] in ("From", "Sender", "MMHS-Authorizing-Users")]
    assert roles == ["From: Smith@ucl.AC.UK", "MMHS-Authorizing-Users: Rose@Research.GMD.DE"]


def test_p22_heading_with_authorizing_users_keeps_rfc2156() -> None:
    """Without military extensions: From = authorizing users, Sender = originator."""
    msg = p772(content_type=22)
    ipm = decode_content(msg.content)
    assert isinstance(ipm, IPM)
    heading = replace(ipm.heading, authorizing_users=(ORDescriptor(formal_name=ROSE),))
    lines, _ = header_lines(replace(msg, content=encode_content(replace(ipm, heading=heading))))
    assert any(x.startswith("Sender: ") and "Smith" in x for x in lines)
    assert not [x for x in lines if x.startswith("MMHS-Authorizing-Users")]


def test_authorizing_users_round_trip_mime_p772_mime() -> None:
    """MIL-3 round trip: the fields come back as they were (no Sender appears)."""
    wire, ipm, _ = to_x400(mime(f"MMHS-Authorizing-Users: {COL}",
                                "MMHS-Primary-Precedence: immediate"))
    lines, _ = header_lines(wire)
    assert f"From: {JO}" in lines
    assert f"MMHS-Authorizing-Users: {COL}" in lines
    assert not [x for x in lines if x.startswith("Sender:")]
    again = mime_to_x400(x400_to_mime(wire, CTX).message, "<Jo.Bloggs@cs.ucl.AC.UK>",
                         ["c@Widget.COM"], CTX)
    back = decode_content(again.apdu.content)  # type: ignore[union-attr]
    assert isinstance(back, IPM)
    assert back.heading.originator == ipm.heading.originator
    assert back.heading.authorizing_users == ipm.heading.authorizing_users


@pytest.mark.parametrize("value", ["", "MMHS-Authorizing-Users: a@AC.UK"])
def test_authorizing_users_malformed_or_repeated(value: str) -> None:
    """RFC 7912 §3 mailbox-list, once: an empty or a second field goes to rfc-822-field."""
    extra = [value] if value else []
    _, ipm, defects = to_x400(mime(f"MMHS-Authorizing-Users: {'' if not value else COL}",
                                   *extra))
    assert any(d.startswith("header-invalid: MMHS-Authorizing-Users") for d in defects)
    kept = [f for e in ipm.heading.extensions or () if isinstance(e.value, tuple)
            for f in e.value if isinstance(f, str)]
    assert any(f.startswith("MMHS-Authorizing-Users:") for f in kept)


# ------------------------------------------------------------------ MM-Message (MIL-2)

FORWARDED = ("From: a@AC.UK\r\nTo: b@AC.UK\r\nSubject: fwd\r\nMessage-ID: <9@AC.UK>\r\n"
             "Delivery-Date: Mon, 09 Aug 2010 10:00:00 +0000\r\n"
             "MMHS-Primary-Precedence: flash\r\n\r\ninner text\r\n")


def forwarding(*fields: str) -> bytes:
    head = ["From: " + JO, "To: c@Widget.COM", "Subject: MMHS",
            "Date: Mon, 09 Aug 2010 15:27:40 +0100", "Message-ID: <1.2@cs.ucl.AC.UK>",
            *fields, "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b"']
    return ("\r\n".join(head) + "\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
            "--b\r\nContent-Type: message/rfc822\r\n\r\n" + FORWARDED + "--b--\r\n").encode()


def test_rfc822_in_p772_becomes_mm_message() -> None:
    """MIL-2 (RFC 6477 §6 SHOULD): message/rfc822 -> MM-Message; the Delivery-Date stays in
    the forwarded heading (MMMessageParameters needs a delivery envelope)."""
    wire, ipm, defects = to_x400(forwarding("MMHS-Primary-Precedence: immediate"))
    WIRE.append(encode_apdu(wire))
    part = ipm.body[1]
    assert isinstance(part, MessageBodyPart) and part.mm_message and part.extended
    assert part.delivery_time is None
    inner = {e.type: e.value for e in part.ipm.heading.extensions or ()}
    assert inner[mmhs.ID_MM_PRIMARY_PRECEDENCE] == mmhs.PrimaryPrecedence(level=4)
    assert "Delivery-Date: Mon, 09 Aug 2010 10:00:00 +0000" in inner["1.3.6.1.7.1.3.2"]
    assert any(d.startswith("mmhs: MM-Message without parameters") for d in defects)


def test_rfc822_in_p22_stays_x420_message() -> None:
    """Without military fields the forwarded message is X.420's (RFC 2157 §6.5)."""
    wire, ipm, _ = to_x400(forwarding())
    part = ipm.body[1]
    assert wire.envelope.content_type == 22
    assert isinstance(part, MessageBodyPart) and not part.mm_message
    assert part.delivery_time is not None


def test_mm_message_codec_round_trip_with_envelope() -> None:
    """MMMessageParameters with a delivery envelope and time, MMMessageData an IPM."""
    inner = next(b for b in samples.full_ipm().body if isinstance(b, MessageBodyPart))
    assert inner.delivery_envelope is not None
    part = replace(inner, extended=True, mm_message=True)
    ipm = IPM(heading=Heading(this_ipm=THIS_IPM), body=(part,))
    back = decode_content(encode_content(ipm))
    assert isinstance(back, IPM) and back.body == (part,)


def test_mm_message_to_mime_and_back() -> None:
    """MIL-2: an MM-Message -> message/rfc822 (as a forwarded IPM) and P772 -> MIME -> P772
    keeps it an MM-Message with the same forwarded IPM."""
    wire, ipm, _ = to_x400(forwarding("MMHS-Primary-Precedence: immediate"))
    out = x400_to_mime(wire, CTX).message
    assert b"Content-Type: message/rfc822" in out
    assert b"Delivery-Date: Mon, 09 Aug 2010 10:00:00 +0000" in out
    assert b"MMHS-Primary-Precedence: flash" in out
    again = mime_to_x400(out, "<Jo.Bloggs@cs.ucl.AC.UK>", ["c@Widget.COM"], CTX)
    assert isinstance(again.apdu, Message)
    WIRE.append(encode_apdu(again.apdu))
    back = decode_content(again.apdu.content)
    assert isinstance(back, IPM)
    assert back.body[1] == ipm.body[1]


# ------------------------------------------------- military notifications (A2.1, A3.1)

RESPONSE = mmhs.Acp127NotificationResponse(
    kinds=mmhs.Acp127Notification.PN | mmhs.Acp127Notification.TN,
    receipt_time=datetime(2026, 11, 28, 9, 30, tzinfo=UTC), recipient="RUEDADA",
    supplementary_info="RECEIVED BY ACP127")
RESPONSE_EXT = IPMSExtension(type=mmhs.ID_MM_ACP127_NOTIFICATION_RESPONSE, value=RESPONSE)


def military_ipn(ipn: IPN) -> Message:
    msg = Message(envelope=replace(ipn_envelope(), content_type=mmhs.ID_MMHS_CONT_MM88),
                  content=encode_content(ipn))
    WIRE.append(encode_apdu(msg))
    return msg


def test_acp127_notification_codec() -> None:
    """A2.1 request (BIT STRING nn/pn/tn) and A3.1 response decode to the model."""
    request = IPMSExtension(type=mmhs.ID_MM_ACP127_NOTIFICATION_REQUEST,
                            value=mmhs.Acp127NotificationRequest(
                                kinds=mmhs.Acp127Notification.NN | mmhs.Acp127Notification.TN))
    spec = RecipientSpecifier(recipient=ORDescriptor(formal_name=ROSE), extensions=(request,))
    ipm = IPM(heading=Heading(this_ipm=THIS_IPM, primary=(spec,), extensions=(RESPONSE_EXT,)))
    back = decode_content(encode_content(ipm))
    assert back == ipm
    assert str(request.value) == "nn, tn"
    assert other_notification_from(other_notification_to((RESPONSE_EXT,)).ber) == (
        RESPONSE_EXT,)


def test_acp127_request_dropped_with_defect() -> None:
    """A2.1 has no MIME form: the recipient extension is named in a defect."""
    request = IPMSExtension(type=mmhs.ID_MM_ACP127_NOTIFICATION_REQUEST,
                            value=mmhs.Acp127NotificationRequest(kinds=mmhs.Acp127Notification.PN))
    msg = p772(IPMSExtension(type=mmhs.ID_MM_PRIMARY_PRECEDENCE,
                             value=mmhs.PrimaryPrecedence(level=1)))
    ipm = decode_content(msg.content)
    assert isinstance(ipm, IPM)
    spec = replace(ipm.heading.primary[0], extensions=(request,))  # type: ignore[index]
    msg = replace(msg, content=encode_content(replace(ipm, heading=replace(
        ipm.heading, primary=(spec,)))))
    WIRE.append(encode_apdu(msg))
    _, defects = header_lines(msg)
    assert any(mmhs.ID_MM_ACP127_NOTIFICATION_REQUEST in d for d in defects)


def test_acp127_response_in_receipt_to_mdn_and_back() -> None:
    """A3.1 in an RN: X400-ACP127-* MDN extension fields and a text line; the MDN comes
    back as a P772 IPN with the same response."""
    ipn = replace(samples.receipt_ipn(), extensions=(RESPONSE_EXT,))
    res = ipn_to_mdn(military_ipn(ipn), MDN_CTX)
    msg = parse(res.message)
    fields = notification(msg)
    assert fields["X400-ACP127-Notification"] == "pn, tn"
    assert fields["X400-ACP127-Receipt-Time"] == "Sat, 28 Nov 2026 09:30:00 +0000"
    assert fields["X400-ACP127-Recipient"] == "RUEDADA"
    assert fields["X400-ACP127-Supplementary-Info"] == "RECEIVED BY ACP127"
    text = list(msg.iter_parts())[0].get_content()
    assert "ACP 127 notification (pn, tn) for RUEDADA at Sat, 28 Nov 2026 09:30:00" in text
    assert not res.defects
    back = mdn_to_ipn(res.message, res.mail_from, res.rcpt_to, MDN_CTX)
    assert isinstance(back.apdu, Message)
    assert back.apdu.envelope.content_type == mmhs.ID_MMHS_CONT_MM88
    got = decode_content(back.apdu.content)
    assert isinstance(got, IPN) and isinstance(got.fields, ReceiptFields)
    assert got.extensions == (RESPONSE_EXT,)
    assert not [d for d in back.defects if d.lossy]


def test_acp127_other_notification_to_mdn_and_back() -> None:
    """A3.1 as the whole of an other-notification-type-fields IPN: shown (no "type this
    gateway does not know"), and back as the same kind of IPN."""
    ipn = replace(samples.receipt_ipn(),
                  fields=OtherNotificationFields(value=other_notification_to((RESPONSE_EXT,))))
    res = ipn_to_mdn(military_ipn(ipn), MDN_CTX)
    msg = parse(res.message)
    assert notification(msg)["X400-Notification-Type"] == "other"
    text = list(msg.iter_parts())[0].get_content()
    assert "does not know" not in text and "ACP 127 notification (pn, tn)" in text
    back = mdn_to_ipn(res.message, res.mail_from, res.rcpt_to, MDN_CTX)
    got = decode_content(back.apdu.content)  # type: ignore[union-attr]
    assert isinstance(got, IPN) and isinstance(got.fields, OtherNotificationFields)
    assert other_notification_from(got.fields.value.ber) == (RESPONSE_EXT,)


def test_acp127_response_in_ipn_text() -> None:
    """Without ipn_as_mdn (RFC 2156 §5.3.5 text): the response is a text line, and not
    listed as a discarded extension."""
    ipn = replace(samples.receipt_ipn(), extensions=(RESPONSE_EXT,))
    res = x400_to_mime(military_ipn(ipn), CTX)
    assert b"ACP 127 notification (pn, tn) for RUEDADA" in res.message
    assert b"Discarded-X400-IPMS-Extensions" not in res.message


def test_acp127_response_address_list_dropped_with_defect() -> None:
    """What has no MDN field (the address list indicator) is a lossy defect."""
    from bridge.codec import asn1

    lists = asn1.encode("AddressListDesignatorSeq", [
        {"type": 0, "listName": {"free-form-name": b"AL ONE"}}])
    ext = replace(RESPONSE_EXT, value=replace(RESPONSE, address_list=Opaque(ber=lists)))
    ipn = replace(samples.receipt_ipn(), extensions=(ext,))
    res = ipn_to_mdn(military_ipn(ipn), MDN_CTX)
    assert any(d.lossy and "address list" in d.detail for d in res.defects)


# ----------------------------------------------------------- content policy (peers)

PEER = {"mta-name": "MIL", "password": "x"}


def test_content_policy_parsed() -> None:
    table = load_peer_table({"peers": {"mil": {**PEER, "content": "p772"},
                                       "old": {**PEER, "content": "p22"},
                                       "any": dict(PEER)}})
    assert table.peers["mil"].profile.content == "p772"
    assert table.peers["old"].profile.content == "p22"
    assert table.peers["any"].profile.content == "auto"
    with pytest.raises(ConfigError, match=r"peers\.x\.content"):
        load_peer_table({"peers": {"x": {**PEER, "content": "P772x"}}})


def test_p772_peer_gets_p22_as_p772() -> None:
    """A military MTA (content = "p772") gets a P22 IPM as P772 with RFC 6477 §6 a, b, d."""
    msg = p772(content_type=22)
    ipm = decode_content(msg.content)
    assert isinstance(ipm, IPM)
    short = replace(ipm.heading, this_ipm=replace(THIS_IPM, user=None, local="42"))
    msg = replace(msg, content=encode_content(replace(ipm, heading=short)))
    out = prepare(msg, PeerProfile(content="p772"), mta_name="GW", now=NOW)
    assert isinstance(out.apdu, Message)
    WIRE.append(encode_apdu(out.apdu))
    assert out.apdu.envelope.content_type == mmhs.ID_MMHS_CONT_MM88
    got = decode_content(out.apdu.content)
    assert isinstance(got, IPM)
    exts = {e.type: e.value for e in got.heading.extensions or ()}
    assert exts[mmhs.ID_MM_PRIMARY_PRECEDENCE] == mmhs.PrimaryPrecedence(level=1)
    assert exts[mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO] == mmhs.ExtendedAuthorisationInfo(
        time=msg.envelope.trace[0].arrival_time)
    assert got.heading.this_ipm.local == "42".ljust(15)
    assert got.heading.this_ipm.user == SMITH  # the envelope originator
    assert any("sent as P772" in n for n in out.notes)


def test_auto_and_p772_peers_leave_p772_alone() -> None:
    msg = p772(IPMSExtension(type=mmhs.ID_MM_PRIMARY_PRECEDENCE,
                             value=mmhs.PrimaryPrecedence(level=4)))
    for content in ("auto", "p772"):
        out = prepare(msg, PeerProfile(content=content), mta_name="GW", now=NOW)  # type: ignore[arg-type]
        assert isinstance(out.apdu, Message) and out.apdu.content == msg.content


def test_p22_peer_refuses_p772() -> None:
    """RFC 6477 §6: a military message goes as P772 or not at all: non-delivery with X.411
    unable-to-transfer / content-type-not-supported."""
    with pytest.raises(ContentTypeNotSupported) as info:
        prepare(p772(), PeerProfile(content="p22"), mta_name="GW", now=NOW)
    assert (info.value.x400.reason, info.value.x400.diagnostic) == (1, 15)
    plain = p772(content_type=22)
    assert prepare(plain, PeerProfile(content="p22"), mta_name="GW", now=NOW).apdu == plain


# ------------------------------------------------------- priority from precedence (MIL-4)


@pytest.mark.parametrize(("precedence", "priority"), [
    ("deferred", Priority.NON_URGENT), ("routine", Priority.NON_URGENT),
    ("priority", Priority.NORMAL), ("immediate", Priority.NORMAL),
    ("flash", Priority.URGENT), ("override", Priority.URGENT)])
def test_priority_follows_primary_precedence(precedence: str, priority: Priority) -> None:
    """MIL-4: without MT-PRIORITY the envelope priority is PRECEDENCE_PRIORITY's."""
    wire, _, _ = to_x400(mime(f"MMHS-Primary-Precedence: {precedence}"))
    assert wire.envelope.priority == priority


def test_precedence_wins_over_priority_field_with_defect() -> None:
    wire, _, defects = to_x400(mime("MMHS-Primary-Precedence: flash", "Priority: non-urgent"))
    assert wire.envelope.priority == Priority.URGENT
    assert any(d.startswith("priority: Priority: non-urgent not used") for d in defects)


def test_national_or_default_precedence_leaves_priority_field() -> None:
    """A national level (no table entry) or the §6 b default does not set the priority."""
    wire, _, _ = to_x400(mime("MMHS-Primary-Precedence: 20", "Priority: urgent"))
    assert wire.envelope.priority == Priority.URGENT
    wire, _, _ = to_x400(mime("MMHS-Copy-Precedence: flash"))
    assert wire.envelope.priority == Priority.NORMAL


# --------------------------------------------------------------------------- interop


@pytest.mark.oracle
def test_tshark_p772_reads_mm_message_and_notifications() -> None:
    """Every military encoding above is dissected by tshark's p772 dissector without errors;
    the MM-Message and the ACP 127 notification values are where we put them."""
    from tests import oracle

    oracle.require("tshark")
    wire, _, _ = to_x400(forwarding("MMHS-Primary-Precedence: immediate"))
    datas = list(dict.fromkeys([*WIRE, encode_apdu(wire), encode_apdu(military_ipn(
        replace(samples.receipt_ipn(), extensions=(RESPONSE_EXT,))))]))
    results = oracle.tshark_decode_many(datas, "p1")
    seen: set[str] = set()
    for data, result in zip(datas, results, strict=True):
        assert isinstance(decode_apdu(data), Message)
        errors = [e for e in result.errors if TSHARK_UNKNOWN_OID not in e]
        assert errors == [], errors
        assert result.warnings == []
        assert "p772" in result.protocols.split(":")
        if result.has("p772.MMMessageData_element"):
            seen.add("mm-message")
        if result.has("p772.Acp127NotificationResponse_element"):
            assert result.value("p772.acp127_recipient") == "RUEDADA"
            seen.add("response")
    assert seen == {"mm-message", "response"}
