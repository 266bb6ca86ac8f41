"""RFC 6477: MMHS-* header fields <-> STANAG 4406 A1 heading extensions (P772), both ways.

* golden cases, one per §3 field: the field (the RFC's own examples) -> the P772 heading
  extension, and the extension -> the field text this gateway writes;
* the §6 rules: P772 content type, a (extended authorisation from Date), b (primary
  precedence default), c (copy precedence as given), d (15-character local identifier with an
  O/R address part, reversed on the way back);
* malformed and repeated fields, the extensions without a field (§5), the codec registry;
* a Hypothesis round trip P772 -> MIME -> P772;
* interop (marked ``oracle``): every P772 encoding these tests produce is dissected by
  tshark's p772 dissector (reached through the P1 extended content type
  1.3.26.0.4406.0.4.1) without errors, and the values compared.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.parser import BytesParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.codec import asn1, decode_apdu, decode_content, encode_apdu, encode_content
from bridge.codec.p22ext import MMHS_HEADING_EXTENSIONS, heading_extension_from
from bridge.convert.policy import ARCHIVE
from bridge.convert.to_mime import x400_to_mime
from bridge.convert.to_x400 import mime_to_x400
from bridge.dump import render
from bridge.model import (
    IPM,
    Envelope,
    GlobalDomainIdentifier,
    Heading,
    IA5TextBodyPart,
    IPMIdentifier,
    IPMSExtension,
    Message,
    MTSIdentifier,
    ORAddress,
    ORDescriptor,
    ORName,
    PerRecipientIndicators,
    Recipient,
    RecipientSpecifier,
    TraceElement,
    mmhs,
)
from bridge.model.common import Opaque
from tests.helpers import gateway_context

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
CTX = gateway_context(NOW, country="GB")
GDI = GlobalDomainIdentifier(country="GB", admd="GOLD 400", prmd="UK.AC")
BST = timezone(timedelta(hours=1))
DUTY = ORName(address=ORAddress.parse("/S=duty/PRMD=UK.AC/ADMD=GOLD 400/C=GB/"))
ROSE = ORName(address=ORAddress.parse("/S=Rose/OU=Research/PRMD=GMD/ADMD=DBP/C=DE/"))
SMITH = ORName(address=ORAddress.parse("/S=Smith/O=ucl/PRMD=UK.AC/ADMD=GOLD 400/C=GB/"))
#: an ACP 123 this-IPM: O/R address part and a 15+ character local identifier (§6 d)
THIS_IPM = IPMIdentifier(user=SMITH, local="UCL-2026-000042")

# (field as received, heading-extension OID, model value, field as this gateway writes it):
# §3 of RFC 6477, each field's own example where it gives one
GOLDEN = [
    ("MMHS-Exempted-Address: UK SHL Duty Officer <duty@AC.UK>",
     mmhs.ID_MM_EXEMPTED_ADDRESS,
     mmhs.ExemptedAddresses(addresses=(ORDescriptor(formal_name=DUTY,
                                                    free_form_name="UK SHL Duty Officer"),)),
     "MMHS-Exempted-Address: UK SHL Duty Officer <duty@AC.UK>"),
    ("MMHS-Extended-Authorisation-Info:\r\n  Mon, 09 Aug 2010 15:27:40 +0100",
     mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO,
     mmhs.ExtendedAuthorisationInfo(time=datetime(2010, 8, 9, 15, 27, 40, tzinfo=BST)),
     "MMHS-Extended-Authorisation-Info: Mon, 09 Aug 2010 15:27:40 +0100"),
    ("MMHS-Subject-Indicator-Codes: SDM; KKZ ; BRL",
     mmhs.ID_MM_DISTRIBUTION_CODES, mmhs.DistributionCodes(sics=("SDM", "KKZ", "BRL")),
     "MMHS-Subject-Indicator-Codes: SDM; KKZ; BRL"),
    ("MMHS-Handling-Instructions: RXFPA ZOV MINDEF",
     mmhs.ID_MM_HANDLING_INSTRUCTIONS,
     mmhs.HandlingInstructions(instructions=("RXFPA ZOV MINDEF",)),
     "MMHS-Handling-Instructions: RXFPA ZOV MINDEF"),
    ("MMHS-Message-Instructions: MINIMIZE CONSIDERED; NO DISTRIBUTION",
     mmhs.ID_MM_MESSAGE_INSTRUCTIONS,
     mmhs.MessageInstructions(instructions=("MINIMIZE CONSIDERED", "NO DISTRIBUTION")),
     "MMHS-Message-Instructions: MINIMIZE CONSIDERED; NO DISTRIBUTION"),
    ("MMHS-Codress-Message-Indicator: 23", mmhs.ID_MM_CODRESS_MESSAGE,
     mmhs.CodressMessage(number=23), "MMHS-Codress-Message-Indicator: 23"),
    ("MMHS-Originator-Reference: IMSCOM-JIC-612-78", mmhs.ID_MM_ORIGINATOR_REFERENCE,
     mmhs.OriginatorReference(text="IMSCOM-JIC-612-78"),
     "MMHS-Originator-Reference: IMSCOM-JIC-612-78"),
    ("MMHS-Primary-Precedence: FLASH", mmhs.ID_MM_PRIMARY_PRECEDENCE,
     mmhs.PrimaryPrecedence(level=4), "MMHS-Primary-Precedence: flash"),
    ("MMHS-Copy-Precedence: 2 (priority)", mmhs.ID_MM_COPY_PRECEDENCE,
     mmhs.CopyPrecedence(level=2), "MMHS-Copy-Precedence: priority"),
    ('MMHS-Message-Type: 0(exercise); identifier="CANDLE FISH"', mmhs.ID_MM_MESSAGE_TYPE,
     mmhs.MessageType(type=0, identifier="CANDLE FISH"),
     'MMHS-Message-Type: exercise; identifier="CANDLE FISH"'),
    ("MMHS-Other-Recipients-Indicator-To: UK SHL COS; UK SHL IM",
     mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR,
     mmhs.OtherRecipientsIndicator(recipients=(mmhs.OtherRecipient(designator="UK SHL COS"),
                                               mmhs.OtherRecipient(designator="UK SHL IM"))),
     "MMHS-Other-Recipients-Indicator-To: UK SHL COS; UK SHL IM"),
    ("MMHS-Other-Recipients-Indicator-CC: UK SHL LEGAD",
     mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR,
     mmhs.OtherRecipientsIndicator(recipients=(
         mmhs.OtherRecipient(designator="UK SHL LEGAD", copy=True),)),
     "MMHS-Other-Recipients-Indicator-CC: UK SHL LEGAD"),
    ("MMHS-Acp127-Message-Identifier: RPDLE 1234 0341215",
     mmhs.ID_MM_ACP127_MESSAGE_IDENTIFIER,
     mmhs.Acp127MessageIdentifier(text="RPDLE 1234 0341215"),
     "MMHS-Acp127-Message-Identifier: RPDLE 1234 0341215"),
    ("MMHS-Originator-PLAD: SACLANT", mmhs.ID_MM_ORIGINATOR_PLAD,
     mmhs.OriginatorPlad(text="SACLANT"), "MMHS-Originator-PLAD: SACLANT"),
]
IDS = [g[0].split(":")[0] for g in GOLDEN]
#: other spellings §3/§4 allow, and what they give
VARIANTS = [
    ("MMHS-Primary-Precedence: 0 (Deferred)", mmhs.PrimaryPrecedence(level=0)),
    ("MMHS-Primary-Precedence: 7", mmhs.PrimaryPrecedence(level=7)),
    ("MMHS-Copy-Precedence: Priority", mmhs.CopyPrecedence(level=2)),
    ("MMHS-Message-Type: 3", mmhs.MessageType(type=3)),
    ("MMHS-Message-Type: 2 (projet)", mmhs.MessageType(type=2)),
    ("MMHS-Message-Type: project", mmhs.MessageType(type=2)),
    ("MMHS-Message-Type: 200", mmhs.MessageType(type=200)),
]


def mime(*fields: str, to: str = "c@Widget.COM") -> bytes:
    head = ["From: Jo Bloggs <Jo.Bloggs@cs.ucl.AC.UK>", f"To: {to}", "Subject: MMHS",
            "Date: Mon, 09 Aug 2010 15:27:40 +0100", "Message-ID: <1.2@cs.ucl.AC.UK>",
            *fields, "MIME-Version: 1.0", "Content-Type: text/plain"]
    return ("\r\n".join(head) + "\r\n\r\nhi\r\n").encode()


def to_x400(data: bytes) -> tuple[Message, IPM, list[str]]:
    res = mime_to_x400(data, "<Jo.Bloggs@cs.ucl.AC.UK>", ["c@Widget.COM"], CTX)
    assert isinstance(res.apdu, Message)
    wire = decode_apdu(encode_apdu(res.apdu))
    assert isinstance(wire, Message)
    ipm = decode_content(wire.content)
    assert isinstance(ipm, IPM)
    ENCODINGS.append(encode_apdu(res.apdu))
    return wire, ipm, [f"{d.kind}: {d.detail}" for d in res.defects]


def extension(ipm: IPM, oid: str) -> object:
    values = [e.value for e in ipm.heading.extensions or () if e.type == oid]
    assert len(values) == 1, values
    return values[0]


def p772(*exts: IPMSExtension, this_ipm: IPMIdentifier = THIS_IPM,
         content_type: int | str = mmhs.ID_MMHS_CONT_MM88) -> Message:
    heading = Heading(
        this_ipm=this_ipm, originator=ORDescriptor(formal_name=SMITH),
        primary=(RecipientSpecifier(recipient=ORDescriptor(formal_name=ROSE)),),
        subject="MMHS", extensions=exts or None)
    envelope = Envelope(
        identifier=MTSIdentifier(domain=GDI, local="m1"), originator=SMITH,
        content_type=content_type,
        recipients=(Recipient(name=ROSE, number=1,
                              indicators=PerRecipientIndicators.RESPONSIBILITY),),
        trace=(TraceElement(domain=GDI, arrival_time=datetime(2026, 11, 28, 9, 0, tzinfo=UTC)),))
    content = encode_content(IPM(heading=heading, body=(IA5TextBodyPart(text="hi\r\n"),)))
    message = Message(envelope=envelope, content=content)
    ENCODINGS.append(encode_apdu(message))
    return message


def header_lines(message: Message, ctx: object = CTX) -> tuple[list[str], list[str]]:
    res = x400_to_mime(message, ctx)  # type: ignore[arg-type]
    parsed = BytesParser(policy=policy.compat32).parsebytes(res.message)
    lines = [f"{k}: {' '.join(v.split())}" for k, v in parsed.items()]
    return lines, [f"{d.kind}: {d.detail}" for d in res.defects]


#: every P772 MTS-APDU these tests encode, for the tshark test at the end
ENCODINGS: list[bytes] = []
#: tshark's note for an OID it has no dissector for (tests/test_interop.py)
TSHARK_UNKNOWN_OID = "Dissector for OID not implemented"


# ------------------------------------------------------------------ golden, both ways (§3)


@pytest.mark.parametrize(("field", "oid", "value", "written"), GOLDEN, ids=IDS)
def test_field_to_heading_extension(field: str, oid: str, value: object, written: str) -> None:
    """§6: an MMHS-* field becomes its A1 heading extension in P772."""
    wire, ipm, _ = to_x400(mime(field, "MMHS-Primary-Precedence: routine")
                           if "Primary" not in field else mime(field))
    assert wire.envelope.content_type == mmhs.ID_MMHS_CONT_MM88
    assert extension(ipm, oid) == value
    # the field is mapped, not also kept in rfc-822-field
    assert not any(str(f).startswith(field.split(":")[0]) for e in ipm.heading.extensions or ()
                   if isinstance(e.value, tuple) for f in e.value)


@pytest.mark.parametrize(("field", "oid", "value", "written"), GOLDEN, ids=IDS)
def test_heading_extension_to_field(field: str, oid: str, value: object, written: str) -> None:
    """§6: "header fields MUST be generated ... for all ACP 123 heading extensions where an
    equivalent header is defined", in the §4 syntax."""
    lines, defects = header_lines(p772(IPMSExtension(type=oid, value=value)))
    assert written in lines
    assert not any("Discarded-X400-IPMS" in x for x in lines)
    assert "X400-Content-Type: 1.3.26.0.4406.0.4.1" in lines


