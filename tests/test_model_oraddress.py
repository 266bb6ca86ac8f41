"""O/R address text forms: RFC 2156 §4.1.3 std-or output, std-or-address-input and RFC 1685
input, §3.3.4 teletex values (decimal {ddd} T.61 octets) — the model's canonical __str__."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.model import DomainDefinedAttribute, ORAddress, PersonalName, PostalAttribute
from bridge.model.ortext import ORAddressSyntaxError, parse_or_address

CANONICAL = [
    # RFC 2156 §4.7.3 example
    "/S=Dietrich/O=Siemens/ADMD=DBP/C=DE/",
    # RFC 2156 §5.3.8 example (DN of the DR) and the §4.4 RFC-822 DDA
    "/I=j/S=nosuchuser/OU=dle/O=cambridge/PRMD=DGC/ADMD=GOLD 400/C=GB/",
    "/RFC-822=jj(a)seismo.css.gov/PRMD=AC/ADMD=BT/C=GB/",
    # RFC 2156 §4.1.1 examples
    "/CN=yen*{165}/",
    "/PD-ADDRESS=The Dome|The Square|Richmond|England/",
    "/DD.city=Milano/S=Rossi/ADMD= /C=IT/",
    "/G=Marshall/I=MT/S=Rose/OU=cs/OU=ucl/O=UCL/PRMD=UK.AC/ADMD=GOLD 400/C=GB/",
    "/T-TY=g3fax(5)/X121=23421920030013/ADMD= /C=GB/",
]


@pytest.mark.parametrize("text", CANONICAL)
def test_std_or_round_trip(text: str) -> None:  # B-6
    """RFC 2156 §4.1.3: parse then generate gives the canonical text back."""
    assert str(ORAddress.parse(text)) == text


def test_fields_of_a_parsed_address() -> None:
    a = ORAddress.parse("/G=Marshall/I=MT/S=Rose/OU=cs/OU=ucl/O=UCL/PRMD=UK.AC/ADMD=GOLD 400/C=GB/")
    assert a.personal_name == PersonalName(surname="Rose", given_name="Marshall", initials="MT")
    # §4.3.3: most significant on the right in text, first in ASN.1
    assert a.org_units == ("ucl", "cs")
    assert (a.organization, a.prmd, a.admd, a.country) == ("UCL", "UK.AC", "GOLD 400", "GB")


def test_teletex_value_is_t61_decimal_octets() -> None:  # B-5
    """§3.3.4: {165} is T.61 octet 165 (the yen sign), not Latin-1 or octal."""
    a = ORAddress.parse("/CN=yen*{165}/")
    assert (a.common_name, a.teletex_common_name) == ("yen", "¥")
    b = ORAddress(teletex_common_name="Müller")  # T.61: diaeresis c8 (200) before the letter
    assert str(b) == "/CN=*M{200}uller/"
    assert ORAddress.parse(str(b)) == b


def test_teletex_only_value_that_fits_printable_is_written_printable() -> None:
    """§4.1.1: a teletex attribute whose value is printable is shown as printable."""
    assert str(ORAddress(teletex_organization="Siemens", country="DE", admd="DBP")) == \
        "/O=Siemens/ADMD=DBP/C=DE/"


def test_input_forms() -> None:
    """§4.1.3 std-or-address-input: ";" or "/" separators, alternative keywords, $ quoting,
    C without ADMD read as ADMD=" "; RFC 1685 "K=V; K=V" text."""
    a = parse_or_address("G=john; S=smith; O=a bank ltd; P=abl; A=snomail; C=aq")
    assert a.personal_name == PersonalName(surname="smith", given_name="john")
    assert (a.organization, a.prmd, a.admd, a.country) == ("a bank ltd", "abl", "snomail", "aq")
    b = parse_or_address(";s=Rossi;o=a$/b$=c;c=IT")
    assert b.organization == "a/b=c" and b.admd == " " and b.personal_name is not None
    c = parse_or_address("/OU1=top/OU2=middle/OU3=leaf/O=Org/C=GB/ADMD= /")
    assert c.org_units == ("top", "middle", "leaf")
    d = parse_or_address("/DDA:Title=Dr/Q=Jr/S=X/X.121=1234/N-ID=99/C=GB/A= /")
    assert d.ddas == (DomainDefinedAttribute(type="Title", value="Dr"),)
    assert (d.x121, d.ua_id) == ("1234", "99")
    assert d.personal_name is not None and d.personal_name.generation_qualifier == "Jr"
    e = parse_or_address("/PD-A1=The Dome/PD-A2=Richmond/C=GB/")
    assert e.postal == (PostalAttribute(type=16, lines=("The Dome\nRichmond",)),)
    f = parse_or_address("/PN=Marshall.M.T.Rose/O=x/C=GB/")
    assert f.personal_name == PersonalName(surname="Rose", given_name="Marshall", initials="MT")


@pytest.mark.parametrize("bad", ["/XYZ=1/", "/S/", "/OU=a/OU1=b/", "/T-TY=fax machine/",
                                 "/CN=*{999}/"])
def test_bad_input_is_a_syntax_error(bad: str) -> None:
    with pytest.raises(ORAddressSyntaxError):
        parse_or_address(bad)


def test_f401_input_forms() -> None:  # W-2, W-4, W-5
    """F.401 (RFC 1685) input: doubled delimiter inside a value, "==" in a DDA type, optional
    "X.400" prefix; MIXER's "$" quoting is accepted too (A-8)."""
    a = parse_or_address("X.400: G=john; S=smith; O=a;;b ltd; P=abl; A=snomail; C=aq")
    assert a.organization == "a;b ltd"
    b = parse_or_address("/S=x/O=and//or/ADMD=y/C=GB/")
    assert b.organization == "and/or"
    c = parse_or_address("DDA:ty==pe=value; S=x; A=y; C=GB")
    assert c.ddas[0].type == "ty=pe" and c.ddas[0].value == "value"
    assert parse_or_address("/O=and$/or/ADMD=y/C=GB/").organization == "and/or"


