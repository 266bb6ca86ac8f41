"""The one lookup interface every mapping source implements (tables, DNS, later LDAP).

RFC 2156 App F / RFC 2163 §3 name four mappings; RFC 2163 names them ``table1``, ``table2``,
``gate1`` and ``gate2``:

=========  ===========================================  ===================================
 table      maps                                          used by
=========  ===========================================  ===================================
 table1     O/R address prefix -> RFC 822 domain (MCGAM)  X.400 -> 822, Mapping B (§4.3.5)
 table2     RFC 822 domain -> O/R address prefix (MCGAM)  822 -> X.400, Stage I step 8 (§4.3.4)
 gate1      O/R address prefix -> domain of a preferred   X.400 -> 822 when no MCGAM applies
            gateway                                       (§4.3.5 B3)
 gate2      RFC 822 domain -> O/R address of a preferred  822 -> X.400 Stage II, header
            gateway                                       addresses (§4.3.4)
=========  ===========================================  ===================================

Lookups are case independent and return the *longest* match (App F §4).  A source that cannot
decide right now (a DNS timeout) raises :class:`LookupDeferred`; RFC 2156 §4.2.1 says such
lookups are repeated until a result is determined.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from bridge.errors import BridgeError, SMTPReply, X400Diagnostic
from bridge.mapping.orprefix import ORPrefix


class Table(Enum):
    """RFC 2163 §3 table names (also the file names in a tables directory)."""

    TABLE1 = "table1"  # O/R -> domain (MCGAM)
    TABLE2 = "table2"  # domain -> O/R (MCGAM)
    GATE1 = "gate1"  # O/R -> domain of preferred gateway
    GATE2 = "gate2"  # domain -> O/R of preferred gateway

    @property
    def keyed_by_domain(self) -> bool:
        return self in (Table.TABLE2, Table.GATE2)


@dataclass(frozen=True, slots=True)
class Entry:
    """One mapping rule: a domain and an O/R prefix, in the direction of ``table``.

    ``origin`` says where the rule came from (``"mappings/table2:17"``, ``"dns:PX ..."``) so an
    operator can see which entry decided a mapping.
    """

    table: Table
    domain: str
    prefix: ORPrefix
    origin: str = ""

    def line(self) -> str:
        """The App F text line of this entry (§5/§6 formats)."""
        if self.table.keyed_by_domain:
            return f"{self.domain}#{self.prefix.to_dmn()}#"
        return f"{self.prefix.to_dmn()}#{self.domain}#"


class MappingSource(Protocol):
    """What the address-mapping algorithms need from a table or DNS source."""

    def lookup_domain(self, table: Table, domain: str) -> Entry | None:
        """Longest match of ``domain`` (or a parent domain) in ``table`` (TABLE2 / GATE2)."""

    def lookup_or(self, table: Table, prefix: ORPrefix) -> Entry | None:
        """Longest match of ``prefix`` (or a shorter prefix) in ``table`` (TABLE1 / GATE1)."""


class LookupDeferred(BridgeError):
    """The source could not answer now (e.g. DNS timeout); try again later (RFC 2156 §4.2.1)."""

    smtp = SMTPReply(code=451, enhanced="4.4.3", text="Address mapping lookup timed out")
    x400 = X400Diagnostic(reason=0)  # transfer-failure (a temporary condition)


class ChainedSource:
    """Several sources asked in order; the first that has an answer wins (e.g. the local tables,
    then DNS).  Stateless and immutable like its members."""

    def __init__(self, *sources: MappingSource) -> None:
        self._sources = sources

    def lookup_domain(self, table: Table, domain: str) -> Entry | None:
        for source in self._sources:
            hit = source.lookup_domain(table, domain)
            if hit is not None:
                return hit
        return None

    def lookup_or(self, table: Table, prefix: ORPrefix) -> Entry | None:
        for source in self._sources:
            hit = source.lookup_or(table, prefix)
            if hit is not None:
                return hit
        return None
