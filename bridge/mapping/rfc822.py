"""Just enough RFC 5322/822 address syntax for the mapping (RFC 2156 §4.3.4 Stage I steps 1–2):
split an address into its route, local-part and domain; quote and unquote local-parts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bridge.errors import AddressSyntaxError

# RFC 5322 §3.2.3 atext; a dot-atom local-part needs no quoting
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*\Z")
# RFC 2156 §4.2 domain-syntax (one label)
DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\Z")


@dataclass(frozen=True, slots=True)
class Parsed822:
    """``route`` (the ``@a,@b:`` domains, in order), the unquoted local-part, the domain."""

    local: str
    domain: str | None
    route: tuple[str, ...] = ()
    quoted: bool = False

    @property
    def simple(self) -> bool:
        """``local-part "@" domain`` (Stage I step 1)."""
        return not self.route and self.domain is not None


def parse_address(text: str) -> Parsed822:
    """Parse an addr-spec or route-addr (angle brackets optional)."""
    s = text.strip()
    if s.startswith("<") and s.endswith(">"):
        s = s[1:-1].strip()
    route: tuple[str, ...] = ()
    if s.startswith("@"):
        head, sep, rest = s.partition(":")
        if not sep:
            raise AddressSyntaxError(f"bad source route in {text!r}", address=text)
        route = tuple(d.strip().lstrip("@") for d in head.split(","))
        if any(not d for d in route):
            raise AddressSyntaxError(f"bad source route in {text!r}", address=text)
        s = rest
    local, quoted, rest = _local_part(s, text)
    if rest == "":
        return Parsed822(local=local, domain=None, route=route, quoted=quoted)
    if not rest.startswith("@") or len(rest) == 1:
        raise AddressSyntaxError(f"bad address {text!r}", address=text)
    domain = rest[1:]
    if "@" in domain or any(c.isspace() for c in domain):
        raise AddressSyntaxError(f"bad domain in {text!r}", address=text)
    return Parsed822(local=local, domain=domain, route=route, quoted=quoted)


def _local_part(s: str, text: str) -> tuple[str, bool, str]:
    if s.startswith('"'):
        out: list[str] = []
        i = 1
        while i < len(s):
            ch = s[i]
            if ch == "\\" and i + 1 < len(s):
                out.append(s[i + 1])
                i += 2
                continue
            if ch == '"':
                return "".join(out), True, s[i + 1 :]
            out.append(ch)
            i += 1
        raise AddressSyntaxError(f"unterminated quoted-string in {text!r}", address=text)
    at = s.rfind("@")
    local, rest = (s, "") if at < 0 else (s[:at], s[at:])
    if local == "" or any(c.isspace() or c in '()<>[]:;@\\,"' for c in local):
        raise AddressSyntaxError(f"bad local-part in {text!r}", address=text)
    return local, False, rest


def quote_local(local: str) -> str:
    """The local-part as written in an address: dot-atom when possible, else a quoted-string
    around the whole of it (RFC 2156 §4.3.5 step 5 recommends ``"a b.c"@x``)."""
    if _DOT_ATOM.match(local):
        return local
    return '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_address(local: str, domain: str) -> str:
    return f"{quote_local(local)}@{domain}"


def is_domain_syntax(label: str) -> bool:
    """RFC 2156 §4.2 domain-syntax for one label."""
    return bool(DOMAIN_LABEL.match(label))
