"""RFC 2163 (MCGAM in the DNS, PX RR): the label syntax, the X42D tree and lookups against a real
DNS server on loopback (tests/dnsserver.py serving tests/data/dns/*.zone).

Conformance IDs are those of CONFORMANCE.md §1.12 (S-1 ... S-9).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.name
import pytest

from bridge.errors import ConfigError
from bridge.mapping.dns import (
    DNSConfig,
    DNSSource,
    X42DSyntaxError,
    decode_label,
    encode_label,
    from_x400_in_domain_syntax,
    split_gate_flag,
    to_x400_in_domain_syntax,
    x42d_name,
)
from bridge.mapping.orprefix import ORPrefix
from bridge.mapping.source import Entry, LookupDeferred, MappingSource, Table
from tests.dnsserver import DNSServer, Mode

ZONES = Path(__file__).parent / "data" / "dns"


def P(dmn: str) -> ORPrefix:
    """An O/R prefix from App F dmn-or-address text (most significant on the right)."""
    return ORPrefix.from_dmn(dmn)


def test_dns_source_is_a_mapping_source() -> None:
    source: MappingSource = DNSSource(DNSConfig(nameservers=("127.0.0.1",)))  # checked by mypy
    assert callable(source.lookup_domain) and callable(source.lookup_or)


def source_for(server: DNSServer, **kwargs: object) -> DNSSource:
    options: dict[str, object] = {"timeout": 1.0, "lifetime": 2.0, "cache_size": 0}
    options.update(kwargs)
    return DNSSource(DNSConfig(nameservers=(server.host,), port=server.port,
                               **options))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def server() -> Iterator[DNSServer]:
    with DNSServer.from_directory(ZONES) as running:
        yield running


@pytest.fixture
def src(server: DNSServer) -> DNSSource:
    server.queries.clear()
    return source_for(server)


def asked(server: DNSServer) -> list[str]:
    return [q.qname for q in server.queries]


# ============================================================================ §4.2 syntax


# (MCGAM attribute, DNS store translation) -- every row of the §4.2.1 example table.
RFC_4_2_1_EXAMPLES = [
    (("PRMD", None), "PRMD"),  # missing attribute
    (("ADMD", " "), "ADMDb"),  # blank attribute
    (("ADMD", "400-net"), "ADMD-400-h-net"),  # hyphen mapping
    (("PRMD", "UK.BD"), "PRMD-UK-d-BD"),  # quoted dot mapping (App F "UK\.BD")
    (("O", "ACME Inc."), "O-ACME-b-Inc-d"),  # blank & final hyphen
    (("PRMD", "main-400-a"), "PRMD-main-h-400-h-a"),  # hyphen mapping
    (("O", "-123-b"), "O--h-123-h-b"),  # hyphen mapping
    (("OU", "123-x"), "OU-123-h-x"),  # hyphen mapping
    (("PRMD", "Adis+co"), "PRMD-Adis-043-co"),  # 3digit mapping
]


@pytest.mark.parametrize(("attribute", "label"), RFC_4_2_1_EXAMPLES)
def test_rfc2163_4_2_1_label_examples(attribute: tuple[str, str | None], label: str) -> None:
    """RFC 2163 §4.2.1: the example table, in both directions (flow charts 1 and 2, §4.2.2)."""
    assert encode_label(*attribute) == label  # S-3
    assert decode_label(label) == attribute  # S-3


@pytest.mark.parametrize(("mcgam", "dns_form"), [
    ("OU$uuu.O$@.PRMD$ppp\\.rrr.ADMD$aaa ddd-mmm.C$cc",
     "OU-uuu.O.PRMD-ppp-d-rrr.ADMD-aaa-b-ddd-h-mmm.C-cc"),
    ("OU$sales dept\\..O$@.PRMD$ACME.ADMD$ .C$GB",
     "OU-sales-b-dept-d.O.PRMD-ACME.ADMDb.C-GB"),
])
def test_rfc2163_4_2_1_rule_examples(mcgam: str, dns_form: str) -> None:
    """RFC 2163 §4.2.1: the two whole-rule examples (``OU$uuu.O$@...`` and
    ``OU$sales dept\\..O$@...``)."""
    assert to_x400_in_domain_syntax(P(mcgam)) == dns_form  # S-3
    assert from_x400_in_domain_syntax(dns_form) == P(mcgam)  # S-3
    assert from_x400_in_domain_syntax(dns_form + ".") == P(mcgam)  # fully qualified (§4)


def test_rfc2163_4_2_2_left_to_right_and_case() -> None:
    """RFC 2163 §4.2.2: parse left to right -- an escape consumes its closing hyphen, so
    ``-h--d-`` is two escapes; DNS labels are case independent, so are the codes."""
    assert encode_label("O", "a-.b") == "O-a-h--d-b"  # S-3
    assert decode_label("O-a-h--d-b") == ("O", "a-.b")  # S-3
    assert decode_label("admdB") == ("ADMD", " ")
    assert decode_label("o") == ("O", None)
    assert decode_label("O-ACME-B-Inc-D") == ("O", "ACME Inc.")
    assert decode_label("PRMD-x-043") == ("PRMD", "x+")  # final hyphen of -043- omitted


@pytest.mark.parametrize("label", [
    "PRMD-a_b",  # "_" is not <alphanumhyphen>: it must be written -095-
    "PRMD-a-x-b",  # no escape "x"
    "PRMD-a-43-b",  # 3 digits exactly
    "PRMD-a-200-b",  # not IA5
    "PRMD-",  # no value
    "XYZ",  # not an <attr-label>, so not "omitted"
    "G",  # the §4.4 gate flag is not an attribute
])
def test_rfc2163_4_2_2_bad_labels(label: str) -> None:
    """RFC 2163 §4.2: labels that flow chart 2 cannot translate are errors, not guesses."""
    with pytest.raises(X42DSyntaxError):
        decode_label(label)


@pytest.mark.parametrize(("key", "value"), [("O", ""), ("O", "caf\u00e9"), ("~dda", "x")])
def test_rfc2163_4_2_1_unencodable(key: str, value: str) -> None:
    """RFC 2163 §4.2.1: an empty value would read back as omitted; only IA5 values and
    alphanumeric attribute types have a label form."""
    with pytest.raises(X42DSyntaxError):
        encode_label(key, value)


@pytest.mark.parametrize(("x400_domain", "key"), [
    ("ADMD$acme.C$fr", "ADMD-acme.X42D.fr."),
    ("PRMD$ux\\.av.ADMD$ .C$gb", "PRMD-ux-d-av.ADMDb.X42D.gb."),
    ("PRMD$ppb.ADMD$Dat 400.C$de", "PRMD-ppb.ADMD-Dat-b-400.X42D.de."),
])
def test_rfc2163_4_2_3_country_code_convention(x400_domain: str, key: str) -> None:
    """RFC 2163 §4.2.3: the <name> key drops ``C-cc`` and ends with ``X42D.cc.``."""
    assert x42d_name(P(x400_domain)) == dns.name.from_text(key)  # S-2


def test_rfc2163_4_3_case_a_name() -> None:
    """RFC 2163 §4.3 case A: ``PRMD$ab.ADMD$ac.C$fr#ab.fr#`` is stored at
    ``*.PRMD-ab.ADMD-ac.X42D.fr.`` with MAPX400 ``PRMD-ab.ADMD-ac.C-fr.``."""
    prefix = P("PRMD$ab.ADMD$ac.C$fr")
    owner = dns.name.Name((b"*", *x42d_name(prefix).labels))
    assert owner.to_text() == "*.PRMD-ab.ADMD-ac.X42D.fr."  # S-4
    assert to_x400_in_domain_syntax(prefix) + "." == "PRMD-ab.ADMD-ac.C-fr."  # S-4


def test_x42d_name_placement_is_configurable() -> None:
    """RFC 2163 §3 places X42D under each country TLD; a private tree can hold it instead."""
    name = x42d_name(P("PRMD$ab.ADMD$ac.C$FR"), label="X400",
                     origin=dns.name.from_text("mcgam.test."))
    assert name.to_text() == "PRMD-ab.ADMD-ac.X400.fr.mcgam.test."


@pytest.mark.parametrize("prefix", [
    ORPrefix((("ADMD", "a"),)),  # no country
    ORPrefix((("C", "222"), ("ADMD", "a"))),  # X.121 numeric country: no TLD (§3)
    ORPrefix((("C", " "),)),
    ORPrefix((("C", "it"), ("O", "x" * 64))),  # a label longer than 63 octets
])
def test_x42d_name_impossible(prefix: ORPrefix) -> None:
    with pytest.raises(X42DSyntaxError):
        x42d_name(prefix)


def test_rfc2163_4_4_gate_flag() -> None:
    """RFC 2163 §4.4: the ``.G.`` post-fix marks gate1/gate2 data and is removed before use."""
    name, gate = split_gate_flag(dns.name.from_text("ADMD-XKW-h-Mail.C-it.G."))
    assert gate and name == dns.name.from_text("ADMD-XKW-h-Mail.C-it.")  # S-5
    name, gate = split_gate_flag(dns.name.from_text("ADMD-acme.C-it."))
    assert not gate and name == dns.name.from_text("ADMD-acme.C-it.")  # S-5


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError):
        DNSConfig(nameservers=("127.0.0.1",), port=0)
    with pytest.raises(ConfigError):
        DNSConfig(nameservers=("127.0.0.1",), lifetime=0)
    with pytest.raises(ConfigError):
        DNSConfig(nameservers=("127.0.0.1",), x42d_label="X.42D")
    with pytest.raises(ConfigError):
        DNSConfig(nameservers=("ns.example",))
    with pytest.raises(ConfigError):
        DNSConfig(nameservers=("127.0.0.1",), x42d_origin="a..b")


# ============================================================================ §4.1 wildcards


def test_rfc2163_4_1_wildcard_rule(src: DNSSource) -> None:
    """RFC 2163 §4.1: ``*.net2.it. IN PX 10 net2.it. PRMD-net2.ADMD-p400.C-it.`` is the usual
    implicit-wildcard MIXER rule ``net2.it#PRMD$net2.ADMD$p400.C$it#``."""
    rule = P("PRMD$net2.ADMD$p400.C$it")
    for domain in ("cd.net2.it", "a.b.net2.it"):
        hit = src.lookup_domain(Table.TABLE2, domain)  # S-4
        assert hit is not None and (hit.domain, hit.prefix) == ("net2.it", rule)


