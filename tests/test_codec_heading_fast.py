"""The hand-written BER of X.420 §7.2.17 ``SET OF IPMSExtension`` (bridge.codec.p22
``ipms_extensions_encoded``, written through asn1tools as ``asn1.Encoded`` contents) and of
the STANAG 4406 A1.6 exempted addresses (``p772.FAST_TO``): the same octets as asn1tools'
walk of the plain values, on generated values and on whole messages, and decoding unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import samples
from bridge.codec import asn1, decode_content, encode_apdu, encode_content, p22, p772
from bridge.errors import EncodeError
from bridge.model import IPM, IPN, mmhs
from bridge.model.common import Opaque
from bridge.model.ipm import Heading, IPMIdentifier, IPMSExtension, ORDescriptor
from tests.conftest import encode_sample

# ------------------------------------------------------------------ the reference: asn1tools


@pytest.fixture
def asn1tools_walk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The encoders as they were: the extensions as a list of dicts, the exempted addresses
    through asn1tools."""
    monkeypatch.setattr(p22, "ipms_extensions_encoded", p22.ipms_extensions_to)
    monkeypatch.setattr(p772, "FAST_TO", {oid: row[1] for oid, row in p772.FAST.items()})
    yield


def _both(encode: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, bytes]:
    fast = encode()
    with monkeypatch.context() as m:
        m.setattr(p22, "ipms_extensions_encoded", p22.ipms_extensions_to)
        m.setattr(p772, "FAST_TO", {oid: row[1] for oid, row in p772.FAST.items()})
        slow = encode()
    return fast, slow


# ------------------------------------------------------------------ generated extension lists

OIDS = st.builds(
    lambda first, second, rest: ".".join(map(str, (first, second, *rest))),
    st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 2**40), max_size=8))
# a complete primitive TLV with a short, one-octet or two-octet long-form length, or one in
# a SEQUENCE
PRIMITIVE = st.builds(asn1.tlv, st.integers(0, 0x1E).map(lambda n: n | 0x80)
                      | st.sampled_from((2, 4, 0x13)),
                      st.binary(max_size=20) | st.binary(min_size=120, max_size=300))
TLVS = PRIMITIVE | PRIMITIVE.map(lambda inner: asn1.tlv(0x30, inner))
EXTENSIONS = st.lists(st.builds(
    IPMSExtension, type=OIDS, value=st.none() | TLVS.map(lambda raw: Opaque(ber=raw))),
    max_size=20).map(tuple)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exts=EXTENSIONS)
def test_set_of_ipms_extension_is_what_asn1tools_writes(exts: tuple[IPMSExtension, ...]) -> None:
    contents = p22.ipms_extensions_encoded(exts)
    assert type(contents) is asn1.Encoded
    reference = asn1.encode("ExtensionsField", p22.ipms_extensions_to(exts))
    assert asn1.encode("ExtensionsField", contents) == reference
    # the SET OF keeps the model's order (asn1tools does not sort a SET OF) and decodes back
    assert p22.ipms_extensions_from(asn1.decode("ExtensionsField", reference)) == exts


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exts=EXTENSIONS.filter(bool))
def test_heading_with_generated_extensions(exts: tuple[IPMSExtension, ...]) -> None:
    ipm = IPM(heading=Heading(this_ipm=IPMIdentifier(local="x"), extensions=exts), body=())
    value = p22.information_object_to(ipm)
    fast = encode_content(ipm)
    value[1]["heading"]["extensions"] = p22.ipms_extensions_to(exts)
    assert fast == asn1.encode("InformationObject", value)
    assert decode_content(fast) == ipm


def test_a_bad_object_identifier_is_an_encode_error() -> None:
    for oid in ("", "1", "x.y", "1.2.a"):
        with pytest.raises(EncodeError):
            p22.ipms_extensions_encoded((IPMSExtension(type=oid, value=None),))


def test_another_bad_component_is_still_named() -> None:
    """The type check that names a failing component passes over the Encoded contents."""
    ipm = IPM(heading=Heading(this_ipm=IPMIdentifier(local="x"),
                              extensions=(IPMSExtension(type="1.2.3", value=None),)), body=())
    value = p22.information_object_to(ipm)
    value[1]["body"] = [("basic", ("ia5-text", {"parameters": {}, "data": 42}))]
    with pytest.raises(EncodeError, match=r"body\.basic\.ia5-text\.data"):
        asn1.encode("InformationObject", value)


# ------------------------------------------------------------------ whole messages