@pytest.mark.parametrize(("field", "value"), VARIANTS, ids=[v[0] for v in VARIANTS])
def test_field_variants(field: str, value: object) -> None:
    _, ipm, _ = to_x400(mime(field, "MMHS-Primary-Precedence: routine")
                        if "Primary" not in field else mime(field))
    oid = (mmhs.ID_MM_MESSAGE_TYPE if isinstance(value, mmhs.MessageType)
           else mmhs.ID_MM_COPY_PRECEDENCE if isinstance(value, mmhs.CopyPrecedence)
           else mmhs.ID_MM_PRIMARY_PRECEDENCE)
    assert extension(ipm, oid) == value


def test_unnamed_numbers_are_written_as_numbers() -> None:
    lines, _ = header_lines(p772(
        IPMSExtension(type=mmhs.ID_MM_PRIMARY_PRECEDENCE, value=mmhs.PrimaryPrecedence(level=17)),
        IPMSExtension(type=mmhs.ID_MM_MESSAGE_TYPE, value=mmhs.MessageType(type=130))))
    assert "MMHS-Primary-Precedence: 17" in lines
    assert "MMHS-Message-Type: 130" in lines


def test_both_other_recipient_fields_make_one_extension() -> None:
    _, ipm, _ = to_x400(mime("MMHS-Primary-Precedence: 1",
                             "MMHS-Other-Recipients-Indicator-CC: UK SHL LEGAD",
                             "MMHS-Other-Recipients-Indicator-To: UK SHL COS"))
    assert extension(ipm, mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR) == \
        mmhs.OtherRecipientsIndicator(recipients=(
            mmhs.OtherRecipient(designator="UK SHL COS"),
            mmhs.OtherRecipient(designator="UK SHL LEGAD", copy=True)))


