"""Security labels (MIL-5): the X.411 / ESS label codec, the RFC 7444 ``SIO-Label`` text, and
the conversion both ways (X.411 message-security-label <-> ``SIO-Label`` / ``SIO-Label-History``).

The BER we write is checked by an independent decoder: pyasn1 with a spec written here from
X.411 §9 (and its DER encoder, which must give the same octets for a DER-shaped label), and
tshark's P1 dissector on a whole MTS-APDU.  The policy cases are in test_seclabel_policy.py.
"""

from __future__ import annotations

import base64
import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.type import char, namedtype, tag, univ

from bridge import samples
from bridge.codec import decode_apdu, encode_apdu
from bridge.codec.seclabel import label_from_ber, label_to_ber
from bridge.convert.policy import LENIENT
from bridge.convert.seclabel import LABEL_CRITICALITY, InvalidSecurityLabel
from bridge.convert.seclabel_text import (
    LabelSyntaxError,
    format_sio_label,
    parse_params,
    parse_sio_label,
)
from bridge.convert.to_mime import x400_to_mime
from bridge.convert.to_x400 import mime_to_x400
from bridge.errors import DecodeError, EncodeError
from bridge.model import IPM, Criticality, Extension, Message, Opaque, StandardExtension
from bridge.model.seclabel import SecurityCategory, SecurityLabel, SioLabel
from tests.helpers import gateway_context

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
LABEL20 = StandardExtension.MESSAGE_SECURITY_LABEL

#: the golden label: policy, classification, privacy mark and two categories
GOLDEN = SecurityLabel(
    policy_id="1.3.6.1.4.1.32473.1.9", classification=4, privacy_mark="EXERCISE ONLY",
    categories=(SecurityCategory(type="1.3.6.1.4.1.32473.1.9.1",
                                 value=Opaque(ber=bytes.fromhex("030205a0"))),
                SecurityCategory(type="1.3.6.1.4.1.32473.1.9.2",
                                 value=Opaque(ber=b"\x13\x03NZL"))))
#: its BER, derived by hand from X.411 §9 (X.690 §8.11: SET members in tag order)
GOLDEN_BER = bytes.fromhex(
    "314b"
    "020104"                                            # security-classification 4
    "060a2b0601040181fd590109"                          # policy 1.3.6.1.4.1.32473.1.9
    "312b"                                              # security-categories
    "3013" "800b2b0601040181fd59010901" "a104" "030205a0"
    "3014" "800b2b0601040181fd59010902" "a105" "13034e5a4c"
    "130d" + b"EXERCISE ONLY".hex())                    # privacy-mark


# -------------------------------------------------- an independent decoder (pyasn1, X.411 §9)

class _Category(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("type", univ.ObjectIdentifier().subtype(
            implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, 0))),
        namedtype.NamedType("value", univ.Any().subtype(
            explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 1))))


class _Categories(univ.SetOf):
    componentType = _Category()


class _Label(univ.Set):
    componentType = namedtype.NamedTypes(
        namedtype.OptionalNamedType("security-policy-identifier", univ.ObjectIdentifier()),
        namedtype.OptionalNamedType("security-classification", univ.Integer()),
        namedtype.OptionalNamedType("privacy-mark", char.PrintableString()),
        namedtype.OptionalNamedType("security-categories", _Categories()))


def pyasn1_label(data: bytes) -> SecurityLabel:
    value, rest = ber_decoder.decode(data, asn1Spec=_Label())
    assert rest == b""

    def opt(name: str) -> object:
        return value[name] if value[name].isValue else None

    policy, klass, mark = (opt(n) for n in ("security-policy-identifier",
                                             "security-classification", "privacy-mark"))
    cats = value["security-categories"]
    return SecurityLabel(
        policy_id=str(policy) if policy is not None else None,
        classification=int(klass) if klass is not None else None,  # type: ignore[call-overload]
        privacy_mark=str(mark) if mark is not None else None,
        categories=tuple(SecurityCategory(type=str(c["type"]),
                                          value=Opaque(ber=c["value"].asOctets()))
                         for c in cats) if cats.isValue else ())


