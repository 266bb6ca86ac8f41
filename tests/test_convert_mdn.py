"""IPN <-> RFC 8098 MDN (conformance N-4, N-5; bridge.convert.mdn).

N-4: RFC 8098 §8.1 -- Reporting-UA, Final-Recipient and Disposition supplied, MDN-Gateway
present (§3.2.2 MUST), Original-Recipient / Original-Message-ID kept, X400-* extension fields.
N-5: the suggested mapping -- receipt -> displayed, discarded -> deleted + X400-Discard-Reason,
auto-forwarded -> dispatched + X400-Auto-Forward-Comment, and back.
"""

from __future__ import annotations

import email
import email.message
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from pathlib import Path

import pytest

from bridge import samples
from bridge.codec import decode_apdu, decode_content, encode_apdu, encode_content
from bridge.convert.context import Context
from bridge.convert.mdn import MDNError, ipn_to_mdn, is_mdn, mdn_fields, mdn_to_ipn
from bridge.convert.mime_headers import Run
from bridge.convert.policy import LENIENT
from bridge.convert.to_mime import ContentTypeNotSupported
from bridge.mapping.msgid import ipm_id_to_msgid, msgid_to_ipm_id
from bridge.model import (
    IPN,
    EncodedInformationTypes,
    Envelope,
    GlobalDomainIdentifier,
    IPMIdentifier,
    Message,
    MTSIdentifier,
    NonReceiptFields,
    Opaque,
    ORDescriptor,
    PerRecipientIndicators,
    ReceiptFields,
    Recipient,
    TraceElement,
)
from bridge.model.ipm import AcknowledgmentMode, NonReceiptReason, OtherNotificationFields
from tests.helpers import gateway_context

DATA = Path(__file__).parent / "data"
FIXTURES = DATA / "convert" / "mdn"
NOW = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
GW = "gw.example.ac.uk"


@pytest.fixture(scope="module")
def ctx() -> Context:
    return gateway_context(NOW, policy=LENIENT.clone(ipn_as_mdn=True))


def envelope() -> Envelope:
    """A plain envelope: Dietrich's UA sends the IPN to Rose (the IPM's originator)."""
    gdi = GlobalDomainIdentifier(country="DE", admd="DBP", prmd="SIEMENS")
    return Envelope(
        identifier=MTSIdentifier(domain=gdi, local="ipn-1"), originator=samples.DIETRICH,
        content_type=22,
        recipients=(Recipient(name=samples.ROSE, number=1,
                              indicators=PerRecipientIndicators.RESPONSIBILITY),),
        trace=(TraceElement(domain=gdi, arrival_time=samples.T0),))


def wrap(ipn: IPN, env: Envelope | None = None) -> Message:
    return Message(envelope=env or envelope(), content=encode_content(ipn))


def parse(data: bytes) -> email.message.EmailMessage:
    """policy.default, no defects anywhere, 7bit ASCII lines within 998 (RFC 5322 §2.1.1)."""
    assert data.isascii()
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    for part in msg.walk():
        assert not part.defects, part.defects
    return msg


def notification(msg: email.message.EmailMessage) -> dict[str, str]:
    """The message/disposition-notification fields (RFC 8098 §3.1), unfolded."""
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "disposition-notification"
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "text/plain"  # RFC 8098 §3 b
    assert parts[1].get_content_type() == "message/disposition-notification"  # §3 c
    raw = parts[1].as_bytes().split(b"\n\n", 1)[1] if b"\n\n" in parts[1].as_bytes() else b""
    block = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.compat32)
    return {k: " ".join(str(v).split()) for k, v in block.items()}


def mdn_of(ctx: Context, ipn: IPN) -> tuple[email.message.EmailMessage, dict[str, str]]:
    result = ipn_to_mdn(wrap(ipn), ctx)
    assert result.mail_from == ""  # RFC 8098 §3: MAIL FROM MUST be null
    msg = parse(result.message)
    return msg, notification(msg)


# ------------------------------------------------------------------ IPN -> MDN (N-4, N-5)


