"""RFC 5321 §4.1.2 paths: what may go on a MAIL FROM / RCPT TO command line, and how.

The SMTP client writes every path with :func:`smtp_path`; the grammar below (with RFC 6531
§3.3's additions under SMTPUTF8) decides what is expressible.  A std-or local part with a blank
ADMD (``"/G=John/S=Smith/O=Sales/PRMD=Acme/ADMD= /C=GB/"@gw.example``, RFC 2156 §4.3.5) is a
Quoted-string and goes as one.
"""

from __future__ import annotations

import ipaddress
import re

from bridge.errors import AddressSyntaxError
from bridge.mapping.rfc822 import DOMAIN_LABEL

#
# RFC 5321 §4.1.2 (the grammar of the paths on MAIL FROM / RCPT TO), with RFC 6531 §3.3's
# additions under SMTPUTF8:
#
#   Path           = "<" [ A-d-l ":" ] Mailbox ">"
#   A-d-l          = At-domain *( "," At-domain )        At-domain = "@" Domain
#   Mailbox        = Local-part "@" ( Domain / address-literal )
#   Local-part     = Dot-string / Quoted-string
#   Dot-string     = Atom *("."  Atom)                   Atom = 1*atext
#   Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
#   QcontentSMTP   = qtextSMTP / quoted-pairSMTP
#   quoted-pairSMTP = %d92 %d32-126                      ; backslash, then any printable or SP
#   qtextSMTP      = %d32-33 / %d35-91 / %d93-126        ; printable and SP but no \ or "
#   Domain         = sub-domain *("." sub-domain)
#   sub-domain     = Let-dig [Ldh-str]                   Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig
#   address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
#                           General-address-literal ) "]"
#   RFC 6531 §3.3: atext =/ UTF8-non-ascii, qtextSMTP =/ UTF8-non-ascii, sub-domain =/ U-label
#
# So a local part is expressible iff every character is printable ASCII or SP (%d32-126), or
# non-ASCII with SMTPUTF8; CR, LF, NUL, TAB and the other controls never are.  A std-or local
# part such as "/G=John/S=Smith/O=Sales/PRMD=Acme/ADMD= /C=GB/" (RFC 2156 §4.3.5 B5: a blank ADMD
# is written "ADMD= ") is not a Dot-string and goes as a Quoted-string.

#: RFC 5322 §3.2.3 atext, which RFC 5321 §4.1.2 uses for Atom.
_ATEXT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                   "!#$%&'*+-/=?^_`{|}~")
#: sub-domain = Let-dig [Ldh-str] (an LDH label): the same shape as RFC 2156 §4.2 domain-syntax
_LDH_LABEL = DOMAIN_LABEL
#: IPv4-address-literal = Snum 3("."  Snum); Snum = 1*3DIGIT (0-255).
_IPV4 = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\Z")
#: General-address-literal = Standardized-tag ":" 1*dcontent; dcontent = %d33-90 / %d94-126.
_GENERAL = re.compile(r"([A-Za-z0-9-]*[A-Za-z0-9]):([\x21-\x5a\x5e-\x7e]+)\Z")


class PathError(AddressSyntaxError, ValueError):
    """An address that cannot be written as an RFC 5321 §4.1.2 path (with SMTPUTF8: RFC 6531
    §3.3): a character no Quoted-string can hold (CR, LF, NUL and the other controls;
    non-ASCII without SMTPUTF8), or a domain that is neither a Domain nor an address-literal."""


def _utf8_non_ascii(ch: str, utf8: bool) -> bool:
    """RFC 6532 §3.1 UTF8-non-ascii, allowed under SMTPUTF8 (a lone surrogate is no UTF-8)."""
    return utf8 and not ch.isascii() and not "\ud800" <= ch <= "\udfff"


def _atom_char(ch: str, utf8: bool) -> bool:
    """RFC 5321 §4.1.2 atext; RFC 6531 §3.3 adds UTF8-non-ascii."""
    return ch in _ATEXT or _utf8_non_ascii(ch, utf8)


