"""X.226 presentation protocol machine, kernel functional unit, normal mode, sans-IO.

Theory of operation
-------------------
The presentation layer of this stack does one thing: it negotiates a *defined context set* --
presentation context identifier -> abstract syntax, always with the BER transfer syntax 2.1.1
(X.690) -- and wraps the values of the layer above in the PPDUs of X.226 §8 that ride in the
user data of the session service (X.226 §6, §7 and the mapping tables of X.226 Annex A):

=====================  ===================================================================
presentation           session
=====================  ===================================================================
P-CONNECT request      S-CONNECT with a CP PPDU (§8.2): normal mode, selectors, the context
                       definition list, user data as fully-encoded-data
P-CONNECT accept       S-CONNECT accept with a CPA PPDU (§8.3): the result of every context
P-CONNECT refuse       S-CONNECT refuse with a CPR PPDU (§8.4)
P-DATA                 S-DATA with a TD PPDU: User-data (§8.7)
P-RELEASE (+accept,    S-RELEASE (+accept, refuse) with User-data
refuse)
P-U-ABORT              S-U-ABORT with an ARU PPDU (§8.5.1)
P-P-ABORT              S-U-ABORT with an ARP PPDU (§8.5.2) or S-P-ABORT
=====================  ===================================================================

The *responder engine* computes the context results itself (X.226 §7.1.3): a context whose
abstract syntax is in ``abstract_syntaxes`` and whose proposed transfer syntaxes include BER is
accepted with BER, any other is provider-rejected with abstract-syntax-not-supported (1) or
proposed-transfer-syntaxes-not-supported (2) (X.226 §8.3 Result-list).  The user's
:class:`PConnectAccept` may leave ``results`` empty to take those; it may turn an acceptance
into a user-rejection, never the reverse.

The session services without presentation user data of their own -- tokens, control give,
minor synchronisation, activities, exception reports (X.226 §7.5-§7.8 map them one to one) --
pass through this engine unchanged in both directions.  X.226 would carry their user data as
User-data; this stack's users (RTSE, X.228 §7.4) send none, so any user data a peer puts there
is passed through as the raw session octets, not decoded.

Every presentation data value must be in the defined context set (X.226 §7.3.2.1): a value in
another context, an undecodable PPDU or a PPDU that is not allowed in the state (see
:data:`TRANSITIONS`) raises :class:`~bridge.errors.ProtocolError` (layer "presentation") and
the engine is closed; the shell then aborts (it may ``send(PPAbort(...))`` to put an ARP PPDU
in the S-U-ABORT).  Misuse by the local user raises ``ProtocolError("local: ...")`` and leaves
the state alone.  Not implemented: X.410-1984 mode (RTSE talks to the session directly there),
context management, restoration, the default context, typed, capability and expedited data.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from bridge.codec import ppdu
from bridge.codec.ppdu import (
    ACSE_AS,
    BER,
    PDV,
    AbortReason,
    ContextDefinition,
    ContextResult,
    RefuseReason,
    Result,
    ResultReason,
)
from bridge.errors import BridgeError, ProtocolError
from bridge.x400.session import (
    SActivityDiscard,
    SActivityDiscardConfirm,
    SActivityEnd,
    SActivityEndConfirm,
    SActivityInterrupt,
    SActivityInterruptConfirm,
    SActivityResume,
    SActivityStart,
    SConnect,
    SConnectAccept,
    SConnectRefuse,
    SControlGive,
    SData,
    SPAbort,
    SPExceptionReport,
    SRelease,
    SReleaseAccept,
    SReleaseRefuse,
    SSyncMinor,
    SSyncMinorConfirm,
    STokenGive,
    STokenPlease,
    SUAbort,
    SUExceptionReport,
)

__all__ = [
    "ACSE_AS",
    "BER",
    "PDV",
    "TRANSITIONS",
    "AbortReason",
    "ContextDefinition",
    "ContextResult",
    "PASS_THROUGH",
    "PConnect",
    "PConnectAccept",
    "PConnectRefuse",
    "PData",
    "PPAbort",
    "PRelease",
    "PReleaseAccept",
    "PReleaseRefuse",
    "PUAbort",
    "PresentationEngine",
    "PresentationPrimitive",
    "RefuseReason",
    "Result",
    "ResultReason",
    "SessionPassThrough",
    "State",
]

Role = Literal["initiator", "responder"]

#: Session primitives that X.226 maps one to one and that carry no PPDU here (module docstring).
SessionPassThrough = (
    STokenGive | STokenPlease | SControlGive | SSyncMinor | SSyncMinorConfirm | SActivityStart
    | SActivityResume | SActivityInterrupt | SActivityInterruptConfirm | SActivityDiscard
    | SActivityDiscardConfirm | SActivityEnd | SActivityEndConfirm | SUExceptionReport
    | SPExceptionReport
)
PASS_THROUGH: tuple[type, ...] = (
    STokenGive, STokenPlease, SControlGive, SSyncMinor, SSyncMinorConfirm, SActivityStart,
    SActivityResume, SActivityInterrupt, SActivityInterruptConfirm, SActivityDiscard,
    SActivityDiscardConfirm, SActivityEnd, SActivityEndConfirm, SUExceptionReport,
    SPExceptionReport,
)

#: S-CONNECT refuse Reason Code "rejection by the called SS-user, user data follows"
#: (X.225 §8.3.5.11, Reason Code value 2): a CPR PPDU is in the user data.
_SESSION_REFUSE_WITH_DATA = 2


# ---------------------------------------------------------------------------------------------
# Service primitives (X.216 P-CONNECT, P-DATA, P-RELEASE, P-U-ABORT, P-P-ABORT)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PConnect:
    """P-CONNECT request / indication (X.216 §11; CP PPDU, X.226 §8.2).

    ``session`` holds the session parameters of the S-CONNECT (its user data is replaced by the
    CP PPDU on the way down and emptied on the way up).
    """

    calling_psel: bytes = b""
    called_psel: bytes = b""
    contexts: tuple[ContextDefinition, ...]
    session: SConnect
    user_data: tuple[PDV, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PConnectAccept:
    """P-CONNECT response / confirm, accepted (CPA PPDU, X.226 §8.3).

    As a response, empty ``results`` take the responder engine's own results.
    """

    responding_psel: bytes = b""
    results: tuple[ContextResult, ...] = ()
    session: SConnectAccept
    user_data: tuple[PDV, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PConnectRefuse:
    """P-CONNECT response / confirm, refused (CPR PPDU, X.226 §8.4).

    ``reason`` is the CPR Provider-reason (:class:`RefuseReason`; None = refused by the user);
    ``session_reason`` is the S-CONNECT refuse Reason Code (X.225 §8.3.5.11).  A confirm
    without a CPR (the session itself refused) has ``reason`` None and no results.
    """

    reason: int | None = None
    results: tuple[ContextResult, ...] = ()
    user_data: tuple[PDV, ...] = ()
    session_reason: int = _SESSION_REFUSE_WITH_DATA


@dataclass(frozen=True, slots=True, kw_only=True)
class PData:
    """P-DATA (X.216 §13.2; TD PPDU, X.226 §8.7)."""

    user_data: tuple[PDV, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PRelease:
    """P-RELEASE request / indication (X.216 §12.2; S-RELEASE with User-data)."""

    user_data: tuple[PDV, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PReleaseAccept:
    """P-RELEASE response / confirm, affirmative."""

    user_data: tuple[PDV, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PReleaseRefuse:
    """P-RELEASE response / confirm, negative (needs the session negotiated-release unit)."""

    user_data: tuple[PDV, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PUAbort:
    """P-U-ABORT request / indication (X.216 §12.3; ARU PPDU, X.226 §8.5.1)."""

    user_data: tuple[PDV, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PPAbort:
    """P-P-ABORT indication (X.216 §12.4; ARP PPDU or S-P-ABORT).

    ``reason`` is the ARP Abort-reason (:class:`AbortReason`) when an ARP was received, else
    None; ``detail`` says what happened.  Sent by the local shell, it becomes an S-U-ABORT
    carrying an ARP PPDU with that reason (X.226 §7.4.2).
    """

    reason: int | None = None
    detail: str = ""


PresentationPrimitive = (
    PConnect | PConnectAccept | PConnectRefuse | PData | PRelease | PReleaseAccept
    | PReleaseRefuse | PUAbort | PPAbort
)


# ---------------------------------------------------------------------------------------------
# State table (X.226 Annex A, kernel, normal mode)
# ---------------------------------------------------------------------------------------------


class State(Enum):
    """Presentation protocol machine states (X.226 Annex A, Table A.1 names)."""

    STAI0 = "STAI0"  # idle, no connection
    STAI1 = "STAI1"  # awaiting CPA PPDU (P-CONNECT request sent)
    STAI2 = "STAI2"  # awaiting P-CONNECT response (CP received)
    STAt0 = "STAt0"  # connected: data transfer, release in progress in the session
    CLOSED = "CLOSED"  # connection gone (released, refused, aborted or protocol error)


_ABORTS = ("P-UABreq", "P-PABreq", "ARU", "ARP", "S-PABind")

#: (state, event) -> next state; anything missing is not allowed in that state.  Events are
#: X.226 Annex A's: "...req"/"...rsp" from the user, PPDU names and "S-...ind/cnf" from below.
TRANSITIONS: dict[tuple[State, str], State] = {
    (State.STAI0, "P-CONreq"): State.STAI1,
    (State.STAI0, "CP"): State.STAI2,
    (State.STAI1, "CPA"): State.STAt0,
    (State.STAI1, "CPR"): State.CLOSED,
    (State.STAI2, "P-CONrsp+"): State.STAt0,
    (State.STAI2, "P-CONrsp-"): State.CLOSED,
    (State.STAt0, "P-DTreq"): State.STAt0,
    (State.STAt0, "TD"): State.STAt0,
    (State.STAt0, "P-RELreq"): State.STAt0,
    (State.STAt0, "S-RELind"): State.STAt0,
    (State.STAt0, "P-RELrsp+"): State.CLOSED,
    (State.STAt0, "S-RELcnf+"): State.CLOSED,
    (State.STAt0, "P-RELrsp-"): State.STAt0,
    (State.STAt0, "S-RELcnf-"): State.STAt0,
    (State.STAt0, "pass-through-req"): State.STAt0,
    (State.STAt0, "pass-through-ind"): State.STAt0,
    **{(s, e): State.CLOSED for s in (State.STAI1, State.STAI2, State.STAt0) for e in _ABORTS},
}


def _negotiate(proposed: ContextDefinition, supported: frozenset[str]) -> ContextResult:
    """The responder's result for one proposed context (X.226 §7.1.3, §8.3)."""
    if proposed.abstract_syntax not in supported:
        return ContextResult(result=Result.PROVIDER_REJECTION, transfer_syntax=None,
                             reason=ResultReason.ABSTRACT_SYNTAX_NOT_SUPPORTED)
    if BER not in proposed.transfer_syntaxes:
        return ContextResult(result=Result.PROVIDER_REJECTION, transfer_syntax=None,
                             reason=ResultReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED)
    return ContextResult(result=Result.ACCEPTANCE, transfer_syntax=BER)


