"""RFC 2156 §3.4, §4.1.2, §4.3, §4.4, §4.7.3: the RFC's own examples as table-driven cases,
plus round-trip properties.  The MCGAM tables are tests/data/mappings/rfc2156 (App F syntax)
holding exactly the mappings the examples assume."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import AddressSyntaxError, MappingError
from bridge.mapping.address import AddressMapper, GatewayIdentity, Role
from bridge.mapping.msgid import ipm_id_to_msgid, msgid_to_ipm_id
from bridge.mapping.psencode import ps_decode, ps_encode
from bridge.mapping.tables import MappingTables
from bridge.model import ORAddress, ORName
from bridge.model.common import Opaque
from bridge.model.ipm import IPMIdentifier
from bridge.model.oraddress import AttributeValueAssertion, DirectoryName
from bridge.model.pn import format_encoded_pn, parse_encoded_pn

TABLES = Path(__file__).parent / "data" / "mappings" / "rfc2156"
UK_GATEWAY = GatewayIdentity(domain="gw.example.ac.uk",
                             or_address=ORAddress.parse("/O=mr/PRMD=uk.ac/ADMD= /C=gb/"))


@pytest.fixture(scope="module")
def mapper() -> AddressMapper:
    return AddressMapper(MappingTables.load(TABLES), UK_GATEWAY)


def orad(text: str) -> ORAddress:
    return ORAddress.parse(text)


# ---------------------------------------------------------------------------------- §3.4


@pytest.mark.parametrize(("printable", "ascii_text", "both_ways"), [
    ("'a demo.'", "'a demo.'", True),
    ("foo(a)bar", "foo@bar", True),
    ("(q)(u)(p)(q)", '"_%"', True),
    ("(a)", "@", True),
    ("(A)", "@", False),
    ("(l)a(r)", "(a)", True),
    ("(126)", "~", True),
    ("(", "(", False),
    ("(l)", "(", True),
])
def test_ps_encoding_examples(printable: str, ascii_text: str, both_ways: bool) -> None:
    """§3.4 table (arrows: <-> both ways, -> decode only).  # B-10"""
    assert ps_decode(printable) == ascii_text
    if both_ways:
        assert ps_encode(ascii_text) == printable


def test_ps_encoding_is_decimal_and_rejects_non_ascii() -> None:
    """§3.4: (ddd) is *decimal*; Exchange's (040)/(041) are "(" and ")".  # B-10"""
    assert ps_decode("(040)(041)") == "()"
    assert ps_encode("\t") == "(009)"
    with pytest.raises(AddressSyntaxError):
        ps_encode("Grüße@x")
    with pytest.raises(AddressSyntaxError):
        ps_decode("(200)")


# ---------------------------------------------------------------------------------- §4.1.2


@pytest.mark.parametrize(("text", "fields"), [
    ("Marshall.Rose", {"given_name": "Marshall", "surname": "Rose"}),
    ("M.T.Rose", {"initials": "MT", "surname": "Rose"}),
    ("Marshall.M.T.Rose", {"given_name": "Marshall", "initials": "MT", "surname": "Rose"}),
])
def test_encoded_pn_examples(text: str, fields: dict[str, str]) -> None:
    """§4.1.2 examples, both ways.  # A-7"""
    assert parse_encoded_pn(text) == fields
    assert format_encoded_pn(**fields) == text


def test_encoded_pn_restrictions() -> None:
    """§4.1.2 rules: no GQ, letter initials, given >= 2 chars without ".", surname-only has
    no "." -- otherwise std-or is used.  # A-7"""
    assert format_encoded_pn("Rose", "M") is None
    assert format_encoded_pn("St.John") is None
    assert format_encoded_pn("Rose", initials="M1") is None


# ---------------------------------------------------------------------------------- §4.3.1


def test_x400_encoded_in_822_with_mcgam(mapper: AddressMapper) -> None:
    """§4.3.1: /I=J/S=Linnimouth/GQ=5/@Marketing.Widget.COM <-> the O/R address under the
    MCGAM Widget.COM <-> O=Widget, ADMD=BTT, C=TC.  # A-13, A-17"""
    addr = orad("/I=J/S=Linnimouth/GQ=5/OU=Marketing/O=Widget/ADMD=BTT/C=TC/")
    assert mapper.to_x400("/I=J/S=Linnimouth/GQ=5/@Marketing.Widget.COM").address == addr
    assert mapper.to_rfc822(addr).address == "/I=J/S=Linnimouth/GQ=5/@Marketing.Widget.COM"