# ------------------------------------------------------------------------ §6 rules a-d


def test_p22_without_mmhs_fields_stays_p22() -> None:
    wire, ipm, _ = to_x400(mime())
    assert wire.envelope.content_type in (2, 22)
    assert not any(mmhs.is_military(e.type) for e in ipm.heading.extensions or ())


def test_rule_a_extended_authorisation_from_date() -> None:
    _, ipm, _ = to_x400(mime("MMHS-Primary-Precedence: flash"))
    assert extension(ipm, mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO) == \
        mmhs.ExtendedAuthorisationInfo(time=datetime(2010, 8, 9, 15, 27, 40, tzinfo=BST))


def test_rule_a_field_wins_over_date() -> None:
    _, ipm, _ = to_x400(mime("MMHS-Primary-Precedence: flash",
                             "MMHS-Extended-Authorisation-Info: Tue, 10 Aug 2010 08:00:00 +0000"))
    assert extension(ipm, mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO) == \
        mmhs.ExtendedAuthorisationInfo(time=datetime(2010, 8, 10, 8, 0, tzinfo=UTC))


def test_rule_b_primary_precedence_default_when_to_present() -> None:
    _, ipm, defects = to_x400(mime("MMHS-Originator-PLAD: SACLANT"))
    assert extension(ipm, mmhs.ID_MM_PRIMARY_PRECEDENCE) == mmhs.PrimaryPrecedence(level=1)
    assert any(d.startswith("mmhs:") and "routine" in d for d in defects)