# ---------------------------------------------------------------------------- codec

def test_golden_label_encodes_as_x411_says() -> None:
    """MIL-5: the label with every component encodes to the BER derived from X.411 §9, and
    decodes back; pyasn1 reads the same values and its DER encoder gives the same octets."""
    assert label_to_ber(GOLDEN) == GOLDEN_BER
    assert label_from_ber(GOLDEN_BER) == GOLDEN
    assert pyasn1_label(GOLDEN_BER) == GOLDEN
    value, _ = ber_decoder.decode(GOLDEN_BER, asn1Spec=_Label())
    assert der_encoder.encode(value) == GOLDEN_BER


def test_ess_label_with_utf8_privacy_mark() -> None:
    """RFC 2634 §5.4 ESSPrivacyMark utf8String is read and written back (X.411 has only
    PrintableString); a non-printable mark cannot go out as a PrintableString."""
    label = SecurityLabel(policy_id="1.2.3", privacy_mark="Geheim – nur für Übung",
                          privacy_mark_utf8=True)
    ber = label_to_ber(label)
    assert b"\x0c" + bytes([len(label.privacy_mark.encode())]) in ber   # UTF8String tag 12
    assert label_from_ber(ber) == label
    with pytest.raises(EncodeError):
        label_to_ber(replace(label, privacy_mark_utf8=False))


@pytest.mark.parametrize("data", [b"", b"\x31\x03\x02\x01", bytes.fromhex("3003020101"),
                                  bytes.fromhex("3103020101ff"),   # trailing byte
                                  bytes.fromhex("3104020201f4"),   # classification 500
                                  bytes.fromhex("3103040100")])    # unknown member
def test_what_is_not_a_label_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        label_from_ber(data)


_OIDS = st.lists(st.integers(0, 2**32), min_size=1, max_size=6).map(
    lambda arcs: "1.3." + ".".join(map(str, arcs)))
_PS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?",
              min_size=1, max_size=128)
_VALUES = st.binary(max_size=40).map(lambda b: b"\x04" + bytes([len(b)]) + b)
LABELS = st.builds(
    SecurityLabel, policy_id=st.none() | _OIDS, classification=st.none() | st.integers(0, 256),
    privacy_mark=st.none() | _PS,
    categories=st.lists(st.builds(SecurityCategory, type=_OIDS,
                                  value=_VALUES.map(lambda b: Opaque(ber=b))), max_size=4
                        ).map(tuple))


@settings(max_examples=150, deadline=None)
@given(LABELS)
def test_any_label_round_trips(label: SecurityLabel) -> None:
    """Hypothesis: model -> BER -> model is the identity, pyasn1 agrees, and the label survives
    the SIO-Label text byte for byte."""
    ber = label_to_ber(label)
    assert label_from_ber(ber) == label
    assert pyasn1_label(ber) == label
    sio = parse_sio_label(format_sio_label(SioLabel(marking=label.marking(), type=":x411",
                                                    label=ber)))
    assert sio.label == ber and sio.marking == label.marking()


# ---------------------------------------------------------------------- SIO-Label text

def test_sio_label_output_is_strict() -> None:
    """RFC 7444 §3: fixed order, lower-case names, tspecials quoted (``:`` of the type,
    ``=``/``/`` of base64), tokens bare."""
    text = format_sio_label(SioLabel(marking="SECRET", fgcolor="black", bgcolor="#ff0000",
                                     type=":ess", label=b"\x31\x03\x02\x01\x04"))
    assert text == ('marking=SECRET; fgcolor=black; bgcolor=#ff0000; type=":ess"; '
                    'label="MQMCAQQ="')
    assert parse_sio_label(text).label == b"\x31\x03\x02\x01\x04"


def test_sio_label_input_takes_what_the_syntax_allows() -> None:
    """Any order and case of names, comments, quoted or token values, RFC 2231 sections
    and charset-encoded values; unknown parameters are kept, not dropped."""
    text = ('Type=":x411" (an X.411 label); LABEL*1="AQQ="; label*0="MQMC";\r\n'
            " marking*=utf-8''STRENG%20GEHEIM%20%E2%80%93%20%C3%9C; x-extra=1;")
    sio = parse_sio_label(text)
    assert sio == SioLabel(marking="STRENG GEHEIM – Ü", type=":x411",
                           label=b"\x31\x03\x02\x01\x04", other=(("x-extra", "1"),))