def test_encoded_pn_local_part(mapper: AddressMapper) -> None:
    """§4.3.1: without the generation qualifier the local-part is encoded-pn.  # A-13"""
    addr = orad("/I=J/S=Linnimouth/OU=Marketing/O=Widget/ADMD=BTT/C=TC/")
    assert mapper.to_rfc822(addr).address == "J.Linnimouth@Marketing.Widget.COM"
    assert mapper.to_x400("J.Linnimouth@Marketing.Widget.COM").address == addr


# ---------------------------------------------------------------------------------- §4.3.4.1

#: ISODE PP writes and reads std-or C-first, most significant first (issue 11, item 8).
PP_FORM = "/C=TC/ADMD=BTT/O=Widget/OU=A/OU=B/S=x/"
RFC2156_FORM = "/S=x/OU=B/OU=A/O=Widget/ADMD=BTT/C=TC/"


def test_pp_c_first_std_or_local_part_maps_like_rfc2156_order(mapper: AddressMapper) -> None:
    """§4.3.4.1: an O left of the OUs means the hierarchy is inverted; the OUs are read most
    significant first as PP reads them, and the step says so (``map lookup --explain``)."""
    pp = mapper.to_x400(f'"{PP_FORM}"@gw.example')
    rfc = mapper.to_x400(f'"{RFC2156_FORM}"@gw.example')
    assert pp.address == rfc.address == orad(RFC2156_FORM)
    assert pp.address.org_units == ("A", "B")
    [step] = [s for s in pp.steps if s.rule == "§4.3.4.1"]
    assert "OU1=A, OU2=B" in step.text and "PP" in step.text
    assert not any(s.rule == "§4.3.4.1" for s in rfc.steps)


def test_pp_c_first_or_address_maps_to_the_same_domain(mapper: AddressMapper) -> None:
    """Mapping B under the MCGAM Widget.COM: OU1 (A) is the subdomain next to it, whichever
    way the std-or was written (§4.3.5 B4, §4.3.4.1)."""
    from bridge.model.ortext import parse_or_address

    assert mapper.to_rfc822(parse_or_address(PP_FORM)).address == "x@B.A.Widget.COM"
    assert mapper.to_rfc822(orad(RFC2156_FORM)).address == "x@B.A.Widget.COM"
    assert mapper.to_x400("x@B.A.Widget.COM").address == orad(RFC2156_FORM)


# ---------------------------------------------------------------------------------- §4.3.2


def test_rfc822_in_x400_dda_and_overflow(mapper: AddressMapper) -> None:
    """§4.3.2: the RFC-822 DDA, ps-encoded; over 128 characters RFC822C1..3, each filled
    before the next; over 512 cannot be encoded (MTS level: rejected).  # A-14, A-18"""
    long_local = "x" * 300
    result = mapper.to_x400(f"{long_local}@example.com", Role.SMTP_ORIGINATOR)
    types = [d.type for d in result.address.ddas]
    assert types == ["RFC-822", "RFC822C1", "RFC822C2"]
    assert [len(d.value) for d in result.address.ddas] == [128, 128, 58]  # 300+12+2 ("(a)")
    assert mapper.to_rfc822(result.address).address == f"{long_local}@example.com"
    too_long = "y" * 600 + "@example.com"
    with pytest.raises(MappingError) as err:
        mapper.to_x400(too_long, Role.SMTP_RECIPIENT)
    assert err.value.smtp.code == 553 and err.value.x400.reason == 1
    header = mapper.to_x400(too_long, Role.HEADER)  # IPMS level: truncated (§5.1.3)
    assert header.truncated and sum(len(d.value) for d in header.address.ddas) == 512


