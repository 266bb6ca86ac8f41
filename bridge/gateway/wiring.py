"""How the gateway's parts are built from the configuration (:class:`~bridge.config.Config`).

The one module the other gateway modules take their wiring from -- the gateway process
(:mod:`bridge.gateway.app`), the SMTP intake processes (:mod:`bridge.gateway.intake`) and the
conversion processes (:mod:`bridge.gateway.convertpool`, through :func:`conversion_context`)
build the same mapper, routes and conversion context from the same sections.  It imports no
other gateway module but :mod:`bridge.gateway.routing`, so the gateway's modules read top-down:

    app -> intake, core -> convertpool, commit, dsn, metrics -> wiring -> routing
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from bridge.config import Config, GatewayConfig
from bridge.convert.context import Context
from bridge.gateway.routing import Router, X400Routes
from bridge.mapping.address import AddressMapper, GatewayIdentity
from bridge.mapping.tables import mapping_source
from bridge.model.common import GlobalDomainIdentifier
from bridge.smtp.server import InboundSettings


def mapper_for(g: GatewayConfig) -> AddressMapper:
    """RFC 2156 App F tables (+ RFC 2163 DNS when configured) and the gateway identity."""
    dns = (g.dns_server.host, g.dns_server.port) if g.dns_server is not None else None
    source = mapping_source(g.tables_dir, dns)
    return AddressMapper(source, GatewayIdentity(domain=g.domain, or_address=g.or_address))


def context_for(g: GatewayConfig, mapper: AddressMapper) -> Context:
    """The conversion context of the gateway described by ``[gateway]``."""
    o = g.or_address
    return Context(mapper=mapper, now=datetime.now(UTC), postmaster=g.postmaster,
                   mta_name=g.domain,
                   domain_id=GlobalDomainIdentifier(country=o.country or "XX",
                                                    admd=o.admd if o.admd is not None else " ",
                                                    prmd=o.prmd),
                   policy=g.mapping_policy, limits=g.message_limits)


def conversion_context(g: GatewayConfig) -> Context:
    """A conversion process's context: its own mapper over the tables, read now.  Module
    level (pickled by reference), so ``functools.partial(conversion_context, g)`` is what a
    :class:`~bridge.gateway.convertpool.Converter` sends to the processes it spawns."""
    return context_for(g, mapper_for(g))


def router_for(config: Config, mapper: AddressMapper | None = None) -> Router:
    """RCPT decisions and X.400 routes from the configured tables (read now)."""
    return Router(mapper or mapper_for(config.gateway), X400Routes.load(config.x400.routes_file),
                  peers=frozenset(config.x400.peers))


def inbound_settings(config: Config) -> InboundSettings:
    """The SMTP server settings of ``[smtp.in]`` (every key, limits included)."""
    return InboundSettings.from_config(config.smtp_in)


def tables_digest(config: Config) -> str:
    """What this node maps by, as one short hash: SHA-256 over each regular file of the
    mapping tables' folder (name and content, in name order) and the X.400 routing table,
    its first 16 hex digits.  Logged at start and at each reload: the nodes sharing a queue
    must map alike, and their log lines side by side show whether they do."""
    digest = hashlib.sha256()
    folder = config.gateway.tables_dir
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    routes = config.x400.routes_file
    for path in [*files, *([routes] if routes.is_file() else [])]:
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:16]