def _quotable(ch: str, utf8: bool) -> bool:
    """A character a Quoted-string can hold: qtextSMTP, or the second octet of quoted-pairSMTP
    (%d32-126 together); RFC 6531 §3.3 adds UTF8-non-ascii."""
    return " " <= ch <= "~" or _utf8_non_ascii(ch, utf8)


def is_dot_string(local: str, *, utf8: bool = False) -> bool:
    """RFC 5321 §4.1.2 ``Dot-string = Atom *("." Atom)`` (no empty atom, so no leading,
    trailing or doubled dot)."""
    return all(atom and all(_atom_char(c, utf8) for c in atom) for atom in local.split("."))


def quote_local_part(local: str, *, utf8: bool = False) -> str:
    """The RFC 5321 §4.1.2 Local-part for the (unquoted) local part ``local``: the Dot-string
    itself when it is one, else a Quoted-string with a backslash before ``"`` and ``\\`` only
    -- "the form that uses the minimum quoting possible" (§4.1.2).  Raises :class:`PathError`
    for a character no Quoted-string can hold (see :func:`_quotable`)."""
    if is_dot_string(local, utf8=utf8):
        return local
    bad = next((c for c in local if not _quotable(c, utf8)), None)
    if bad is not None:
        why = "needs SMTPUTF8" if not utf8 and not bad.isascii() else "is not allowed"
        raise PathError(f"local part {local!r}: {bad!r} {why} in an RFC 5321 path "
                        "(§4.1.2 qtextSMTP / quoted-pairSMTP)")
    return '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_local_part(text: str, *, utf8: bool = False) -> str:
    """Read an RFC 5321 §4.1.2 Local-part (Dot-string or Quoted-string) exactly as the
    grammar has it and return the local part it denotes (quotes and quoted-pairs removed).
    Raises :class:`PathError` for anything else."""
    if not text.startswith('"'):
        if not is_dot_string(text, utf8=utf8):
            raise PathError(f"{text!r} is neither a Dot-string nor a Quoted-string")
        return text
    out: list[str] = []
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            if i != len(text) - 1:
                raise PathError(f"{text!r}: text after the closing quote")
            return "".join(out)
        if ch == "\\":
            if i + 1 >= len(text) or not " " <= text[i + 1] <= "~":
                raise PathError(f"{text!r}: bad quoted-pairSMTP")
            out.append(text[i + 1])
            i += 2
            continue
        if not _quotable(ch, utf8):
            raise PathError(f"{text!r}: {ch!r} is not qtextSMTP")
        out.append(ch)
        i += 1
    raise PathError(f"{text!r}: unterminated Quoted-string")


def check_domain(domain: str, *, utf8: bool = False) -> str:
    """``domain`` as RFC 5321 §4.1.2 ``Domain / address-literal`` (§4.1.3), without the root
    dot of an absolute name (a path holds no trailing dot; §2.3.5 names are fully qualified
    already).  Under SMTPUTF8 a label may be a U-label (RFC 6531 §3.3; checked for its form
    only: letters, digits and inner hyphens).  Raises :class:`PathError`."""
    if domain.startswith("["):
        if not domain.endswith("]") or not _address_literal(domain[1:-1]):
            raise PathError(f"{domain!r} is not an RFC 5321 §4.1.3 address-literal")
        return domain
    name = domain[:-1] if domain.endswith(".") else domain
    for label in name.split("."):
        if _LDH_LABEL.match(label):
            continue
        if utf8 and not label.isascii() and not label.startswith("-") \
                and not label.endswith("-") and all(c.isalnum() or c == "-" for c in label):
            continue
        raise PathError(f"{domain!r} is not an RFC 5321 §4.1.2 Domain")
    return name


def _address_literal(inner: str) -> bool:
    """RFC 5321 §4.1.3: IPv4-address-literal / IPv6-address-literal / General-address-literal."""
    ipv4 = _IPV4.match(inner)
    if ipv4 is not None:
        return all(int(snum) <= 255 for snum in ipv4.groups())
    tag, sep, rest = inner.partition(":")
    if sep and tag.upper() == "IPV6":
        if not rest or any(c not in "0123456789abcdefABCDEF:." for c in rest):
            return False
        try:
            ipaddress.IPv6Address(rest)
        except ValueError:
            return False
        return True
    return _GENERAL.match(inner) is not None