def test_teletex_rfc822_dda_is_accepted(mapper: AddressMapper) -> None:
    """§4.3.2: teletex RFC-822 DDAs are never generated but are read like printable ones; both
    present must agree.  # A-15"""
    from dataclasses import replace

    from bridge.model import DomainDefinedAttribute

    base = orad("/PRMD=UK.AC/ADMD=GOLD 400/C=GB/")
    t_only = replace(base, teletex_ddas=(
        DomainDefinedAttribute(type="RFC-822", value="jj(a)seismo.css.gov"),))
    assert mapper.to_rfc822(t_only).address == "jj@seismo.css.gov"
    both_differ = replace(t_only, ddas=(
        DomainDefinedAttribute(type="RFC-822", value="other(a)seismo.css.gov"),))
    with pytest.raises(MappingError):
        mapper.to_rfc822(both_differ)


# ---------------------------------------------------------------------------------- §4.3.4


@pytest.mark.parametrize(("address", "gateway", "role", "expected"), [
    # Example 1: not local-part@domain; no MCGAM; the route is kept
    ("@relay.co.uk:userb@host2", "/O=mr/PRMD=uk.ac/ADMD= /C=gb/", Role.SMTP_ORIGINATOR,
     "/RFC-822=(a)relay.co.uk:userb(a)host2/O=mr/PRMD=uk.ac/ADMD= /C=gb/"),
    # Example 2: characters outside PrintableString
    ("Tom_Harris@cs.widget.com", "/PRMD=relay/ADMD=MCI/C=us/", Role.SMTP_ORIGINATOR,
     "/RFC-822=Tom(u)Harris(a)cs.widget.com/PRMD=relay/ADMD=MCI/C=us/"),
    # Example 3: the preferred-gateway table has alter.net
    ("postmaster@UK.alter.net", "/O=mr/PRMD=uk.ac/ADMD= /C=gb/", Role.HEADER,
     "/RFC-822=postmaster(a)UK.alter.net/PRMD=relay/ADMD=BTglobal/C=gb/"),
])
def test_stage2_examples(address: str, gateway: str, role: Role, expected: str) -> None:
    """§4.3.4 Stage II examples 1–3 ("neither of which has applicable MCGAMs": only the
    preferred-gateway table is loaded).  # A-17, A-18"""
    gate_only = MappingTables(e for e in MappingTables.load(TABLES)
                              if e.table.name.startswith("GATE"))
    m = AddressMapper(gate_only, GatewayIdentity(domain="gw.example", or_address=orad(gateway)))
    result = m.to_x400(address, role)
    assert result.stage == 2
    assert str(result.address) == expected


def test_stage2_uses_the_mcgam_for_the_rest(mapper: AddressMapper) -> None:
    """Stage II: an 822 address under an MCGAM gets the rest of its O/R address from it
    (Stage I step 8), not from the gateway.  # A-18"""
    result = mapper.to_x400("Tom_Harris@cs.ucl.ac.uk", Role.SMTP_ORIGINATOR)
    assert str(result.address) == \
        "/RFC-822=Tom(u)Harris(a)cs.ucl.ac.uk/OU=cs/O=ucl/PRMD=UK.AC/ADMD=GOLD 400/C=GB/"


def test_stage1_merge_and_omitted_level(mapper: AddressMapper) -> None:
    """Stage I step 8: omitted MCGAM levels are skipped in the systematic allocation; LHS
    attributes win (ADMD on the LHS takes only C from the domain).  # A-10, A-17"""
    r = mapper.to_x400("Smith@Research.GMD.DE")
    assert str(r.address) == "/S=Smith/OU=Research/PRMD=GMD/ADMD=DBP/C=DE/"
    r2 = mapper.to_x400("/S=Smith/ADMD=Other/@AC.UK")
    assert str(r2.address) == "/S=Smith/ADMD=Other/C=GB/"


def test_stage1_bounds_send_to_stage2(mapper: AddressMapper) -> None:
    """Stage I step 8: a label above an upper bound (O: 64) goes to Stage II.  # A-17"""
    label = "o" * 65
    r = mapper.to_x400(f"Smith@{label}.AC.UK", Role.SMTP_ORIGINATOR)
    assert r.stage == 2
    assert r.address.dda("RFC-822") == f"Smith(a){label}.AC.UK"


