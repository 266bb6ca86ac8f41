"""The X.215 session service primitives, as the session engine (:mod:`bridge.x400.session`)
takes and gives them: frozen keyword-only dataclasses, one class for request and indication
(and one for response and confirm).  Re-exported by :mod:`bridge.x400.session`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bridge.x400.spdu import FunctionalUnit, Token, TokenSetting, TokenSide

__all__ = [
    "ConnectionIdentifier", "SessionPrimitive", "SConnect", "SConnectAccept", "SConnectRefuse",
    "SData", "STokenGive", "STokenPlease", "SControlGive", "SSyncMinor", "SSyncMinorConfirm",
    "SActivityStart", "SActivityResume", "SActivityInterrupt", "SActivityInterruptConfirm",
    "SActivityDiscard", "SActivityDiscardConfirm", "SActivityEnd", "SActivityEndConfirm",
    "SUExceptionReport", "SPExceptionReport", "SRelease", "SReleaseAccept", "SReleaseRefuse",
    "SUAbort", "SPAbort",
]


# ---------------------------------------------------------------------- primitives (X.215)
@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionIdentifier:
    """Session Connection Identifier (X.215 §12.1; X.225 PGI 1): SS-user and common refs."""

    calling_ss_user_reference: bytes = b""
    common_reference: bytes = b""
    additional_reference: bytes = b""


def _freeze_tokens(obj: object, value: Mapping[Token, TokenSide] | None) -> None:
    if value is not None and not isinstance(value, TokenSetting):
        object.__setattr__(obj, "initial_tokens", TokenSetting(value))


@dataclass(frozen=True, slots=True, kw_only=True)
class SConnect:
    """S-CONNECT request/indication (X.215 §12.1; X.225 §7.1, CN SPDU).

    ``version`` is the highest protocol version proposed; ``initial_tokens`` (None: every
    available token on the initiator's side) is normalised to a hashable :class:`TokenSetting`.
    """

    calling_ssel: bytes = b""
    called_ssel: bytes = b""
    requirements: FunctionalUnit
    initial_tokens: Mapping[Token, TokenSide] | None = None
    connection_id: ConnectionIdentifier | None = None
    version: int = 2
    initial_serial: int | None = None
    user_data: bytes = b""

    def __post_init__(self) -> None:
        _freeze_tokens(self, self.initial_tokens)


@dataclass(frozen=True, slots=True, kw_only=True)
class SConnectAccept:
    """S-CONNECT response/confirm, accepted (X.225 §7.4, AC SPDU).

    In a response, ``requirements`` is intersected with the proposal and ``initial_tokens``
    resolves the tokens the proposal left to the called SS-user's choice.
    """

    responding_ssel: bytes = b""
    requirements: FunctionalUnit
    initial_tokens: Mapping[Token, TokenSide] | None = None
    connection_id: ConnectionIdentifier | None = None
    version: int = 2
    initial_serial: int | None = None
    user_data: bytes = b""

    def __post_init__(self) -> None:
        _freeze_tokens(self, self.initial_tokens)


@dataclass(frozen=True, slots=True, kw_only=True)
class SConnectRefuse:
    """S-CONNECT response/confirm, refused (X.225 §7.5, RF SPDU Reason Code PI 50)."""

    reason: int
    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SData:
    """S-DATA (X.225 §7.11, DT SPDU after an empty GT)."""

    user_data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class STokenGive:
    """S-TOKEN-GIVE (X.225 §7.16, GT SPDU with Token Item)."""

    tokens: Token


@dataclass(frozen=True, slots=True, kw_only=True)
class STokenPlease:
    """S-TOKEN-PLEASE (X.225 §7.17, PT SPDU)."""

    tokens: Token
    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SControlGive:
    """S-CONTROL-GIVE (X.225 §7.18 GTC, answered by §7.19 GTA): all tokens to the peer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SSyncMinor:
    """S-SYNC-MINOR (X.225 §7.20, MIP SPDU).  The engine assigns V(M) as the serial."""

    serial: int | None = None
    confirm_required: bool = True
    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SSyncMinorConfirm:
    """S-SYNC-MINOR response/confirm (X.225 §7.21, MIA SPDU)."""

    serial: int
    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SActivityStart:
    """S-ACTIVITY-START (X.225 §7.29, AS SPDU); V(M) becomes 1."""

    activity_id: bytes
    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SActivityResume:
    """S-ACTIVITY-RESUME (X.225 §7.30, AR SPDU with Linking Information PGI 33)."""

    activity_id: bytes
    old_activity_id: bytes
    serial: int
    old_connection_id: ConnectionIdentifier | None = None
    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SActivityInterrupt:
    """S-ACTIVITY-INTERRUPT request/indication (X.225 §7.31, AI SPDU)."""

    reason: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SActivityInterruptConfirm:
    """S-ACTIVITY-INTERRUPT response/confirm (X.225 §7.32, AIA SPDU)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SActivityDiscard:
    """S-ACTIVITY-DISCARD request/indication (X.225 §7.33, AD SPDU)."""

    reason: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SActivityDiscardConfirm:
    """S-ACTIVITY-DISCARD response/confirm (X.225 §7.34, ADA SPDU)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SActivityEnd:
    """S-ACTIVITY-END request/indication (X.225 §7.35, MAP/AE SPDU with V(M))."""

    serial: int | None = None
    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SActivityEndConfirm:
    """S-ACTIVITY-END response/confirm (X.225 §7.36, MAA/AEA SPDU)."""

    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SUExceptionReport:
    """S-U-EXCEPTION-REPORT (X.225 §7.28, ED SPDU)."""

    reason: int
    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SPExceptionReport:
    """S-P-EXCEPTION-REPORT indication (X.225 §7.27, ER SPDU); never sent by a user."""

    reason: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SRelease:
    """S-RELEASE request/indication (X.225 §7.6, FN SPDU, transport released)."""

    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SReleaseAccept:
    """S-RELEASE response/confirm, accepted (X.225 §7.7, DN SPDU)."""

    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SReleaseRefuse:
    """S-RELEASE response/confirm, refused (X.225 §7.8, NF SPDU; negotiated release only)."""

    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SUAbort:
    """S-U-ABORT (X.225 §7.9, AB SPDU with user-abort; v1 user data <= 9 octets)."""

    user_data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SPAbort:
    """S-P-ABORT indication (X.225 §6.6, §7.9): transport lost or the peer SPM aborted."""

    reason: int = 0
    detail: str = ""


SessionPrimitive = (
    SConnect | SConnectAccept | SConnectRefuse | SData | STokenGive | STokenPlease
    | SControlGive | SSyncMinor | SSyncMinorConfirm | SActivityStart | SActivityResume
    | SActivityInterrupt | SActivityInterruptConfirm | SActivityDiscard
    | SActivityDiscardConfirm | SActivityEnd | SActivityEndConfirm | SUExceptionReport
    | SPExceptionReport | SRelease | SReleaseAccept | SReleaseRefuse | SUAbort | SPAbort
)
