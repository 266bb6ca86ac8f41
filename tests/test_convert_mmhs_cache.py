"""The values kept by the RFC 6477 field readers (bridge.convert.mmhs, issue 14): a field read
from the kept table gives what reading it afresh gives, for that exact text only; what depends
on the message (a second field, the SIC bound, the defects of an address) is done each time;
the tables stay bounded; military heading extensions are kept decoded per exact BER unless
their decode repaired something (noted again each time), encoded per value object, and the
fields written for them per value object, mapper and policy unless a defect was recorded;
and a conversion with the tables
full gives the octets of one with them empty, both ways."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bench import mmhs as bench
from bridge.codec import decode_apdu, decode_content, encode_apdu, p22ext, repairs
from bridge.convert import mmhs
from bridge.convert.mime_run import Run
from bridge.convert.policy import RFC2156
from bridge.convert.result import Defect
from bridge.convert.to_mime import x400_to_mime
from bridge.convert.to_x400 import mime_to_x400
from bridge.convert.x400_heading import HeadingBuilder, Invalid, build_heading
from bridge.mapping.address import AddressMapper, GatewayIdentity
from bridge.mapping.tables import MappingTables
from bridge.model import IPM, IPMSExtension, Message, ORAddress
from bridge.model import mmhs as model
from bridge.model.common import Opaque
from tests.helpers import RFC2156_TABLES, gateway_context

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
CTX = gateway_context(NOW, country="GB")


@pytest.fixture(autouse=True)
def _empty_tables() -> Iterator[None]:
    _clear()
    yield
    _clear()


def _builder(ctx: object = CTX) -> HeadingBuilder:
    return HeadingBuilder(ctx=ctx, defects=[])  # type: ignore[arg-type]


def _handle(b: HeadingBuilder, field: str) -> None:
    name, _, value = field.partition(":")
    mmhs.FIELDS[name.lower()](b, name, value)


def _clear() -> None:
    for table in (mmhs._READ, mmhs._ADDRESSES, mmhs._OTHERS, mmhs._FIELDS,
                  p22ext._MMHS_DECODED, p22ext._MMHS_ENCODED):
        table.clear()


@pytest.mark.parametrize("field", bench.MMHS)
def test_kept_value_is_the_value_read_afresh(field: str) -> None:
    first = _builder()
    _handle(first, field)
    kept = _builder()
    _handle(kept, field)  # from the table
    _clear()
    fresh = _builder()
    _handle(fresh, field)
    assert kept.mmhs == fresh.mmhs == first.mmhs
    assert kept.defects == fresh.defects == []


def test_a_kept_value_is_for_its_exact_text_only() -> None:
    b = _builder()
    _handle(b, "MMHS-Primary-Precedence: FLASH")
    other = _builder()
    _handle(other, "MMHS-Primary-Precedence: flash (urgent)")
    third = _builder()
    _handle(third, "MMHS-Primary-Precedence: 2")
    assert b.mmhs[model.ID_MM_PRIMARY_PRECEDENCE] == model.PrimaryPrecedence(level=4)
    assert other.mmhs[model.ID_MM_PRIMARY_PRECEDENCE] == model.PrimaryPrecedence(level=4)
    assert third.mmhs[model.ID_MM_PRIMARY_PRECEDENCE] == model.PrimaryPrecedence(level=2)
    # the same text under another field: that field's reader and its own value
    copy = _builder()
    _handle(copy, "MMHS-Copy-Precedence: FLASH")
    assert copy.mmhs == {model.ID_MM_COPY_PRECEDENCE: model.CopyPrecedence(level=4)}
    to, cc = _builder(), _builder()
    _handle(to, "MMHS-Other-Recipients-Indicator-To: UK SHL COS")
    _handle(cc, "MMHS-Other-Recipients-Indicator-CC: UK SHL COS")
    assert [r.copy for v in to.mmhs.values() for r in v] == [False]  # type: ignore[attr-defined]
    assert [r.copy for v in cc.mmhs.values() for r in v] == [True]  # type: ignore[attr-defined]


def test_a_rejected_text_is_rejected_each_time_with_its_reason() -> None:
    reasons = []
    for _ in range(2):
        with pytest.raises(Invalid) as exc:
            _handle(_builder(), "MMHS-Handling-Instructions: RXFPA; caf\u00e9")
        reasons.append(str(exc.value))
    assert reasons == ["MMHS-Handling-Instructions is not a military-string (RFC 6477 §4)"] * 2
    fields = [("MMHS-Codress-Message-Indicator", " 023")]
    for _ in range(2):  # the defect and the rfc-822-field copy, each time
        defects: list[Defect] = []
        b = build_heading(fields, CTX, defects)
        assert b.mmhs == {}
        assert b.rfc822_fields == ["MMHS-Codress-Message-Indicator: 023"]
        assert [d.kind for d in defects] == ["header-invalid"]


def test_a_second_field_is_rejected_though_its_text_is_kept() -> None:
    fields = [("MMHS-Originator-PLAD", " SACLANT"), ("MMHS-Originator-PLAD", " SACLANT")]
    for _ in range(2):
        defects: list[Defect] = []
        b = build_heading(fields, CTX, defects)
        assert b.mmhs == {model.ID_MM_ORIGINATOR_PLAD: model.OriginatorPlad(text="SACLANT")}
        assert b.rfc822_fields == ["MMHS-Originator-PLAD: SACLANT"]
        assert "second MMHS-Originator-PLAD field" in defects[0].detail


def test_the_sic_bound_applies_to_a_kept_value_each_time() -> None:
    value = " " + "; ".join(f"SC{i}" for i in range(10))
    for _ in range(2):
        b = _builder()
        mmhs.FIELDS["mmhs-subject-indicator-codes"](b, "MMHS-Subject-Indicator-Codes", value)
        codes = b.mmhs[model.ID_MM_DISTRIBUTION_CODES]
        assert codes == model.DistributionCodes(sics=tuple(f"SC{i}" for i in range(8)))
        assert [d.kind for d in b.defects] == ["truncated"]
        assert b.rfc822_fields == ["MMHS-Subject-Indicator-Codes: " + value.strip()]
    kept = mmhs._READ[(mmhs._sics_value, "MMHS-Subject-Indicator-Codes", value)]
    assert isinstance(kept, model.DistributionCodes) and len(kept.sics or ()) == 10


def _other_mapper_context() -> object:
    mapper = AddressMapper(MappingTables.load(RFC2156_TABLES), GatewayIdentity(
        domain="gw.example.org", or_address=ORAddress.parse("/O=other/PRMD=x/ADMD= /C=gb/")))
    return type(CTX)(mapper=mapper, now=NOW, postmaster="postmaster@gw.example.org",
                     mta_name="gw.example.org", policy=RFC2156, domain_id=CTX.domain_id)


def test_addresses_are_kept_per_mapper() -> None:
    field = "MMHS-Exempted-Address: Duty <duty@elsewhere.example>"
    here, there = _builder(), _builder(_other_mapper_context())
    _handle(here, field)
    _handle(there, field)
    mine = here.mmhs[model.ID_MM_EXEMPTED_ADDRESS]
    theirs = there.mmhs[model.ID_MM_EXEMPTED_ADDRESS]
    assert mine != theirs  # each gateway's own O/R address encodes the 822 address
    again = _builder()
    _handle(again, field)
    assert again.mmhs[model.ID_MM_EXEMPTED_ADDRESS] == mine
    assert len(mmhs._ADDRESSES) == 2


def test_addresses_with_a_defect_are_read_again_each_time() -> None:
    field = "MMHS-Exempted-Address: " + "Duty " * 20 + "<duty@AC.UK>"
    for _ in range(2):
        b = _builder()
        _handle(b, field)
        assert [d.kind for d in b.defects] == ["truncated"]
    assert mmhs._ADDRESSES == {}


def test_the_tables_are_bounded() -> None:
    for i in range(mmhs.READ_CACHE_SIZE + 10):
        b = _builder()
        _handle(b, f"MMHS-Originator-Reference: REF-{i}")
        assert b.mmhs == {model.ID_MM_ORIGINATOR_REFERENCE:
                          model.OriginatorReference(text=f"REF-{i}")}
        assert len(mmhs._READ) <= mmhs.READ_CACHE_SIZE
    for i in range(mmhs.ADDRESS_CACHE_SIZE + 10):
        _handle(_builder(), f"MMHS-Exempted-Address: duty{i}@AC.UK")
        assert len(mmhs._ADDRESSES) <= mmhs.ADDRESS_CACHE_SIZE
    run = Run(CTX)
    rule = mmhs.to_mime_rule(mmhs.TO_MIME[model.ID_MM_EXTENDED_AUTHORISATION_INFO])
    for i in range(mmhs.FIELDS_KEPT + 10):
        when = NOW + timedelta(seconds=i)
        ext = IPMSExtension(type=model.ID_MM_EXTENDED_AUTHORISATION_INFO,
                            value=model.ExtendedAuthorisationInfo(time=when))
        minutes, seconds = divmod(i, 60)
        assert rule(run, ext) == [(mmhs.AUTHORISATION,
                                   f"Sat, 28 Nov 2026 10:{minutes:02d}:{seconds:02d} +0000")]
        assert len(mmhs._FIELDS) <= mmhs.FIELDS_KEPT


def test_the_same_instant_in_another_zone_is_another_text() -> None:
    run = Run(CTX)
    rule = mmhs.TO_MIME[model.ID_MM_EXTENDED_AUTHORISATION_INFO]
    utc = datetime(2010, 8, 9, 14, 27, 40, tzinfo=UTC)
    bst = datetime(2010, 8, 9, 15, 27, 40, tzinfo=timezone(timedelta(hours=1)))
    assert utc == bst
    texts = [rule(run, IPMSExtension(type=model.ID_MM_EXTENDED_AUTHORISATION_INFO,
                                     value=model.ExtendedAuthorisationInfo(time=t)))
             for t in (utc, bst, utc)]
    assert texts == [[(mmhs.AUTHORISATION, "Mon, 09 Aug 2010 14:27:40 +0000")],
                     [(mmhs.AUTHORISATION, "Mon, 09 Aug 2010 15:27:40 +0100")],
                     [(mmhs.AUTHORISATION, "Mon, 09 Aug 2010 14:27:40 +0000")]]


def _both_ways(data: bytes) -> tuple[bytes, bytes, bytes]:
    res = mime_to_x400(data, "<Jo.Bloggs@cs.ucl.AC.UK>", ["c@Widget.COM"], CTX)
    ber = encode_apdu(res.apdu)
    wire = decode_apdu(ber)
    assert isinstance(wire, Message)
    mime = x400_to_mime(wire, CTX).message
    again = mime_to_x400(mime, "<Jo.Bloggs@cs.ucl.AC.UK>", ["c@Widget.COM"], CTX)
    return ber, mime, encode_apdu(again.apdu)


@pytest.mark.parametrize("military", [True, False])
def test_conversions_with_full_tables_give_the_octets_of_empty_ones(military: bool) -> None:
    data = bench.message(military)
    cold = _both_ways(data)
    assert mmhs._READ if military else not mmhs._READ
    warm = _both_ways(data)
    assert warm == cold
    _clear()
    assert _both_ways(data) == cold
    # the round trip: the MIME form gives the military heading extensions back
    assert _military(cold[2]) == _military(cold[0])
    assert bool(_military(cold[0])) == military


def _military(ber: bytes) -> tuple[IPMSExtension, ...]:
    wire = decode_apdu(ber)
    assert isinstance(wire, Message)
    ipm = decode_content(wire.content)
    assert isinstance(ipm, IPM)
    return tuple(e for e in ipm.heading.extensions or () if model.is_military(e.type))


def test_decoded_military_extensions_are_kept_per_exact_ber() -> None:
    plad = model.ID_MM_ORIGINATOR_PLAD
    raw = b"\x13\x07SACLANT"                              # PrintableString
    first = p22ext.heading_extension_from(plad, raw)
    assert first == IPMSExtension(type=plad, value=model.OriginatorPlad(text="SACLANT"))
    assert p22ext.heading_extension_from(plad, raw) is first
    other = p22ext.heading_extension_from(plad, b"\x13\x05SHAPE")
    assert other.value == model.OriginatorPlad(text="SHAPE")
    for i in range(p22ext.MMHS_DECODED_KEPT + 10):
        text = f"PLAD {i}".encode()
        ext = p22ext.heading_extension_from(plad, bytes((0x13, len(text))) + text)
        assert ext.value == model.OriginatorPlad(text=text.decode())
        assert len(p22ext._MMHS_DECODED) <= p22ext.MMHS_DECODED_KEPT


def test_a_repaired_military_extension_is_noted_each_time_it_is_read() -> None:
    plad = model.ID_MM_ORIGINATOR_PLAD
    raw = b"\x13\x07SACL\xc4NT"                          # 8-bit octet in a PrintableString
    for _ in range(2):
        with repairs.collecting() as notes:
            ext = p22ext.heading_extension_from(plad, raw)
        assert ext.value == model.OriginatorPlad(text="SACL\u00c4NT")
        assert notes and "ISO 8859-1" in notes[0]
    assert (plad, raw) not in p22ext._MMHS_DECODED


def test_a_value_object_is_encoded_once_while_kept() -> None:
    sics = IPMSExtension(type=model.ID_MM_DISTRIBUTION_CODES,
                         value=model.DistributionCodes(sics=("SDM", "KKZ")))
    fresh = p22ext._extension_to(sics)
    assert p22ext.heading_extension_to(sics) == fresh
    assert p22ext._MMHS_ENCODED[(sics.type, id(sics.value))] == (sics.value, fresh)
    assert p22ext.heading_extension_to(sics) is p22ext.heading_extension_to(sics)
    equal = IPMSExtension(type=sics.type, value=model.DistributionCodes(sics=("SDM", "KKZ")))
    assert p22ext.heading_extension_to(equal) == fresh           # another object: its own
    for i in range(p22ext.MMHS_DECODED_KEPT + 10):
        ext = IPMSExtension(type=model.ID_MM_ORIGINATOR_PLAD,
                            value=model.OriginatorPlad(text=f"PLAD {i}"))
        raw = p22ext.heading_extension_to(ext)
        assert p22ext.heading_extension_from(ext.type, raw) == ext
        assert len(p22ext._MMHS_ENCODED) <= p22ext.MMHS_DECODED_KEPT


def test_fields_written_are_kept_per_value_mapper_and_policy() -> None:
    addresses = tuple(_builder().descriptors("Duty <duty@elsewhere.example>"))
    exempted = IPMSExtension(type=model.ID_MM_EXEMPTED_ADDRESS,
                             value=model.ExemptedAddresses(addresses=addresses))
    rule = mmhs.to_mime_rule(mmhs.TO_MIME[model.ID_MM_EXEMPTED_ADDRESS])
    here, there = Run(CTX), Run(_other_mapper_context())  # type: ignore[arg-type]
    mine = rule(here, exempted)
    theirs = rule(there, exempted)
    assert mine == mmhs.TO_MIME[model.ID_MM_EXEMPTED_ADDRESS](Run(CTX), exempted)
    assert theirs == mmhs.TO_MIME[model.ID_MM_EXEMPTED_ADDRESS](
        Run(_other_mapper_context()), exempted)  # type: ignore[arg-type]
    assert rule(Run(CTX), exempted) == mine and len(mmhs._FIELDS) == 2
    # a rule that records a defect records it each time, and nothing is kept for it
    extension = model.DistributionExtension(type="1.2.3", value=Opaque(ber=b"\x05\x00"))
    codes = IPMSExtension(type=model.ID_MM_DISTRIBUTION_CODES, value=model.DistributionCodes(
        sics=("SDM",), extensions=(extension,)))
    sics_rule = mmhs.to_mime_rule(mmhs.TO_MIME[model.ID_MM_DISTRIBUTION_CODES])
    for _ in range(2):
        run = Run(CTX)
        assert sics_rule(run, codes)
        assert run.defects
    assert len(mmhs._FIELDS) == 2