def test_stage1_spaces_and_specials_go_to_stage2(mapper: AddressMapper) -> None:
    """Stage I steps 2–3.  # A-17"""
    assert mapper.to_x400('" J.Smith"@AC.UK', Role.HEADER).stage == 2
    assert mapper.to_x400("J_Smith@AC.UK", Role.HEADER).stage == 2


# ---------------------------------------------------------------------------------- §4.3.5


@pytest.mark.parametrize(("x400", "rfc822"), [
    # Example 1: no mapping for O=sales under ADMD=Master400 (PRMD omitted below the prefix)
    ("/S=Support/O=sales/ADMD=Master400/C=it/", "/S=Support/O=sales/@Master400.it"),
    # Example 2: "Region Parisienne" is not domain-syntax: quoted local-part
    ("/S=renseignements/O=Region Parisienne/PRMD=autoroutes/ADMD=atlas/C=fr/",
     '"/S=renseignements/O=Region Parisienne/"@autoroutes.fr'),
    # Example 3: attributes that cannot be domains go on the left
    ("/DD.cap=20100/DD.ph1=Via Larga 11/DD.city=Milano/S=Rossi/ADMD=PtPostel/C=it/",
     '"/DD.cap=20100/DD.ph1=Via Larga 11/DD.city=Milano/S=Rossi/"@ptpostel.it'),
    # Example 4: the preferred-gateway table (the RFC prints the std-or without its final "/")
    ("/G=Andy/S=Wharol/O=MMNY/ADMD=ATT/C=us/", "/G=Andy/S=Wharol/O=MMNY/@attmail.com"),
])
def test_mapping_b_examples(mapper: AddressMapper, x400: str, rfc822: str) -> None:
    """§4.3.5 examples 1–4 (keywords are generated upper case; §4.1.3 matches them
    case-independently).  # A-21"""
    result = mapper.to_rfc822(orad(x400))
    assert result.mapping == "B"
    assert result.address == rfc822


def test_mapping_a_drops_other_attributes(mapper: AddressMapper) -> None:
    """§4.3.5 Mapping A.  # A-20"""
    r = mapper.to_rfc822(orad("/RFC-822=jj(a)seismo.css.gov/PRMD=AC/ADMD=BT/C=GB/"))
    assert (r.mapping, r.address) == ("A", "jj@seismo.css.gov")


def test_mapping_b_no_mcgam_uses_local_gateway_and_keeps_one_label_rule(
        mapper: AddressMapper) -> None:
    """§4.3.5 B3: no MCGAM -> the local gateway domain with the whole std-or on the left.
    # A-21"""
    r = mapper.to_rfc822(orad("/S=Nobody/O=Nowhere/ADMD=X/C=ZZ/"))
    assert r.address == "/S=Nobody/O=Nowhere/ADMD=X/C=ZZ/@gw.example.ac.uk"


def test_directory_name_becomes_a_comment(mapper: AddressMapper) -> None:
    """§4.5: the DN as an RFC 1485 string comment, least significant RDN first.  # A-23"""
    def ava(oid: str, text: str) -> AttributeValueAssertion:
        return AttributeValueAssertion(type=oid, value=Opaque(ber=b"\x13" + bytes([len(text)])
                                                              + text.encode()), text=text)
    dn = DirectoryName(rdns=((ava("2.5.4.6", "GB"),), (ava("2.5.4.10", "UCL"),),
                             (ava("2.5.4.3", "Steve Kille"),)))
    name = ORName(address=orad("/S=Kille/O=UCL/PRMD=UK.AC/ADMD=GOLD 400/C=GB/"), directory_name=dn)
    r = mapper.to_rfc822(name)
    assert r.comment == "CN=Steve Kille, O=UCL, C=GB"
    assert str(r) == "Kille@UCL.AC.UK (CN=Steve Kille, O=UCL, C=GB)"


# ---------------------------------------------------------------------------------- §4.4


def test_recursive_mapping(mapper: AddressMapper) -> None:
    """§4.4.1: C=XX, ADMD=YY, O=ZZ, RFC-822=Smith(a)ZZ.YY.XX maps back to S=Smith, O=ZZ, ...
    with no protocol conversion.  # A-22"""
    r = mapper.recursive(orad("/RFC-822=Smith(a)ZZ.YY.XX/O=ZZ/ADMD=YY/C=XX/"))
    assert r is not None and str(r.address) == "/S=Smith/O=ZZ/ADMD=YY/C=XX/"
    assert mapper.recursive(orad("/RFC-822=jj(a)seismo.css.gov/PRMD=AC/ADMD=BT/C=GB/")) is None


