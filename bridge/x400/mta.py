"""X.419 P1 over RTSE, sans-IO: the MTA-bind, MTS-APDU transfer and release.

X.419 §7 (1988) puts the MTA abstract service (X.411 §12) on RTSE: the MTA-bind is RT-OPEN
whose ConnectionData.open carries the MTABindArgument (in normal mode inside the ROS BIND
argument tag [16], X.219 §9; the MTABindResult in [17] and an MTABindError in [18] as the
RTORJ user data), each ``MTS-APDU`` is one RT-TRANSFER, and the MTA-unbind is RT-CLOSE.
X.410-1984 mode carries the same values bare in PConnect / PAccept and refuses a bind with
PRefuse validation-failure(2) (X.410 §5.7).  The MTA names and simple passwords are checked by
the *user* of this engine (the shell, against its peer table) between :class:`BindIndication`
and :class:`BindAccept` / :class:`BindReject`: the engine itself knows no credentials.

Application context ``id-ac-mts-transfer`` (2.6.0.1.6) with the abstract syntaxes ACSE
(2.2.1.0.1), ``id-as-mta-rtse`` (2.6.0.2.12) and ``id-as-mtse`` (2.6.0.2.7), all BER -- the
set the Isode sample in ``x400-samples`` proposes (contexts 1, 3 and 5).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from bridge.codec import rtpdu
from bridge.codec.ber import MAX_LENGTH
from bridge.codec.rtpdu import MTABind, RefuseReason
from bridge.errors import DecodeError, ProtocolError
from bridge.x400 import rtse
from bridge.x400.acse import AAssociate, AAssociateAccept
from bridge.x400.presentation import ContextDefinition, PConnect, PConnectAccept
from bridge.x400.rtse import (
    RTClose,
    RTCloseAccept,
    RTOpen,
    RTOpenAccept,
    RTOpenRefuse,
    RTPAbort,
    RTSEEngine,
    RTTransfer,
    RTTransferAccept,
    RTTransferConfirm,
    RTTransferFailed,
    RTTurnGive,
    RTTurnPlease,
    RTUAbort,
)
from bridge.x400.session import FunctionalUnit, SConnect, SConnectAccept, Token, TokenSide

Role = Literal["initiator", "responder"]
Mode = Literal["normal", "x410"]

#: X.419 §A.1 id-ac-mts-transfer and the abstract syntaxes of its contexts
AC_MTS_TRANSFER = "2.6.0.1.6"
AS_ACSE = "2.2.1.0.1"

#: X.228 §7.1.2: RTSE needs half-duplex, exceptions, activity management and minor sync
#: (0x0249, what the Isode sample requests).
RTSE_REQUIREMENTS = (FunctionalUnit.HALF_DUPLEX | FunctionalUnit.EXCEPTIONS
                     | FunctionalUnit.ACTIVITY | FunctionalUnit.MINOR_SYNC)


class BindError:
    """X.411 §12.1.3 MTABindError values."""

    BUSY = 0
    AUTHENTICATION_ERROR = 2
    UNACCEPTABLE_DIALOGUE_MODE = 3
    UNACCEPTABLE_SECURITY_CONTEXT = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Selectors:
    """OSI selectors of one end (T/S/P-selector octets; empty = absent)."""

    tsel: bytes = b""
    ssel: bytes = b""
    psel: bytes = b""


# ----------------------------------------------------------------------------- primitives

@dataclass(frozen=True, slots=True, kw_only=True)
class BindRequest:
    """MTA-bind request (initiator): our name and password, the peer's selectors."""

    name: str | None
    password: str | bytes | None = None
    calling: Selectors = Selectors()
    called: Selectors = Selectors()
    checkpoint_size: int = 0
    window_size: int = 3
    dialogue_mode: int = rtpdu.MONOLOGUE


