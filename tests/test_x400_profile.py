"""Per-peer transfer profiles (bridge/x400/profile.py) and the X.411 (1988) extension form.

The 1988 form is checked against independent decoders: pyasn1 with ``ExtensionField`` written
here from the X.411 (1988) text, PP 6.0's own report (x400-samples/pp) read by the same spec,
and tshark, which follows X.411 (1992+) and so reads ``a0 03 02 01 NN`` as the INTEGER
0x0201NN -- exactly as it reads PP's bytes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyasn1.codec.ber import decoder as pyasn1_decoder
from pyasn1.type import namedtype, tag, univ

from bridge.codec import decode_apdu, encode_apdu
from bridge.codec.ber import iter_children, normalise, read_tlv
from bridge.model.apdu import Message
from bridge.model.common import Criticality, Extension, StandardExtension
from bridge.model.report import Report
from bridge.x400.profile import (
    CriticalExtensionNotAccepted,
    PeerProfile,
    encode_for,
    prepare,
    reencode_for,
)
from tests import oracle
from tests.capture import pp_sample

SAMPLES = sorted((Path(__file__).parent / "data" / "samples").glob("*.p1.ber"))
NOW = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
ITI = StandardExtension.INTERNAL_TRACE_INFORMATION
PP = PeerProfile(x411_edition=1988)


def _message() -> Message:
    m = decode_apdu((Path(__file__).parent / "data" / "samples" / "message-text.p1.ber")
                    .read_bytes())
    assert isinstance(m, Message)
    return m


def _types(exts: tuple[Extension, ...]) -> list[int | str]:
    return [e.type for e in exts]


# --------------------------------------------------------------------- prepare()

def test_internal_trace_leaves_only_within_our_domain() -> None:
    """X.411 §12.2.1.1.1.13: removed for a peer outside our MD (the default), kept -- with
    our element added -- for one inside."""
    m = _message()
    assert ITI in _types(m.envelope.extensions)
    out = prepare(m, PeerProfile(), mta_name="x400bridge", now=NOW)
    assert ITI not in _types(out.apdu.envelope.extensions)  # type: ignore[union-attr]
    assert any("internal trace removed" in n for n in out.notes)
    inside = prepare(m, PeerProfile(same_domain=True), mta_name="x400bridge", now=NOW)
    trace = inside.apdu.envelope.internal_trace  # type: ignore[union-attr]
    assert trace[:-1] == m.envelope.internal_trace
    assert trace[-1].mta_name == "x400bridge" and trace[-1].arrival_time == NOW
    again = prepare(inside.apdu, PeerProfile(same_domain=True), mta_name="x400bridge", now=NOW)
    assert again.apdu == inside.apdu                      # not added twice


def test_a_1988_peer_gets_no_extensions_x411_1988_lacks() -> None:
    m = _message()
    bcc = Extension(type=StandardExtension.BLIND_COPY_RECIPIENTS, value=None)
    m = dataclasses.replace(m, envelope=dataclasses.replace(
        m.envelope, extensions=m.envelope.extensions + (bcc,)))
    out = prepare(m, PP, mta_name="x400bridge", now=NOW)
    assert StandardExtension.BLIND_COPY_RECIPIENTS not in \
        _types(out.apdu.envelope.extensions)  # type: ignore[union-attr]
    assert any("blind-copy-recipients (41) left out" in n for n in out.notes)
    # the same for a 1992 peer goes through untouched
    assert StandardExtension.BLIND_COPY_RECIPIENTS in _types(prepare(
        m, PeerProfile(), mta_name="x", now=NOW).apdu.envelope.extensions)  # type: ignore


@pytest.mark.parametrize("crit", [Criticality.FOR_TRANSFER, Criticality.FOR_DELIVERY])
def test_critical_extensions_are_never_dropped_silently(crit: Criticality) -> None:
    m = _message()
    rmn = Extension(type=StandardExtension.BLIND_COPY_RECIPIENTS, value=None, criticality=crit)
    m = dataclasses.replace(m, envelope=dataclasses.replace(
        m.envelope, extensions=m.envelope.extensions + (rmn,)))
    with pytest.raises(CriticalExtensionNotAccepted, match="critical") as info:
        prepare(m, PP, mta_name="x400bridge", now=NOW)
    assert (info.value.x400.reason, info.value.x400.diagnostic) == (1, 18)
    with pytest.raises(CriticalExtensionNotAccepted):
        prepare(m, PeerProfile(envelope_extensions=False), mta_name="x", now=NOW)


def test_a_peer_without_envelope_extensions_gets_only_the_critical_ones() -> None:
    m = _message()
    critical = [e for e in m.envelope.extensions if e.criticality & Criticality.FOR_DELIVERY]
    m = dataclasses.replace(m, envelope=dataclasses.replace(
        m.envelope, extensions=tuple(e for e in m.envelope.extensions
                                     if e.criticality == Criticality.NONE)))
    out = prepare(m, PeerProfile(envelope_extensions=False), mta_name="x", now=NOW)
    assert out.apdu.envelope.extensions == ()  # type: ignore[union-attr]
    assert critical                                        # the sample has some; they'd stay
    assert all(r.extensions == () or all(e.criticality for e in r.extensions)
               for r in out.apdu.envelope.recipients)  # type: ignore[union-attr]


def test_reports_are_prepared_too() -> None:
    report = decode_apdu(pp_sample("pp-ndr.p1.ber").read_bytes())
    assert isinstance(report, Report)
    data, notes = reencode_for(pp_sample("pp-ndr.p1.ber").read_bytes(), PP,
                               mta_name="x400bridge", now=NOW)
    out = decode_apdu(data)
    assert isinstance(out, Report) and out.envelope_extensions == ()
    assert notes and dataclasses.replace(out, envelope_extensions=report.envelope_extensions) \
        == report


# --------------------------------------------------------------------- the 1988 form

@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_both_extension_forms_round_trip(path: Path) -> None:
    apdu = decode_apdu(path.read_bytes())
    for form in ("1988", "1992"):
        data = encode_apdu(apdu, extension_form=form)
        assert decode_apdu(data) == apdu
        assert encode_apdu(decode_apdu(data), extension_form=form) == data
    data88 = encode_apdu(apdu, extension_form="1988")
    assert b"\xa0\x03\x02\x01\x26" in data88 and b"\x80\x01\x26" not in data88


class _ExtensionType1988(univ.Choice):
    """X.411 (1988) §9.1: ExtensionType ::= CHOICE {standard-extension INTEGER,
    private-extension OBJECT IDENTIFIER}, carried as ``type [0] ExtensionType``."""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("standard-extension", univ.Integer()),
        namedtype.NamedType("private-extension", univ.ObjectIdentifier()))


class _ExtensionField1988(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("type", _ExtensionType1988().subtype(explicitTag=tag.Tag(
            tag.tagClassContext, tag.tagFormatConstructed, 0))),
        namedtype.OptionalNamedType("criticality", univ.BitString().subtype(
            implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, 1))),
        namedtype.OptionalNamedType("value", univ.Any().subtype(explicitTag=tag.Tag(
            tag.tagClassContext, tag.tagFormatConstructed, 2))))


def _extension_fields(data: bytes) -> list[int | str]:
    """The types of every ExtensionField-shaped SEQUENCE in ``data``, decoded by pyasn1 with
    the 1988 spec above (schema-less walk: a SEQUENCE whose first element is ``[0]``
    constructed around one universal INTEGER or OBJECT IDENTIFIER)."""
    data = normalise(data)
    found: list[int | str] = []
    stack = [read_tlv(data)]
    while stack:
        tlv = stack.pop()
        if not tlv.constructed:
            continue
        kids = list(iter_children(data, tlv))
        if tlv.tag_class == 0 and tlv.tag == 16 and kids and kids[0].tag_class == 2 and \
                kids[0].tag == 0 and kids[0].constructed:
            inner = list(iter_children(data, kids[0]))
            if len(inner) == 1 and inner[0].tag_class == 0 and inner[0].tag in (2, 6):
                value, rest = pyasn1_decoder.decode(data[tlv.offset:tlv.end],
                                                    asn1Spec=_ExtensionField1988())
                assert rest == b""
                choice = value["type"]
                name = choice.getName()
                found.append(int(choice[name]) if name == "standard-extension"
                             else str(choice[name]))
                continue
        stack.extend(kids)
    return found


def _model_types(apdu: object) -> list[int | str]:
    if isinstance(apdu, Report):
        exts = apdu.envelope_extensions + apdu.extensions + tuple(
            e for r in apdu.recipients for e in r.extensions)
    else:
        env = apdu.envelope  # type: ignore[attr-defined]
        exts = env.extensions + tuple(e for r in env.recipients for e in r.extensions)
    return [e.type for e in exts]


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_the_1988_form_is_what_pyasn1_reads_with_the_1988_spec(path: Path) -> None:
    apdu = decode_apdu(path.read_bytes())
    data = encode_apdu(apdu, extension_form="1988")
    assert sorted(map(str, _extension_fields(data))) == sorted(map(str, _model_types(apdu)))
    assert _extension_fields(encode_apdu(apdu)) == []     # the 1992 form is not this shape


def test_pp_report_is_read_by_the_same_1988_spec() -> None:
    """The spec above is PP's form: its report's extension fields decode with it."""
    assert _extension_fields(pp_sample("pp-ndr.p1.ber").read_bytes()) == [38]


@pytest.mark.oracle
def test_tshark_reads_our_1988_form_as_it_reads_pps() -> None:
    """tshark (X.411 1992+) dissects the 1988 form as [0] INTEGER 0x0201NN -- the same
    reading it gives PP's own bytes -- with no BER error the 1992 form does not also get
    (tshark cannot dissect some of the samples' private values either way)."""
    theirs = oracle.tshark_decode(pp_sample("pp-ndr.p1.ber").read_bytes(), "p1")
    assert theirs.values("p1.standard_extension") == [str(0x020100 + 38)]
    for path in SAMPLES:
        apdu = decode_apdu(path.read_bytes())
        prepared, _ = encode_for(apdu, PP, mta_name="x400bridge", now=NOW)
        ours = oracle.tshark_decode(prepared, "p1")
        modern = oracle.tshark_decode(encode_apdu(decode_apdu(prepared)), "p1")
        # (fewer, if anything: an unknown extension's value is not dissected further)
        assert not Counter(ours.errors) - Counter(modern.errors), path.name
        std = [t for t in _model_types(decode_apdu(prepared)) if isinstance(t, int)]
        assert sorted(ours.values("p1.standard_extension")) == \
            sorted(str(0x020100 + n) for n in std), path.name
        assert sorted(modern.values("p1.standard_extension")) == sorted(map(str, std))


def test_a_pre_mixer_peer_gets_no_eit_mixer() -> None:
    """PP 6.0 non-delivers a message whose EITs name eit-mixer ("Unrecognised bodypart in
    message", seen live): mixer-eit = false leaves it out of the original EITs and the trace."""
    from bridge.x400.profile import EIT_MIXER

    m = _message()
    assert EIT_MIXER in m.envelope.original_eits.extended  # type: ignore[union-attr]
    out = prepare(m, PeerProfile(mixer_eit=False), mta_name="x", now=NOW)
    env = out.apdu.envelope  # type: ignore[union-attr]
    assert env.original_eits is None or EIT_MIXER not in env.original_eits.extended
    assert all(t.converted_eits is None or EIT_MIXER not in t.converted_eits.extended
               for t in env.trace)
    assert any("eit-mixer left out" in n for n in out.notes)
    kept = prepare(m, PeerProfile(), mta_name="x", now=NOW).apdu
    assert EIT_MIXER in kept.envelope.original_eits.extended  # type: ignore[union-attr]
