"""X.419 MTS-APDU: what an MTA transfers — a message, a probe or a report (X.411 §12.2)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.model.envelope import Envelope
from bridge.model.report import Report


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """X.411 §12.2.1.1 Message: a transfer envelope and the content octets.

    The content is kept as the octets of the Content OCTET STRING; decode it with
    ``bridge.codec.decode_content`` when the content type is P2/P22.
    """

    envelope: Envelope
    content: bytes
    #: what the decoder repaired in the peer's encoding (bridge.codec.repairs); not compared
    repairs: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    """X.411 §12.2.1.3 Probe: a transfer envelope without content."""

    envelope: Envelope
    repairs: tuple[str, ...] = field(default=(), compare=False)


APDU = Message | Probe | Report