@dataclass(frozen=True, slots=True, kw_only=True)
class BindIndication:
    """MTA-bind indication (responder): who the peer says it is, to be checked by the user."""

    initiator: MTABind
    mode: Mode
    dialogue_mode: int
    checkpoint_size: int
    window_size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BindAccept:
    """MTA-bind result (responder's response / initiator's confirm): the responder's name.

    On a confirm, ``deviations`` lists the responder's departures from X.228 that were
    tolerated (e.g. a raised checkpoint size), for the operator's log.
    """

    responder: MTABind
    deviations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BindReject:
    """MTA-bind error (responder's response / initiator's confirm), X.411 §12.1.3."""

    error: int | None = BindError.AUTHENTICATION_ERROR
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """One MTS-APDU (BER) to send, or received (then answer :class:`TransferAccept`)."""

    apdu: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferAccept:
    """The receiver stored the indicated APDU durably: confirm it to the sender."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferConfirm:
    """The peer confirmed our transfer: it has taken responsibility for the APDU."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferFailed:
    """Our transfer was not confirmed; the APDU stays ours."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    """MTA-unbind request / indication (initiator only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseConfirm:
    """MTA-unbind response / confirm."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Aborted:
    """The association ended abnormally (either side, or a layer below)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnRequested:
    """The peer asks for the turn (twa dialogue): answer with :class:`GiveTurn` when idle."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GiveTurn:
    """Give the turn to the peer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnReceived:
    """The peer gave us the turn."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AbortRequest:
    """Abort the association (RT-U-ABORT)."""


MTAPrimitive = (BindRequest | BindIndication | BindAccept | BindReject | Transfer
                | TransferAccept | TransferConfirm | TransferFailed | Release | ReleaseConfirm
                | Aborted | TurnRequested | GiveTurn | TurnReceived | AbortRequest)


def _refusal(reason: int | None, error: int | None) -> str:
    """The text of a refused bind: the MTABindError by name, and the RTSE refuse reason."""
    names = {rtpdu.RefuseReason.RTS_BUSY: "rtsBusy",
             rtpdu.RefuseReason.CANNOT_RECOVER: "cannotRecover",
             rtpdu.RefuseReason.VALIDATION_FAILURE: "validationFailure",
             rtpdu.RefuseReason.UNACCEPTABLE_DIALOGUE_MODE: "unacceptableDialogueMode"}
    parts = []
    if error is not None:
        parts.append(rtpdu.bind_error_name(error))
    if reason is not None:
        parts.append(f"RTSE refuse reason {names.get(reason, reason)}")
    return "; ".join(parts) or "refused without a reason"


def association_parameters(req: BindRequest) -> AAssociate:
    """The A-ASSOCIATE parameters of an MTA-bind in normal mode (X.419 §7.2, §A.1)."""
    contexts = (ContextDefinition(context_id=1, abstract_syntax=AS_ACSE),
                ContextDefinition(context_id=3, abstract_syntax=rtse.AS_MTA_RTSE),
                ContextDefinition(context_id=5, abstract_syntax=rtse.AS_MTSE))
    return AAssociate(application_context=AC_MTS_TRANSFER, presentation=PConnect(
        calling_psel=req.calling.psel, called_psel=req.called.psel, contexts=contexts,
        session=session_parameters(req)))


def session_parameters(req: BindRequest) -> SConnect:
    """S-CONNECT parameters: RTSE's functional units, every token on the initiator's side."""
    return SConnect(calling_ssel=req.calling.ssel, called_ssel=req.called.ssel,
                    requirements=RTSE_REQUIREMENTS, initial_tokens=_initial_tokens())


def _initial_tokens() -> dict[Token, TokenSide]:
    return {Token.DATA: TokenSide.INITIATOR, Token.MINOR_SYNC: TokenSide.INITIATOR,
            Token.MAJOR_ACTIVITY: TokenSide.INITIATOR}


class MTAEngine:
    """The P1 protocol machine of one association, over one :class:`RTSEEngine`."""

    def __init__(self, role: Role, *, mode: Mode = "normal",
                 max_apdu: int = MAX_LENGTH) -> None:
        self.role: Role = role
        self.mode: Mode = mode
        self.rtse = RTSEEngine(role, mode=mode, max_apdu=max_apdu)
        self._events: deque[MTAPrimitive] = deque()
        self._open: RTOpen | None = None
        self.peer: MTABind | None = None
        self.bound = False
        self._out: list[object] = []

    @property
    def x410(self) -> bool:
        return self.mode == "x410"

    def next_event(self) -> MTAPrimitive | None:
        return self._events.popleft() if self._events else None

    def pending(self) -> list[object]:
        """Primitives for the layer below queued while handling received ones."""
        out, self._out = self._out, []
        return out + self.rtse.pending()

    # ------------------------------------------------------------------ send

    def send(self, p: MTAPrimitive) -> list[object]:
        """Handle a request/response of the user; returns the primitives for the layer below."""
        if isinstance(p, BindRequest):
            data = rtpdu.encode_bind(MTABind(name=p.name, password=p.password), result=False,
                                     x410=self.x410)
            return self.rtse.send(RTOpen(
                user_data=data, dialogue_mode=p.dialogue_mode,
                checkpoint_size=p.checkpoint_size, window_size=p.window_size,
                # X.228 §9.1: applicationProtocol belongs to X.410-1984 mode; normal mode
                # names the protocol by its application context (as Isode's M-Switch does)
                application_protocol=rtpdu.PROTOCOL_P1_1984 if self.x410 else None,
                association=None if self.x410 else association_parameters(p),
                session=session_parameters(p) if self.x410 else None))
        if isinstance(p, BindAccept):
            data = rtpdu.encode_bind(p.responder, result=True, x410=self.x410)
            self.bound = True
            return self.rtse.send(RTOpenAccept(
                user_data=data,
                association=None if self.x410 else self._accept_association(),
                session=self._accept_session() if self.x410 else None))
        if isinstance(p, BindReject):
            if self.x410 or p.error is None:
                return self.rtse.send(RTOpenRefuse(reason=RefuseReason.VALIDATION_FAILURE))
            return self.rtse.send(RTOpenRefuse(reason=RefuseReason.VALIDATION_FAILURE,
                                               user_data=rtpdu.encode_bind_error(p.error)))
        if isinstance(p, Transfer):
            return self.rtse.send(RTTransfer(apdu=p.apdu))
        if isinstance(p, TransferAccept):
            return self.rtse.send(RTTransferAccept())
        if isinstance(p, Release):
            return self.rtse.send(RTClose())
        if isinstance(p, ReleaseConfirm):
            return self.rtse.send(RTCloseAccept())
        if isinstance(p, GiveTurn):
            return self.rtse.send(RTTurnGive())
        if isinstance(p, AbortRequest):
            return self.rtse.send(RTUAbort())
        raise ProtocolError(f"local: {type(p).__name__} cannot be sent", layer="p1")

    def request_turn(self) -> list[object]:
        """Ask the peer for the turn (twa dialogue)."""
        return self.rtse.send(RTTurnPlease(priority=0))

    def _accept_association(self) -> AAssociateAccept:
        return AAssociateAccept(application_context=AC_MTS_TRANSFER,
                                presentation=PConnectAccept(session=self._accept_session()))

    def _accept_session(self) -> SConnectAccept:
        assert self._open is not None
        proposed = self._open.session if self.x410 else (
            self._open.association.presentation.session
            if self._open.association is not None else None)
        requirements = RTSE_REQUIREMENTS
        if proposed is not None:
            requirements = proposed.requirements & RTSE_REQUIREMENTS
        return SConnectAccept(requirements=requirements, initial_tokens=_initial_tokens())

    # ------------------------------------------------------------------ receive

    def receive(self, primitive: object) -> None:
        """Feed a primitive from below (ACSE or session) and translate RTSE's events."""
        self.rtse.receive(primitive)
        while (ev := self.rtse.next_event()) is not None:
            self._on_rtse(ev)

    def _on_rtse(self, ev: rtse.RTPrimitive) -> None:
        if isinstance(ev, RTOpen):
            self._open = ev
            try:
                bind = rtpdu.decode_bind(ev.user_data or b"", result=False, x410=self.x410)
            except DecodeError as exc:
                self._events.append(Aborted(reason=f"undecodable MTA-bind argument: {exc}"))
                self._out += self.rtse.send(RTOpenRefuse(reason=RefuseReason.VALIDATION_FAILURE))
                return
            self.peer = bind
            self._events.append(BindIndication(
                initiator=bind, mode=self.mode, dialogue_mode=ev.dialogue_mode,
                checkpoint_size=ev.checkpoint_size, window_size=ev.window_size))
        elif isinstance(ev, RTOpenAccept):
            try:
                result = rtpdu.decode_bind(ev.user_data or b"", result=True, x410=self.x410)
            except DecodeError as exc:
                self._out += self.rtse.send(RTUAbort())
                self._events.append(Aborted(reason=f"undecodable MTA-bind result: {exc}"))
                return
            self.peer = result
            self.bound = True
            self._events.append(BindAccept(responder=result,
                                           deviations=tuple(self.rtse.deviations)))
        elif isinstance(ev, RTOpenRefuse):
            error: int | None = None
            if ev.user_data:
                try:
                    error = rtpdu.decode_bind_error(ev.user_data)
                except DecodeError:
                    error = None
            self._events.append(BindReject(error=error, reason=_refusal(ev.reason, error)))
        elif isinstance(ev, RTTransfer):
            self._events.append(Transfer(apdu=ev.apdu))
        elif isinstance(ev, RTTransferConfirm):
            self._events.append(TransferConfirm())
        elif isinstance(ev, RTTransferFailed):
            self._events.append(TransferFailed(reason=ev.reason))
        elif isinstance(ev, RTClose):
            self._events.append(Release())
        elif isinstance(ev, RTCloseAccept):
            self._events.append(ReleaseConfirm())
        elif isinstance(ev, RTTurnPlease):
            self._events.append(TurnRequested())
        elif isinstance(ev, RTTurnGive):
            self._events.append(TurnReceived())
        elif isinstance(ev, RTUAbort):
            self._events.append(Aborted(reason=f"peer aborted (RTAB reason {ev.reason})"))
        elif isinstance(ev, RTPAbort):
            self._events.append(Aborted(reason=ev.reason))
