"""RFC 822/MIME -> X.400 (bridge.convert.to_x400): RFC 2156 §5.1 and RFC 2157 bodies.

Every conversion result is BER-encoded and decoded again (``check``).  Tests name the
conformance IDs they cover.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.codec import asn1, decode_apdu, decode_content, encode_apdu
from bridge.convert.context import Context
from bridge.convert.policy import RFC2156, STRICT, MappingPolicy
from bridge.convert.result import X400Result
from bridge.convert.to_mime import x400_to_mime
from bridge.convert.to_x400 import BoundsError, ConversionError, LoopError, mime_to_x400
from bridge.convert.vocab import EIT_MIXER
from bridge.convert.x400_bodies import split_multipart
from bridge.convert.x400_heading import truncate_safely
from bridge.convert.x400_trace import parse_x400_received
from bridge.errors import BridgeError
from bridge.mapping.address import Role
from bridge.model import (
    IPM,
    BilaterallyDefinedBodyPart,
    BuiltInEIT,
    FileTransferBodyPart,
    GeneralTextBodyPart,
    GlobalDomainIdentifier,
    IA5TextBodyPart,
    Importance,
    IPMIdentifier,
    Message,
    MessageBodyPart,
    MimeBodyPart,
    PerMessageIndicators,
    PerRecipientIndicators,
    Priority,
    RoutingAction,
    Sensitivity,
    StandardExtension,
)
from bridge.model.common import OtherActions
from bridge.model.ipm import MultipartType
from tests.helpers import gateway_context

DATA = Path(__file__).parent / "data"
SAMPLES = DATA / "convert" / "to_x400"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
GW_GDI = GlobalDomainIdentifier(country="gb", admd=" ", prmd="uk.ac")
RFC822_FIELD = "1.3.6.1.7.1.3.2"
MULTIPART_EXT = "1.3.6.1.7.1.1.3"
LANGUAGES = "2.6.1.5.1"
AUTO_SUBMITTED = "2.6.1.5.2"


def make_ctx(policy: MappingPolicy = RFC2156) -> Context:
    return gateway_context(NOW, policy=policy)


CTX = make_ctx()


def check(result: X400Result) -> tuple[Message, IPM]:
    """The result encodes as an MTS-APDU and decodes back to itself (the RFC 822 form of a
    recipient is the mapping layer's, not the codec's); the content is an IPM."""
    apdu = result.apdu
    assert isinstance(apdu, Message)
    env = dataclasses.replace(apdu.envelope, recipients=tuple(
        dataclasses.replace(r, rfc822=None) for r in apdu.envelope.recipients))
    plain = dataclasses.replace(apdu, envelope=env)
    assert decode_apdu(encode_apdu(plain)) == plain
    ipm = decode_content(apdu.content)
    assert isinstance(ipm, IPM)
    return apdu, ipm


def convert(head: str, body: str = "Hello.\n", *, ctx: Context = CTX,
            rcpt: tuple[str, ...] = ("c@AC.UK",), mail_from: str = "<s@isode.com>",
            ) -> tuple[X400Result, Message, IPM]:
    data = (head.strip("\n") + "\n\n" + body).encode("utf-8")
    result = mime_to_x400(data, mail_from, rcpt, ctx)
    msg, ipm = check(result)
    return result, msg, ipm


def fields(ipm: IPM) -> tuple[str, ...]:
    for ext in ipm.heading.extensions or ():
        if ext.type == RFC822_FIELD:
            assert isinstance(ext.value, tuple)
            return ext.value
    return ()


def ext(ipm: IPM, oid: str) -> object:
    for e in ipm.heading.extensions or ():
        if e.type == oid:
            return e.value
    return None


BASE = "From: s@isode.com\nTo: c@AC.UK\nMessage-ID: <1@isode.com>\n"


# ------------------------------------------------------------------------------ heading


def test_simple_message_is_p2_with_ia5_body() -> None:  # H-2, P-2, P-12 (6.1)
    _, msg, ipm = convert(BASE + "Subject: hi")
    assert msg.envelope.content_type == 2
    assert ipm.body == (IA5TextBodyPart(text="Hello.\r\n"),)
    assert ipm.heading.subject == "hi"
    assert ipm.heading.this_ipm.local == "1(a)isode.com"


def test_unknown_header_goes_to_rfc822_field_and_forces_p22() -> None:  # H-1, H-2
    _, msg, ipm = convert(BASE + "Fruit-Of-The-Day: Kiwi\n  Fruit")  # §5.1.2's example
    assert fields(ipm) == ("Fruit-Of-The-Day: Kiwi  Fruit",)
    assert msg.envelope.content_type == 22


HEADER_CASES = [
    # (conformance id, extra header lines, check on the IPM heading)
    ("H-4 From", "", lambda h: h.originator.free_form_name is None
     and h.authorizing_users is None),
    ("H-4 Sender", "Sender: Sec <sec@isode.com>",
     lambda h: h.originator.free_form_name == "Sec" and len(h.authorizing_users) == 1),
    ("H-4 To merged", "To: d@AC.UK", lambda h: len(h.primary) == 2),
    ("H-4 Cc", "Cc: x@AC.UK, y@AC.UK", lambda h: len(h.copy) == 2),
    ("H-4 Bcc empty", "Bcc:", lambda h: h.blind_copy == ()),
    ("H-4 Bcc", "Bcc: z@AC.UK", lambda h: len(h.blind_copy) == 1),
    ("H-4 Reply-To", "Reply-To: r@AC.UK", lambda h: len(h.reply_recipients) == 1),
    ("H-4 In-Reply-To one", "In-Reply-To: <a@b>",
     lambda h: h.replied_to.local == "a(a)b" and h.related is None),
    ("H-4 In-Reply-To several", "In-Reply-To: <a@b> <c@d>\nReferences: <e@f>",
     lambda h: h.replied_to is None and [i.local for i in h.related]
     == ["a(a)b", "c(a)d", "e(a)f"]),
    ("A-34 phrase", "In-Reply-To: your message of Monday",
     lambda h: h.replied_to.local == "your message of Monday"),
    ("H-4 References", "References: <e@f>", lambda h: h.related[0].local == "e(a)f"),
    ("H-4 Supersedes", "Supersedes: <o@p>", lambda h: h.obsoleted[0].local == "o(a)p"),
    ("H-4 Expires", "Expires: Wed, 1 May 2024 10:00:00 +0200",
     lambda h: h.expiry_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)),
    ("H-4 Reply-By", "Reply-By: Wed, 1 May 2024 10:00:00 +0000",
     lambda h: h.reply_time == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
    ("H-4 Importance", "Importance: High", lambda h: h.importance == Importance.HIGH),
    ("H-4 Sensitivity", "Sensitivity: Company-Confidential",
     lambda h: h.sensitivity == Sensitivity.COMPANY_CONFIDENTIAL),
    ("H-4 Autoforwarded", "Autoforwarded: TRUE", lambda h: h.auto_forwarded),
    ("H-4 Subject T.61", "Subject: =?iso-8859-1?q?caf=E9?=", lambda h: h.subject == "café"),
    ("B-4 Subject not T.61", "Subject: =?utf-8?b?5pel5pys?=",
     lambda h: h.subject == "=?utf-8?b?5pel5pys?="),
]


@pytest.mark.parametrize(("rule", "extra", "ok"), HEADER_CASES, ids=[c[0] for c in HEADER_CASES])
def test_header_table(rule: str, extra: str, ok: object) -> None:  # H-4, A-31, A-33, A-34
    _, _, ipm = convert(BASE + extra)
    assert ok(ipm.heading)  # type: ignore[operator]


INVALID_CASES = [  # H-4: syntactically invalid standard fields -> rfc-822-field
    "Expires: next Tuesday", "Importance: very", "Sensitivity: secret",
    "Autoforwarded: maybe", "To: joe", "Message-ID: not-an-id", "Date: yesterday"]


@pytest.mark.parametrize("line", INVALID_CASES)
def test_invalid_standard_field_is_kept(line: str) -> None:  # H-4
    head = BASE.replace("Message-ID: <1@isode.com>\n", "") if "Message-ID" in line else BASE
    result, _, ipm = convert(head + line)
    assert line in fields(ipm)
    if not line.startswith("Date"):
        assert any(d.kind == "header-invalid" for d in result.defects)


def test_group_and_free_form_name() -> None:
    _, _, ipm = convert("From: \"Steve Kille\" <S.Kille@isode.com> (ISODE) (UK)\n"
                        "To: Friends: a@AC.UK, b@AC.UK;\nMessage-ID: <2@isode.com>")
    assert ipm.heading.originator.free_form_name == "Steve Kille (ISODE) (UK)"
    primary = ipm.heading.primary
    assert [p.recipient.free_form_name for p in primary] == [None, None, "Friends"]
    assert primary[2].recipient.formal_name is None
    assert primary[0].recipient.formal_name.address.personal_name.surname == "a"


def test_free_form_name_truncated_without_breaking_comments() -> None:  # H-3
    name = "A" * 50 + " (a comment that would be cut in the middle)"
    assert truncate_safely(name, 64) == "A" * 50
    assert truncate_safely("=?utf-8?q?" + "a" * 70 + "?=", 64) == ("=?utf-8?q?" + "a" * 70)[:64]
    result, _, ipm = convert(f"From: {name} <s@isode.com>\nTo: c@AC.UK")
    assert ipm.heading.originator.free_form_name == "A" * 50
    assert any(d.kind == "truncated" for d in result.defects)


def test_long_message_id_truncated_or_rejected() -> None:  # A-33, H-3
    long_id = "<" + "x" * 80 + "@isode.com>"
    result, msg, ipm = convert(f"From: s@isode.com\nTo: c@AC.UK\nMessage-ID: {long_id}")
    assert len(ipm.heading.this_ipm.local) == 64
    assert msg.envelope.identifier.local == long_id[:32]
    assert any("Message-ID truncated" in d.detail for d in result.defects)
    with pytest.raises(BoundsError):
        convert(f"From: s@isode.com\nTo: c@AC.UK\nMessage-ID: {long_id}", ctx=make_ctx(STRICT))


def test_long_subject_truncated() -> None:  # H-3
    _, _, ipm = convert(BASE + "Subject: " + "s" * 200)
    assert ipm.heading.subject == "s" * 128


def test_content_language_and_autosubmitted() -> None:  # H-4
    _, _, ipm = convert(BASE + "Content-Language: en, fr-CA\nAutosubmitted: auto-replied")
    assert ext(ipm, LANGUAGES) == ("en", "fr")
    assert ext(ipm, AUTO_SUBMITTED) == 2
    assert fields(ipm) == ("Content-Language: en, fr-CA",)  # a value longer than 2 chars
    _, _, ipm = convert(BASE + "Content-Language: de\nAuto-Submitted: auto-generated; x=y")
    assert ext(ipm, LANGUAGES) == ("de",)
    assert ext(ipm, AUTO_SUBMITTED) == 1
    assert fields(ipm) == ("Auto-Submitted: auto-generated; x=y",)


def test_resent_and_comments_to_extension() -> None:  # H-4
    _, _, ipm = convert(BASE + "Comments: c\nKeywords: k\nResent-From: r@AC.UK")
    assert fields(ipm) == ("Comments: c", "Keywords: k", "Resent-From: r@AC.UK")


def test_mixer_fields_not_mapped_back() -> None:  # H-11
    result, _, ipm = convert(BASE + "X400-MTS-Identifier: [/C=gb/ADMD= /;x]\n"
                             "Message-Type: Delivery Report\nX400-Originator: a@b")
    assert fields(ipm) == ()
    assert sum(d.kind == "header-discarded" for d in result.defects) == 3


def test_eight_bit_header_field_is_ia5() -> None:  # H-1
    data = (BASE + "X-Name: Grüße\n\nbody\n").encode("utf-8")
    result = mime_to_x400(data, "s@isode.com", ["c@AC.UK"], CTX)
    _, ipm = check(result)
    assert fields(ipm) == ("X-Name: =?utf-8?b?R3LDvMOfZQ==?=",)


# ------------------------------------------------------------------------------ envelope


def test_envelope() -> None:  # H-5, H-6, H-12, H-8
    subject = "Subject: A very long subject line"
    result, msg, _ = convert(BASE + subject + "\nDate: Wed, 1 May 2024 10:00:00 +0000",
                             rcpt=("c@AC.UK", "<d@AC.UK>"))
    env = msg.envelope
    assert env.originator.directory_name is None
    assert [r.rfc822 for r in env.recipients] == ["c@AC.UK", "d@AC.UK"]
    assert all(r.indicators == PerRecipientIndicators.RESPONSIBILITY
               | PerRecipientIndicators.ORIGINATING_MTA_NON_DELIVERY_REPORT
               | PerRecipientIndicators.ORIGINATOR_NON_DELIVERY_REPORT
               for r in env.recipients)
    assert env.indicators == (PerMessageIndicators.ALTERNATE_RECIPIENT_ALLOWED
                              | PerMessageIndicators.CONTENT_RETURN_REQUEST)
    assert env.identifier.local == "<1@isode.com>"
    assert env.content_identifier == "A very long s..."  # §5.1.5: 13 characters and "..."
    corr = env.extension(StandardExtension.CONTENT_CORRELATOR)
    assert corr is not None and corr.value == (
        "Subject: A very long subject line\r\nMessage-ID: <1@isode.com>\r\n"
        "Date: Wed, 1 May 2024 10:00:00 +0000\r\nTo: c@AC.UK")
    assert env.original_eits is not None and EIT_MIXER in env.original_eits.extended
    assert BuiltInEIT.IA5_TEXT in env.original_eits.builtin
    assert env.trace[-1].converted_eits == env.original_eits


def test_resent_field_means_generated_mts_identifier() -> None:  # H-9
    _, msg, _ = convert(BASE + "Resent-To: x@AC.UK")
    assert msg.envelope.identifier.local.startswith("20240501120000.")
    assert msg.envelope.identifier.domain == GW_GDI


def test_null_reverse_path() -> None:
    result, msg, _ = convert(BASE, mail_from="<>")
    postmaster = CTX.mapper.to_x400(CTX.postmaster, Role.SMTP_ORIGINATOR).address
    assert msg.envelope.originator.address == postmaster
    assert all(not r.indicators & PerRecipientIndicators.ORIGINATOR_NON_DELIVERY_REPORT
               for r in msg.envelope.recipients)


def test_mixer_mts_fields_mapped_back() -> None:  # H-11
    _, msg, _ = convert(BASE + "Priority: urgent\nConversion: Prohibited\n"
                        "Conversion-With-Loss: Prohibited\nX400-Content-Identifier: abc\n"
                        "DL-Expansion-History: list@AC.UK ; Wed, 1 May 2024 09:00:00 +0000 ;\n"
                        "DL-Expansion-History: old@AC.UK ; Wed, 1 May 2024 08:00:00 +0000 ;")
    env = msg.envelope
    assert env.priority == Priority.URGENT
    assert env.indicators & PerMessageIndicators.IMPLICIT_CONVERSION_PROHIBITED
    assert env.extension(StandardExtension.CONVERSION_WITH_LOSS_PROHIBITED) is not None
    assert env.content_identifier == "abc"
    history = env.extension(StandardExtension.DL_EXPANSION_HISTORY)
    assert history is not None and isinstance(history.value, tuple)
    assert [h.name.address.personal_name.surname for h in history.value] == ["old", "list"]


def test_incomplete_copy_and_original_eits_mapped_back() -> None:  # H-11, G-11
    """§5.1.7 / App J: Incomplete-Copy -> the incomplete-copy heading extension (X.420,
    NULL); Original-Encoded-Information-Types -> original-EITs, to which §5.1.5 adds the
    EITs of the generated body parts (here IA5) and eit-mixer."""
    _, msg, ipm = convert(BASE + "Incomplete-Copy:\n"
                          "Original-Encoded-Information-Types: G3-Fax, 1.2.3.4")
    assert ext(ipm, "2.6.1.5.0") is None
    assert any(e.type == "2.6.1.5.0" for e in ipm.heading.extensions or ())
    assert fields(ipm) == ()
    assert msg.envelope.content_type == 22  # H-2: a heading extension is X.400(88)
    eits = msg.envelope.original_eits
    assert eits is not None
    assert eits.builtin == {BuiltInEIT.G3_FACSIMILE, BuiltInEIT.IA5_TEXT}
    assert eits.extended == ("1.2.3.4", EIT_MIXER)
    assert msg.envelope.trace[-1].converted_eits == dataclasses.replace(
        eits, builtin=frozenset({BuiltInEIT.IA5_TEXT}), extended=(EIT_MIXER,))


@pytest.mark.parametrize("field", [
    "Incomplete-Copy: yes", "Incomplete-Copy: (partly)",
    "Original-Encoded-Information-Types: Smoke-Signals"])
def test_bad_incomplete_copy_or_eits_kept_in_rfc822_field(field: str) -> None:  # H-11, H-1
    result, msg, ipm = convert(BASE + field)
    assert fields(ipm) == (field,)
    assert not any(e.type == "2.6.1.5.0" for e in ipm.heading.extensions or ())
    eits = msg.envelope.original_eits
    assert eits is not None
    assert eits.builtin == frozenset({BuiltInEIT.IA5_TEXT}) and eits.extended == (EIT_MIXER,)
    assert any(d.kind == "header-invalid" for d in result.defects)


def test_nested_original_eits_and_incomplete_copy() -> None:  # H-11, RFC 2157 §6.5
    """In a forwarded message (no MTS envelope) Original-Encoded-Information-Types stays in
    the inner rfc-822-field; Incomplete-Copy is a heading field and maps there too."""
    inner = ("From: x@AC.UK\nSubject: in\nIncomplete-Copy:\n"
             "Original-Encoded-Information-Types: Telex\n\ninner\n")
    head = BASE + "MIME-Version: 1.0\nContent-Type: message/rfc822"
    _, msg, ipm = convert(head, inner)
    (part,) = ipm.body
    assert isinstance(part, MessageBodyPart)
    assert fields(part.ipm) == ("Original-Encoded-Information-Types: Telex",)
    assert any(e.type == "2.6.1.5.0" for e in part.ipm.heading.extensions or ())
    assert msg.envelope.original_eits is not None
    assert BuiltInEIT.TELEX not in msg.envelope.original_eits.builtin


def test_no_recipients_is_an_error() -> None:
    with pytest.raises(ConversionError):
        mime_to_x400(b"From: a@b\n\nx", "a@b", [], CTX)


# ------------------------------------------------------------------------------ trace


def test_received_trace_bottom_up() -> None:  # H-9, H-10, T-1
    head = ("Received: from computer-science.nottingham.ac.uk by\n"
            "   vs6.Cs.Ucl.AC.UK via Janet with NIFTP  id aa03794;\n"
            "   28 Mar 89 16:38 GMT\n"  # §5.1.6's example
            "Received: from x by mail.isode.com; 28 Mar 89 16:30 GMT\n"
            + BASE + "Date: 28 Mar 89 16:00 GMT")
    _, msg, _ = convert(head)
    env = msg.envelope
    internal = env.internal_trace
    assert [e.mta_name for e in internal] == ["isode.com", "mail.isode.com", "vs6.Cs.Ucl.AC.UK",
                                              "gw.example.ac.uk"]
    assert internal[2].domain == GlobalDomainIdentifier(country="GB", admd="GOLD 400",
                                                        prmd="UK.AC")
    assert [e.domain.admd for e in env.trace] == [" ", "GOLD 400", " "]
    assert env.trace[0].arrival_time == datetime(1989, 3, 28, 16, 0, tzinfo=UTC)
    assert env.trace[-1].arrival_time == NOW and env.trace[-1].converted_eits is not None


def test_x400_received_parsed_back() -> None:  # H-11, T-1
    element = parse_x400_received(  # §5.3.7's internal example
        'by mta "UK.AC.UCL.CS" in\n /PRMD=UK.AC/ADMD=Gold 400/C=GB/ ;\n'
        " deferred until  Tue, 20 Jun 89 14:24:22 +0100 ;\n"
        " converted (undefined, g3fax) ; attempted MD /ADMD=Foo/C=GB/ ;\n"
        " Relayed, Expanded, Redirected ; Tue, 20 Jun 89 19:25:11 +0100")
    assert element.mta_name == "UK.AC.UCL.CS"
    assert element.domain == GlobalDomainIdentifier(country="GB", admd="Gold 400", prmd="UK.AC")
    assert element.converted_eits is not None
    assert element.converted_eits.builtin == {BuiltInEIT.UNDEFINED, BuiltInEIT.G3_FACSIMILE}
    assert element.attempted_domain == GlobalDomainIdentifier(country="GB", admd="Foo")
    assert element.routing_action == RoutingAction.RELAYED
    assert element.other_actions == OtherActions.REDIRECTED | OtherActions.DL_OPERATION
    head = ("X400-Received: by /PRMD=UK.AC/ADMD=Gold 400/C=GB/ ; Relayed ;\n"
            "   Tue, 20 Jun 89 19:25:11 +0100\n" + BASE + "Date: 20 Jun 89 19:00 +0100")
    _, msg, _ = convert(head)
    # the first trace element comes from X400-Received, not from Date (§5.1.7)
    assert msg.envelope.trace[0].domain.admd == "Gold 400"
    assert len(msg.envelope.trace) == 2


def test_loop_detection() -> None:  # H-7, T-2
    mixer = f"X400-Received: by /ADMD=A/C=GB/ ; converted (IA5-Text, {EIT_MIXER}) ; Relayed ;" \
            " 1 May 2024 10:00 +0000\n"
    convert(mixer * 4 + BASE)
    with pytest.raises(LoopError) as info:
        convert(mixer * 5 + BASE)
    assert info.value.x400.diagnostic == 3
    back = "Received: from a by b (MIXER Conversion following RFC 2156); 1 May 2024 10:00 +0000\n"
    convert(back * 5 + BASE)
    with pytest.raises(LoopError):
        convert(back * 6 + BASE)


# ------------------------------------------------------------------------------ bodies


MIME = BASE + "MIME-Version: 1.0\n"


def test_general_text() -> None:  # P-12 (6.2)
    data = (MIME + "Content-Type: text/plain; charset=iso-8859-2\n"
            "Content-Transfer-Encoding: 8bit\n\nPr\xb9v\n").encode("latin-1")
    _, ipm = check(mime_to_x400(data, "s@isode.com", ["c@AC.UK"], CTX))
    assert ipm.body == (GeneralTextBodyPart(text="Pršv\r\n", charsets=(1, 6, 101)),)
    _, _, ipm = convert(MIME + "Content-Type: text/plain; charset=utf-8", "ascii only\n")
    assert ipm.body == (IA5TextBodyPart(text="ascii only\r\n"),)


def test_unmappable_text_is_bp15() -> None:  # P-6, P-12
    _, msg, ipm = convert(MIME + "Content-Type: text/plain; charset=utf-8", "smile \U0001F600\n")
    assert isinstance(ipm.body[0], MimeBodyPart)
    assert ipm.body[0].data == "smile \U0001F600\r\n".encode()
    assert msg.envelope.original_eits is not None
    assert "1.3.6.1.7.1.2.1.1" in msg.envelope.original_eits.extended


def test_octet_stream_without_name_is_bp14() -> None:  # P-12 (6.3)
    _, _, ipm = convert(MIME + "Content-Type: application/octet-stream; padding=0\n"
                        "Content-Transfer-Encoding: base64", "AAEC\n")
    assert ipm.body == (BilaterallyDefinedBodyPart(data=b"\x00\x01\x02"),)


def test_nested_sample() -> None:  # P-4, P-12 (6.4-6.6), P-14
    data = (SAMPLES / "nested.eml").read_bytes()
    result = mime_to_x400(data, "carol@example.com", ["dave@AC.UK"], CTX)
    _, ipm = check(result)
    text, alt, ftbp, fwd = ipm.body
    assert text == IA5TextBodyPart(text="See below.")  # the CRLF before "--" is the delimiter's
    assert isinstance(alt, MessageBodyPart)
    assert alt.ipm.heading.subject == "Alternative Body Parts containing the same information"
    assert ext(alt.ipm, MULTIPART_EXT) == MultipartType(subtype="alternative", is_message=False)
    assert isinstance(alt.ipm.body[1], MimeBodyPart)
    assert isinstance(ftbp, FileTransferBodyPart)
    assert ftbp.filename == "report.bin"  # directories stripped
    assert ftbp.data == b"\x00\x01\x02\x03\x04" and ftbp.size == 5
    assert ftbp.modified == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    assert ftbp.application_reference == "2.16.840.1.113694.2.2.1.1"  # §6.4 EMA unknown
    assert ftbp.description == "The report"  # §2.3.2 first user-visible-string
    assert ftbp.related_message is None and ftbp.headers == ()
    assert ftbp.other_parameters is None  # everything is in the typed fields
    params = asn1.decode("FileTransferParameters",
                         encode_body_part_params(ftbp))
    assert params["environment"]["application-reference"] == (
        "registered-identifier", "2.16.840.1.113694.2.2.1.1")
    assert params["environment"]["user-visible-string"] == [b"The report"]
    assert isinstance(fwd, MessageBodyPart)
    assert fwd.ipm.heading.subject == "inner"
    assert fwd.delivery_time == datetime(2024, 4, 30, 8, 5, tzinfo=UTC)
    assert "Date: Tue, 30 Apr 2024 08:00:00 +0000" in fields(fwd.ipm)
    assert ext(ipm, MULTIPART_EXT) is None  # outermost mixed: omitted (§6.6)


def test_signed_multipart_byte_exact() -> None:  # P-13
    data = (SAMPLES / "signed.eml").read_bytes()
    _, ipm = check(mime_to_x400(data, "alice@example.com", ["bob@AC.UK"], CTX))
    (part,) = ipm.body
    assert isinstance(part, MimeBodyPart) and part.content_type == "multipart/signed"
    assert ("boundary", '"sig-b"') in part.parameters
    assert data.endswith(part.data) and b"Gr=C3=BC=C3=9Fe  \n--sig-b" in part.data


def test_external_body_harpoon() -> None:  # P-13
    _, _, ipm = convert(MIME + 'Content-Type: message/external-body; access-type="anon-ftp";'
                        ' site="ftp.example.com"; name="x"', "Content-Type: text/plain\n\n")
    (part,) = ipm.body
    assert isinstance(part, IA5TextBodyPart)
    assert part.text.startswith("MIME-Version: 1.0 (generated by gateway)\r\nContent-Type: ")


def test_x400_1984_downgrade() -> None:  # D-1, H-2
    ctx = make_ctx(RFC2156.clone(x400_1984_peer=True))
    _, msg, ipm = convert(BASE + "X-Fruit: Kiwi\nMIME-Version: 1.0\n"
                          "Content-Type: text/html", "<p>x</p>\n", ctx=ctx)
    assert msg.envelope.content_type == 2 and msg.envelope.extensions == ()
    first, second = ipm.body
    assert first == IA5TextBodyPart(text="RFC-822-Headers:\r\nX-Fruit: Kiwi\r\n")
    assert isinstance(second, IA5TextBodyPart) and second.text.startswith("MIME-Version:")
    assert ipm.heading.extensions is None


MTS_88_FIELDS = ("Conversion-With-Loss: Prohibited\n"
                 "Latest-Delivery-Time: Thu, 2 May 2024 10:00:00 +0000\n"
                 "Originator-Return-Address: r@AC.UK\n"
                 "DL-Expansion-History: list@AC.UK ; Wed, 1 May 2024 09:00:00 +0000 ;\n")


def test_x400_1984_downgrade_keeps_mts_level_mixer_fields() -> None:  # D-1, H-11
    """App B: MIXER fields whose X.400 element is an X.411(88) extension go into the
    RFC-822-Headers: body part (not dropped); 84 fields (Priority) stay in the envelope."""
    ctx = make_ctx(RFC2156.clone(x400_1984_peer=True))
    result, msg, ipm = convert(BASE + MTS_88_FIELDS + "Priority: urgent", ctx=ctx)
    assert msg.envelope.content_type == 2 and msg.envelope.extensions == ()
    assert msg.envelope.priority == Priority.URGENT
    first = ipm.body[0]
    assert isinstance(first, IA5TextBodyPart)
    assert first.text == "RFC-822-Headers:\r\n" + MTS_88_FIELDS.replace("\n", "\r\n")
    downgrade = [d for d in result.defects if d.kind == "downgrade"]
    assert downgrade and not any(d.lossy for d in downgrade)
    assert "dl-expansion-history" in downgrade[0].detail
    # ... and the reverse mapping (RFC 2157 §2.2, P-3 a) gives them back
    back = x400_to_mime(msg, CTX)
    head = back.message.split(b"\r\n\r\n", 1)[0].decode()
    for line in MTS_88_FIELDS.splitlines():
        assert line in head.replace("\r\n ", " ")
    # an X.400(88) peer gets the extensions and no such body part
    _, msg88, ipm88 = convert(BASE + MTS_88_FIELDS)
    assert msg88.envelope.extension(StandardExtension.DL_EXPANSION_HISTORY) is not None
    assert all(not (isinstance(b, IA5TextBodyPart) and b.text.startswith("RFC-822-Headers:"))
               for b in ipm88.body)


def encode_body_part_params(b: FileTransferBodyPart) -> bytes:
    """The FileTransferParameters BER the codec sends for ``b``."""
    from bridge.codec.p22ext import extended_body_part_to

    value = extended_body_part_to(b)["parameters"]["value"]
    assert isinstance(value, bytes)
    return value


def test_split_multipart_and_ftbp_parameters() -> None:
    assert split_multipart(b"pre\r\n--b\r\nA\r\n--b\r\nB\r\n--b--\r\n", "b") == [b"A", b"B"]
    assert split_multipart(b"no delimiters", "b") is None
    raw = encode_body_part_params(FileTransferBodyPart(
        data=b"", description="d", headers=("X-A: 1",)))
    assert asn1.decode("FileTransferParameters", raw)["extensions"] == [
        {"type": RFC822_FIELD, "value": asn1.encode("RFC822FieldList", ["X-A: 1"])}]


FTBP_HEAD = (MIME + "Content-Type: application/octet-stream\n"
             "Content-Disposition: inline; filename=a.bin; size=3;\n"
             " creation-date=\"Wed, 1 May 2024 08:00:00 +0000\"\n"
             "Content-ID: <part1@example.com>\nContent-Description: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
             "Content-Language: de\nContent-Transfer-Encoding: base64")


def test_ftbp_parameters_typed() -> None:  # P-4 (RFC 2157 §2.3.2, §2.3.3)
    _, _, ipm = convert(FTBP_HEAD, "AAEC\n")
    (ftbp,) = ipm.body
    assert isinstance(ftbp, FileTransferBodyPart)
    assert ftbp.application_reference == "2.16.840.1.113694.2.2.1.1"
    assert ftbp.filename == "a.bin" and ftbp.size == 3 and ftbp.data == b"\x00\x01\x02"
    assert ftbp.created == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert ftbp.description == "Grüße"  # Latin-1 GraphicString, encoded-words undone
    assert ftbp.related_message == IPMIdentifier(local="part1(a)example.com")  # Content-ID
    assert ftbp.headers == ("Content-Language: de",)  # C-D, C-ID, C-Desc are not repeated
    assert ftbp.other_parameters is None
    params = asn1.decode("FileTransferParameters", encode_body_part_params(ftbp))
    (rsf,) = params["related-stored-file"]
    assert rsf["relationship"] == ("descriptive-relationship", b"Internet MIME Body Part")
    assert rsf["file-identifier"] == ("cross-reference", {
        "application-cross-reference": b"",
        "message-reference": {"user-relative-identifier": "part1(a)example.com"}})
    assert params["environment"]["user-visible-string"] == ["Grüße".encode("latin-1")]


def test_ftbp_content_id_not_a_msg_id_kept_as_header() -> None:  # P-4
    _, _, ipm = convert(MIME + "Content-Type: application/octet-stream; name=x.bin\n"
                        "Content-ID: not an id\nContent-Transfer-Encoding: base64", "AAEC\n")
    (ftbp,) = ipm.body
    assert isinstance(ftbp, FileTransferBodyPart) and ftbp.filename == "x.bin"  # §6.4 name
    assert ftbp.related_message is None and ftbp.headers == ("Content-ID: not an id",)


def test_x_ftbp_application_reference() -> None:  # P-9 reversed (RFC 2157 §3.3)
    _, _, ipm = convert(MIME + "Content-Type: application/x-ftbp.1.2.840.113556.4.2\n"
                        "Content-Disposition: attachment; filename=doc.bin\n"
                        "Content-Transfer-Encoding: base64", "AAEC\n")
    (ftbp,) = ipm.body
    assert isinstance(ftbp, FileTransferBodyPart)
    assert ftbp.application_reference == "1.2.840.113556.4.2"
    assert ftbp.filename == "doc.bin" and ftbp.data == b"\x00\x01\x02"


def test_x_ftbp_without_oid_is_bp15() -> None:  # §3.3: the subtype must be OID digits
    _, _, ipm = convert(MIME + "Content-Type: application/x-ftbp.word\n"
                        "Content-Transfer-Encoding: base64", "AAEC\n")
    (part,) = ipm.body
    assert isinstance(part, MimeBodyPart) and part.content_type == "application/x-ftbp.word"


# ------------------------------------------------------------------------------ robustness


def test_corpus() -> None:
    """Every corpus message converts (and round-trips through BER) or raises a BridgeError
    with a reason; never another exception."""
    from tests.test_corpus import corpus_dir, corpus_messages

    root = corpus_dir()
    if root is None:
        pytest.skip("corpus not available")
    failures = []
    converted = 0
    for message in corpus_messages(root):
        name, data = message.id, message.read()
        try:
            check(mime_to_x400(data, "<sender@example.com>", ["c@AC.UK"], CTX))
            converted += 1
        except BridgeError as exc:
            assert str(exc), name
        except Exception as exc:  # collected, so one run shows them all
            failures.append(f"{name}: {exc!r}")
    assert not failures, "\n".join(failures)
    assert converted > 250


_NAMES = st.sampled_from(["From", "To", "Cc", "Bcc", "Sender", "Reply-To", "Subject",
                          "Message-ID", "In-Reply-To", "References", "Date", "Expires",
                          "Importance", "Sensitivity", "Content-Language", "Received",
                          "X400-Received", "DL-Expansion-History", "Priority", "Autosubmitted",
                          "Content-Type", "MIME-Version", "X-Other"])
_VALUES = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=12), st.binary(max_size=200))
def test_random_headers_never_crash(headers: list[tuple[str, str]], body: bytes) -> None:
    data = b"".join(f"{n}: {v}\n".encode() for n, v in headers) + b"\n" + body
    try:
        result = mime_to_x400(data, "s@isode.com", ["c@AC.UK"], CTX)
    except BridgeError:
        return
    check(result)


def test_x400_1984_peer_addresses_follow_app_b() -> None:  # D-2
    """With policy x400_1984_peer every address goes through the App B rules."""
    from dataclasses import replace as dc_replace

    from bridge.codec import decode_content
    from bridge.convert.policy import RFC2156
    from bridge.model import IPM

    ctx = dc_replace(CTX, policy=RFC2156.clone(x400_1984_peer=True))
    data = (b'From: "/CN=Jo Bloggs/O=Widget/ADMD=BTT/C=TC/"@gw.example.ac.uk\r\n'
            b"To: c@AC.UK\r\nSubject: s\r\n\r\nhi\r\n")
    result = mime_to_x400(data, "s@isode.com", ["c@AC.UK"], ctx)
    ipm = decode_content(result.apdu.content)
    assert isinstance(ipm, IPM) and ipm.heading.originator is not None
    name = ipm.heading.originator.formal_name
    assert name is not None and name.address.common_name is None
    assert name.address.dda("Common") == "Jo Bloggs"


def test_octet_stream_policy() -> None:  # P-14
    """RFC 2157 §8: application/octet-stream with a file name -> FTBP by default, BP14 when
    the policy says so; an unknown policy value is refused."""
    from dataclasses import replace as dc_replace

    import pytest as _pytest

    from bridge.codec import decode_content
    from bridge.convert.policy import RFC2156
    from bridge.errors import ConfigError
    from bridge.model import IPM, BilaterallyDefinedBodyPart, FileTransferBodyPart

    data = (b"From: a@AC.UK\r\nTo: c@AC.UK\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename=x.bin\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n")

    def body(policy_ctx: object) -> object:
        ipm = decode_content(mime_to_x400(data, "a@AC.UK", ["c@AC.UK"],
                                          policy_ctx).apdu.content)  # type: ignore[arg-type]
        assert isinstance(ipm, IPM)
        return ipm.body[0]

    assert isinstance(body(CTX), FileTransferBodyPart)
    bp14 = body(dc_replace(CTX, policy=RFC2156.clone(octet_stream_as="bp14")))
    assert isinstance(bp14, BilaterallyDefinedBodyPart) and bp14.data == b"\x00\x01\x02"
    with _pytest.raises(ConfigError):
        RFC2156.clone(octet_stream_as="fax")