def parse_mailbox(text: str, *, utf8: bool = False) -> tuple[str, str]:
    """Read an RFC 5321 §4.1.2 ``Mailbox`` exactly as the grammar has it: (the local part it
    denotes, the domain).  Raises :class:`PathError`."""
    if text.startswith('"'):
        end = _closing_quote(text)
        local_text, rest = text[: end + 1], text[end + 1 :]
    else:
        local_text, at, rest = text.partition("@")
        rest = at + rest
    if not rest.startswith("@"):
        raise PathError(f"{text!r}: no '@' after the local part")
    local = parse_local_part(local_text, utf8=utf8)
    domain = rest[1:]
    if check_domain(domain, utf8=utf8) != domain:
        raise PathError(f"{text!r}: a path's domain has no trailing dot")
    return local, domain


def _closing_quote(text: str) -> int:
    """Index of the ``"`` closing the quoted-string at the start of ``text`` (quoted-pairs
    skipped), or ``len(text)`` when there is none."""
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i
        else:
            i += 1
    return len(text)


def _split_address(address: str) -> tuple[str, str]:
    """(local part, domain) of an RFC 5322 addr-spec as the mapping writes it: the last
    ``@`` outside quotes splits; the local part's words lose their quotes and quoted-pairs
    (``"a b".c`` is the local part ``a b.c``, RFC 5322 §3.4.1); an unquoted local part is
    taken as it stands, so one that needs quoting is quoted by :func:`quote_local_part`."""
    at = -1
    quoted = False
    i = 0
    while i < len(address):
        ch = address[i]
        if quoted and ch == "\\":
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == "@" and not quoted:
            at = i
        i += 1
    if quoted:
        raise PathError(f"{address!r}: unterminated quoted-string")
    if at < 0:
        raise PathError(f"{address!r} has no domain")
    local_text, domain = address[:at], address[at + 1 :]
    if '"' not in local_text:
        return local_text, domain
    out: list[str] = []
    i = 0
    while i < len(local_text):
        ch = local_text[i]
        if ch == '"':
            quoted = not quoted
        elif quoted and ch == "\\" and i + 1 < len(local_text):
            out.append(local_text[i + 1])
            i += 1
        else:
            out.append(ch)
        i += 1
    return "".join(out), domain


def smtp_path(address: str, *, utf8: bool = False) -> bytes:
    """``address`` as the RFC 5321 §4.1.2 Path (or the null reverse-path ``<>`` for ``""``)
    that goes on a MAIL FROM or RCPT TO command line, UTF-8 under SMTPUTF8 (RFC 6531 §3.3).

    ``address`` is an addr-spec as the mapping writes it (RFC 5322, RFC 2156 §4.3.5), with an
    optional source route ``@a,@b:`` (§4.1.2 A-d-l, kept though §3.6.1 discourages it).  The
    local part is written again in RFC 5321 form (:func:`quote_local_part`), so
    ``"/G=John/S=Smith/O=Sales/PRMD=Acme/ADMD= /C=GB/"@gw.example`` stays quoted and an
    unquoted local part that is no Dot-string is quoted.  Raises :class:`PathError` for what
    no path can express (see :class:`PathError`)."""
    if address == "":
        return b"<>"
    route = ""
    if address.startswith("@"):
        adl, colon, address = address.partition(":")
        if not colon:
            raise PathError(f"{adl!r}: a source route ends in ':'")
        route = ",".join("@" + check_domain(d.strip().removeprefix("@"), utf8=utf8)
                         for d in adl.split(",")) + ":"
    local, domain = _split_address(address)
    mailbox = f"{quote_local_part(local, utf8=utf8)}@{check_domain(domain, utf8=utf8)}"
    return f"<{route}{mailbox}>".encode()
