"""Issue 11 item 9: every path on a MAIL FROM / RCPT TO line is RFC 5321 §4.1.2 (RFC 6531 §3.3
with SMTPUTF8), so an originator with a blank ADMD (``"/S=Smith/ADMD= /C=GB/"@gw``) is sent.

The oracle is the RFC's ABNF written out again here as regular expressions (independent of
bridge/smtp/path.py): whatever local part :func:`smtp_path` emits must match it and decode
back to the local part it was given.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import AddressSyntaxError
from bridge.mapping.address import AddressMapper, GatewayIdentity
from bridge.mapping.rfc822 import format_address
from bridge.mapping.tables import MappingTables
from bridge.model.ortext import parse_or_address
from bridge.smtp.path import (
    PathError,
    check_domain,
    parse_mailbox,
    quote_local_part,
    smtp_path,
)

# ------------------------------------------------------------------ the oracle (RFC 5321 ABNF)

_NON_ASCII = "\u0080-\ud7ff\ue000-\U0010ffff"  # RFC 6532 §3.1 UTF8-non-ascii, as code points
ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"  # RFC 5321 §4.1.2 Atom = 1*atext (RFC 5322 §3.2.3)
QTEXT = r"[\x20\x21\x23-\x5b\x5d-\x7e]"  # qtextSMTP = %d32-33 / %d35-91 / %d93-126
QPAIR = r"\\[\x20-\x7e]"  # quoted-pairSMTP = %d92 %d32-126
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"  # sub-domain = Let-dig [Ldh-str]


def mailbox_re(utf8: bool) -> re.Pattern[str]:
    """Mailbox = Local-part "@" Domain; Local-part = Dot-string / Quoted-string (§4.1.2);
    RFC 6531 §3.3: atext =/ UTF8-non-ascii, qtextSMTP =/ UTF8-non-ascii."""
    atext = ATEXT[:-1] + _NON_ASCII + "]" if utf8 else ATEXT
    qtext = QTEXT[:-1] + _NON_ASCII + "]" if utf8 else QTEXT
    dot_string = rf"{atext}+(?:\.{atext}+)*"
    quoted = rf'"(?:{qtext}|{QPAIR})*"'
    return re.compile(rf"(?P<local>{dot_string}|{quoted})@(?P<domain>{LABEL}(?:\.{LABEL})*)")


def oracle_local(path: bytes, *, utf8: bool = False) -> str:
    """The local part a path denotes, read with the oracle's grammar (fails the test if the
    path is not ``"<" Mailbox ">"``)."""
    text = path.decode("utf-8" if utf8 else "ascii")
    assert text.startswith("<") and text.endswith(">"), text
    match = mailbox_re(utf8).fullmatch(text[1:-1])
    assert match is not None, f"not an RFC 5321 Mailbox: {text!r}"
    local = match.group("local")
    if local.startswith('"'):
        return re.sub(r"\\(.)", r"\1", local[1:-1])
    return local


# ------------------------------------------------------------------ properties

#: Everything a Quoted-string can hold without SMTPUTF8: %d32-126.
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
#: With SMTPUTF8 also any non-ASCII code point that UTF-8 can encode (no surrogates).
UTF8_CHARS = st.one_of(PRINTABLE, st.characters(min_codepoint=0x80, max_codepoint=0xD7FF),
                       st.characters(min_codepoint=0xE000))


@settings(max_examples=500, deadline=None)
@given(local=st.text(PRINTABLE, max_size=80))
def test_any_printable_local_part_parses_back(local: str) -> None:
    """§4.1.2: the emitted Local-part matches the grammar and denotes the same local part;
    a local part that is a Dot-string goes unquoted (§4.1.2 "minimum quoting")."""
    path = smtp_path(format_address(local, "gw.example"))
    assert oracle_local(path) == local
    assert parse_mailbox(path.decode()[1:-1]) == (local, "gw.example")
    dot_string = re.fullmatch(rf"{ATEXT}+(?:\.{ATEXT}+)*", local) is not None
    assert path.startswith(b'<"') is not dot_string


@settings(max_examples=300, deadline=None)
@given(local=st.text(UTF8_CHARS, max_size=40))
def test_any_utf8_local_part_parses_back_under_smtputf8(local: str) -> None:
    """RFC 6531 §3.3: with SMTPUTF8 non-ASCII is atext and qtextSMTP."""
    path = smtp_path(f"{quote_local_part(local, utf8=True)}@gw.example", utf8=True)
    assert oracle_local(path, utf8=True) == local
    assert parse_mailbox(path.decode()[1:-1], utf8=True)[0] == local


@settings(max_examples=200, deadline=None)
@given(head=st.text(PRINTABLE, max_size=10), tail=st.text(PRINTABLE, max_size=10),
       bad=st.sampled_from(["\r", "\n", "\x00", "\t", "\x1b", "\x7f"]))
def test_what_no_path_can_hold_is_refused(head: str, tail: str, bad: str) -> None:
    """Neither qtextSMTP nor quoted-pairSMTP holds a control character (CR, LF, NUL, TAB,
    DEL ...): refused, whatever surrounds it."""
    with pytest.raises(PathError):
        smtp_path(format_address(head + bad + tail, "gw.example"))


@settings(max_examples=100, deadline=None)
@given(local=st.text(UTF8_CHARS, min_size=1, max_size=20).filter(lambda t: not t.isascii()))
def test_non_ascii_needs_smtputf8(local: str) -> None:
    """RFC 6531 §3.2: without SMTPUTF8 a path is ASCII."""
    with pytest.raises(PathError, match="SMTPUTF8|not allowed"):
        smtp_path(format_address(local, "gw.example"))


# ------------------------------------------------------------------ RFC 2156 std-or local parts

GATEWAY = GatewayIdentity(domain="gw.example",
                          or_address=parse_or_address("/O=gateway/PRMD=bridge/ADMD= /C=GB/"))
TABLES = Path(__file__).parent / "data" / "mappings" / "rfc2156"


@pytest.mark.parametrize(("x400", "std_or", "domain"), [
    # issue 11: the originator PP sent, blank ADMD, no MCGAM: std-or at the local gateway
    ("/G=John/S=Smith/O=Sales/PRMD=Acme/ADMD= /C=GB/",
     "/G=John/S=Smith/O=Sales/PRMD=Acme/ADMD= /C=GB/", "gw.example"),
    # RFC 2156 §4.6.2.1 (X400-Received example): an MTA's O/R address with a blank ADMD
    ("/PRMD=uk.ac/ADMD= /C=gb/", "/PRMD=uk.ac/ADMD= /C=gb/", "gw.example"),
    # RFC 1685's F.401 text with "A= " (RFC 2156 §4.1.3 input), and C without ADMD (§4.1.3)
    ("G=Jo; S=Bloggs; O=Org; P=Pm; A= ; C=GB",
     "/G=Jo/S=Bloggs/O=Org/PRMD=Pm/ADMD= /C=GB/", "gw.example"),
    ("/S=Smith/PRMD=Acme/C=GB/", "/S=Smith/PRMD=Acme/ADMD= /C=GB/", "gw.example"),
    # RFC 2156 §5.3.8's DR example under a blank ADMD
    ("/I=j/S=nosuchuser/OU=dle/O=cambridge/PRMD=DGC/ADMD= /C=GB/",
     "/I=j/S=nosuchuser/OU=dle/O=cambridge/PRMD=DGC/ADMD= /C=GB/", "gw.example"),
    # RFC 2156 §4.3.5 examples 2 and 3: spaces in values, under an MCGAM
    ("/S=renseignements/O=Region Parisienne/PRMD=autoroutes/ADMD=atlas/C=fr/",
     "/S=renseignements/O=Region Parisienne/", "autoroutes.fr"),
    ("/DD.cap=20100/DD.ph1=Via Larga 11/DD.city=Milano/S=Rossi/ADMD=PtPostel/C=it/",
     "/DD.cap=20100/DD.ph1=Via Larga 11/DD.city=Milano/S=Rossi/", "ptpostel.it"),
])
def test_rfc2156_std_or_local_parts_go_on_the_command_line(x400: str, std_or: str,
                                                          domain: str) -> None:
    """RFC 2156 §4.3.5 B5 writes the std-or quoted; the path carries it as a Quoted-string
    (RFC 5321 §4.1.2), it reads back as the same std-or, and the address on the command line
    maps back to the same O/R address (§4.3.4 Stage I)."""
    mapper = AddressMapper(MappingTables.load(TABLES), GATEWAY)
    rfc822 = mapper.to_rfc822(parse_or_address(x400)).address
    assert rfc822 == f'"{std_or}"@{domain}'
    path = smtp_path(rfc822)
    assert path == f'<"{std_or}"@{domain}>'.encode()
    assert oracle_local(path) == std_or
    assert mapper.to_x400(path.decode()[1:-1]).address == parse_or_address(x400)


# ------------------------------------------------------------------ the rest of the grammar


@pytest.mark.parametrize(("address", "path"), [
    ("", b"<>"),  # §4.1.1.2 the null reverse-path
    ("bob@example.net", b"<bob@example.net>"),
    ("bob@example.net.", b"<bob@example.net>"),  # no root dot on a command line (§2.3.5)
    # an unquoted local part that is no Dot-string is quoted
    ("/S=Smith/ADMD= /C=GB/@gw.example", b'<"/S=Smith/ADMD= /C=GB/"@gw.example>'),
    ("a..b@x.example", b'<"a..b"@x.example>'),
    (".a@x.example", b'<".a"@x.example>'),
    # RFC 5322 §3.4.1 words: "a b".c is the local part a b.c
    ('"a b".c@x.example', b'<"a b.c"@x.example>'),
    # minimum quoting: a quoted Dot-string loses its quotes; only " and \\ are escaped
    ('"bob"@x.example', b"<bob@x.example>"),
    ('"a\\"b\\\\c d"@x.example', b'<"a\\"b\\\\c d"@x.example>'),
    ('"@"@x.example', b'<"@"@x.example>'),
    ('""@x.example', b'<""@x.example>'),
    # §4.1.3 address literals
    ("u@[192.0.2.1]", b"<u@[192.0.2.1]>"),
    ("u@[IPv6:2001:db8::1]", b"<u@[IPv6:2001:db8::1]>"),
    ("u@[x-tag:any-thing]", b"<u@[x-tag:any-thing]>"),
    # §4.1.2 A-d-l (source route; discouraged by §3.6.1, still a valid path)
    ("@a.example,@b.example:u@c.example", b"<@a.example,@b.example:u@c.example>"),
])
def test_paths(address: str, path: bytes) -> None:
    assert smtp_path(address) == path


@pytest.mark.parametrize("address", [
    "no-domain", "a@", "a@b_c.example", "a@-x.example", "a@x..example", "a@[192.0.2.256]",
    "a@[IPv6:::1%eth0]", "a@[IPv6:zz::1]", '"unterminated@x.example', "a@b@[1.2.3]",
    "@a.example:", "@a_b:u@x.example",
])
def test_bad_paths_are_refused(address: str) -> None:
    with pytest.raises(PathError) as info:
        smtp_path(address)
    assert isinstance(info.value, AddressSyntaxError) and isinstance(info.value, ValueError)


def test_u_labels_only_with_smtputf8() -> None:
    """RFC 6531 §3.3: sub-domain =/ U-label."""
    assert smtp_path("jörg@bücher.example", utf8=True) == "<jörg@bücher.example>".encode()
    with pytest.raises(PathError):
        check_domain("bücher.example")
    with pytest.raises(PathError):  # a lone surrogate is no UTF-8 (RFC 6532 §3.1)
        smtp_path("a\ud800@x.example", utf8=True)


@pytest.mark.parametrize("text", [
    '"a"b"@x.example', '"a\\"@x.example', "a b@x.example", ".a@x.example", "a.@x.example",
    '"tab\there"@x.example', "a@x.example.", "a@x",
])
def test_parse_mailbox_is_the_strict_grammar(text: str) -> None:
    """:func:`parse_mailbox` reads only RFC 5321 §4.1.2 (the repairs are smtp_path's);
    ``a@x`` is a valid one-label Domain."""
    if text == "a@x":
        assert parse_mailbox(text) == ("a", "x")
        return
    with pytest.raises(PathError):
        parse_mailbox(text)