def test_rule_c_copy_precedence_only_from_its_field() -> None:
    _, ipm, _ = to_x400(mime("MMHS-Primary-Precedence: flash") .replace(
        b"To: c@Widget.COM", b"To: c@Widget.COM\r\nCc: bob@example.org"))
    assert not any(e.type == mmhs.ID_MM_COPY_PRECEDENCE for e in ipm.heading.extensions or ())


def test_rule_d_identifier_padded_with_or_address_and_reversed() -> None:
    """§6 d: <1.2@cs.ucl.AC.UK> gives a 15-character local part (padded with spaces) and
    an O/R address part (the msg-id mapped as an address); it maps back to the same
    Message-ID."""
    wire, ipm, _ = to_x400(mime("MMHS-Primary-Precedence: flash").replace(
        b"<1.2@cs.ucl.AC.UK>", b"<1@AC.UK>"))
    ident = ipm.heading.this_ipm
    assert ident.user is not None and len(ident.local) == 15
    assert ident.local.rstrip() == "1(a)AC.UK"
    lines, _ = header_lines(wire)
    assert "Message-ID: <1@AC.UK>" in lines


def test_rule_d_x400_identifier_kept() -> None:
    lines, _ = header_lines(p772(IPMSExtension(type=mmhs.ID_MM_PRIMARY_PRECEDENCE,
                                               value=mmhs.PrimaryPrecedence(level=1))))
    msgid = next(x for x in lines if x.startswith("Message-ID:"))
    _, ipm, _ = to_x400(mime("MMHS-Primary-Precedence: routine").replace(
        b"Message-ID: <1.2@cs.ucl.AC.UK>", msgid.encode()))
    assert ipm.heading.this_ipm == THIS_IPM