def test_long_labels_use_rfc2231_sections() -> None:
    label = bytes(range(256)) * 3
    text = format_sio_label(SioLabel(type=":ess", label=label))
    assert "label*0=" in text and max(len(p) for p in text.split("; ")) < 80
    assert parse_sio_label(text).label == label


@pytest.mark.parametrize("text,why", [
    ('marking="SECRET"; marking="TOP SECRET"', "twice"),
    ('type=":ess"', "go together"),
    ('label="MQMCAQQ="', "go together"),
    ('type=":ess"; label="not base64!"', "base64"),
    ("fgcolor=red", "neither"),
    ('marking="S"; bgcolor="rgb(1,2,3)"', "colour"),
    ('marking="S" ; ; x', "expected"),
    ('marking="S', "unterminated"),
    ("label*1=AAAA; type=x; marking=a", "sections"),
])
def test_sio_label_refusals(text: str, why: str) -> None:
    with pytest.raises(LabelSyntaxError, match=why):
        parse_sio_label(text)


def test_parse_params_keeps_order() -> None:
    assert parse_params("b=2; a=\"x\\\"y\"") == [("b", "2"), ("a", 'x"y')]


# ----------------------------------------------------------------- X.400 -> Internet

def _message(label: bytes, criticality: Criticality = LABEL_CRITICALITY) -> Message:
    base = samples.message(samples.text_ipm())
    exts = tuple(e for e in base.envelope.extensions if e.type != LABEL20) + (
        Extension(type=LABEL20, value=Opaque(ber=label), criticality=criticality),)
    return replace(base, envelope=replace(base.envelope, extensions=exts))


#: the SIO-Label-History parameters the gateway of tests.helpers writes at NOW (RFC 7444 §5)
GATEWAY_HISTORY = [
    ("change", "add"), ("changed-by", "postmaster@gw.example.ac.uk"),
    ("changed-at", "Mon, 07 Dec 2026 12:00:00 +0000"),
    ("changed-comment", "translated from X.411 by gw.example.ac.uk"), ("new-type", ":x411")]


def field_values(data: bytes, name: str) -> list[str]:
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    return [" ".join(v.split()) for v in msg.get_all(name, [])]


def test_label_becomes_sio_label_and_history() -> None:
    """MIL-5: message-security-label -> SIO-Label (marking + the exact BER) and a
    SIO-Label-History entry for the gateway's translation (RFC 7444 §5); a critical label is
    not non-delivered for being unmappable any more (RFC 2156 §5.3.6 policy reject_critical)."""
    result = x400_to_mime(_message(GOLDEN_BER), gateway_context(NOW))   # RFC2156 preset
    data = result.message
    assert field_values(data, "SIO-Label") == [
        'marking="SECRET EXERCISE ONLY"; type=":x411"; label="'
        + base64.b64encode(GOLDEN_BER).decode() + '"']
    (history,) = field_values(data, "SIO-Label-History")
    assert parse_params(history) == GATEWAY_HISTORY
    assert not any("message-security-label" in v
                   for v in field_values(data, "Discarded-X400-MTS-Extensions"))
    assert not [d for d in result.defects if "label" in d.detail]


def test_unreadable_label_is_kept_visibly_or_refused() -> None:
    """A label that is not one: critical under reject_critical -> invalid-security-label;
    else no SIO-Label, but X400-Unmapped-Extension and a defect -- never dropped unseen."""
    bad = bytes.fromhex("3003020101")
    with pytest.raises(InvalidSecurityLabel) as info:
        x400_to_mime(_message(bad), gateway_context(NOW))
    assert (info.value.x400.reason, info.value.x400.diagnostic) == (8, 68)
    result = x400_to_mime(_message(bad, Criticality.NONE), gateway_context(NOW))
    assert field_values(result.message, "SIO-Label") == []
    assert any("ber=" + base64.b64encode(bad).decode() in v
               for v in field_values(result.message, "X400-Unmapped-Extension"))
    assert any(d.kind == "security-label" for d in result.defects)
    lenient = x400_to_mime(_message(bad), gateway_context(NOW, policy=LENIENT))
    assert field_values(lenient.message, "X400-Unmapped-Extension")


