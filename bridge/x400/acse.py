"""X.227 association control (ACSE protocol version 1, kernel), sans-IO, over presentation.

Theory of operation
-------------------
An association is a presentation connection plus the application context its users agree on
(X.217 §7).  This engine is the ACSE protocol machine (ACPM) of X.227 §7 and Annex A: it puts
the ACSE APDUs (``bridge.codec.acpdu``, X.227 §9) in the user data of the presentation service
as one presentation data value in the *ACSE presentation context* -- the context whose abstract
syntax is 2.2.1.0.1 (X.227 §7.1.5.2):

======================  ==========================================================
ACSE                    presentation
======================  ==========================================================
A-ASSOCIATE request     P-CONNECT request with AARQ (§7.1.4.1)
A-ASSOCIATE accept      P-CONNECT response accepted, AARE result accepted
A-ASSOCIATE reject      P-CONNECT response refused (CPR), AARE result rejected
A-RELEASE               P-RELEASE with RLRQ (§7.2)
A-RELEASE response      P-RELEASE response with RLRE (affirmative or negative)
A-ABORT                 P-U-ABORT with ABRT (§7.3.3)
A-P-ABORT               P-P-ABORT (§7.3.4)
======================  ==========================================================

P-DATA and the session pass-through primitives (tokens, synchronisation, activities,
exception reports) pass through unchanged in both directions once associated, so the layer
above (RTSE) talks to this engine only.  A P-DATA value in the ACSE context itself is a
protocol error: ACSE APDUs travel only in the primitives above.

The states are X.227 Annex A's (Table A.2) without the release-collision states STA6..STA11:
the session's release token (negotiated release) or the RTSE rule that only the association
initiator releases (X.228 §7.6) keep collisions out of this stack; a colliding RLRQ is a
protocol error here.  Not implemented: the A-UNIT-DATA APDUs, application-context
negotiation and the AP/AE invocation identifiers in the service primitives (they are decoded
by the codec but not surfaced).

Errors: an APDU that is not allowed in the state (:data:`TRANSITIONS`), undecodable, or in the
wrong context raises :class:`~bridge.errors.ProtocolError` (layer "acse") and the engine
closes; the local user's misuse raises ``ProtocolError("local: ...")`` and changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from bridge.codec import acpdu
from bridge.codec.acpdu import AARE, AARQ, ABRT, RLRE, RLRQ, AssociateResult, External
from bridge.errors import BridgeError, ProtocolError
from bridge.x400.presentation import (
    ACSE_AS,
    PDV,
    PConnect,
    PConnectAccept,
    PConnectRefuse,
    PData,
    PPAbort,
    PRelease,
    PReleaseAccept,
    PReleaseRefuse,
    PresentationPrimitive,
    PUAbort,
    Result,
    SessionPassThrough,
)
from bridge.x400.presentation import PASS_THROUGH as _SESSION_PASS_THROUGH

__all__ = [
    "ACSE_AS",
    "TRANSITIONS",
    "AAbort",
    "AAssociate",
    "AAssociateAccept",
    "AAssociateReject",
    "ACSEEngine",
    "ACSEPrimitive",
    "APAbort",
    "ARelease",
    "AReleaseAccept",
    "AReleaseRefuse",
    "AssociateResult",
    "External",
    "State",
]

Role = Literal["initiator", "responder"]
LAYER = "acse"

#: Result Source of A-ASSOCIATE (X.217 §7.1.1.8): 0 ACSE service-user, 1 ACSE service-provider
#: (the two alternatives of the AARE result-source-diagnostic), 2 presentation service-provider
#: (a P-CONNECT refused without an AARE).
SOURCE_PRESENTATION = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociate:
    """A-ASSOCIATE request / indication (X.217 §7.1; AARQ, X.227 §9.1).

    ``presentation`` is the P-CONNECT carrying it: contexts (including the ACSE one),
    selectors and session parameters; its user data is the AARQ, filled in by the engine.
    AP-titles are OIDs (form 2) or a Name's BER encoding (form 1); AE-qualifiers INTEGER (form
    2) or an RDN's BER encoding (form 1).
    """

    application_context: str
    calling_ap_title: str | bytes | None = None
    calling_ae_qualifier: int | bytes | None = None
    called_ap_title: str | bytes | None = None
    called_ae_qualifier: int | bytes | None = None
    mechanism_name: str | None = None
    authentication_value: bytes | None = None
    user_information: tuple[External, ...] = ()
    presentation: PConnect


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateAccept:
    """A-ASSOCIATE response / confirm, accepted (AARE with result accepted, X.227 §9.2)."""

    application_context: str
    responding_ap_title: str | bytes | None = None
    responding_ae_qualifier: int | bytes | None = None
    mechanism_name: str | None = None
    authentication_value: bytes | None = None
    user_information: tuple[External, ...] = ()
    presentation: PConnectAccept


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateReject:
    """A-ASSOCIATE response / confirm, rejected.

    ``result`` 1 rejected-permanent / 2 rejected-transient; ``source`` 0 ACSE service-user, 1
    ACSE service-provider, 2 presentation service-provider (confirm only: the P-CONNECT was
    refused without an AARE; ``diagnostic`` is then the CPR provider-reason or -1);
    ``diagnostic`` the number of X.227 §9.2 Associate-source-diagnostic (1 no-reason-given).
    ``application_context`` None echoes the request's.
    """

    result: int = AssociateResult.REJECTED_PERMANENT
    source: int = 0
    diagnostic: int = 1
    application_context: str | None = None
    user_information: tuple[External, ...] = ()
    presentation: PConnectRefuse | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ARelease:
    """A-RELEASE request / indication (RLRQ, X.227 §9.3); reason 0 normal, 1 urgent, 30."""

    reason: int | None = 0
    user_information: tuple[External, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AReleaseAccept:
    """A-RELEASE response / confirm, affirmative (RLRE, X.227 §9.4); reason 0 normal."""

    reason: int | None = 0
    user_information: tuple[External, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AReleaseRefuse:
    """A-RELEASE response / confirm, negative (RLRE in a refused P-RELEASE; needs the
    session negotiated-release unit); reason 1 not-finished."""

    reason: int | None = 1
    user_information: tuple[External, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AAbort:
    """A-ABORT request / indication (ABRT, X.227 §9.5); source 0 user, 1 provider."""

    source: int = 0
    user_information: tuple[External, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class APAbort:
    """A-P-ABORT indication (X.217 §7.3.4): the presentation provider aborted."""

    reason: int | None = None
    detail: str = ""


ACSEPrimitive = (
    AAssociate | AAssociateAccept | AAssociateReject | ARelease | AReleaseAccept
    | AReleaseRefuse | AAbort | APAbort
)


class State(Enum):
    """ACPM states (X.227 Annex A, Table A.2); collision states STA6..STA11 left out."""

    STA0 = "STA0"  # idle: unassociated
    STA1 = "STA1"  # awaiting AARE APDU
    STA2 = "STA2"  # awaiting A-ASSOCIATE response
    STA3 = "STA3"  # awaiting RLRE APDU
    STA4 = "STA4"  # awaiting A-RELEASE response
    STA5 = "STA5"  # associated
    CLOSED = "CLOSED"  # association gone (rejected, released, aborted, protocol error)


_ABORTS = ("A-ABRreq", "ABRT", "P-PABind")
_DATA_STATES = (State.STA3, State.STA4, State.STA5)

#: (state, event) -> next state (X.227 Annex A Table A.4, kernel).  Events: "A-...req/rsp"
#: from the user, APDU names from the peer, "P-...ind" from presentation, "data" for P-DATA
#: and the session pass-through primitives in either direction.
TRANSITIONS: dict[tuple[State, str], State] = {
    (State.STA0, "A-ASCreq"): State.STA1,
    (State.STA0, "AARQ"): State.STA2,
    (State.STA1, "AARE+"): State.STA5,
    (State.STA1, "AARE-"): State.CLOSED,
    (State.STA2, "A-ASCrsp+"): State.STA5,
    (State.STA2, "A-ASCrsp-"): State.CLOSED,
    (State.STA5, "A-RLSreq"): State.STA3,
    (State.STA5, "RLRQ"): State.STA4,
    (State.STA3, "RLRE+"): State.CLOSED,
    (State.STA3, "RLRE-"): State.STA5,
    (State.STA4, "A-RLSrsp+"): State.CLOSED,
    (State.STA4, "A-RLSrsp-"): State.STA5,
    **{(s, "data"): s for s in _DATA_STATES},
    **{(s, e): State.CLOSED for s in (State.STA1, State.STA2, State.STA3, State.STA4,
                                      State.STA5) for e in _ABORTS},
}


class ACSEEngine:
    """One association, either role (module docstring).

    ``acse_context_id`` is the presentation context identifier of the ACSE abstract syntax once
    known (from the P-CONNECT proposed or received).
    """

    def __init__(self, role: Role) -> None:
        self.role: Role = role
        self.state = State.STA0
        self.acse_context_id: int | None = None
        self._application_context: str | None = None
        self._proposed_ids: tuple[int, ...] = ()
        self._events: deque[ACSEPrimitive | PData | SessionPassThrough] = deque()

    # -- verbs ----------------------------------------------------------------------------

    def next_event(self) -> ACSEPrimitive | PData | SessionPassThrough | None:
        """The next primitive for the layer above, or None."""
        return self._events.popleft() if self._events else None

    def receive(self, primitive: object) -> None:
        """Take one primitive the PresentationEngine emitted."""
        if self.state is State.CLOSED:
            raise ProtocolError(f"{type(primitive).__name__} after the association ended",
                                layer=LAYER)
        try:
            self._receive(primitive)
        except ProtocolError:
            self.state = State.CLOSED
            raise
        except BridgeError as exc:  # DecodeError / EncodeError of an APDU
            self.state = State.CLOSED
            raise ProtocolError(str(exc), layer=LAYER) from exc

    def send(self, primitive: ACSEPrimitive | PData | SessionPassThrough
             ) -> list[PresentationPrimitive | SessionPassThrough]:
        """Map one primitive of the layer above to primitives for PresentationEngine.send."""
        if isinstance(primitive, AAssociate):
            return [self._send_associate(primitive)]
        if isinstance(primitive, AAssociateAccept):
            self._check("A-ASCrsp+")
            aare = AARE(application_context=primitive.application_context,
                        result=AssociateResult.ACCEPTED, source=0, diagnostic=0,
                        responding_ap_title=primitive.responding_ap_title,
                        responding_ae_qualifier=primitive.responding_ae_qualifier,
                        mechanism_name=primitive.mechanism_name,
                        authentication_value=primitive.authentication_value,
                        user_information=primitive.user_information)
            out: PresentationPrimitive = dataclasses.replace(
                primitive.presentation, user_data=self._wrap(aare))
            self._step("A-ASCrsp+", local=True)
            return [out]
        if isinstance(primitive, AAssociateReject):
            self._check("A-ASCrsp-")
            if primitive.source not in (0, 1) or primitive.result == AssociateResult.ACCEPTED:
                raise ProtocolError("local: a rejection has result 1 or 2 and source 0 or 1",
                                    layer=LAYER)
            context = primitive.application_context or self._application_context or ""
            aare = AARE(application_context=context, result=primitive.result,
                        source=primitive.source, diagnostic=primitive.diagnostic,
                        user_information=primitive.user_information)
            refuse = primitive.presentation or PConnectRefuse()
            out = dataclasses.replace(refuse, user_data=self._wrap(aare))
            self._step("A-ASCrsp-", local=True)
            return [out]
        if isinstance(primitive, ARelease):
            self._check("A-RLSreq")
            out = PRelease(user_data=self._wrap(RLRQ(
                reason=primitive.reason, user_information=primitive.user_information)))
            self._step("A-RLSreq", local=True)
            return [out]
        if isinstance(primitive, AReleaseAccept | AReleaseRefuse):
            event = "A-RLSrsp+" if isinstance(primitive, AReleaseAccept) else "A-RLSrsp-"
            self._check(event)
            rlre = self._wrap(RLRE(reason=primitive.reason,
                                   user_information=primitive.user_information))
            out = PReleaseAccept(user_data=rlre) if isinstance(primitive, AReleaseAccept) \
                else PReleaseRefuse(user_data=rlre)
            self._step(event, local=True)
            return [out]
        if isinstance(primitive, AAbort):
            self._check("A-ABRreq")
            out = PUAbort(user_data=self._wrap(ABRT(
                source=primitive.source, user_information=primitive.user_information)))
            self._step("A-ABRreq", local=True)
            return [out]
        if isinstance(primitive, PData):
            if any(p.context_id == self.acse_context_id for p in primitive.user_data):
                raise ProtocolError("local: P-DATA in the ACSE presentation context",
                                    layer=LAYER)
            self._step("data", local=True)
            return [primitive]
        if isinstance(primitive, _SESSION_PASS_THROUGH):
            self._step("data", local=True)
            return [primitive]  # type: ignore[list-item]
        raise ProtocolError(f"local: {type(primitive).__name__} cannot be sent", layer=LAYER)

    # -- helpers --------------------------------------------------------------------------

    def _check(self, event: str) -> None:
        if (self.state, event) not in TRANSITIONS:
            raise ProtocolError(f"local: {event} not allowed in state {self.state.name}",
                                layer=LAYER)

    def _step(self, event: str, *, local: bool = False) -> None:
        nxt = TRANSITIONS.get((self.state, event))
        if nxt is None:
            prefix = "local: " if local else ""
            raise ProtocolError(f"{prefix}{event} not allowed in state {self.state.name}",
                                layer=LAYER)
        self.state = nxt

    def _wrap(self, apdu: acpdu.APDU) -> tuple[PDV, ...]:
        if self.acse_context_id is None:  # pragma: no cover - set before any APDU is sent
            raise ProtocolError("local: no ACSE presentation context", layer=LAYER)
        return (PDV(context_id=self.acse_context_id, value=acpdu.encode_apdu(apdu)),)

    def _unwrap(self, pdvs: tuple[PDV, ...], what: str) -> acpdu.APDU | None:
        """The one ACSE APDU in ``pdvs`` (X.227 §7.1.5.2), None if there is no user data."""
        if not pdvs:
            return None
        if len(pdvs) != 1 or pdvs[0].context_id != self.acse_context_id:
            raise ProtocolError(f"{what} user data is not one value in the ACSE presentation "
                                "context", layer=LAYER)
        return acpdu.decode_apdu(pdvs[0].value)

    def _send_associate(self, p: AAssociate) -> PConnect:
        self._check("A-ASCreq")
        if self.role != "initiator":
            raise ProtocolError("local: only the initiator sends A-ASSOCIATE", layer=LAYER)
        ids = [c.context_id for c in p.presentation.contexts if c.abstract_syntax == ACSE_AS]
        if len(ids) != 1:
            raise ProtocolError("local: the P-CONNECT must propose exactly one ACSE context "
                                f"({ACSE_AS})", layer=LAYER)
        self.acse_context_id = ids[0]
        self._proposed_ids = tuple(c.context_id for c in p.presentation.contexts)
        self._application_context = p.application_context
        aarq = AARQ(application_context=p.application_context,
                    calling_ap_title=p.calling_ap_title,
                    calling_ae_qualifier=p.calling_ae_qualifier,
                    called_ap_title=p.called_ap_title, called_ae_qualifier=p.called_ae_qualifier,
                    mechanism_name=p.mechanism_name, authentication_value=p.authentication_value,
                    user_information=p.user_information)
        out = dataclasses.replace(p.presentation, user_data=self._wrap(aarq))
        self._step("A-ASCreq", local=True)
        return out

    # -- incoming -------------------------------------------------------------------------

    def _receive(self, p: object) -> None:
        if isinstance(p, PData):
            self._step("data")
            if any(v.context_id == self.acse_context_id for v in p.user_data):
                raise ProtocolError("P-DATA in the ACSE presentation context", layer=LAYER)
            self._events.append(p)
        elif isinstance(p, _SESSION_PASS_THROUGH):
            self._step("data")
            self._events.append(p)  # type: ignore[arg-type]
        elif isinstance(p, PConnect):
            self._recv_connect(p)
        elif isinstance(p, PConnectAccept):
            self._recv_accept(p)
        elif isinstance(p, PConnectRefuse):
            self._recv_refuse(p)
        elif isinstance(p, PRelease):
            self._recv_release(p)
        elif isinstance(p, PReleaseAccept | PReleaseRefuse):
            self._recv_release_response(p)
        elif isinstance(p, PUAbort):
            self._recv_abort(p)
        elif isinstance(p, PPAbort):
            self._step("P-PABind")
            self._events.append(APAbort(reason=p.reason, detail=p.detail))
        else:
            raise ProtocolError(f"unexpected primitive {type(p).__name__}", layer=LAYER)

    def _recv_connect(self, p: PConnect) -> None:
        if self.role != "responder":
            raise ProtocolError("P-CONNECT indication at the initiator", layer=LAYER)
        self._step("AARQ")
        ids = [c.context_id for c in p.contexts if c.abstract_syntax == ACSE_AS]
        if len(ids) != 1:
            raise ProtocolError(f"P-CONNECT without exactly one ACSE context ({ACSE_AS})",
                                layer=LAYER)
        self.acse_context_id = ids[0]
        self._proposed_ids = tuple(c.context_id for c in p.contexts)
        aarq = self._unwrap(p.user_data, "P-CONNECT")
        if not isinstance(aarq, AARQ):
            raise ProtocolError("P-CONNECT without an AARQ APDU", layer=LAYER)
        if 0 not in aarq.versions:  # X.227 §7.1.5.1: version1 is the only version here
            raise ProtocolError("AARQ without ACSE protocol version 1", layer=LAYER)
        self._application_context = aarq.application_context
        self._events.append(AAssociate(
            application_context=aarq.application_context,
            calling_ap_title=aarq.calling_ap_title,
            calling_ae_qualifier=aarq.calling_ae_qualifier,
            called_ap_title=aarq.called_ap_title, called_ae_qualifier=aarq.called_ae_qualifier,
            mechanism_name=aarq.mechanism_name, authentication_value=aarq.authentication_value,
            user_information=aarq.user_information,
            presentation=dataclasses.replace(p, user_data=())))

    def _recv_accept(self, p: PConnectAccept) -> None:
        if self.state is not State.STA1:
            raise ProtocolError(f"P-CONNECT confirm in state {self.state.name}", layer=LAYER)
        index = self._proposed_ids.index(self.acse_context_id) if self.acse_context_id \
            in self._proposed_ids else -1
        if not 0 <= index < len(p.results) or p.results[index].result != Result.ACCEPTANCE:
            raise ProtocolError("the ACSE presentation context was not accepted", layer=LAYER)
        aare = self._unwrap(p.user_data, "P-CONNECT confirm")
        if not isinstance(aare, AARE):
            raise ProtocolError("P-CONNECT confirm without an AARE APDU", layer=LAYER)
        if aare.result != AssociateResult.ACCEPTED:
            raise ProtocolError("AARE rejecting the association in an accepted P-CONNECT",
                                layer=LAYER)
        self._step("AARE+")
        self._events.append(AAssociateAccept(
            application_context=aare.application_context,
            responding_ap_title=aare.responding_ap_title,
            responding_ae_qualifier=aare.responding_ae_qualifier,
            mechanism_name=aare.mechanism_name, authentication_value=aare.authentication_value,
            user_information=aare.user_information,
            presentation=dataclasses.replace(p, user_data=())))

    def _recv_refuse(self, p: PConnectRefuse) -> None:
        self._step("AARE-")
        bare = dataclasses.replace(p, user_data=())
        aare = self._unwrap(p.user_data, "P-CONNECT refuse")
        if aare is None:  # X.227 §7.1.4.3: refused by the presentation service-provider
            self._events.append(AAssociateReject(
                result=AssociateResult.REJECTED_PERMANENT, source=SOURCE_PRESENTATION,
                diagnostic=-1 if p.reason is None else p.reason, presentation=bare))
            return
        if not isinstance(aare, AARE) or aare.result == AssociateResult.ACCEPTED:
            raise ProtocolError("P-CONNECT refuse without a rejecting AARE APDU", layer=LAYER)
        self._events.append(AAssociateReject(
            result=aare.result, source=aare.source, diagnostic=aare.diagnostic,
            application_context=aare.application_context,
            user_information=aare.user_information, presentation=bare))

    def _recv_release(self, p: PRelease) -> None:
        self._step("RLRQ")
        rlrq = self._unwrap(p.user_data, "P-RELEASE")
        if not isinstance(rlrq, RLRQ):
            raise ProtocolError("P-RELEASE without an RLRQ APDU", layer=LAYER)
        self._events.append(ARelease(reason=rlrq.reason,
                                     user_information=rlrq.user_information))

    def _recv_release_response(self, p: PReleaseAccept | PReleaseRefuse) -> None:
        self._step("RLRE+" if isinstance(p, PReleaseAccept) else "RLRE-")
        rlre = self._unwrap(p.user_data, "P-RELEASE confirm")
        if not isinstance(rlre, RLRE):
            raise ProtocolError("P-RELEASE confirm without an RLRE APDU", layer=LAYER)
        cls = AReleaseAccept if isinstance(p, PReleaseAccept) else AReleaseRefuse
        self._events.append(cls(reason=rlre.reason, user_information=rlre.user_information))

    def _recv_abort(self, p: PUAbort) -> None:
        self._step("ABRT")
        try:
            abrt = self._unwrap(p.user_data, "P-U-ABORT")
        except BridgeError as exc:
            # The association is gone either way (X.227 §7.3.3.4): tell the user it was
            # aborted by the provider, with what was wrong.
            self._events.append(APAbort(detail=f"P-U-ABORT with an unreadable ABRT: {exc}"))
            return
        if abrt is None:
            self._events.append(APAbort(detail="P-U-ABORT without an ABRT APDU"))
        elif isinstance(abrt, ABRT):
            self._events.append(AAbort(source=abrt.source,
                                       user_information=abrt.user_information))
        else:
            self._events.append(APAbort(detail="P-U-ABORT with an APDU other than ABRT"))