def test_symmetric_across_gateways(mapper: AddressMapper) -> None:
    """§4.4.2: Joe.Soap@Widget.PTT.XY <-> the O/R address, and back.  The RFC's PRMD "Griddle
    MHS Providers" exceeds ub-domain-name-length (16), which Stage I step 9 enforces, so the
    table uses "Griddle MHS".  # A-22"""
    addr = orad("/G=Joe/S=Soap/O=Widget Corporation/PRMD=Griddle MHS/ADMD=PTT/C=XY/")
    assert mapper.to_x400("Joe.Soap@Widget.PTT.XY").address == addr
    assert mapper.to_rfc822(addr).address == "Joe.Soap@Widget.PTT.XY"


def test_source_routes_through_the_syntax(mapper: AddressMapper) -> None:
    """§4.4.2: X.400 -> 822 -> X.400 and 822 -> X.400 -> 822 source routes work.  # A-22"""
    first = orad("/RFC-822=$/PN$=Duval$/DD.Title$=Manager$/(a)Inria.ATLAS.FR/"
              "PRMD=UK.AC/ADMD=Gold 400/C=UK/")
    hop = mapper.to_rfc822(first).address
    assert hop == "/PN=Duval/DD.Title=Manager/@Inria.ATLAS.FR"
    assert str(mapper.to_x400(hop).address) == \
        "/DD.Title=Manager/S=Duval/PRMD=Inria/ADMD=ATLAS/C=FR/"
    there = mapper.to_x400('"/RFC-822=jj(a)seismo.css.gov/PRMD=AC/ADMD=BT/C=GB/"'
                           "@monet.berkeley.edu").address
    assert mapper.to_rfc822(there).address == "jj@seismo.css.gov"


# ---------------------------------------------------------------------------------- §4.7.3


def test_ipm_identifier_examples() -> None:
    """§4.7.3: X.400-generated ids as <"urid*std-or"@MHS>, 822 ids symmetric.  # A-33, A-34"""
    x400 = IPMIdentifier(user=ORName(address=orad("/S=Dietrich/O=Siemens/ADMD=DBP/C=DE/")),
                         local="147")
    # quoted-string only if necessary (§4.7.3.4); the §4.7.3.2 example's quoted form reads back
    assert ipm_id_to_msgid(x400) == "<147*/S=Dietrich/O=Siemens/ADMD=DBP/C=DE/@MHS>"
    assert msgid_to_ipm_id('<"147*/S=Dietrich/O=Siemens/ADMD=DBP/C=DE/"@MHS>') == x400
    assert msgid_to_ipm_id("<147*/S=Dietrich/O=Siemens/ADMD=DBP/C=DE/@MHS>") == x400
    spaced = IPMIdentifier(user=ORName(address=orad("/S=Rose/PRMD=UK.AC/ADMD=GOLD 400/C=GB/")),
                           local="562")
    assert ipm_id_to_msgid(spaced) == '<"562*/S=Rose/PRMD=UK.AC/ADMD=GOLD 400/C=GB/"@MHS>'
    assert msgid_to_ipm_id(ipm_id_to_msgid(spaced)) == spaced
    native = msgid_to_ipm_id("<1803.665941698@UK.AC.UCL.CS>")
    assert native == IPMIdentifier(local="1803.665941698(a)UK.AC.UCL.CS")
    assert ipm_id_to_msgid(native) == "<1803.665941698@UK.AC.UCL.CS>"
    assert ipm_id_to_msgid(IPMIdentifier(local="a phrase"), phrase_allowed=True) == "a phrase"
    assert ipm_id_to_msgid(IPMIdentifier(local="a phrase")) == '<"a phrase*"@MHS>'


# ---------------------------------------------------------------------------------- errors