def test_receipt_mdn(ctx: Context) -> None:  # N-4 N-5
    ipn = samples.receipt_ipn()
    result = ipn_to_mdn(wrap(ipn), ctx)
    assert result.mail_from == ""
    assert result.rcpt_to == ("Marshall.M.T.Rose@cs.ucl.AC.UK",)  # the IPM's originator
    msg = parse(result.message)
    fields = notification(msg)
    rose = "Marshall.M.T.Rose@cs.ucl.AC.UK"
    assert fields == {
        "Reporting-UA": f"{GW}; x400bridge 0.1.0",
        "MDN-Gateway": f"dns; {GW}",  # §3.2.2 MUST
        "Original-Recipient": f"rfc822; {rose}",
        "X400-Original-Recipient": f"x400; {samples.ROSE}",
        "Final-Recipient": f"rfc822; {rose}",
        "Original-Message-ID": ipm_id_to_msgid(ipn.subject_ipm),
        "Disposition": "manual-action/MDN-sent-automatically; displayed",
        "X400-Final-Recipient": f"x400; {samples.ROSE}",
        "X400-Receipt-Time": "Sat, 28 Nov 2026 09:30:15 +0000",
        "X400-Supplementary-Receipt-Info": "Read on screen",
        "X400-Conversion-EITs": "IA5-Text",
    }
    # RFC 8098 §3: From is the person the MDN is issued for; no MDN request in an MDN
    assert msg["From"] == rose
    assert msg["To"] == rose
    assert msg["Disposition-Notification-To"] is None
    assert msg["Subject"] == "X.400 Inter-Personal Notification"
    assert msg["References"] == ipm_id_to_msgid(ipn.subject_ipm)
    assert msg["Received"] is not None and msg["Date"] is not None  # §5.3.7, §5.3.2
    assert len(list(msg.iter_parts())) == 2  # nothing to return for a receipt
    text = list(msg.iter_parts())[0].get_content()
    assert "This notification was generated Automatically" in text  # §5.3.5 text, N-2
    assert not result.defects


def test_manual_receipt(ctx: Context) -> None:  # N-5: acknowledgment-mode -> sending mode
    base = samples.receipt_ipn()
    assert isinstance(base.fields, ReceiptFields)
    ipn = replace(base, fields=replace(base.fields, acknowledgment_mode=AcknowledgmentMode
                                       .MANUAL, supplementary_info=None),
                  conversion_eits=None, ipm_intended_recipient=None)
    _, fields = mdn_of(ctx, ipn)
    assert fields["Disposition"] == "manual-action/MDN-sent-manually; displayed"
    # §3.2.3: no Original-Recipient unless the original recipient is known
    for absent in ("Original-Recipient", "X400-Original-Recipient",
                   "X400-Supplementary-Receipt-Info", "X400-Conversion-EITs"):
        assert absent not in fields


def test_non_receipt_discarded(ctx: Context) -> None:  # N-5 (and RFC 8098 §3 d)
    ipn = samples.non_receipt_ipn()
    msg, fields = mdn_of(ctx, ipn)
    assert fields["Disposition"] == "automatic-action/MDN-sent-automatically; deleted"
    assert fields["X400-Discard-Reason"] == "Expired (0)"
    assert "X400-Auto-Forward-Comment" not in fields
    assert msg["Subject"] == "X.400 Inter-Personal Notification (failure)"
    parts = list(msg.iter_parts())
    assert len(parts) == 3 and parts[2].get_content_type() == "message/rfc822"
    returned = parts[2].get_content()
    assert returned["Subject"] == "Returned"
    assert "The Original Message follows:" in parts[0].get_content()


@pytest.mark.parametrize("reason", [1, 2, 3])
def test_discard_reasons(ctx: Context, reason: int) -> None:  # N-5
    ipn = IPN(subject_ipm=IPMIdentifier(local="x"), ipn_originator=ORDescriptor(
        formal_name=samples.ROSE), fields=NonReceiptFields(reason=0, discard_reason=reason))
    _, fields = mdn_of(ctx, ipn)
    label = {1: "Obsoleted", 2: "User Subscription Terminated", 3: "IPM Deleted"}[reason]
    assert fields["X400-Discard-Reason"] == f"{label} ({reason})"