class PresentationEngine:
    """One presentation connection, either role (module docstring).

    ``contexts`` is the defined context set once connected: context id -> abstract syntax.
    """

    def __init__(self, role: Role, *, abstract_syntaxes: frozenset[str] = frozenset()) -> None:
        self.role: Role = role
        self.abstract_syntaxes = frozenset(abstract_syntaxes)
        self.state = State.STAI0
        self.contexts: dict[int, str] = {}
        self._proposed: tuple[ContextDefinition, ...] = ()
        self._results: tuple[ContextResult, ...] = ()
        self._events: deque[PresentationPrimitive | SessionPassThrough] = deque()

    # -- verbs ----------------------------------------------------------------------------

    def next_event(self) -> PresentationPrimitive | SessionPassThrough | None:
        """The next primitive for the layer above, or None."""
        return self._events.popleft() if self._events else None

    def receive(self, primitive: object) -> None:
        """Take one primitive the session engine emitted (X.226 Annex A incoming events)."""
        try:
            self._receive(primitive)
        except ProtocolError:
            self.state = State.CLOSED
            raise
        except BridgeError as exc:  # DecodeError of a PPDU
            self.state = State.CLOSED
            raise ProtocolError(str(exc), layer="presentation") from exc

    def send(self, primitive: PresentationPrimitive | SessionPassThrough) -> list[object]:
        """Map one primitive of the layer above to session primitives for SessionEngine.send."""
        if isinstance(primitive, PConnect):
            return [self._send_connect(primitive)]
        if isinstance(primitive, PConnectAccept):
            return [self._send_accept(primitive)]
        if isinstance(primitive, PConnectRefuse):
            return [self._send_refuse(primitive)]
        if isinstance(primitive, PData):
            self._check("P-DTreq")
            self._check_contexts(primitive.user_data, local=True)
            out: object = SData(user_data=ppdu.encode_user_data(primitive.user_data))
            self._step("P-DTreq", local=True)
            return [out]
        if isinstance(primitive, PRelease | PReleaseAccept | PReleaseRefuse):
            self._check("P-RELreq" if isinstance(primitive, PRelease) else
                        "P-RELrsp+" if isinstance(primitive, PReleaseAccept) else "P-RELrsp-")
            self._check_contexts(primitive.user_data, local=True)
            data = ppdu.encode_user_data(primitive.user_data) if primitive.user_data else b""
            if isinstance(primitive, PRelease):
                self._step("P-RELreq", local=True)
                return [SRelease(user_data=data)]
            if isinstance(primitive, PReleaseAccept):
                self._step("P-RELrsp+", local=True)
                return [SReleaseAccept(user_data=data)]
            self._step("P-RELrsp-", local=True)
            return [SReleaseRefuse(user_data=data)]
        if isinstance(primitive, PUAbort):
            self._check("P-UABreq")
            data = b""
            if primitive.user_data:
                # X.226 §8.5.1: the contexts of the values, each with its transfer syntax
                ids = tuple((cid, BER)
                            for cid in sorted({p.context_id for p in primitive.user_data}))
                data = ppdu.encode_abort(ppdu.ARU(context_ids=ids, user_data=primitive.user_data))
            self._step("P-UABreq", local=True)
            return [SUAbort(user_data=data)]
        if isinstance(primitive, PPAbort):
            self._step("P-PABreq", local=True)
            reason = AbortReason.REASON_NOT_SPECIFIED if primitive.reason is None \
                else primitive.reason
            return [SUAbort(user_data=ppdu.encode_abort(ppdu.ARP(reason=reason)))]
        if isinstance(primitive, PASS_THROUGH):
            self._step("pass-through-req", local=True)
            return [primitive]
        raise ProtocolError(f"local: {type(primitive).__name__} cannot be sent",
                            layer="presentation")

    # -- helpers --------------------------------------------------------------------------

    def _check(self, event: str) -> None:
        """Local misuse: ``event`` from the user is not allowed in the state."""
        if (self.state, event) not in TRANSITIONS:
            raise ProtocolError(f"local: {event} not allowed in state {self.state.name}",
                                layer="presentation")

    def _step(self, event: str, *, local: bool = False) -> None:
        nxt = TRANSITIONS.get((self.state, event))
        if nxt is None:
            if local:
                raise ProtocolError(f"local: {event} not allowed in state {self.state.name}",
                                    layer="presentation")
            raise ProtocolError(f"{event} not allowed in state {self.state.name}",
                                layer="presentation")
        self.state = nxt

    def _check_contexts(self, pdvs: tuple[PDV, ...], *, local: bool = False,
                        allowed: dict[int, str] | None = None) -> None:
        """X.226 §7.3.2.1: every value must be in the defined context set."""
        defined = self.contexts if allowed is None else allowed
        for pdv in pdvs:
            if pdv.context_id not in defined:
                prefix = "local: " if local else ""
                raise ProtocolError(f"{prefix}presentation context {pdv.context_id} is not in "
                                    "the defined context set", layer="presentation")

    # -- connection establishment (X.226 §7.1) --------------------------------------------

    def _send_connect(self, p: PConnect) -> SConnect:
        if self.role != "initiator":
            raise ProtocolError("local: only the initiator sends P-CONNECT", layer="presentation")
        ids = [c.context_id for c in p.contexts]
        if len(set(ids)) != len(ids) or any(i <= 0 or i % 2 == 0 for i in ids):
            # X.226 §8.2: the initiator's identifiers are odd (its responder's even), unique.
            raise ProtocolError("local: presentation context identifiers must be unique and odd",
                                layer="presentation")
        self._check_contexts(p.user_data, local=True, allowed={i: "" for i in ids})
        data = ppdu.encode_cp(ppdu.CP(calling_selector=p.calling_psel,
                                      called_selector=p.called_psel, contexts=p.contexts,
                                      user_data=p.user_data))
        self._step("P-CONreq", local=True)
        self._proposed = p.contexts
        return dataclasses.replace(p.session, user_data=data)

    def _send_accept(self, p: PConnectAccept) -> SConnectAccept:
        if self.state is not State.STAI2:
            raise ProtocolError(f"local: P-CONrsp+ not allowed in state {self.state.name}",
                                layer="presentation")
        results = self._results
        if p.results:
            if len(p.results) != len(results):
                raise ProtocolError("local: one result per proposed context is needed",
                                    layer="presentation")
            for mine, theirs in zip(results, p.results, strict=True):
                if theirs.result == Result.ACCEPTANCE and mine.result != Result.ACCEPTANCE:
                    raise ProtocolError("local: a context the provider rejected cannot be "
                                        "accepted", layer="presentation")
            results = p.results
        contexts = {c.context_id: c.abstract_syntax
                    for c, r in zip(self._proposed, results, strict=True)
                    if r.result == Result.ACCEPTANCE}
        self._check_contexts(p.user_data, local=True, allowed=contexts)
        data = ppdu.encode_cpa(ppdu.CPA(responding_selector=p.responding_psel, results=results,
                                        user_data=p.user_data))
        self._step("P-CONrsp+", local=True)
        self.contexts = contexts
        return dataclasses.replace(p.session, user_data=data)

    def _send_refuse(self, p: PConnectRefuse) -> SConnectRefuse:
        if self.state is not State.STAI2:
            raise ProtocolError(f"local: P-CONrsp- not allowed in state {self.state.name}",
                                layer="presentation")
        results = p.results or self._results
        self._check_contexts(p.user_data, local=True,
                             allowed={c.context_id: "" for c in self._proposed})
        data = ppdu.encode_cpr(ppdu.CPR(results=results, reason=p.reason,
                                        user_data=p.user_data))
        self._step("P-CONrsp-", local=True)
        return SConnectRefuse(reason=p.session_reason, user_data=data)

    # -- incoming -------------------------------------------------------------------------

    def _receive(self, s: object) -> None:
        if self.state is State.CLOSED:
            raise ProtocolError(f"{type(s).__name__} after the connection ended",
                                layer="presentation")
        if isinstance(s, SData):
            self._step("TD")
            pdvs = ppdu.decode_user_data(s.user_data)
            self._check_contexts(pdvs)
            self._events.append(PData(user_data=pdvs))
        elif isinstance(s, SConnect):
            self._recv_cp(s)
        elif isinstance(s, SConnectAccept):
            self._recv_cpa(s)
        elif isinstance(s, SConnectRefuse):
            self._recv_cpr(s)
        elif isinstance(s, SRelease | SReleaseAccept | SReleaseRefuse):
            event = {SRelease: "S-RELind", SReleaseAccept: "S-RELcnf+",
                     SReleaseRefuse: "S-RELcnf-"}[type(s)]
            self._step(event)
            pdvs = ppdu.decode_user_data(s.user_data) if s.user_data else ()
            self._check_contexts(pdvs)
            if isinstance(s, SRelease):
                self._events.append(PRelease(user_data=pdvs))
            elif isinstance(s, SReleaseAccept):
                self._events.append(PReleaseAccept(user_data=pdvs))
            else:
                self._events.append(PReleaseRefuse(user_data=pdvs))
        elif isinstance(s, SUAbort):
            self._recv_abort(s)
        elif isinstance(s, SPAbort):
            self._step("S-PABind")
            detail = "session provider abort" + (f": {s.detail}" if s.detail else "")
            self._events.append(PPAbort(reason=None, detail=detail))
        elif isinstance(s, PASS_THROUGH):
            self._step("pass-through-ind")
            self._events.append(s)  # type: ignore[arg-type]
        else:
            raise ProtocolError(f"unexpected session primitive {type(s).__name__}",
                                layer="presentation")

    def _recv_cp(self, s: SConnect) -> None:
        if self.role != "responder":
            raise ProtocolError("S-CONNECT indication at the initiator", layer="presentation")
        self._step("CP")
        cp = ppdu.decode_cp(s.user_data)
        if 0 not in cp.versions:  # X.226 §8.2: version-1 is the only protocol version
            raise ProtocolError("CP PPDU without protocol version 1", layer="presentation")
        if cp.default_context is not None:
            raise ProtocolError("CP PPDU with a default context (not supported)",
                                layer="presentation")
        if any(c.context_id % 2 == 0 for c in cp.contexts):
            raise ProtocolError("even presentation context identifier in a CP PPDU (X.226 §8.2)",
                                layer="presentation")
        self._check_contexts(cp.user_data, allowed={c.context_id: "" for c in cp.contexts})
        self._proposed = cp.contexts
        self._results = tuple(_negotiate(c, self.abstract_syntaxes) for c in cp.contexts)
        self._events.append(PConnect(calling_psel=cp.calling_selector,
                                     called_psel=cp.called_selector, contexts=cp.contexts,
                                     session=dataclasses.replace(s, user_data=b""),
                                     user_data=cp.user_data))

    def _recv_cpa(self, s: SConnectAccept) -> None:
        self._step("CPA")
        cpa = ppdu.decode_cpa(s.user_data)
        if len(cpa.results) != len(self._proposed):
            raise ProtocolError(f"CPA PPDU with {len(cpa.results)} results for "
                                f"{len(self._proposed)} proposed contexts", layer="presentation")
        contexts = {}
        for proposed, result in zip(self._proposed, cpa.results, strict=True):
            if result.result == Result.ACCEPTANCE:
                if result.transfer_syntax not in proposed.transfer_syntaxes:
                    raise ProtocolError(f"context {proposed.context_id} accepted with a "
                                        "transfer syntax not proposed", layer="presentation")
                if result.transfer_syntax != BER:
                    raise ProtocolError(f"context {proposed.context_id} accepted with transfer "
                                        f"syntax {result.transfer_syntax}", layer="presentation")
                contexts[proposed.context_id] = proposed.abstract_syntax
        self.contexts = contexts
        self._check_contexts(cpa.user_data)
        self._events.append(PConnectAccept(responding_psel=cpa.responding_selector,
                                           results=cpa.results,
                                           session=dataclasses.replace(s, user_data=b""),
                                           user_data=cpa.user_data))

    def _recv_cpr(self, s: SConnectRefuse) -> None:
        self._step("CPR")
        if not s.user_data:  # refused by the session provider or user without a CPR
            self._events.append(PConnectRefuse(session_reason=s.reason))
            return
        cpr = ppdu.decode_cpr(s.user_data)
        self._check_contexts(cpr.user_data, allowed={c.context_id: "" for c in self._proposed})
        self._events.append(PConnectRefuse(reason=cpr.reason, results=cpr.results,
                                           user_data=cpr.user_data, session_reason=s.reason))

    def _recv_abort(self, s: SUAbort) -> None:
        if not s.user_data:
            self._step("ARU")
            self._events.append(PUAbort())
            return
        try:
            pdu = ppdu.decode_abort(s.user_data)
        except BridgeError as exc:
            # X.226 §7.4.2: an unreadable abort PPDU still ends the connection -- as a
            # provider abort, which is all the user can be told.
            self._step("ARP")
            self._events.append(PPAbort(reason=None, detail=f"undecodable abort PPDU: {exc}"))
            return
        if isinstance(pdu, ppdu.ARP):
            self._step("ARP")
            self._events.append(PPAbort(reason=pdu.reason,
                                        detail="presentation provider abort (ARP PPDU)"))
            return
        self._step("ARU")
        allowed = self.contexts or {c.context_id: "" for c in self._proposed}
        self._check_contexts(pdu.user_data, allowed=allowed)
        self._events.append(PUAbort(user_data=pdu.user_data))