def test_teletex_ous_stay_aligned_with_printable_ous() -> None:
    """An OU whose teletex form equals its printable one is written once (§4.1.1), yet the
    teletex sequence stays aligned position by position when read back."""
    from bridge.model import ORAddress

    a = ORAddress(country="DE", admd="DBP", org_units=("Vertrieb", "Nord"),
                  teletex_org_units=("Vertrieb", "Nörd"))
    assert str(a) == "/OU=Nord*N{200}ord/OU=Vertrieb/ADMD=DBP/C=DE/"
    assert ORAddress.parse(str(a)) == a


def test_teletex_only_surname_with_printable_given_name() -> None:
    """§4.1.1: S given only in teletex form, G printable: one teletex personal name with both
    (no crash), and the text form parses back to the same address."""
    a = ORAddress.parse("/S=*M{200}uller/G=Hans/O=W/ADMD=B/C=DE/")
    assert a.personal_name is None
    assert a.teletex_personal_name is not None
    assert (a.teletex_personal_name.surname, a.teletex_personal_name.given_name) == \
        ("Müller", "Hans")
    assert ORAddress.parse(str(a)) == a


@pytest.mark.parametrize("text", ["/G=Hans/O=W/ADMD=B/C=DE/", "/G=*H{200}ns/O=W/ADMD=B/C=DE/",
                                  "/I=HJ/GQ=III/O=W/ADMD=B/C=DE/"])
def test_personal_name_without_surname_is_a_syntax_error(text: str) -> None:
    with pytest.raises(ORAddressSyntaxError, match="surname"):
        ORAddress.parse(text)


# ------------------------------------------------------------ OU order (RFC 2156 §4.3.4.1)

#: ISODE PP's C-first std-or (issue 11, item 8) and RFC 2156's own order of the same address.
PP_FORM = "/C=TC/ADMD=BTT/O=Widget/OU=A/OU=B/S=x/"
RFC2156_FORM = "/S=x/OU=B/OU=A/O=Widget/ADMD=BTT/C=TC/"


