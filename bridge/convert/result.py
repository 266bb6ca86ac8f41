"""Conversion results and defects.

A *defect* records information that a conversion lost, changed or could not carry (STYLE:
"defects recorded, never silent loss").  Defects do not stop a conversion; errors do (they
raise a :class:`~bridge.errors.BridgeError` carrying the SMTP reply and X.400 diagnostic).
A result with lossy defects is what RFC 2156 calls a conversion with loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bridge.model.apdu import Message
from bridge.model.report import Report

if TYPE_CHECKING:  # notary imports Defect from here
    from bridge.convert.notary import SmtpEnvelope


@dataclass(frozen=True, slots=True)
class Defect:
    """One loss or change: what kind, what exactly, which rule made it (RFC/ITU clause)."""

    kind: str  # e.g. "header-discarded", "truncated", "encapsulated", "charset", "extension"
    detail: str
    rule: str = ""
    lossy: bool = True

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}" + (f" ({self.rule})" if self.rule else "")


def repaired(note: str) -> Defect:
    """A defect for a repair the decoder made to a peer's encoding (bridge.codec.repairs):
    nothing is lost, but what the peer sent was not what the standard allows."""
    return Defect("repaired", note, "X.400 peer encoding", lossy=False)


@dataclass(frozen=True, slots=True)
class MimeResult:
    """X.400 -> Internet mail: the RFC 5322 message and its SMTP envelope.

    ``smtp``, when set, is the same envelope with the RFC 3461 parameters (NOTIFY, ORCPT,
    RET, ENVID) the SMTP client should use (RFC 2156 App A §3.2, R-11).
    """

    message: bytes
    mail_from: str  # "" = the null reverse-path <>
    rcpt_to: tuple[str, ...] = ()
    defects: tuple[Defect, ...] = ()
    smtp: SmtpEnvelope | None = None


@dataclass(frozen=True, slots=True)
class X400Result:
    """Internet mail -> X.400: one MTS-APDU (a message, or a report for a DSN)."""

    apdu: Message | Report
    defects: tuple[Defect, ...] = ()
    extra: tuple[Message, ...] = field(default=())  # e.g. the IPM a DSN also yields

    @property
    def lossy(self) -> bool:
        return any(d.lossy for d in self.defects)
