"""RFC 1328 (D-3): X.400(1988) O/R addresses and descriptors for an X.400(1984) peer.

§3.1 the "X400-88" DDA (ps-encoded std-or, overflow X400-C1..C3) and its reverse, §3.2 the
"Common" DDA, §5 step 3 the directory name as User Friendly Name in the free-form name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.errors import MappingError
from bridge.mapping.address import AddressMapper, GatewayIdentity, Role, X400Result, downgrade_1984
from bridge.mapping.downgrade import (
    X400_88_TYPES,
    decode_x400_88,
    downgrade_address,
    downgrade_descriptor,
    encode_x400_88,
    is_1984_form,
    ufn,
    upgrade_address,
)
from bridge.mapping.tables import MappingTables
from bridge.model.common import Opaque
from bridge.model.ipm import ORDescriptor
from bridge.model.oraddress import (
    AttributeValueAssertion,
    DirectoryName,
    DomainDefinedAttribute,
    ORAddress,
    ORName,
)

TABLES = Path(__file__).parent / "data" / "mappings" / "rfc2156"
#: the gateway of the RFC 1328 §3.1 example
RELAY = ORAddress.parse("/O=MHS-Relay/PRMD=UK.AC/C=GB/")
GATEWAY = GatewayIdentity(domain="gw.example.ac.uk",
                          or_address=ORAddress.parse("/O=mr/PRMD=uk.ac/ADMD= /C=gb/"))


@pytest.fixture(scope="module")
def mapper() -> AddressMapper:
    return AddressMapper(MappingTables.load(TABLES), GATEWAY)


# ----------------------------------------------------------------- the RFC's own examples

@pytest.mark.parametrize(("rule", "x400_88", "x400_84"), [
    ("§3.1", "/PD-ADDRESS=Empire State Building/PRMD=XX/ADMD=ZZ/C=US/",
     {"X400-88": "/PD-ADDRESS=Empire State Building/PRMD=XX/ADMD=ZZ/C=US/"}),
    ("§3.2", "/CN=Postmaster/O=A/ADMD=B/C=GB/", {"Common": "Postmaster"}),
])
def test_rfc_1328_examples(rule: str, x400_88: str, x400_84: dict[str, str]) -> None:  # D-3
    down = downgrade_address(ORAddress.parse(x400_88), RELAY)
    assert down.rule == f"RFC 1328 {rule}"
    assert {d.type: d.value for d in down.address.ddas} == x400_84
    assert is_1984_form(down.address) and down.address.common_name is None
    if rule == "§3.1":  # 84: O=MHS-Relay; PRMD=UK.AC; C=GB; DD.X400-88=...
        assert (down.address.organization, down.address.prmd, down.address.country) == (
            "MHS-Relay", "UK.AC", "GB")
    else:  # 84: DD.Common=Postmaster; O=A; ADMD=B; C=GB
        assert str(down.address) == "/DD.Common=Postmaster/O=A/ADMD=B/C=GB/"


def test_ufn_example() -> None:  # D-3, RFC 1328 §5 step 3
    def rdn(oid: str, text: str) -> tuple[AttributeValueAssertion, ...]:
        return (AttributeValueAssertion(type=oid, value=Opaque(ber=b"\x13\x00"), text=text),)

    dn = DirectoryName(rdns=(rdn("2.5.4.6", "GB"), rdn("2.5.4.10", "University College London"),
                             rdn("2.5.4.11", "Computer Science"),
                             rdn("2.5.4.3", "Steve Hardcastle-Kille")))
    assert ufn(dn) == ("Steve Hardcastle-Kille, Computer Science, University College London, "
                       "GB")
    name = ORName(address=ORAddress.parse("/CN=Steve/O=UCL/ADMD= /C=GB/"), directory_name=dn)
    d, cut = downgrade_descriptor(ORDescriptor(formal_name=name), RELAY)
    assert d.formal_name == ORName(address=ORAddress.parse(
        "/DD.Common=Steve/O=UCL/ADMD= /C=GB/"))  # no directory name left
    assert cut and d.free_form_name is not None and len(d.free_form_name) == 64
    assert d.free_form_name.startswith("(Steve Hardcastle-Kille, Computer Science,")
    assert d.free_form_name.endswith(")")
    short = DirectoryName(rdns=(rdn("2.5.4.6", "GB"), (
        AttributeValueAssertion(type="2.5.4.3", value=Opaque(ber=b"\x13\x01x"), text="Jo"),
        AttributeValueAssertion(type="2.5.4.4", value=Opaque(ber=b"\x04\x01\xff")))))
    d, cut = downgrade_descriptor(ORDescriptor(formal_name=ORName(
        address=RELAY, directory_name=short), free_form_name="Jo B"), RELAY)
    assert (d.free_form_name, cut) == ("Jo B (Jo + #0401ff, GB)", False)
    assert downgrade_descriptor(ORDescriptor(free_form_name="x"), RELAY) == (
        ORDescriptor(free_form_name="x"), False)


# ------------------------------------------------------------------------- round trips

ADDRESSES_88 = [
    "/CN=*Jos{200}e/O=Widget/ADMD=BTT/C=TC/",  # teletex CN
    "/S=Muller*M{200}uller/G=Hans/O=Widget/OU=Sales/ADMD=BTT/C=DE/",  # teletex surname
    "/PD-C=GB/PD-CODE=WC1E 6BT/PD-ADDRESS=Gower Street|London/S=X/O=W/ADMD=B/C=GB/",
    "/T-TY=g3fax(5)/NET-NUM=4471380/O=W/ADMD=B/C=GB/",
    "/DD.x=*{200}a/O=(paren) 100% _x_@y!/ADMD=B/C=GB/",  # teletex DDA, ps-encoded specials
    "/CN=" + "Long Common Name " * 3 + "/OU=" + "/OU=".join(f"Unit{i}" for i in range(4))
    + "/O=" + "O" * 60 + "/PD-ADDRESS=" + "Building " * 12 + "/ADMD=ADMD/C=GB/",
]


@pytest.mark.parametrize("text", ADDRESSES_88)
def test_88_address_round_trip(text: str) -> None:  # D-3: 88 -> 84 form -> back equal
    addr = ORAddress.parse(text)
    assert not is_1984_form(addr)
    down = downgrade_address(addr, RELAY)
    assert down.rule == "RFC 1328 §3.1"
    assert is_1984_form(down.address) and down.address.common_name is None
    assert all(len(d.value) <= 128 and d.value.isascii() for d in down.address.ddas)
    assert decode_x400_88(down.address) == addr
    assert upgrade_address(down.address) == addr


def test_overflow_attributes() -> None:  # D-3: X400-C1..C3 past 128 characters
    addr = ORAddress.parse(ADDRESSES_88[-1])
    ddas = encode_x400_88(addr, RELAY).ddas
    assert [d.type for d in ddas] == list(X400_88_TYPES[: len(ddas)]) and len(ddas) >= 3
    assert all(len(d.value) == 128 for d in ddas[:-1])
    # the reverse takes the types case-independently and in any order
    shuffled = RELAY.__class__(**{**{f: getattr(RELAY, f) for f in ("country", "prmd",
                                                                    "organization")},
                                  "ddas": tuple(DomainDefinedAttribute(
                                      type=d.type.lower(), value=d.value)
                                      for d in reversed(ddas))})
    assert decode_x400_88(shuffled) == addr


def test_too_long_for_four_attributes() -> None:  # D-3: unable-to-downgrade
    addr = ORAddress.parse("/PD-ADDRESS=" + "|".join(["x" * 30] * 6) + "/O=" + "o" * 64
                           + "/OU=" + "u" * 32 + "/OU=" + "v" * 32 + "/CN=*" + "{200}e" * 60
                           + "/ADMD=B/C=GB/")
    with pytest.raises(MappingError) as info:
        encode_x400_88(addr, RELAY)
    assert info.value.x400.diagnostic == 47


def test_gateway_without_room() -> None:  # X.411 ub-domain-defined-attributes = 4
    full = ORAddress.parse("/DD.a=1/DD.b=2/DD.c=3/O=gw/ADMD= /C=GB/")
    short = ORAddress.parse("/PD-C=GB/O=W/ADMD=B/C=GB/")
    assert [d.type for d in encode_x400_88(short, full).ddas] == ["a", "b", "c", "X400-88"]
    with pytest.raises(MappingError):
        encode_x400_88(ORAddress.parse(ADDRESSES_88[-1]), full)
    with pytest.raises(MappingError):  # a gateway address that is itself 88-only
        encode_x400_88(short, ORAddress.parse("/CN=gw/O=gw/ADMD= /C=GB/"))


@pytest.mark.parametrize("value", ["not an address", "(999)"])
def test_bad_x400_88_value(value: str) -> None:  # D-3
    bad = ORAddress(country="GB", admd=" ", organization="gw",
                    ddas=(DomainDefinedAttribute(type="X400-88", value=value),))
    with pytest.raises(MappingError):
        decode_x400_88(bad)


def test_no_x400_88() -> None:
    plain = ORAddress.parse("/DD.X400-C1=x/O=W/ADMD=B/C=GB/")  # overflow alone is nothing
    assert decode_x400_88(plain) is None and upgrade_address(plain) == plain


# -------------------------------------------------------------------- in the address mapper

def test_cn_without_room_goes_in_x400_88() -> None:  # D-3 §3.1 rather than failing
    addr = ORAddress.parse("/DD.a=1/DD.b=2/DD.c=3/DD.d=4/CN=Jo/O=W/ADMD=B/C=GB/")
    result = X400Result(address=addr, steps=(), stage=1)
    with pytest.raises(MappingError):  # without the gateway's address: App B only
        downgrade_1984(result)
    down = downgrade_1984(result, RELAY)
    assert decode_x400_88(down.address) == addr
    assert down.steps[-1].rule == "RFC 1328 §3.1"
    teletex = replace_cn(ORAddress.parse("/O=W/ADMD=B/C=GB/"))
    assert downgrade_1984(X400Result(address=teletex, steps=(), stage=1)).address == teletex
    assert decode_x400_88(downgrade_1984(
        X400Result(address=teletex, steps=(), stage=1), RELAY).address) == teletex


def replace_cn(addr: ORAddress) -> ORAddress:
    return ORAddress(**{**{f: getattr(addr, f) for f in ("country", "admd", "organization")},
                        "teletex_common_name": "José"})


@pytest.mark.parametrize("text", ADDRESSES_88[:5])
def test_incoming_x400_88_maps_like_the_88_address(mapper: AddressMapper,
                                                   text: str) -> None:  # D-3 reverse
    addr = ORAddress.parse(text)
    carried = encode_x400_88(addr, RELAY)
    got = mapper.to_rfc822(carried)
    assert got.address == mapper.to_rfc822(addr).address
    assert got.steps[0].rule == "RFC 1328 §3.1"


def test_to_x400_for_84_peer_stays_84(mapper: AddressMapper) -> None:  # App B, D-3
    r = mapper.to_x400('"/CN=Jo Bloggs/O=Widget/ADMD=BTT/C=TC/"@gw.example.ac.uk',
                       Role.HEADER, x400_1984=True)
    assert is_1984_form(r.address) and r.address.dda("Common") == "Jo Bloggs"
    assert r.steps[-1].rule == "RFC 1328 §3.2"