def test_pp_c_first_form_reads_as_the_rfc2156_form() -> None:
    """RFC 2156 §4.3.3 1.: std-or has the most significant OU on the right, so
    ``/S=x/OU=B/OU=A/O=Widget/...`` is OU1 = A.  PP reads its C-first form
    ``/C=TC/ADMD=BTT/O=Widget/OU=A/OU=B/S=x/`` most significant first (OU1 = A too); the O
    to the left of the OUs is §4.3.4.1's sign of an inverted hierarchy.  Both give one
    O/R address, and the canonical text is RFC 2156's."""
    from bridge.model.ortext import parse_or_text

    pp, rfc = parse_or_text(PP_FORM), parse_or_text(RFC2156_FORM)
    assert pp.address == rfc.address
    assert pp.address.org_units == ("A", "B")  # X.411: the first OU is the most significant
    assert (pp.ous_inverted, rfc.ous_inverted) == (True, False)
    assert str(pp.address) == RFC2156_FORM


@pytest.mark.parametrize(("text", "ous"), [
    # F.401 / RFC 1685 §2 recommended sequence G;S;O;OU1;OU2;P;A;C with plain OU keys
    ("G=Jo; S=Bloggs; O=Org; OU=Top; OU=Leaf; P=Pm; A=Ad; C=GB", ("Top", "Leaf")),
    # C-first without an O: the C, ADMD and PRMD on the left show the direction
    ("/C=GB/ADMD= /PRMD=Pm/OU=Top/OU=Leaf/S=x/", ("Top", "Leaf")),
    # RFC 2156 order, with and without an O
    ("/S=x/OU=Leaf/OU=Top/PRMD=Pm/ADMD= /C=GB/", ("Top", "Leaf")),
    ("/S=x/OU=Leaf/OU=Top/", ("Top", "Leaf")),
    # numbered OUs say their position whatever the order
    ("/C=GB/ADMD= /O=Org/OU2=Leaf/OU1=Top/S=x/", ("Top", "Leaf")),
    ("/S=x/OU1=Top/OU2=Leaf/O=Org/ADMD= /C=GB/", ("Top", "Leaf")),
])
def test_ou_order_follows_the_direction_of_the_text(text: str, ous: tuple[str, ...]) -> None:
    """RFC 2156 §4.3.4.1: an attribute above the OUs written to their left means the text is
    most significant first; otherwise §4.3.3's order (most significant on the right)."""
    assert parse_or_address(text).org_units == ous


def test_one_ou_is_not_reported_as_inverted() -> None:
    from bridge.model.ortext import parse_or_text

    read = parse_or_text("/C=GB/ADMD= /O=Org/OU=Only/S=x/")
    assert read.address.org_units == ("Only",) and not read.ous_inverted


_VALUES = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -",
                  min_size=1, max_size=12).filter(lambda v: v.strip() == v)


@settings(max_examples=200, deadline=None)
@given(ous=st.lists(_VALUES, min_size=1, max_size=4), org=st.none() | _VALUES,
       prmd=st.none() | _VALUES, surname=_VALUES)
def test_both_directions_give_the_same_address(ous: list[str], org: str | None,
                                               prmd: str | None, surname: str) -> None:
    """RFC 2156 §4.3.3 / §4.3.4.1: the pairs written least significant first and the same
    pairs written most significant first (C-first, as PP and F.401 write them) are one O/R
    address; OU1 is the most significant either way."""
    top_down = [("C", "GB"), ("ADMD", " ")] + ([("PRMD", prmd)] if prmd else []) + (
        [("O", org)] if org else []) + [("OU", ou) for ou in ous] + [("S", surname)]
    c_first = "/" + "".join(f"{k}={v}/" for k, v in top_down)
    rfc2156 = "/" + "".join(f"{k}={v}/" for k, v in reversed(top_down))
    a = parse_or_address(c_first)
    assert a == parse_or_address(rfc2156)
    assert a.org_units == tuple(ous)
    assert str(a) == rfc2156


def test_rfc1685_admd_without_value_is_a_single_space() -> None:
    """RFC 1685 §F.3.2.1: "If the user ... omits the value for the ADMD attribute, the ADMD
    value to be used is a single space" -- ``A= ;`` is the blank ADMD, written ``ADMD= ``."""
    a = parse_or_address("G=Jo; S=Bloggs; O=Org; P=Pm; A= ; C=GB")
    assert a.admd == " "
    assert str(a) == "/G=Jo/S=Bloggs/O=Org/PRMD=Pm/ADMD= /C=GB/"
    assert parse_or_address("S=Bloggs; P=Pm; A=; C=GB").admd == " "