def test_rfc2163_4_1_exact_rule(src: DNSSource, server: DNSServer) -> None:
    """RFC 2163 §4.1: ``ab.net2.it. IN PX 10 ab.net2.it. O-ab.PRMD-net2.ADMDb.C-it.`` is valid
    only for an exact match of ``ab.net2.it``; below it the ``*.net2.it`` rule applies."""
    hit = src.lookup_domain(Table.TABLE2, "ab.net2.it")
    assert hit is not None
    assert (hit.domain, hit.prefix) == ("ab.net2.it", P("O$ab.PRMD$net2.ADMD$ .C$it"))
    server.queries.clear()
    hit = src.lookup_domain(Table.TABLE2, "x.ab.net2.it")
    assert hit is not None and hit.prefix == P("PRMD$net2.ADMD$p400.C$it")
    # x.ab.net2.it does not exist (RFC 4592: ab.net2.it blocks *.net2.it), so the walk asks
    # the wildcard owner of each shorter rule.
    assert asked(server) == ["x.ab.net2.it.", "*.ab.net2.it.", "*.net2.it."]


def test_existing_name_blocks_dns_wildcard_but_not_the_rule(src: DNSSource) -> None:
    """RFC 4592 §2.2: ``host.block.example`` (an A record) stops ``*.block.example`` from
    covering ``x.host.block.example``; the MIXER rule still covers it (RFC 2163 §4.1)."""
    for domain in ("x.host.block.example", "host.block.example"):
        hit = src.lookup_domain(Table.TABLE2, domain)
        assert hit is not None and hit.domain == "block.example"