# ------------------------------------------------------------- malformed, repeated, unmapped


@pytest.mark.parametrize("field", [
    "MMHS-Primary-Precedence: urgent",
    "MMHS-Codress-Message-Indicator: -3",
    "MMHS-Subject-Indicator-Codes: AB; CDE",
    "MMHS-Originator-PLAD: " + "X" * 70,
    "MMHS-Message-Type: drill; name=\"X\"",
    "MMHS-Originator-Reference: a@b",
])
def test_malformed_field_kept_in_rfc822_field(field: str) -> None:
    """§4 ABNF not met: the field goes to rfc-822-field with a defect (RFC 2156 §5.1.3)."""
    _, ipm, defects = to_x400(mime("MMHS-Copy-Precedence: 1", field))
    kept = [f for e in ipm.heading.extensions or () if isinstance(e.value, tuple)
            for f in e.value if isinstance(f, str)]
    assert any(f.startswith(field.split(":")[0]) for f in kept)
    assert any(d.startswith("header-invalid") for d in defects)


def test_repeated_field_second_kept_in_rfc822_field() -> None:
    _, ipm, defects = to_x400(mime("MMHS-Originator-PLAD: SACLANT", "MMHS-Originator-PLAD: X"))
    assert extension(ipm, mmhs.ID_MM_ORIGINATOR_PLAD) == mmhs.OriginatorPlad(text="SACLANT")
    assert any("second MMHS-Originator-PLAD" in d for d in defects)


def test_more_than_eight_sics() -> None:
    sics = "; ".join(f"S{i:02d}" for i in range(10))
    _, ipm, defects = to_x400(mime("MMHS-Copy-Precedence: 1",
                                   f"MMHS-Subject-Indicator-Codes: {sics}"))
    codes = extension(ipm, mmhs.ID_MM_DISTRIBUTION_CODES)
    assert isinstance(codes, mmhs.DistributionCodes) and codes.sics is not None
    assert len(codes.sics) == 8 and any(d.startswith("truncated") for d in defects)


ALI = IPMSExtension(type=mmhs.ID_MM_ADDRESS_LIST_INDICATOR, value=Opaque(ber=asn1.encode(
    "AddressListDesignatorSeq", [{"type": 0, "listName": {"free-form-name": b"AL ONE"}}])))


def test_extension_without_field_discarded_with_defect() -> None:
    """§6: "For the three heading extensions where no mapping is defined, the heading
    extension MAY be discarded": listed, with a defect."""
    lines, defects = header_lines(p772(ALI))
    assert f"Discarded-X400-IPMS-Extensions: {mmhs.ID_MM_ADDRESS_LIST_INDICATOR}" in lines
    assert any(d.startswith("extension-discarded") for d in defects)


def test_extension_without_field_kept_visibly_under_archive_policy() -> None:
    ctx = gateway_context(NOW, policy=ARCHIVE, country="GB")
    lines, defects = header_lines(p772(ALI), ctx)
    assert any(x.startswith(f"X400-Unmapped-Extension: IPMS {mmhs.ID_MM_ADDRESS_LIST_INDICATOR}"
                            "; ber=") for x in lines)
    assert any(d.startswith("extension-kept") for d in defects)


def test_distribution_extensions_discarded_with_defect() -> None:
    value = mmhs.DistributionCodes(sics=("SDM",), extensions=(mmhs.DistributionExtension(
        type="1.2.3", value=Opaque(ber=b"\x05\x00"), instance_of=False),))
    lines, defects = header_lines(p772(IPMSExtension(type=mmhs.ID_MM_DISTRIBUTION_CODES,
                                                     value=value)))
    assert "MMHS-Subject-Indicator-Codes: SDM" in lines
    assert any("distribution extension 1.2.3" in d for d in defects)


# ------------------------------------------------------------------------ codec and dump


