"""Test helpers shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from bridge.codec import asn1
from bridge.convert.context import Context
from bridge.convert.policy import RFC2156, MappingPolicy
from bridge.mapping.address import AddressMapper, GatewayIdentity
from bridge.mapping.tables import MappingTables
from bridge.model import GlobalDomainIdentifier, ORAddress

RFC2156_TABLES = Path(__file__).parent / "data" / "mappings" / "rfc2156"
GATEWAY_DOMAIN = "gw.example.ac.uk"


@contextmanager
def recorded_open_types() -> Iterator[list[tuple[str, bytes]]]:
    """Record every (ASN.1 type, BER) our codec decodes while inside the block: the top-level
    value and each open type the registries dispatch (extension attributes, extensions, ...)."""
    calls: list[tuple[str, bytes]] = []
    original = asn1.decode

    def spy(type_name: str, data: bytes, *, strict: bool = False) -> Any:
        value = original(type_name, data, strict=strict)
        calls.append((type_name, bytes(data)))  # only what decoded successfully
        return value

    asn1.decode = spy  # type: ignore[assignment]
    try:
        yield calls
    finally:
        asn1.decode = original  # type: ignore[assignment]


def gateway_context(now: datetime, *, policy: MappingPolicy = RFC2156,
                    country: str = "gb") -> Context:
    """The gateway of the RFC 2156 examples that the conversion tests share: tables
    tests/data/mappings/rfc2156, domain gw.example.ac.uk, O/R /O=mr/PRMD=uk.ac/ADMD= /C=gb/."""
    mapper = AddressMapper(MappingTables.load(RFC2156_TABLES), GatewayIdentity(
        domain=GATEWAY_DOMAIN, or_address=ORAddress.parse("/O=mr/PRMD=uk.ac/ADMD= /C=gb/")))
    return Context(mapper=mapper, now=now, postmaster=f"postmaster@{GATEWAY_DOMAIN}",
                   mta_name=GATEWAY_DOMAIN, policy=policy,
                   domain_id=GlobalDomainIdentifier(country=country, admd=" ", prmd="uk.ac"))