def test_rfc2163_4_3_rule_covers_its_own_domain(src: DNSSource) -> None:
    """RFC 2163 §4.3 case B: ``ab.fr#PRMD$ab.ADMD$ac.C$fr#`` becomes ``*.ab.fr. IN PX 50 ab.fr.
    PRMD-ab.ADMD-ac.C-fr.``; as a MIXER rule it maps ``ab.fr`` itself too (the DNS wildcard
    alone would not), so ``*.ab.fr`` is asked after ``ab.fr``."""
    for domain in ("ab.fr", "www.ab.fr"):
        hit = src.lookup_domain(Table.TABLE2, domain)  # S-4
        assert hit is not None
        assert (hit.domain, hit.prefix) == ("ab.fr", P("PRMD$ab.ADMD$ac.C$fr"))


# ============================================================================ §4.3 the DNS file


@pytest.mark.parametrize(("address", "domain", "rule"), [
    ("PRMD$x.ADMD$acme.C$it", "it", "ADMD$acme.C$it"),
    ("O$o.PRMD$accred.ADMD$tx400.C$it", "accred.it", "PRMD$accred.ADMD$tx400.C$it"),
    ("OU$cs.O$u-newcity.PRMD$x4net.ADMD$ .C$it", "cs.ncty.it",
     "O$u-newcity.PRMD$x4net.ADMD$ .C$it"),
])
def test_rfc2163_4_3_table1(src: DNSSource, address: str, domain: str, rule: str) -> None:
    """RFC 2163 §4.3: the 'MIXER table 1' part of the example DNS file, e.g.
    ``*.ADMD-acme.X42D.it. IN PX 50 it. ADMD-acme.C-it.`` = ``ADMD$acme.C$it#it#``."""
    hit = src.lookup_or(Table.TABLE1, P(address))  # S-2, S-4
    assert hit is not None and (hit.domain, hit.prefix) == (domain, P(rule))
    assert src.lookup_or(Table.GATE1, P(address)) is None  # S-5: table, not gate