@pytest.mark.parametrize(("field", "oid", "value", "written"), GOLDEN, ids=IDS)
def test_codec_registry_round_trip(field: str, oid: str, value: object, written: str) -> None:
    from bridge.codec.p22ext import heading_extension_to

    raw = heading_extension_to(IPMSExtension(type=oid, value=value))
    assert raw is not None
    asn1.decode(MMHS_HEADING_EXTENSIONS[oid][0], raw, strict=True)
    assert heading_extension_from(oid, raw) == IPMSExtension(type=oid, value=value)


def test_undecodable_military_value_stays_opaque() -> None:
    bad = b"\x04\x01x"  # an OCTET STRING where an INTEGER belongs
    ext = heading_extension_from(mmhs.ID_MM_PRIMARY_PRECEDENCE, bad)
    assert ext.value == Opaque(ber=bad)
    lines, defects = header_lines(p772(ext))
    assert not any(x.startswith("MMHS-Primary-Precedence") for x in lines)
    assert any("value does not decode" in d for d in defects)


def test_dump_shows_military_extensions() -> None:
    wire, _, _ = to_x400(mime(*(g[0] for g in GOLDEN if "Other" not in g[0])))
    text = render(wire)
    assert "content-type: 1.3.26.0.4406.0.4.1" in text
    assert "extension primary-precedence (1.3.26.0.4406.0.2.0): flash" in text
    assert "extension distribution-codes (1.3.26.0.4406.0.2.6): SDM; KKZ; BRL" in text
    assert 'message-type (1.3.26.0.4406.0.2.2): exercise; identifier="CANDLE FISH"' in text


# ------------------------------------------------------------ round trip P772 -> MIME -> P772

MILITARY = st.from_regex(r"[A-Z0-9][A-Za-z0-9 ()+,./:=?-]{0,20}[A-Z0-9]", fullmatch=True)
SIC = st.from_regex(r"[A-Z0-9]{3,8}", fullmatch=True)
TIMES = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC))
LEVELS = st.integers(0, 31)


@st.composite
def military_extensions(draw: st.DrawFn) -> tuple[IPMSExtension, ...]:
    """A conformant A1 set: extended authorisation and primary precedence always (§6 a, b),
    the others optional; other recipients primary first (the field order written)."""
    values: dict[str, object] = {
        mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO: mmhs.ExtendedAuthorisationInfo(
            time=draw(TIMES)),
        mmhs.ID_MM_PRIMARY_PRECEDENCE: mmhs.PrimaryPrecedence(level=draw(LEVELS))}
    optional = {
        mmhs.ID_MM_COPY_PRECEDENCE: st.builds(mmhs.CopyPrecedence, level=LEVELS),
        mmhs.ID_MM_MESSAGE_TYPE: st.builds(mmhs.MessageType, type=st.integers(0, 255),
                                           identifier=st.none() | MILITARY),
        mmhs.ID_MM_EXEMPTED_ADDRESS: st.lists(st.sampled_from([DUTY, ROSE]), min_size=1,
                                              max_size=2, unique=True).map(
            lambda ns: mmhs.ExemptedAddresses(addresses=tuple(
                ORDescriptor(formal_name=n) for n in ns))),
        mmhs.ID_MM_DISTRIBUTION_CODES: st.lists(SIC, min_size=1, max_size=8).map(
            lambda s: mmhs.DistributionCodes(sics=tuple(s))),
        mmhs.ID_MM_HANDLING_INSTRUCTIONS: st.lists(MILITARY, min_size=1, max_size=3).map(
            lambda s: mmhs.HandlingInstructions(instructions=tuple(s))),
        mmhs.ID_MM_MESSAGE_INSTRUCTIONS: st.lists(MILITARY, min_size=1, max_size=3).map(
            lambda s: mmhs.MessageInstructions(instructions=tuple(s))),
        mmhs.ID_MM_CODRESS_MESSAGE: st.builds(mmhs.CodressMessage,
                                              number=st.integers(0, 2**31 - 1)),
        mmhs.ID_MM_ORIGINATOR_REFERENCE: st.builds(mmhs.OriginatorReference, text=MILITARY),
        mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR: st.tuples(
            st.lists(MILITARY, max_size=2), st.lists(MILITARY, max_size=2)).filter(
            lambda t: bool(t[0] or t[1])).map(lambda t: mmhs.OtherRecipientsIndicator(
                recipients=tuple(mmhs.OtherRecipient(designator=d) for d in t[0])
                + tuple(mmhs.OtherRecipient(designator=d, copy=True) for d in t[1]))),
        mmhs.ID_MM_ACP127_MESSAGE_IDENTIFIER: st.builds(mmhs.Acp127MessageIdentifier,
                                                        text=MILITARY),
        mmhs.ID_MM_ORIGINATOR_PLAD: st.builds(mmhs.OriginatorPlad, text=MILITARY),
    }
    for oid, strategy in optional.items():
        if draw(st.booleans()):
            values[oid] = draw(strategy)
    order = draw(st.permutations(sorted(values)))
    return tuple(IPMSExtension(type=oid, value=values[oid]) for oid in order)


