"""What a conversion needs besides its input, passed explicitly (no globals, no I/O):
the address mapper, the gateway's identity, the policy and the conversion time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.convert.limits import DEFAULT_LIMITS, MessageLimits
from bridge.convert.policy import RFC2156, MappingPolicy
from bridge.mapping.address import AddressMapper, Role
from bridge.mapping.address import X400Result as X400AddressResult
from bridge.model.common import GlobalDomainIdentifier


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """``now`` is the conversion time (aware); ``postmaster`` the gateway administrator's 822
    address (RFC 2156 §5.3.2 default originator); ``mta_name`` this gateway's MTA name in
    trace; ``domain_id`` its global domain identifier."""

    mapper: AddressMapper
    now: datetime
    postmaster: str
    mta_name: str
    domain_id: GlobalDomainIdentifier
    policy: MappingPolicy = RFC2156
    limits: MessageLimits = DEFAULT_LIMITS   # checked before parsing (bridge.convert.limits)
    #: archives only: the envelope recipient of a message whose headers name none
    archive_owner: str | None = None

    @property
    def gateway_domain(self) -> str:
        return self.mapper.gateway.domain

    def to_x400(self, address: str, role: Role) -> X400AddressResult:
        """Map an 822 address for this conversion (App B rules for an X.400(1984) peer)."""
        return self.mapper.to_x400(address, role, x400_1984=self.policy.x400_1984_peer)