@pytest.mark.parametrize(("domain", "keyword", "rule"), [
    ("x.nrc.it", "nrc.it", "PRMD$nrc.ADMD$acme.C$it"),
    ("ninp.it", "ninp.it", "O$@.PRMD$ninp.ADMD$acme.C$it"),
    ("host.bd.it", "bd.it", "PRMD$uk\\.bd.ADMD$ .C$it"),
])
def test_rfc2163_4_3_table2(src: DNSSource, domain: str, keyword: str, rule: str) -> None:
    """RFC 2163 §4.3: the 'MIXER table 2' part of the example DNS file, e.g.
    ``*.bd.it. IN PX 50 bd.it. PRMD-uk-d-bd.ADMDb.C-it.`` = ``bd.it#PRMD$uk\\.bd.ADMD$ .C$it#``."""
    hit = src.lookup_domain(Table.TABLE2, domain)  # S-4
    assert hit is not None and (hit.domain, hit.prefix) == (keyword, P(rule))
    assert src.lookup_domain(Table.GATE2, domain) is None  # S-5


@pytest.mark.parametrize(("address", "gateway", "rule"), [
    ("PRMD$p.ADMD$XKW-Mail.C$it", "XKW-gateway.it", "ADMD$XKW-Mail.C$it"),
    ("O$o.PRMD$Super Inc.ADMD$ .C$it", "GlobalGw.it", "PRMD$Super Inc.ADMD$ .C$it"),
])
def test_rfc2163_4_3_gate1(src: DNSSource, address: str, gateway: str, rule: str) -> None:
    """RFC 2163 §4.3/§4.4: the 'MIXER Gate 1 Table' part, flagged ``.G.``:
    ``*.ADMD-XKW-h-Mail.X42D.it. IN PX 50 XKW-gateway.it. ADMD-XKW-h-Mail.C-it.G.``."""
    hit = src.lookup_or(Table.GATE1, P(address))  # S-5
    assert hit is not None and (hit.domain, hit.prefix) == (gateway, P(rule))
    assert hit.table is Table.GATE1
    # §4.4: the authority decided "gate1" for this X.400 domain, so there is no table1 rule.
    assert src.lookup_or(Table.TABLE1, P(address)) is None  # S-5