def _by_oid(heading: Heading) -> dict[str, object]:
    return {e.type: e.value for e in heading.extensions or () if mmhs.is_military(e.type)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exts=military_extensions(),
       local=st.from_regex(r"[A-Z0-9]{4}-[A-Z0-9]{10,20}", fullmatch=True))
def test_p772_mime_p772_round_trip(exts: tuple[IPMSExtension, ...], local: str) -> None:
    """Every A1 extension that has a field comes back with the same value; the ACP 123
    this-IPM comes back; the content type stays P772."""
    message = p772(*exts, this_ipm=IPMIdentifier(user=SMITH, local=local))
    res = x400_to_mime(message, CTX)
    there = mime_to_x400(res.message, res.mail_from, res.rcpt_to, CTX)
    assert isinstance(there.apdu, Message)
    assert there.apdu.envelope.content_type == mmhs.ID_MMHS_CONT_MM88
    ENCODINGS.append(encode_apdu(there.apdu))
    back = decode_content(there.apdu.content)
    assert isinstance(back, IPM)
    assert _by_oid(back.heading) == {e.type: e.value for e in exts}
    assert back.heading.this_ipm == IPMIdentifier(user=SMITH, local=local)


def test_round_trip_mime_p772_mime_keeps_every_field() -> None:
    fields = [g[0] for g in GOLDEN]
    wire, _, _ = to_x400(mime(*fields))
    lines, _ = header_lines(wire)
    for _, _, _, written in GOLDEN:
        assert written in lines
    assert "Message-ID: <1.2@cs.ucl.AC.UK>" in lines


# --------------------------------------------------------------------------- interop


@pytest.mark.oracle
def test_tshark_p772_dissects_every_encoding_cleanly() -> None:
    """Every P772 MTS-APDU the tests above produced (they run first in this module) reaches
    Wireshark's p772 dissector through the extended content type and dissects without
    errors."""
    from tests import oracle

    oracle.require("tshark")
    datas = list(dict.fromkeys(ENCODINGS)) or [encode_apdu(p772())]
    military = [d for d in datas if isinstance(m := decode_apdu(d), Message)
                and m.envelope.content_type == mmhs.ID_MMHS_CONT_MM88]
    assert military
    for data, result in zip(military, oracle.tshark_decode_many(military, "p1"), strict=True):
        apdu = decode_apdu(data)
        assert isinstance(apdu, Message)
        content = decode_content(apdu.content)
        assert isinstance(content, IPM)
        errors = result.errors
        if not all(mmhs.is_military(e.type) for e in content.heading.extensions or ()):
            # tshark has no dissector for the MIXER rfc-822-field OID (as in test_interop)
            errors = [e for e in errors if TSHARK_UNKNOWN_OID not in e]
        assert errors == [], (errors, content.heading.extensions)
        assert result.warnings == []
        assert "p772" in result.protocols.split(":")