@pytest.mark.parametrize("name", sorted(samples.all_samples()))
def test_samples_encode_as_before(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    obj = samples.all_samples()[name]
    fast, slow = _both(lambda: encode_sample(obj), monkeypatch)
    assert fast == slow


def _military_ipm() -> IPM:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import mmhs as bench  # bench/mmhs.py: the RFC 6477 §3 example fields

    from bridge.convert.to_x400 import mime_to_x400

    res = mime_to_x400(bench.message(True), "<Jo.Bloggs@cs.ucl.AC.UK>", ["c@Widget.COM"],
                       bench.context())
    content = decode_content(res.apdu.content)  # type: ignore[union-attr]
    assert isinstance(content, IPM)
    return content


def test_p772_message_encodes_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    ipm = _military_ipm()
    assert ipm.heading.extensions is not None and len(ipm.heading.extensions) == 13
    fast, slow = _both(lambda: encode_content(ipm), monkeypatch)
    assert fast == slow
    assert decode_content(fast) == ipm
    ipn = samples.receipt_ipn()
    exts = ipm.heading.extensions
    fields = ipn.fields
    import dataclasses

    ipn = dataclasses.replace(ipn, extensions=exts,
                              fields=dataclasses.replace(fields, extensions=exts))
    fast, slow = _both(lambda: encode_content(ipn), monkeypatch)
    assert fast == slow
    message = samples.message(ipm)
    fast, slow = _both(lambda: encode_apdu(message), monkeypatch)
    assert fast == slow


# ------------------------------------------------------------------ exempted addresses (A1.6)

EXEMPTED = mmhs.ID_MM_EXEMPTED_ADDRESS
# any ASCII (asn1tools checks no alphabet on encoding) and now and then a Latin-1 character,
# which asn1tools cannot encode: the fast path must not either
TEXT = st.text(st.characters(max_codepoint=127), max_size=140) | st.text(
    st.characters(max_codepoint=255), min_size=1, max_size=3)
SHORT = st.text(st.characters(max_codepoint=127), max_size=20)


def _optional(**members: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=members)


STRING_CHOICE = st.tuples(st.sampled_from(("numeric", "printable")), SHORT)
PERSONAL = st.fixed_dictionaries({"surname": TEXT}, optional={
    "given-name": SHORT, "initials": SHORT, "generation-qualifier": SHORT})
STANDARD = _optional(**{
    "country-name": st.tuples(st.sampled_from(("x121-dcc-code", "iso-3166-alpha2-code")),
                              SHORT),
    "administration-domain-name": STRING_CHOICE, "network-address": SHORT,
    "terminal-identifier": SHORT, "private-domain-name": STRING_CHOICE,
    "organization-name": TEXT, "numeric-user-identifier": SHORT, "personal-name": PERSONAL,
    "organizational-unit-names": st.lists(TEXT, max_size=5)})
ODD_NAME = st.fixed_dictionaries({"built-in-standard-attributes": STANDARD}, optional={
    "built-in-domain-defined-attributes": st.just([{"type": "RFC-822", "value": "a(a)b"}])})
DESCRIPTOR = _optional(**{
    "formal-name": st.fixed_dictionaries({"built-in-standard-attributes": STANDARD})
    | ODD_NAME,
    "free-form-name": st.binary(max_size=200), "telephone-number": SHORT})
# shapes the fast path leaves to asn1tools: a wrong alternative, a personal name without a
# surname, a str where octets belong
ODD_DESCRIPTOR = DESCRIPTOR | st.sampled_from((
    {"formal-name": {"built-in-standard-attributes": {"country-name": ("numeric", "GB")}}},
    {"formal-name": {"built-in-standard-attributes": {"personal-name": {"given-name": "a"}}}},
    {"free-form-name": "text"}))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.lists(ODD_DESCRIPTOR, max_size=3))
def test_exempted_addresses_are_what_asn1tools_writes(value: list[dict[str, Any]]) -> None:
    fast = p772.FAST_TO[EXEMPTED](value)
    try:
        expected = asn1.encode("ExemptedAddressSeq", value)
    except EncodeError:
        assert fast is None
        return
    assert fast is None or fast == expected
    simple = all(set(d.get("formal-name", {})) <= {"built-in-standard-attributes"}
                 and isinstance(d.get("free-form-name", b""), bytes) for d in value)
    if simple:  # ASCII, the simple shape: the fast path takes it
        assert fast == expected


def test_exempted_address_of_every_sample_name(monkeypatch: pytest.MonkeyPatch) -> None:
    names = [samples.ROSE, samples.DIETRICH, samples.MUELLER, samples.name(),
             samples.name(country="276", admd="0", prmd="1", x121="1234")]
    exempted = mmhs.ExemptedAddresses(addresses=(
        *(ORDescriptor(formal_name=n, free_form_name="Duty Officer", telephone="+44 1")
          for n in names), ORDescriptor(free_form_name="Überall"), ORDescriptor()))
    ipm = IPM(heading=Heading(this_ipm=IPMIdentifier(local="x"), extensions=(
        IPMSExtension(type=EXEMPTED, value=exempted),)), body=())
    fast, slow = _both(lambda: encode_content(ipm), monkeypatch)
    assert fast == slow
    assert decode_content(fast) == ipm


def test_the_reference_takes_the_asn1tools_walk(asn1tools_walk: None) -> None:
    """The reference fixture really takes the asn1tools walk."""
    assert p22.ipms_extensions_encoded(()) == []
    assert EXEMPTED not in p772.FAST_TO
    assert isinstance(samples.receipt_ipn(), IPN)