@pytest.mark.parametrize(("domain", "rule"), [
    ("my.it", "OU$int-gw.O$@.PRMD$ninp.ADMD$acme.C$it"),
    # The RFC's table form says "C$t"; its DNS form (used here) has "C-it".
    ("co.it", "O$mhs-relay.PRMD$x4net.ADMD$ .C$it"),
])
def test_rfc2163_4_3_gate2(src: DNSSource, domain: str, rule: str) -> None:
    """RFC 2163 §4.3/§4.4: the 'MIXER Gate 2 Table' part:
    ``my.it. IN PX 50 my.it. OU-int-h-gw.O.PRMD-ninp.ADMD-acme.C-it.G.`` (exact owners)."""
    hit = src.lookup_domain(Table.GATE2, domain)  # S-5
    assert hit is not None and (hit.domain, hit.prefix) == (domain, P(rule))
    assert src.lookup_domain(Table.TABLE2, domain) is None  # S-5
    # The owners are exact (no "*."): §4.1 makes them rules for that name only.
    assert src.lookup_domain(Table.GATE2, "sub." + domain) is None  # S-6


def test_rfc2163_4_3_case_a_lookup(src: DNSSource) -> None:
    """RFC 2163 §4.3 case A: ``*.PRMD-ab.ADMD-ac.X42D.fr. IN PX 50 ab.fr.
    PRMD-ab.ADMD-ac.C-fr.`` maps ``PRMD$ab.ADMD$ac.C$fr`` and longer O/R prefixes to ab.fr."""
    for address in ("PRMD$ab.ADMD$ac.C$fr", "OU$x.O$y.PRMD$ab.ADMD$ac.C$fr"):
        hit = src.lookup_or(Table.TABLE1, P(address))  # S-2, S-4
        assert hit is not None and (hit.domain, hit.prefix) == ("ab.fr", P("PRMD$ab.ADMD$ac.C$fr"))


@pytest.mark.parametrize(("address", "domain"), [
    ("ADMD$acme.C$fr", "acme.fr"),
    ("O$o.PRMD$ux\\.av.ADMD$ .C$gb", "ux.av.gb"),
    ("PRMD$ppb.ADMD$Dat 400.C$de", "ppb.de"),
])
def test_rfc2163_4_2_3_keys_in_dns(src: DNSSource, address: str, domain: str) -> None:
    """RFC 2163 §4.2.3: the three <name> key examples, each holding a (made-up) rule."""
    hit = src.lookup_or(Table.TABLE1, P(address))  # S-2, S-3
    assert hit is not None and hit.domain == domain


# ============================================================================ §5.1 queries


def test_rfc2163_5_1_table2_query(src: DNSSource, server: DNSServer) -> None:
    """RFC 2163 §5.1: SUN.CCE.NRC.IT is answered by ``*.cce.nrc.it. IN PX 50 cce.nrc.it.
    O-cce.PRMD-nrc.ADMD-acme.C-it.`` with a single query (and not by ``*.nrc.it``)."""
    hit = src.lookup_domain(Table.TABLE2, "SUN.CCE.NRC.IT")  # S-7
    assert hit is not None
    assert (hit.domain, hit.prefix) == ("cce.nrc.it", P("O$cce.PRMD$nrc.ADMD$acme.C$it"))
    assert asked(server) == ["SUN.CCE.NRC.IT."]


def test_rfc2163_5_1_gate2_query(src: DNSSource) -> None:
    """RFC 2163 §5.1: ``*.mw. IN PX 50 mw. O-cce.PRMD-nrc.ADMD-acme.C-it.G.`` is a gate2 rule
    for every domain under MW: use DDA encoding relative to that O/R address."""
    hit = src.lookup_domain(Table.GATE2, "host.univ.mw")  # S-5
    assert hit == Entry(
        Table.GATE2, "mw", P("O$cce.PRMD$nrc.ADMD$acme.C$it"),
        "dns:host.univ.mw. PX 50 mw. O-cce.PRMD-nrc.ADMD-acme.C-it.G.")
    assert src.lookup_domain(Table.TABLE2, "host.univ.mw") is None  # S-5


