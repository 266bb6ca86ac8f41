"""The X.218 RTSE service primitives, as :mod:`bridge.x400.rtse` takes and gives them.

Frozen keyword-only dataclasses; one class for request and indication (and for response and
confirm).  Re-exported by :mod:`bridge.x400.rtse`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.codec import rtpdu
from bridge.codec.rtpdu import RefuseReason
from bridge.x400.acse import AAssociate, AAssociateAccept
from bridge.x400.session import SConnect, SConnectAccept

__all__ = [
    "RTOpen",
    "RTOpenAccept",
    "RTOpenRefuse",
    "RTTransfer",
    "RTTransferAccept",
    "RTTransferConfirm",
    "RTTransferFailed",
    "RTTurnPlease",
    "RTTurnGive",
    "RTClose",
    "RTCloseAccept",
    "RTUAbort",
    "RTPAbort",
    "RTPrimitive",
]


# --------------------------------------------------------------------------------------------
# RTSE service primitives (X.218 §8)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class RTOpen:
    """RT-OPEN request / indication (X.218 §8.1).

    ``user_data`` is the user's bind APDU (BER) as ConnectionData.open carries it.  In normal
    mode ``association`` holds the A-ASSOCIATE parameters (application context, presentation
    contexts -- which must include ACSE, :data:`AS_MTA_RTSE` and :data:`AS_MTSE` -- and the
    session requirements); in X.410-1984 mode ``session`` holds the S-CONNECT parameters.
    On an indication they are what the peer sent.
    """

    user_data: bytes | None
    dialogue_mode: int = rtpdu.MONOLOGUE
    checkpoint_size: int = 0
    window_size: int = 3
    application_protocol: int | None = None
    association: AAssociate | None = None
    session: SConnect | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RTOpenAccept:
    """RT-OPEN response / confirm, positive (X.218 §8.1).

    On a response ``checkpoint_size``/``window_size`` None take the proposed values (the
    responder may only lower them, X.228 §7.2.2); on a confirm they are the negotiated values.
    """

    user_data: bytes | None
    checkpoint_size: int | None = None
    window_size: int | None = None
    association: AAssociateAccept | None = None
    session: SConnectAccept | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RTOpenRefuse:
    """RT-OPEN response / confirm, negative: RefuseReason and the user's bind error APDU."""

    reason: int | None = RefuseReason.VALIDATION_FAILURE
    user_data: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RTTransfer:
    """RT-TRANSFER request / indication (X.218 §8.2): one whole APDU (BER)."""

    apdu: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class RTTransferAccept:
    """The receiving user's word that the indicated APDU is durable: send the activity end
    confirmation (see the module docstring)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RTTransferConfirm:
    """RT-TRANSFER confirm, positive: the peer acknowledged the activity end."""

    activity_id: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class RTTransferFailed:
    """RT-TRANSFER confirm, negative (X.218 §8.2.3): the APDU was not transferred."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RTTurnPlease:
    """RT-TURN-PLEASE request / indication (X.218 §8.3)."""

    priority: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RTTurnGive:
    """RT-TURN-GIVE request / indication (X.218 §8.4)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RTClose:
    """RT-CLOSE request / indication (X.218 §8.5); only the association initiator closes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RTCloseAccept:
    """RT-CLOSE response / confirm."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RTUAbort:
    """RT-U-ABORT request / indication (X.218 §8.6)."""

    user_data: bytes | None = None
    reason: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RTPAbort:
    """RT-P-ABORT indication (X.218 §8.7): the provider (or a layer below) gave up."""

    reason: str


RTPrimitive = (RTOpen | RTOpenAccept | RTOpenRefuse | RTTransfer | RTTransferAccept
               | RTTransferConfirm | RTTransferFailed | RTTurnPlease | RTTurnGive | RTClose
               | RTCloseAccept | RTUAbort | RTPAbort)