def test_non_receipt_auto_forwarded(ctx: Context) -> None:  # N-5
    ipn = IPN(subject_ipm=IPMIdentifier(user=samples.DIETRICH, local="147"),
              ipn_originator=ORDescriptor(formal_name=samples.ROSE),
              fields=NonReceiptFields(reason=NonReceiptReason.IPM_AUTO_FORWARDED,
                                      auto_forward_comment="On holiday until Monday"))
    msg, fields = mdn_of(ctx, ipn)
    assert fields["Disposition"] == "automatic-action/MDN-sent-automatically; dispatched"
    assert fields["X400-Auto-Forward-Comment"] == "On holiday until Monday"
    assert "X400-Discard-Reason" not in fields
    assert "was automatically forwarded." in list(msg.iter_parts())[0].get_content()


def test_non_ascii_text_is_encoded(ctx: Context) -> None:  # RFC 8098 §3.1: 7bit
    base = samples.receipt_ipn()
    assert isinstance(base.fields, ReceiptFields)
    run = Run(ctx)
    fields = dict(mdn_fields(run, replace(base, fields=replace(
        base.fields, supplementary_info="Gelesen – grüß"))))
    value = fields["X400-Supplementary-Receipt-Info"]
    assert value.isascii() and value.startswith("=?utf-8?q?")


def test_other_notification_type(ctx: Context) -> None:  # N-5: no mapping -> processed
    ipn = replace(samples.receipt_ipn(), fields=OtherNotificationFields(
        value=Opaque(ber=b"\x30\x00")))
    run = Run(ctx)
    fields = dict(mdn_fields(run, ipn))
    assert fields["Disposition"].endswith("; processed")
    assert fields["X400-Notification-Type"] == "other"
    assert any(d.kind == "ipn" for d in run.defects)


def test_unmappable_originator_uses_postmaster(ctx: Context) -> None:  # §3.2.4 MUST
    ipn = replace(samples.receipt_ipn(), ipn_originator=ORDescriptor(free_form_name="Nobody"),
                  ipm_intended_recipient=None)
    run = Run(ctx)
    fields = dict(mdn_fields(run, ipn))
    assert fields["Final-Recipient"] == f"rfc822; postmaster@{GW}"
    assert {d.kind for d in run.defects} == {"address"}


def test_ipn_to_mdn_rejects_ipm_and_other_content(ctx: Context) -> None:
    with pytest.raises(MDNError):
        ipn_to_mdn(Message(envelope=envelope(), content=encode_content(samples.text_ipm())),
                   ctx)
    with pytest.raises(ContentTypeNotSupported):
        ipn_to_mdn(Message(envelope=replace(envelope(), content_type=35), content=b""), ctx)


def test_sample_envelope(ctx: Context) -> None:  # the full sample envelope (§5.3.6 fields)
    result = ipn_to_mdn(samples.message(samples.receipt_ipn()), ctx)
    msg = parse(result.message)
    assert msg["X400-MTS-Identifier"] is not None
    assert notification(msg)["MDN-Gateway"] == f"dns; {GW}"
    assert result.mail_from == "" and len(result.rcpt_to) == 2


# ------------------------------------------------------------------ MDN -> IPN (N-5)


def test_is_mdn(ctx: Context) -> None:
    assert is_mdn((FIXTURES / "rfc8098-example.eml").read_bytes())
    assert is_mdn((FIXTURES / "foreign-deleted.eml").read_bytes())  # quoted, mixed case
    assert is_mdn(ipn_to_mdn(wrap(samples.receipt_ipn()), ctx).message)
    dsn = (b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n"
           b"--x--\r\n")
    assert not is_mdn(dsn)
    assert not is_mdn(b"Subject: hi\r\n\r\nmultipart/report disposition-notification\r\n")
    assert not is_mdn(b"\x00\xff garbage")