def test_bad_addresses_raise_mapping_errors_with_replies(mapper: AddressMapper) -> None:
    """Unmappable input is a MappingError carrying its SMTP reply and X.400 diagnostic."""
    for bad in ("", "no-at-sign@", '"unterminated@x', "a@b@c"):
        with pytest.raises(MappingError) as err:
            mapper.to_x400(bad, Role.SMTP_RECIPIENT)
        assert err.value.smtp.code in (550, 553) and err.value.smtp.enhanced.startswith("5.1.")
        assert err.value.x400.reason == 1


# ---------------------------------------------------------------------------------- properties

LOCAL = st.from_regex(r"[A-Za-z][A-Za-z0-9_%!+-]{0,20}(\.[A-Za-z0-9_+-]{1,10}){0,2}",
                      fullmatch=True)
DOMAIN = st.sampled_from(["example.com", "cs.ucl.AC.UK", "Marketing.Widget.COM", "host2",
                          "a-b.research.GMD.DE", "ZZ.YY.XX", "mail.alter.net"])


@settings(max_examples=300, deadline=None)
@given(local=LOCAL, domain=DOMAIN, role=st.sampled_from(list(Role)))
def test_822_to_x400_to_822_is_identity(local: str, domain: str, role: Role) -> None:
    """For every 822 address the mapping can represent, 822 -> X.400 -> 822 is the identity
    (§1.4: a double transformation brings you back)."""
    m = AddressMapper(MappingTables.load(TABLES), UK_GATEWAY)
    address = f"{local}@{domain}"
    there = m.to_x400(address, role).address
    assert m.to_rfc822(there).address == address


NAME = st.from_regex(r"[A-Z][a-z]{1,10}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(surname=NAME, given=st.none() | NAME, initials=st.none() | st.from_regex(
    r"[A-Z]{1,3}", fullmatch=True), gq=st.none() | st.sampled_from(["Jr", "III"]),
    ous=st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True), max_size=3),
    base=st.sampled_from(["/O=ucl/PRMD=UK.AC/ADMD=GOLD 400/C=GB/",
                          "/O=Widget/ADMD=BTT/C=TC/", "/PRMD=GMD/ADMD=DBP/C=DE/",
                          "/O=Nowhere/ADMD=X/C=ZZ/"]))
def test_x400_to_822_to_x400_is_identity(surname: str, given: str | None,
                                         initials: str | None, gq: str | None,
                                         ous: list[str], base: str) -> None:
    """For every O/R address the mapping can represent, X.400 -> 822 -> X.400 is the
    identity."""
    from dataclasses import replace

    from bridge.model import PersonalName

    m = AddressMapper(MappingTables.load(TABLES), UK_GATEWAY)
    addr = replace(orad(base), personal_name=PersonalName(
        surname=surname, given_name=given, initials=initials, generation_qualifier=gq),
        org_units=tuple(ous) if "O=" in base else ())
    back = m.to_x400(m.to_rfc822(addr).address, Role.HEADER).address
    assert back == addr


def test_app_b_addresses_for_x400_1984_peers(mapper: AddressMapper) -> None:  # D-2
    """App B: std-or with attributes beyond the 84/88 set or teletex values is an RFC 822
    address; a non-teletex CN becomes the DDA "Common" (RFC 1328)."""
    cn = mapper.to_x400('"/CN=Jo Bloggs/O=Widget/ADMD=BTT/C=TC/"@gw.example.ac.uk',
                        x400_1984=True)
    assert str(cn.address) == "/DD.Common=Jo Bloggs/O=Widget/ADMD=BTT/C=TC/"
    assert mapper.to_x400('"/CN=Jo Bloggs/O=Widget/ADMD=BTT/C=TC/"@gw.example.ac.uk'
                          ).address.common_name == "Jo Bloggs"  # 1988: unchanged
    for local in ("/S=*M{200}uller/O=Widget/ADMD=BTT/C=TC/", "/PD-C=GB/S=X/O=W/ADMD=B/C=TC/"):
        r = mapper.to_x400(f'"{local}"@example.com', Role.SMTP_ORIGINATOR, x400_1984=True)
        assert r.stage == 2 and r.address.dda("RFC-822") is not None
        assert any(s.rule == "App B" for s in r.steps)
    plain = mapper.to_x400("J.Linnimouth@Marketing.Widget.COM", x400_1984=True)
    assert plain.address == mapper.to_x400("J.Linnimouth@Marketing.Widget.COM").address
