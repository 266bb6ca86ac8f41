"""MCGAM lookups in the Internet DNS: the PX resource record (RFC 2163).

Theory of operation
-------------------
RFC 2163 publishes the four MIXER tables (§3: ``table1``/``gate1`` X.400 -> RFC 822,
``table2``/``gate2`` RFC 822 -> X.400) as PX records (§4: TYPE 26, RDATA = PREFERENCE, MAP822,
MAPX400).  The X.400 half of a rule is written in *x400-in-domain-syntax* (§4.2): one DNS label
per attribute, least significant first, each label encoded by the rules of §4.2.1
(:func:`encode_label` / :func:`decode_label`)::

    OU$sales dept\\..O$@.PRMD$ACME.ADMD$ .C$GB   <->   OU-sales-b-dept-d.O.PRMD-ACME.ADMDb.C-GB

Where the records live (§4.3):

* ``table2``/``gate2`` (keyed by an RFC 822 domain): in the ordinary DNS tree,
  ``*.<rfc822-domain>. IN PX 50 <rfc822-domain>. <x400-in-domain-syntax>.``
* ``table1``/``gate1`` (keyed by an O/R prefix): in the X.400 tree ``X42D.<cc>.`` under each
  country's top-level domain (§3), with the *Country Code convention* (§4.2.3): the ``C-cc``
  label is dropped from the owner name, so ``PRMD$ab.ADMD$ac.C$fr#ab.fr#`` is stored as
  ``*.PRMD-ab.ADMD-ac.X42D.fr. IN PX 50 ab.fr. PRMD-ab.ADMD-ac.C-fr.`` (:func:`x42d_name`).

Table or gate (§4.4): both live at the same owner names.  A ``gate1``/``gate2`` entry is the one
whose MAPX400 ends with the extra label ``G`` (``ADMD-PWT400.C-us.G.``); the flag is removed
before the O/R prefix is used.  The DNS authority for a name decides which of the two applies, so
a name never has both: a TABLE1 lookup that finds a gate1 record answers "no table1 mapping"
(and the GATE1 lookup of the same prefix finds it), without falling back to a shorter rule.

Longest match (§4.1, §5): every MIXER rule is an implicit wildcard, and RFC 2163 stores it as a
DNS wildcard ``*.<key>``; an exact owner (no ``*``) is a rule for that name only.  §5 assumes one
query returns the longest match, but under RFC 4592 a wildcard does not cover the key itself
(``*.ab.fr`` does not answer ``ab.fr``) nor names below an existing node (``*.net2.it`` does not
answer ``x.ab.net2.it`` once ``ab.net2.it`` exists).  So the lookup asks, in order:

1. the key name itself (an exact record there, or a wildcard the server synthesises for it);
2. ``*.<key>``, then ``*.<parent>`` ... up to ``*.<tld>`` (domains) or ``*.X42D.<cc>``
   (O/R prefixes) -- the literal wildcard owner of each shorter rule (``*.<key>`` is skipped
   when step 1 was NXDOMAIN: nothing exists below a name that does not exist).

When nothing blocks the DNS wildcard this is the single query of §5 (``SUN.CCE.NRC.IT`` is
answered from ``*.cce.nrc.it`` at step 1).

The first name with PX records decides; among its records the lowest PREFERENCE wins (§4.1).
NXDOMAIN and NOERROR/no-data mean "no rule at this level".  A timeout or a DNS error code
(SERVFAIL, REFUSED ...) raises :class:`~bridge.mapping.source.LookupDeferred`: §5 says the
gateway operation is delayed and retried, and the error is logged -- never "no mapping".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import dns.exception
import dns.inet
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver
from dns.rdtypes.IN.PX import PX

from bridge.errors import ConfigError
from bridge.mapping.orprefix import ORPrefix, ORPrefixSyntaxError
from bridge.mapping.source import Entry, LookupDeferred, Table

__all__ = [
    "DNSConfig",
    "DNSSource",
    "GATE_FLAG",
    "X42D_LABEL",
    "X42DSyntaxError",
    "decode_label",
    "encode_label",
    "from_x400_in_domain_syntax",
    "split_gate_flag",
    "to_x400_in_domain_syntax",
    "x42d_name",
]

log = logging.getLogger("x400bridge.mapping.dns")

#: The reserved label of the X.400 name tree under each country TLD (RFC 2163 §3).
X42D_LABEL = "X42D"
#: The label appended to MAPX400 of a gate1/gate2 entry (RFC 2163 §4.4).
GATE_FLAG = "G"
#: RFC 2163 §4.2 ``<attr-label>``: the attributes an MCGAM rule may hold.  Only these can be
#: written without a hyphen (``O`` = omitted, ``ADMDb`` = blank), so only these are recognised in
#: that form; ``key-value`` labels accept any alphanumeric key (gate tables, App F §3).
ATTR_LABELS = ("C", "ADMD", "PRMD", "O", "OU")

# §4.2.1 special mappings of non-<alphanumhyphen> characters inside <attr-value>.
_SPECIAL = {"-": "h", ".": "d", " ": "b"}
_UNSPECIAL = {code: char for char, code in _SPECIAL.items()}
_ALNUM = re.compile(r"[A-Za-z0-9]+\Z")
_ISO_ALPHA2 = re.compile(r"[A-Za-z]{2}\Z")
#: The wildcard label (RFC 1034 §4.3.3, RFC 4592).
_STAR = b"*"


class X42DSyntaxError(ORPrefixSyntaxError):
    """Text that is not RFC 2163 §4.2 x400-in-domain-syntax, or a value it cannot express."""


# ---------------------------------------------------------------------------- §4.2 syntax


def encode_label(key: str, value: str | None) -> str:
    """One ``<map-elem>`` as a DNS label (RFC 2163 §4.2.1, flow chart 1).

    ``attr$@`` (``None``) -> ``attr``; ``attr$<blank>`` -> ``attrb``; otherwise ``attr-value``
    with ``-`` -> ``-h-``, ``.`` (App F ``\\.``) -> ``-d-``, blank -> ``-b-``, any other
    non-alphanumeric IA5 character -> ``-NNN-`` (3-digit decimal), and a final ``-`` dropped.
    """
    if not _ALNUM.match(key):
        raise X42DSyntaxError(f"attribute type {key!r} cannot be written as a DNS label")
    if value is None:
        return key
    if value == " ":
        return key + "b"
    if not value:
        # "attr-" would lose its final hyphen and read back as "attr" (omitted).
        raise X42DSyntaxError(f"empty {key} value has no RFC 2163 §4.2.1 form")
    out: list[str] = []
    for char in value:
        if char.isascii() and char.isalnum():
            out.append(char)
        elif char in _SPECIAL:
            out.append(f"-{_SPECIAL[char]}-")
        elif ord(char) < 128:  # IA5 only: the 3-digit decimal escape
            out.append(f"-{ord(char):03d}-")
        else:
            raise X42DSyntaxError(f"{key} value {value!r}: {char!r} is not an IA5 character")
    text = "".join(out)
    return f"{key}-{text[:-1] if text.endswith('-') else text}"


def decode_label(label: str) -> tuple[str, str | None]:
    """One DNS label back to ``(key, value)`` (RFC 2163 §4.2.2 flow chart 2), parsing left to
    right; escape codes and the blank flag ``b`` are case independent like DNS labels."""
    key, sep, rest = label.partition("-")
    if not sep:
        upper = label.upper()
        if upper in ATTR_LABELS:
            return upper, None  # <label> -> <label>$@
        if upper.endswith("B") and upper[:-1] in ATTR_LABELS:
            return upper[:-1], " "  # <label>"b" -> <label>$<blank>
        raise X42DSyntaxError(f"not an RFC 2163 §4.2 attribute label: {label!r}")
    if not _ALNUM.match(key):
        raise X42DSyntaxError(f"bad attribute type in label {label!r}")
    if not rest:
        raise X42DSyntaxError(f"empty value in label {label!r}")
    out: list[str] = []
    i = 0
    while i < len(rest):
        char = rest[i]
        if char != "-":
            if not (char.isascii() and char.isalnum()):
                raise X42DSyntaxError(f"{char!r} outside an escape in label {label!r}")
            out.append(char)
            i += 1
            continue
        close = rest.find("-", i + 1)
        end = len(rest) if close < 0 else close  # §4.2.1: the final hyphen may be omitted
        code = rest[i + 1 : end]
        if code.lower() in _UNSPECIAL:
            out.append(_UNSPECIAL[code.lower()])
        elif len(code) == 3 and code.isascii() and code.isdigit() and int(code) < 128:
            out.append(chr(int(code)))
        else:
            raise X42DSyntaxError(f"bad escape -{code}- in label {label!r}")
        i = end + 1
    return key.upper(), "".join(out)


def to_x400_in_domain_syntax(prefix: ORPrefix) -> str:
    """``<x400-in-domain-syntax>`` of an O/R prefix, least significant first, without the final
    dot (RFC 2163 §4.2): ``PRMD$ab.ADMD$ac.C$fr`` -> ``PRMD-ab.ADMD-ac.C-fr``."""
    if not prefix.parts:
        raise X42DSyntaxError("empty O/R prefix")
    return ".".join(encode_label(k, v) for k, v in reversed(prefix.parts))


def from_x400_in_domain_syntax(text: str | dns.name.Name) -> ORPrefix:
    """Parse ``<x400-in-domain-syntax>`` (RFC 2163 §4.2), a final root dot allowed.  A ``.G.``
    gate flag (§4.4) must have been removed first (:func:`split_gate_flag`)."""
    name = text if isinstance(text, dns.name.Name) else dns.name.from_text(text)
    labels = [_label_text(raw) for raw in name.labels if raw]
    if not labels:
        raise X42DSyntaxError("empty x400-in-domain-syntax")
    return ORPrefix(tuple(decode_label(label) for label in reversed(labels)))


def split_gate_flag(mapx400: dns.name.Name) -> tuple[dns.name.Name, bool]:
    """Remove the RFC 2163 §4.4 gate flag: ``ADMD-PWT400.C-us.G.`` -> (``ADMD-PWT400.C-us.``,
    True).  An O/R domain always ends with ``C-xx``, so a last label ``G`` is unambiguous."""
    labels = mapx400.labels
    if labels and labels[-1] == b"":
        labels = labels[:-1]
    if labels and labels[-1].upper() == GATE_FLAG.encode():
        return dns.name.Name((*labels[:-1], b"")), True
    return mapx400, False


def x42d_name(prefix: ORPrefix, *, label: str = X42D_LABEL,
              origin: dns.name.Name = dns.name.root) -> dns.name.Name:
    """The DNS ``<name>`` key of an O/R prefix (RFC 2163 §4.2.3, §4.3 case A).

    The prefix must start with ``C``; by the *Country Code convention* the ``C-cc`` label is
    omitted and ``X42D.cc.`` is appended: ``PRMD$ux\\.av.ADMD$ .C$gb`` ->
    ``PRMD-ux-d-av.ADMDb.X42D.gb.``.  ``origin`` (default the DNS root, as in the RFC) lets a
    private tree hold the country domains.  Raises :class:`X42DSyntaxError` for a prefix that
    has no such name (no leading C, a C that is not an ISO alpha-2 code, a label too long).
    """
    if not prefix.parts or prefix.parts[0][0].upper() != "C":
        raise X42DSyntaxError(f"O/R prefix {prefix} does not start with C")
    country = prefix.parts[0][1]
    if country is None or not _ISO_ALPHA2.match(country):
        # §3: the hook is the country's top-level domain; numeric (X.121) codes have none.
        raise X42DSyntaxError(f"country {country!r} has no top-level domain")
    labels = [encode_label(k, v) for k, v in reversed(prefix.parts[1:])]
    try:
        return dns.name.Name([*(s.encode("ascii") for s in labels), label.encode("ascii"),
                              country.lower().encode("ascii"), *origin.labels])
    except dns.name.NameTooLong as exc:
        raise X42DSyntaxError(f"O/R prefix {prefix} is too long for a DNS name") from exc
    except dns.name.LabelTooLong as exc:
        raise X42DSyntaxError(f"an attribute of {prefix} is too long for a DNS label") from exc


def _label_text(raw: bytes) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise X42DSyntaxError(f"non-ASCII label {raw!r}") from exc


def _wildcard(name: dns.name.Name) -> dns.name.Name | None:
    """``*.name``, or None if that is longer than a DNS name may be (RFC 1035 §2.3.4)."""
    try:
        return dns.name.Name((_STAR, *name.labels))
    except dns.name.NameTooLong:
        return None


# ---------------------------------------------------------------------------- the source


@dataclass(frozen=True, slots=True, kw_only=True)
class DNSConfig:
    """How :class:`DNSSource` reaches the DNS.

    ``nameservers`` are IP addresses (empty: the system's resolver configuration); ``timeout``
    is the wait for one reply and ``lifetime`` the bound on one query with its retries, after
    which the lookup is deferred (RFC 2163 §5).  ``x42d_label`` and ``x42d_origin`` place the
    X.400 tree: by RFC 2163 §3 it is ``X42D.<cc>.`` under the root.  ``cache_size`` > 0 keeps
    answers (negative ones too) for their TTL in a process-local LRU cache.
    """

    nameservers: tuple[str, ...] = ()
    port: int = 53
    timeout: float = 2.0
    lifetime: float = 5.0
    x42d_label: str = X42D_LABEL
    x42d_origin: str = "."
    cache_size: int = 1000

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"dns.port: {self.port} is not a port number")
        if self.timeout <= 0 or self.lifetime <= 0:
            raise ConfigError("dns.timeout and dns.lifetime must be positive")
        if not _ALNUM.match(self.x42d_label):
            raise ConfigError(f"dns.x42d_label: {self.x42d_label!r} is not an alphanumeric label")
        if self.cache_size < 0:
            raise ConfigError("dns.cache_size must not be negative")
        for address in self.nameservers:
            if not dns.inet.is_address(address):
                raise ConfigError(f"dns.nameservers: {address!r} is not an IP address")
        try:
            dns.name.from_text(self.x42d_origin)
        except dns.exception.DNSException as exc:
            raise ConfigError(f"dns.x42d_origin: {self.x42d_origin!r}: {exc}") from exc


class DNSSource:
    """A :class:`~bridge.mapping.source.MappingSource` over PX records (RFC 2163 §4-§5)."""

    def __init__(self, config: DNSConfig) -> None:
        self.config = config
        resolver = dns.resolver.Resolver(configure=not config.nameservers)
        if config.nameservers:
            resolver.nameservers = list(config.nameservers)
        resolver.port = config.port
        resolver.timeout = config.timeout
        resolver.lifetime = config.lifetime
        if config.cache_size:
            resolver.cache = dns.resolver.LRUCache(config.cache_size)
        self._resolver = resolver
        self._origin = dns.name.from_text(config.x42d_origin)

    # ------------------------------------------------------------------ MappingSource

    def lookup_domain(self, table: Table, domain: str) -> Entry | None:
        """TABLE2 / GATE2: the PX rule for ``domain`` or its nearest parent (RFC 2163 §4.3
        case B, §5).  Raises :class:`LookupDeferred` on timeout or a DNS error (§5)."""
        if not table.keyed_by_domain:
            raise ValueError(f"{table.value} is keyed by O/R prefix, not by domain")
        try:
            name = dns.name.from_text(domain.rstrip("."))
        except dns.exception.DNSException:
            return None  # not a DNS name: no PX record can be keyed by it
        if len(name.labels) < 2:
            return None  # the root: RFC 2163 keys rules by domains, never by "."
        return self._longest_match(table, name, _ancestors(name, stop=1))

    def lookup_or(self, table: Table, prefix: ORPrefix) -> Entry | None:
        """TABLE1 / GATE1: the PX rule for ``prefix`` or its longest shorter prefix, looked up
        under ``X42D.<cc>`` (RFC 2163 §4.2.3, §4.3 case A, §5).  Raises :class:`LookupDeferred`
        on timeout or a DNS error (§5)."""
        if table.keyed_by_domain:
            raise ValueError(f"{table.value} is keyed by domain, not by O/R prefix")
        exact: dns.name.Name | None = None
        levels: list[dns.name.Name] = []
        for shorter in prefix.prefixes():
            try:
                name = x42d_name(shorter, label=self.config.x42d_label, origin=self._origin)
            except X42DSyntaxError:
                continue  # this level has no DNS name; shorter ones may
            if len(shorter) == len(prefix):
                exact = name  # an exact-owner record applies to the full prefix only (§4.1)
            levels.append(name)
        return self._longest_match(table, exact, iter(levels))

    # ------------------------------------------------------------------ the walk

    def _longest_match(self, table: Table, exact: dns.name.Name | None,
                       levels: Iterator[dns.name.Name]) -> Entry | None:
        """Ask ``exact`` then ``*.level`` for each level, longest first; the first name that
        holds PX records decides (RFC 2163 §4.1 implicit wildcards, §4.4 table vs gate)."""
        absent: set[dns.name.Name] = set()  # names answered NXDOMAIN
        if exact is not None:
            records = self._query(exact)
            if records:
                return self._decide(table, exact, records)
            if records is None:
                absent.add(exact)
        for level in levels:
            if level in absent:
                continue  # RFC 4592 §2.2.1: no name below a non-existent name exists
            qname = _wildcard(level)
            if qname is None:
                continue
            records = self._query(qname)
            if records:
                return self._decide(table, qname, records)
        return None

    def _decide(self, table: Table, owner: dns.name.Name, records: list[PX]) -> Entry | None:
        """The most preferred usable record of one owner (§4.1: lower PREFERENCE wins) if its
        gate flag matches ``table`` (§4.4); records whose MAPX400 does not parse are logged and
        skipped.  A longer rule of the other kind, or one that is unusable, is still the
        longest match: no shorter rule is tried."""
        for rdata in sorted(records, key=lambda r: (r.preference, r.to_text())):
            mapx400, gate = split_gate_flag(rdata.mapx400)
            try:
                prefix = from_x400_in_domain_syntax(mapx400)
            except ORPrefixSyntaxError as exc:  # X42DSyntaxError included
                log.warning("RFC 2163 PX record %s PX %s ignored: %s", owner, rdata, exc)
                continue
            if gate != (table in (Table.GATE1, Table.GATE2)):
                return None
            return Entry(table=table, domain=rdata.map822.to_text(omit_final_dot=True),
                         prefix=prefix, origin=f"dns:{owner} PX {rdata.to_text()}")
        return None

    def _query(self, qname: dns.name.Name) -> list[PX] | None:
        """PX records at ``qname``: None for NXDOMAIN, [] for NOERROR without PX data.
        Timeouts and DNS error codes raise :class:`LookupDeferred` (RFC 2163 §5: the
        operation is delayed and retried, the error is logged)."""
        try:
            answer = self._resolver.resolve(qname, dns.rdatatype.PX, dns.rdataclass.IN,
                                            search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return None
        except dns.exception.Timeout as exc:
            log.warning("RFC 2163 PX lookup of %s timed out: %s", qname, exc)
            raise LookupDeferred(f"DNS PX lookup of {qname} timed out") from exc
        except dns.exception.DNSException as exc:
            log.warning("RFC 2163 PX lookup of %s failed: %s", qname, exc)
            raise LookupDeferred(f"DNS PX lookup of {qname} failed: {exc}") from exc
        if answer.rrset is None:
            return []
        return [rdata for rdata in answer.rrset if isinstance(rdata, PX)]


def _ancestors(name: dns.name.Name, *, stop: int) -> Iterator[dns.name.Name]:
    """``name`` and its parents, longest first, down to the one with ``stop`` labels besides the
    root (``stop=1``: down to the top-level domain, never the root itself)."""
    while len(name.labels) > stop:  # labels include the root's empty label
        yield name
        name = name.parent()