def test_rfc8098_example(ctx: Context) -> None:  # RFC 8098 §9 -> RN (N-5)
    data = (FIXTURES / "rfc8098-example.eml").read_bytes()
    result = mdn_to_ipn(data, "", ["jane@example.org"], ctx)
    assert isinstance(result.apdu, Message)
    env = result.apdu.envelope
    assert env.content_type == 22
    assert [r.rfc822 for r in env.recipients] == ["jane@example.org"]
    assert env.originator == replace(env.originator, address=ctx.mapper.to_x400(
        "Joe_Recipient@example.com").address)
    ipn = decode_content(result.apdu.content)
    assert isinstance(ipn, IPN)
    assert ipn.subject_ipm == msgid_to_ipm_id("<199509192301.23456@example.org>")
    assert ipm_id_to_msgid(ipn.subject_ipm) == "<199509192301.23456@example.org>"
    assert isinstance(ipn.fields, ReceiptFields)
    assert ipn.fields.acknowledgment_mode == AcknowledgmentMode.MANUAL
    assert ipn.fields.receipt_time == datetime(1995, 9, 20, 0, 19, tzinfo=timezone(
        timedelta(hours=-4)))  # from Date: no X400-Receipt-Time in a foreign MDN
    assert ipn.ipn_originator is not None and ipn.ipn_originator.formal_name is not None
    assert ipn.ipn_originator.free_form_name == "Joe Recipient"  # From: phrase
    assert ipn.ipm_intended_recipient is not None  # Original-Recipient
    kinds = {d.kind for d in result.defects}
    assert "mdn-field" in kinds  # the foreign Reporting-UA is dropped (not lossy)
    assert "body-part-discarded" in kinds  # an RN carries no returned IPM
    again = decode_apdu(encode_apdu(result.apdu))  # (Recipient.rfc822 is not encoded)
    assert isinstance(again, Message) and again.content == result.apdu.content


def test_foreign_deleted(ctx: Context) -> None:  # deleted -> NRN discarded (N-5)
    data = (FIXTURES / "foreign-deleted.eml").read_bytes()
    result = mdn_to_ipn(data, "<>", ["jane@example.org"], ctx)
    assert isinstance(result.apdu, Message)
    ipn = decode_content(result.apdu.content)
    assert isinstance(ipn, IPN) and isinstance(ipn.fields, NonReceiptFields)
    assert ipn.fields.reason == NonReceiptReason.IPM_DISCARDED
    assert ipn.fields.discard_reason == 3  # no X400-Discard-Reason: "IPM Deleted"
    assert ipn.subject_ipm.local == "1234" and ipn.subject_ipm.user is not None
    assert str(ipn.subject_ipm.user) == "/S=Jane/O=Org/ADMD=DBP/C=DE/"
    assert ipn.ipm_intended_recipient is None
    assert any("expired-x" in d.detail for d in result.defects)  # modifier noted
    encode_apdu(result.apdu)


def _mdn(disposition: str, *, extra: str = "", message_id: str | None = "<a.b@example.org>"
         ) -> bytes:
    mid = f"Original-Message-ID: {message_id}\r\n" if message_id else ""
    return ("From: bob@example.com\r\nTo: jane@example.org\r\nDate: Thu, 3 Dec 2026 08:15:42 "
            "+0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; "
            "report-type=disposition-notification; boundary=b\r\n\r\n--b\r\n\r\ntext\r\n"
            "--b\r\nContent-Type: message/disposition-notification\r\n\r\n"
            "Final-Recipient: rfc822; bob@example.com\r\n" + mid
            + f"Disposition: {disposition}\r\n{extra}\r\n--b--\r\n").encode()


def test_dispatched_and_processed(ctx: Context) -> None:  # N-5
    res = mdn_to_ipn(_mdn("automatic-action/MDN-sent-automatically; dispatched",
                          extra="X400-Auto-Forward-Comment: gone\r\n"), "", ["j@x.org"], ctx)
    assert isinstance(res.apdu, Message)
    ipn = decode_content(res.apdu.content)
    assert isinstance(ipn, IPN) and isinstance(ipn.fields, NonReceiptFields)
    assert ipn.fields.reason == NonReceiptReason.IPM_AUTO_FORWARDED
    assert ipn.fields.auto_forward_comment == "gone"
    res = mdn_to_ipn(_mdn("Automatic-Action/MDN-Sent-Automatically ; Processed"), "",
                     ["j@x.org"], ctx)
    assert isinstance(res.apdu, Message)
    ipn = decode_content(res.apdu.content)
    assert isinstance(ipn, IPN) and isinstance(ipn.fields, ReceiptFields)
    assert ipn.fields.acknowledgment_mode == AcknowledgmentMode.AUTOMATIC
    assert any(d.kind == "disposition" for d in res.defects)


@pytest.mark.parametrize(("data", "reason"), [
    (_mdn("manual-action/MDN-sent-manually; displayed", message_id=None),
     "Original-Message-ID"),
    (_mdn("manual-action/MDN-sent-manually; frobbed"), "frobbed"),
    (_mdn("nonsense"), "RFC 8098 §3.2.6"),
    (b"From: a@b.example\r\nSubject: plain\r\n\r\nhello\r\n", "not a multipart/report"),
])
def test_mdn_errors(ctx: Context, data: bytes, reason: str) -> None:
    with pytest.raises(MDNError, match=reason):
        mdn_to_ipn(data, "", ["j@x.org"], ctx)