@pytest.mark.oracle
def test_tshark_p772_values_match() -> None:
    """tshark's p772 fields carry the values we meant (the RFC 6477 §3 examples)."""
    from tests import oracle

    oracle.require("tshark")
    wire, _, _ = to_x400(mime(*(g[0] for g in GOLDEN)))
    result = oracle.tshark_decode(encode_apdu(wire), "p1")
    assert result.ok, result.errors
    assert result.value("p772.PrimaryPrecedence") == "4"
    assert result.value("p772.CopyPrecedence") == "2"
    assert result.values("p772.Sic") == ["SDM", "KKZ", "BRL"]
    assert result.values("p772.MilitaryString", under="p772.HandlingInstructions") == [
        "RXFPA ZOV MINDEF"]
    assert result.values("p772.MilitaryString", under="p772.MessageInstructions") == [
        "MINIMIZE CONSIDERED", "NO DISTRIBUTION"]
    assert result.value("p772.CodressMessage") == "23"
    assert result.value("p772.OriginatorReference") == "IMSCOM-JIC-612-78"
    assert result.value("p772.identifier") == "CANDLE FISH"
    assert result.values("p772.designator") == ["UK SHL COS", "UK SHL IM", "UK SHL LEGAD"]
    assert result.values("p772.type", under="p772.OtherRecipientDesignatorSeq") == [
        "0", "0", "1"]
    assert result.value("p772.Acp127MessageIdentifier") == "RPDLE 1234 0341215"
    assert result.value("p772.OriginatorPlad") == "SACLANT"
    assert result.value("p772.ExtendedAuthorisationInfo").startswith("10-08-09 15:27:40")
    assert result.has("p772.ExemptedAddressSeq")


def test_mmhs_module_is_compiled_with_the_others() -> None:
    assert asn1.decode("PrimaryPrecedence", asn1.encode("PrimaryPrecedence", 5)) == 5
    assert replace(mmhs.PrimaryPrecedence(level=1), level=2) == mmhs.PrimaryPrecedence(level=2)


@pytest.mark.parametrize("instance_of", [True, False])
def test_distribution_extension_both_forms_round_trip(instance_of: bool) -> None:
    """A1.3 DistributionExtensionField: INSTANCE OF ([UNIVERSAL 8], the STANAG text) and the
    SEQUENCE form Wireshark reads both decode, and are sent back in the form received."""
    from bridge.codec.p22ext import heading_extension_to

    value = mmhs.DistributionCodes(sics=("SDM",), extensions=(mmhs.DistributionExtension(
        type="1.2.3", value=Opaque(ber=b"\x02\x01\x07"), instance_of=instance_of),))
    raw = heading_extension_to(IPMSExtension(type=mmhs.ID_MM_DISTRIBUTION_CODES, value=value))
    assert raw is not None and (b"\x28" in raw) == instance_of
    assert heading_extension_from(mmhs.ID_MM_DISTRIBUTION_CODES, raw).value == value


@given(level=st.integers(-2**40, 2**40), text=MILITARY, when=TIMES)
@settings(max_examples=200, deadline=None)
def test_primitive_fast_path_matches_asn1tools(level: int, text: str, when: datetime) -> None:
    """The hand-written BER of the one-element A1 values (p22ext._PRIMITIVE) is the octets
    asn1tools gives, and decodes to the same value both ways."""
    from bridge.codec import p22ext

    for oid, value in ((mmhs.ID_MM_PRIMARY_PRECEDENCE, mmhs.PrimaryPrecedence(level=level)),
                       (mmhs.ID_MM_CODRESS_MESSAGE, mmhs.CodressMessage(number=level)),
                       (mmhs.ID_MM_ORIGINATOR_PLAD, mmhs.OriginatorPlad(text=text)),
                       (mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO,
                        mmhs.ExtendedAuthorisationInfo(time=when))):
        type_name, _, encode = MMHS_HEADING_EXTENSIONS[oid]
        raw = p22ext.heading_extension_to(IPMSExtension(type=oid, value=value))
        assert raw == asn1.encode(type_name, encode(value))
        assert p22ext.heading_extension_from(oid, raw).value == value
        assert MMHS_HEADING_EXTENSIONS[oid][1](asn1.decode(type_name, raw)) == value


def test_primitive_fast_path_leaves_odd_encodings_to_asn1tools() -> None:
    # non-minimal INTEGER 00 04, and a long-form length: both still decode (asn1tools path)
    assert heading_extension_from(mmhs.ID_MM_PRIMARY_PRECEDENCE, b"\x02\x02\x00\x04").value \
        == mmhs.PrimaryPrecedence(level=4)
    assert heading_extension_from(mmhs.ID_MM_ORIGINATOR_PLAD, b"\x13\x81\x03ABC").value == \
        mmhs.OriginatorPlad(text="ABC")