def test_rfc2163_5_1_table1_query(src: DNSSource, server: DNSServer) -> None:
    """RFC 2163 §5.1: ``C=de; ADMD=pkz; PRMD=nfc; O=top;`` is queried as
    ``O-top.PRMD-nfc.ADMD-pkz.X42D.de.`` and answered by ``*.ADMD-pkz.X42D.de. IN PX 50
    pkz.de. ADMD-pkz.C-de.``."""
    hit = src.lookup_or(Table.TABLE1, P("O$top.PRMD$nfc.ADMD$pkz.C$de"))  # S-2, S-7
    assert hit is not None and (hit.domain, hit.prefix) == ("pkz.de", P("ADMD$pkz.C$de"))
    assert asked(server) == ["O-top.PRMD-nfc.ADMD-pkz.X42D.de."]


def test_rfc2163_5_1_gate1_query(src: DNSSource) -> None:
    """RFC 2163 §5.1: ``*.ADMD-PWT400.X42D.us. IN PX 50 intGw.com. ADMD-PWT400.C-us.G.``:
    a gate1 rule -- LHS-encode and send to intGw.com."""
    hit = src.lookup_or(Table.GATE1, P("PRMD$p.ADMD$PWT400.C$US"))  # S-5
    assert hit is not None
    assert (hit.domain, hit.prefix, hit.table) == ("intGw.com", P("ADMD$PWT400.C$us"),
                                                   Table.GATE1)
    assert src.lookup_or(Table.TABLE1, P("PRMD$p.ADMD$PWT400.C$US")) is None  # S-5


# ============================================================================ longest match


def test_x42d_exact_owner_is_for_that_prefix_only(src: DNSSource) -> None:
    """RFC 2163 §4.1 in the X42D tree: ``PRMD-exact.ADMD-a.X42D.zz.`` (no ``*``) maps
    C=zz;A=a;P=exact only; a longer prefix falls back to ``*.ADMD-a.X42D.zz``."""
    hit = src.lookup_or(Table.TABLE1, P("PRMD$exact.ADMD$a.C$zz"))
    assert hit is not None and hit.domain == "exact.example"
    hit = src.lookup_or(Table.TABLE1, P("O$o.PRMD$exact.ADMD$a.C$zz"))
    assert hit is not None and (hit.domain, hit.prefix) == ("a.example", P("ADMD$a.C$zz"))


def test_x42d_longest_match_walks_shorter_prefixes(src: DNSSource, server: DNSServer) -> None:
    """RFC 2163 §5 / App F §4: the longest prefix with a rule wins; each shorter rule is asked
    at its wildcard owner, longest first."""
    hit = src.lookup_or(Table.TABLE1, P("OU$u.O$o.PRMD$exact.ADMD$a.C$zz"))
    assert hit is not None and hit.domain == "a.example"
    assert asked(server) == [
        "OU-u.O-o.PRMD-exact.ADMD-a.X42D.zz.",  # NXDOMAIN: so *.OU-u... is not asked
        "*.O-o.PRMD-exact.ADMD-a.X42D.zz.",
        "*.PRMD-exact.ADMD-a.X42D.zz.",
        "*.ADMD-a.X42D.zz.",
    ]


def test_x42d_omitted_and_blank_levels(src: DNSSource) -> None:
    """RFC 2163 §4.2.1: ``O$@`` is the label ``O``, ``ADMD$<blank>`` the label ``ADMDb``."""
    address = ORPrefix((("C", "zz"), ("ADMD", " "), ("PRMD", "om"), ("O", None), ("OU", "x")))
    hit = src.lookup_or(Table.TABLE1, address)  # S-3
    assert hit is not None and hit.domain == "om.example"
    assert hit.prefix == ORPrefix(address.parts[:4])


@pytest.mark.parametrize(("table", "key", "expect"), [
    (Table.TABLE2, "x.pref.example", "PRMD$first.ADMD$a.C$zz"),
    (Table.TABLE1, "O$o.PRMD$pref.ADMD$a.C$zz", "first.example"),
])
def test_rfc2163_4_1_preference(src: DNSSource, table: Table, key: str, expect: str) -> None:
    """RFC 2163 §4.1: PREFERENCE has the meaning it has for MX -- lower values are preferred."""
    if table is Table.TABLE2:
        hit = src.lookup_domain(table, key)  # S-6
        assert hit is not None and hit.prefix == P(expect)
    else:
        hit = src.lookup_or(table, P(key))  # S-6
        assert hit is not None and hit.domain == expect