def test_no_recipients(ctx: Context) -> None:
    with pytest.raises(MDNError):
        mdn_to_ipn(_mdn("manual-action/MDN-sent-manually; displayed"), "", [], ctx)


def test_mail_from_sets_originator(ctx: Context) -> None:
    res = mdn_to_ipn(_mdn("manual-action/MDN-sent-manually; displayed"), "<relay@example.net>",
                     ["j@x.org"], ctx)
    assert isinstance(res.apdu, Message)
    assert res.apdu.envelope.originator.address == ctx.mapper.to_x400(
        "relay@example.net").address
    assert res.apdu.envelope.recipients[0].indicators & (
        PerRecipientIndicators.ORIGINATOR_NON_DELIVERY_REPORT)


def test_printable_bounds(ctx: Context) -> None:  # X.420 PrintableString, ub 256
    res = mdn_to_ipn(_mdn("manual-action/MDN-sent-manually; displayed",
                          extra="X400-Supplementary-Receipt-Info: =?utf-8?q?gr=C3=BC=C3=9F?="
                                " " + "x" * 300 + "\r\n"), "", ["j@x.org"], ctx)
    assert isinstance(res.apdu, Message)
    ipn = decode_content(res.apdu.content)
    assert isinstance(ipn, IPN) and isinstance(ipn.fields, ReceiptFields)
    info = ipn.fields.supplementary_info
    assert info is not None and info.startswith("gr??") and len(info) == 256
    assert any(d.kind == "truncated" for d in res.defects)


# ------------------------------------------------------------------ round trip (N-5)

RN_AUTO = samples.receipt_ipn()
RN_MANUAL = replace(RN_AUTO, fields=ReceiptFields(
    receipt_time=datetime(2026, 12, 1, 12, 0, 7, 654321, tzinfo=timezone(timedelta(hours=1))),
    acknowledgment_mode=AcknowledgmentMode.MANUAL), conversion_eits=EncodedInformationTypes(
        builtin=frozenset({2, 5}), extended=("1.3.6.1.4.1.32473.9",)))
NRN = [replace(samples.non_receipt_ipn(), fields=NonReceiptFields(reason=0, discard_reason=r))
       for r in (0, 1, 2, 3)]
AUTO_FORWARDED = IPN(subject_ipm=msgid_to_ipm_id("<abc.def@example.org>"),  # an 822 msg-id
                     ipn_originator=ORDescriptor(formal_name=samples.ROSE),
                     fields=NonReceiptFields(reason=1, auto_forward_comment="See Bob"))


@pytest.mark.parametrize("ipn", [RN_AUTO, RN_MANUAL, *NRN, AUTO_FORWARDED,
                                 samples.non_receipt_ipn()])
def test_round_trip(ctx: Context, ipn: IPN) -> None:  # N-5: IPN -> MDN -> IPN
    mdn = ipn_to_mdn(wrap(ipn), ctx)
    back = mdn_to_ipn(mdn.message, mdn.mail_from, mdn.rcpt_to, ctx)
    assert isinstance(back.apdu, Message)
    encode_apdu(back.apdu)
    got = decode_content(back.apdu.content)
    assert isinstance(got, IPN)
    assert got.subject_ipm == ipn.subject_ipm
    assert type(got.fields) is type(ipn.fields)
    assert got.ipn_originator is not None and ipn.ipn_originator is not None
    assert got.ipn_originator.formal_name == ipn.ipn_originator.formal_name
    assert (got.ipm_intended_recipient is None) == (ipn.ipm_intended_recipient is None)
    if ipn.ipm_intended_recipient is not None and got.ipm_intended_recipient is not None:
        assert got.ipm_intended_recipient.formal_name == ipn.ipm_intended_recipient.formal_name
    assert got.conversion_eits == ipn.conversion_eits
    if isinstance(ipn.fields, ReceiptFields):
        assert isinstance(got.fields, ReceiptFields)
        assert got.fields.receipt_time == ipn.fields.receipt_time.replace(microsecond=0)
        assert got.fields.acknowledgment_mode == ipn.fields.acknowledgment_mode
        assert got.fields.supplementary_info == ipn.fields.supplementary_info
    else:
        assert isinstance(ipn.fields, NonReceiptFields)
        assert isinstance(got.fields, NonReceiptFields)
        assert got.fields.reason == ipn.fields.reason
        if ipn.fields.reason == NonReceiptReason.IPM_DISCARDED:
            assert got.fields.discard_reason == ipn.fields.discard_reason
        else:
            assert got.fields.auto_forward_comment == ipn.fields.auto_forward_comment
        if ipn.fields.returned_ipm is not None:  # RFC 8098 §3 d, back through §5.1
            assert got.fields.returned_ipm is not None
            assert (got.fields.returned_ipm.heading.this_ipm
                    == ipn.fields.returned_ipm.heading.this_ipm)
            assert (got.fields.returned_ipm.heading.subject
                    == ipn.fields.returned_ipm.heading.subject)
    assert not [d for d in back.defects if d.lossy]