# ----------------------------------------------------------- Internet -> X.400, round trip

def _to_x400(data: bytes) -> Message:
    result = mime_to_x400(data, "a@x.example", ["r@y.example"], gateway_context(NOW))
    apdu = decode_apdu(encode_apdu(result.apdu))
    assert isinstance(apdu, Message)
    return apdu


def test_round_trip_keeps_the_label_byte_identical() -> None:
    """MIL-5: X.400 -> MIME -> X.400 gives back the label's octets unchanged, marked critical
    for transfer and delivery."""
    mime = x400_to_mime(_message(GOLDEN_BER), gateway_context(NOW, policy=LENIENT)).message
    back = _to_x400(mime)
    (ext,) = [e for e in back.envelope.extensions if e.type == LABEL20]
    assert ext.value == Opaque(ber=GOLDEN_BER)
    assert ext.criticality == Criticality.FOR_TRANSFER | Criticality.FOR_DELIVERY


@pytest.mark.parametrize("kind", [":ess", ":x411"])
def test_ess_and_x411_labels_both_map(kind: str) -> None:
    ber = label_to_ber(SecurityLabel(policy_id="1.2.840.1", classification=2))
    msg = (f'From: a@x.example\r\nTo: r@y.example\r\nSubject: s\r\nSIO-Label: type="{kind}"; '
           f'label="{base64.b64encode(ber).decode()}"; marking=RESTRICTED\r\n\r\nhi\r\n')
    back = _to_x400(msg.encode())
    assert [e.value for e in back.envelope.extensions if e.type == LABEL20] == [
        Opaque(ber=ber)]


@pytest.mark.parametrize("field", [
    'marking="SECRET"',                                            # a display marking only
    'type=":xml"; label="PGE+PC9hPg=="',                           # an XML label
    'type=":ess"; label="MQMCAQ=="',                               # not a SecurityLabel
    "marking=",                                                    # not the syntax
])
def test_labels_without_an_x411_form_stay_in_the_heading(field: str) -> None:
    """A SIO-Label that cannot become message-security-label is kept in the rfc-822-field
    heading extension (RFC 2156 §5.1.3), with a defect; no label is invented."""
    from bridge.codec import decode_content

    msg = (f"From: a@x.example\r\nTo: r@y.example\r\nSubject: s\r\nSIO-Label: {field}\r\n"
           "\r\nhi\r\n").encode()
    result = mime_to_x400(msg, "a@x.example", ["r@y.example"], gateway_context(NOW))
    assert isinstance(result.apdu, Message)
    assert not [e for e in result.apdu.envelope.extensions if e.type == LABEL20]
    ipm = decode_content(result.apdu.content)
    assert isinstance(ipm, IPM)
    assert "SIO-Label" in repr(ipm.heading.extensions)
    assert any(d.kind in ("security-label", "header-invalid") for d in result.defects)


def test_tshark_reads_the_label_we_send() -> None:
    """tshark's P1 dissector (independent) finds the label's policy, classification, privacy
    mark and category types in the message-security-label of an MTS-APDU we encode after the
    round trip (its only complaints are the categories' private OIDs it has no dissector
    for)."""
    from tests import oracle

    oracle.require("tshark")
    mime = x400_to_mime(_message(GOLDEN_BER), gateway_context(NOW, policy=LENIENT)).message
    data = encode_apdu(_to_x400(mime))
    result = oracle.tshark_decode(data, "p1")
    where = "p1.MessageSecurityLabel_element"
    assert result.value("p1.security_classification", under=where) == "4"
    assert result.value("p1.privacy_mark", under=where) == "EXERCISE ONLY"
    assert result.value("p1.security_policy_identifier", under=where) == GOLDEN.policy_id
    assert result.values("p1.category.type") == [c.type for c in GOLDEN.categories]