def test_rfc2163_4_4_preferred_record_decides_table_or_gate(src: DNSSource) -> None:
    """RFC 2163 §4.4: a name has a table entry or a gate entry, never both; where a zone holds
    both, the preferred record (here the gate2 one) is the authority's answer."""
    hit = src.lookup_domain(Table.GATE2, "x.mixed.example")  # S-5
    assert hit is not None and hit.prefix == P("PRMD$gw.ADMD$a.C$zz")
    assert src.lookup_domain(Table.TABLE2, "x.mixed.example") is None  # S-5


def test_longer_rule_of_the_other_table_stops_the_walk(src: DNSSource) -> None:
    """RFC 2163 §4.4: the longest match is a gate2 rule, so there is no table2 mapping -- the
    shorter table2 rule ``*.fallback.example`` is not used."""
    assert src.lookup_domain(Table.TABLE2, "x.gate.fallback.example") is None  # S-5
    hit = src.lookup_domain(Table.GATE2, "x.gate.fallback.example")
    assert hit is not None and hit.domain == "gate.fallback.example"
    hit = src.lookup_domain(Table.TABLE2, "x.other.fallback.example")
    assert hit is not None and hit.domain == "fallback.example"


def test_malformed_mapx400(src: DNSSource, caplog: pytest.LogCaptureFixture) -> None:
    """RFC 2163 §4.2: a MAPX400 that is not x400-in-domain-syntax is logged and skipped; the
    next preferred record of the same owner is used, a shorter rule is not."""
    hit = src.lookup_domain(Table.TABLE2, "x.bad.example")
    assert hit is not None and hit.prefix == P("PRMD$good.ADMD$a.C$zz")
    assert src.lookup_domain(Table.TABLE2, "x.bad.fallback.example") is None
    assert "PRMD-a_b" in caplog.text


# ============================================================================ no mapping


@pytest.mark.parametrize("domain", [
    "nowhere.example",  # NXDOMAIN at every level
    "plain.example",  # NOERROR, no PX data
    "x.y.de",  # a country zone without table2 rules
])
def test_no_rule_is_none(src: DNSSource, domain: str) -> None:
    """RFC 2163 §5: "failure (query failed, mapping not found)" is a result, not an error."""
    assert src.lookup_domain(Table.TABLE2, domain) is None
    assert src.lookup_domain(Table.GATE2, domain) is None


def test_no_x400_rule_is_none(src: DNSSource) -> None:
    assert src.lookup_or(Table.TABLE1, P("PRMD$p.ADMD$none.C$fr")) is None
    assert src.lookup_or(Table.GATE1, P("PRMD$p.ADMD$none.C$zz")) is None


def test_prefixes_without_x42d_name_are_not_asked(src: DNSSource, server: DNSServer) -> None:
    """RFC 2163 §3: the X.400 tree hangs under the ISO country TLD; a numeric country code has
    none, so nothing is asked."""
    assert src.lookup_or(Table.TABLE1, P("ADMD$a.C$222")) is None
    assert src.lookup_domain(Table.TABLE2, "bad..name") is None
    assert asked(server) == []


def test_wrong_direction_is_a_programming_error(src: DNSSource) -> None:
    with pytest.raises(ValueError):
        src.lookup_domain(Table.TABLE1, "net2.it")
    with pytest.raises(ValueError):
        src.lookup_or(Table.GATE2, P("ADMD$a.C$zz"))


# ============================================================================ §5 timeouts, errors