@pytest.mark.parametrize(("value", "expected", "defect"), [
    ("Obsoleted", 1, False), ("user subscription terminated", 2, False),
    ("Whatever (2)", 2, False), ("Eaten by the dog", 3, True)])
def test_discard_reason_forms(ctx: Context, value: str, expected: int, defect: bool) -> None:
    res = mdn_to_ipn(_mdn("automatic-action/MDN-sent-automatically; deleted",
                          extra=f"X400-Discard-Reason: {value}\r\n"), "", ["j@x.org"], ctx)
    assert isinstance(res.apdu, Message)
    ipn = decode_content(res.apdu.content)
    assert isinstance(ipn, IPN) and isinstance(ipn.fields, NonReceiptFields)
    assert ipn.fields.discard_reason == expected
    assert any(d.kind == "disposition" for d in res.defects) == defect


def test_long_original_message_id(ctx: Context) -> None:  # X.420 ub 64 (§4.7.3.3)
    res = mdn_to_ipn(_mdn("manual-action/MDN-sent-manually; displayed",
                          message_id=f"<{'x' * 80}@example.org>"), "", ["j@x.org"], ctx)
    assert isinstance(res.apdu, Message)
    ipn = decode_content(res.apdu.content)
    assert isinstance(ipn, IPN) and len(ipn.subject_ipm.local) == 64
    assert any(d.kind == "truncated" for d in res.defects)


def test_disposition_notification_to_asks_for_notifications() -> None:  # N-5
    """A Disposition-Notification-To naming the From address becomes RN+NRN requests on every
    recipient (policy ipn_as_mdn only); the field itself stays in rfc-822-field."""
    from dataclasses import replace as dc_replace

    from bridge.codec import decode_content
    from bridge.convert.policy import RFC2156
    from bridge.convert.to_x400 import mime_to_x400
    from bridge.model import IPM, NotificationRequests
    from tests.test_convert_to_x400 import CTX

    def convert(dnt: str, mdn_policy: bool) -> IPM:
        ctx = dc_replace(CTX, policy=RFC2156.clone(ipn_as_mdn=mdn_policy))
        data = (f"From: Jo <jo@AC.UK>\r\nTo: rose@AC.UK\r\nCc: kille@AC.UK\r\n"
                f"Disposition-Notification-To: {dnt}\r\nSubject: s\r\n\r\nhi\r\n").encode()
        ipm = decode_content(mime_to_x400(data, "jo@AC.UK", ["rose@AC.UK"], ctx).apdu.content)
        assert isinstance(ipm, IPM)
        assert any("Disposition-Notification-To" in f for f in
                   next(e.value for e in ipm.heading.extensions or () if e.type.endswith(".3.2")))
        return ipm

    both = NotificationRequests.RN | NotificationRequests.NRN
    ipm = convert("jo@AC.UK", True)
    specs = (ipm.heading.primary or ()) + (ipm.heading.copy or ())
    assert specs and all(s.notification_requests == both for s in specs)
    for dnt, mdn_on in (("jo@AC.UK", False), ("someone.else@AC.UK", True)):
        other = convert(dnt, mdn_on)
        assert all(s.notification_requests == NotificationRequests.NONE
                   for s in (other.heading.primary or ()) + (other.heading.copy or ()))