def test_rfc2163_5_timeout_defers() -> None:
    """RFC 2163 §5, RFC 2156 §4.2.1: a timeout delays the operation; it is not "no mapping".
    The lookup gives up within the configured lifetime."""
    with DNSServer([], mode=Mode.SILENT) as silent:
        src = source_for(silent, timeout=0.1, lifetime=0.4)
        start = time.monotonic()
        with pytest.raises(LookupDeferred) as info:
            src.lookup_domain(Table.TABLE2, "x.net2.it")  # S-7
        assert time.monotonic() - start < 0.4 + 1.0
        assert isinstance(info.value.__cause__, dns.exception.Timeout)
        assert silent.queries  # it was asked, and did not answer


def test_rfc2163_5_servfail_defers(caplog: pytest.LogCaptureFixture) -> None:
    """RFC 2163 §5: "If a DNS error code is returned, an error message should be logged and
    the gateway operation is delayed as for timeout"."""
    with DNSServer.from_directory(ZONES, mode=Mode.SERVFAIL) as failing:
        src = source_for(failing)
        with pytest.raises(LookupDeferred) as info:
            src.lookup_or(Table.TABLE1, P("PRMD$x.ADMD$acme.C$it"))  # S-7
    assert info.value.smtp.code == 451
    assert "X42D.it" in caplog.text


def test_rfc2163_5_error_during_walk_defers() -> None:
    """RFC 2163 §5: a SERVFAIL for a shorter rule's name defers the lookup; it does not fall
    through to "no mapping" or to an even shorter rule."""
    with DNSServer.from_directory(ZONES, servfail_names=["*.net2.it."]) as partly:
        src = source_for(partly)
        assert src.lookup_domain(Table.TABLE2, "ab.net2.it") is not None  # exact, no walk
        with pytest.raises(LookupDeferred):
            src.lookup_domain(Table.TABLE2, "x.ab.net2.it")  # S-7


def test_refused_defers(src: DNSSource) -> None:
    """A name outside the server's zones is REFUSED: a DNS error code, so deferred (§5)."""
    with pytest.raises(LookupDeferred):
        src.lookup_domain(Table.TABLE2, "host.invalid")


# ============================================================================ transport, cache


def test_truncated_answer_is_retried_over_tcp(src: DNSSource, server: DNSServer) -> None:
    """RFC 1035 §4.2.1: 20 PX records do not fit in 512 octets; TC=1 makes the resolver ask
    again over TCP (RFC 7766), and the lowest PREFERENCE still wins (RFC 2163 §4.1)."""
    hit = src.lookup_domain(Table.TABLE2, "a.big.example")  # S-1, S-6
    assert hit is not None
    assert hit.prefix == P("OU$unit1.O$organisation.PRMD$big.ADMD$a.C$zz")
    assert [q.transport for q in server.queries] == ["udp", "tcp"]


def test_cache_answers_repeated_lookups(server: DNSServer) -> None:
    """Positive and negative answers are kept for their TTL (RFC 2308 for NXDOMAIN/NODATA)."""
    src = source_for(server, cache_size=100)
    first = src.lookup_domain(Table.TABLE2, "x.ab.net2.it")
    assert src.lookup_domain(Table.TABLE2, "nowhere.example") is None
    server.queries.clear()
    assert src.lookup_domain(Table.TABLE2, "x.ab.net2.it") == first
    assert src.lookup_domain(Table.TABLE2, "nowhere.example") is None
    assert server.queries == []


def test_server_answers_dns_wildcards_per_rfc4592(server: DNSServer) -> None:
    """The test server itself: synthesis from ``*`` under the closest encloser; the literal
    ``*`` name; an empty non-terminal is NODATA; a blocked name is NXDOMAIN."""
    import dns.message
    import dns.rcode

    def ask(name: str) -> tuple[str, list[str]]:
        response = server.answer(dns.message.make_query(name, "PX"))
        return (dns.rcode.to_text(response.rcode()),
                [rrset.name.to_text() for rrset in response.answer])

    assert ask("a.b.net2.it.") == ("NOERROR", ["a.b.net2.it."])
    assert ask("*.net2.it.") == ("NOERROR", ["*.net2.it."])
    assert ask("net2.it.") == ("NOERROR", [])  # empty non-terminal
    assert ask("x.ab.net2.it.") == ("NXDOMAIN", [])  # ab.net2.it is the closest encloser
    assert ask("host.invalid.") == ("REFUSED", [])
