"""X.228 Reliable Transfer (RTSE) protocol machine, sans-IO: normal mode and X.410-1984 mode.

Theory of operation
-------------------
RTSE gives its user (P1, :mod:`bridge.x400.mta`) an association on which whole APDUs are
transferred reliably (X.218 §7): RT-OPEN, RT-TRANSFER, RT-TURN-PLEASE, RT-TURN-GIVE, RT-CLOSE,
RT-U-ABORT / RT-P-ABORT.  Below it:

* **normal mode** (X.228 §7.1 a): ACSE over presentation -- this engine talks to
  :class:`bridge.x400.acse.ACSEEngine`.  RT-OPEN is A-ASSOCIATE whose user information is one
  EXTERNAL holding the RTORQ / RTOAC / RTORJ APDU in the RTSE presentation context; a
  transferred APDU is wrapped in an EXTERNAL naming the *user's* presentation context
  (X.228 §7.3.1) and sent as RTTR APDUs (OCTET STRING segments, §9.1) in P-DATA of the RTSE
  context.
* **X.410-1984 mode** (X.228 §7.1 b): directly over the session service -- this engine talks
  to :class:`bridge.x400.session.SessionEngine`.  RT-OPEN is S-CONNECT carrying PConnect /
  PAccept / PRefuse (X.410 §5.7); the APDU's octets are the S-DATA user data.

Each transfer is one session *activity* (X.228 §7.4): S-ACTIVITY-START, S-DATA segments with
S-SYNC-MINOR checkpoints every ``checkpoint_size`` KiB (at most ``window_size`` unconfirmed,
§7.4.2) when checkpointing was negotiated, S-ACTIVITY-END.  The receiver answers the
activity end only when its user says the APDU is durable (:class:`RTTransferAccept`): X.218
does not give the receiving user a response primitive, but a gateway must not confirm a
transfer before it has stored the message (mail accepted is mail kept), so the indication is
answered explicitly.  An S-ACTIVITY-INTERRUPT keeps the data up to the last confirmed
checkpoint for an S-ACTIVITY-RESUME (recovery, X.228 §7.4.4); a discard drops it.

The turn (X.228 §7.5) is the data, minor-synchronize and major/activity tokens together:
RT-TURN-PLEASE is S-TOKEN-PLEASE with an RTTP APDU, RT-TURN-GIVE is S-CONTROL-GIVE.

Engine verbs (see :mod:`bridge.x400`): ``receive(primitive_from_below)``, ``next_event()``,
``send(rt_primitive) -> list[primitive_for_below]``; primitives queued by ``receive`` (a
minor-sync confirmation, the next window of segments) are collected with ``pending()``.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from bridge.codec import rtpdu
from bridge.codec.ber import MAX_LENGTH
from bridge.codec.rtpdu import RTAB, RTOAC, RTORJ, RTORQ, RTTP, AbortReason, RefuseReason
from bridge.errors import DecodeError, ProtocolError
from bridge.x400.acse import (
    AAbort,
    AAssociate,
    AAssociateAccept,
    AAssociateReject,
    APAbort,
    ARelease,
    AReleaseAccept,
    External,
)
from bridge.x400.presentation import PDV, PData, PPAbort
from bridge.x400.rtse_primitives import (
    RTClose,
    RTCloseAccept,
    RTOpen,
    RTOpenAccept,
    RTOpenRefuse,
    RTPAbort,
    RTPrimitive,
    RTTransfer,
    RTTransferAccept,
    RTTransferConfirm,
    RTTransferFailed,
    RTTurnGive,
    RTTurnPlease,
    RTUAbort,
)
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
    SSyncMinor,
    SSyncMinorConfirm,
    STokenGive,
    STokenPlease,
    SUAbort,
    SUExceptionReport,
    Token,
)

Role = Literal["initiator", "responder"]
Mode = Literal["normal", "x410"]

#: X.419 §7.2 abstract syntaxes: id-as-mta-rtse (RTSE APDUs incl. the MTA-bind) and
#: id-as-mtse (MTS-APDU), and the BER transfer syntax (X.690, {joint-iso-itu-t asn1(1)
#: basic-encoding(1)}) named as the EXTERNALs' direct reference.
AS_MTA_RTSE = "2.6.0.2.12"
AS_MTSE = "2.6.0.2.7"
BER = "2.1.1"

#: The turn: every token RTSE needs to transfer (X.228 §7.5.1).
TURN = Token.DATA | Token.MINOR_SYNC | Token.MAJOR_ACTIVITY

#: X.225 §8.3.3.17 Reason Code: rejection by the called SS-user, user data follows.
_SESSION_REFUSE_WITH_DATA = 2


# --------------------------------------------------------------------------------------------
# States (X.228 Annex A numbers them; these are their meanings)
# --------------------------------------------------------------------------------------------

IDLE = "idle"                          # no association
AWAIT_OPEN_CNF = "await-open-cnf"      # RTORQ sent
AWAIT_OPEN_RSP = "await-open-rsp"      # RTORQ received, user deciding
OPEN = "open"                          # associated, no transfer in progress
SENDING = "sending"                    # our activity in progress
AWAIT_END_CNF = "await-end-cnf"        # activity end sent
DISCARDING = "discarding"              # activity discard sent after a peer exception
RECEIVING = "receiving"                # the peer's activity in progress
INTERRUPTED = "interrupted"            # the peer interrupted its activity; resume possible
AWAIT_USER_ACCEPT = "await-user-accept"  # APDU indicated, waiting for RTTransferAccept
AWAIT_CLOSE_CNF = "await-close-cnf"
AWAIT_CLOSE_RSP = "await-close-rsp"
CLOSED = "closed"


class RTSEEngine:
    """One RTSE protocol machine (X.228 §7) for one association."""

    def __init__(self, role: Role, *, mode: Mode = "normal", max_apdu: int = MAX_LENGTH,
                 rtse_syntax: str = AS_MTA_RTSE, user_syntax: str = AS_MTSE) -> None:
        self.role: Role = role
        self.mode: Mode = mode
        self.max_apdu = max_apdu
        self.rtse_syntax = rtse_syntax
        self.user_syntax = user_syntax
        self.state = IDLE
        self.checkpoint_size = 0
        self.window_size = 3
        self.dialogue_mode = rtpdu.MONOLOGUE
        self.holds_turn = role == "initiator"
        self.rtse_context: int | None = None
        self.user_context: int | None = None
        self._events: deque[RTPrimitive] = deque()
        self._out: list[object] = []
        self._activity_no = 0
        # sender side
        self._segments: deque[bytes] = deque()
        self._unconfirmed = 0
        self._activity_id = b""
        # receiver side
        self._parts: list[bytes] = []
        self._received = 0
        self._checkpoints: dict[int, tuple[int, int]] = {}   # serial -> (parts, octets)
        self._interrupted: dict[bytes, tuple[list[bytes], dict[int, tuple[int, int]]]] = {}
        self._proposed: RTORQ | None = None
        #: the peer's departures from X.228 that were tolerated, for the shell to log
        self.deviations: list[str] = []

    # ---------------------------------------------------------------- engine verbs

    def next_event(self) -> RTPrimitive | None:
        """The next RTSE indication or confirmation for the user, or None."""
        return self._events.popleft() if self._events else None

    def pending(self) -> list[object]:
        """Primitives for the layer below queued while handling received ones."""
        out, self._out = self._out, []
        return out

    def send(self, primitive: RTPrimitive) -> list[object]:
        """Handle a request/response of the user; returns the primitives for the layer below."""
        handler = _SEND.get(type(primitive))
        if handler is None:
            raise ProtocolError(f"local: {type(primitive).__name__} cannot be sent",
                                layer="rtse")
        handler(self, primitive)
        return self.pending()

    def receive(self, primitive: object) -> None:
        """Handle an indication/confirmation from ACSE (normal mode) or session (X.410 mode)."""
        handler = _RECEIVE.get(type(primitive))
        if handler is None:
            self._violation(f"unexpected {type(primitive).__name__} from below")
        assert handler is not None
        try:
            handler(self, primitive)
        except DecodeError as exc:
            self._violation(f"undecodable RTSE data: {exc}")

    # ---------------------------------------------------------------- helpers

    def _expect(self, *states: str, local: bool = False, what: str = "") -> None:
        if self.state not in states:
            if local:
                raise ProtocolError(f"local: {what} not allowed in state {self.state}",
                                    layer="rtse")
            self._violation(f"{what} not allowed in state {self.state}")

    def _violation(self, reason: str) -> None:
        self.state = CLOSED
        raise ProtocolError(reason, layer="rtse")

    def _external(self, pdu: bytes) -> tuple[External, ...]:
        return (External(direct_reference=BER, indirect_reference=self.rtse_context, value=pdu),)

    def _rtse_pdu(self, info: tuple[External, ...]) -> bytes:
        for ext in info:
            if ext.indirect_reference == self.rtse_context or ext.direct_reference == \
                    self.rtse_syntax:
                return ext.value
        self._violation("A-ASSOCIATE user information without an RTSE APDU")
        raise AssertionError  # unreachable

    def _fail(self, reason: str) -> None:
        self.state = CLOSED
        self._events.append(RTPAbort(reason=reason))

    # ---------------------------------------------------------------- RT-OPEN

    def _send_open(self, p: RTOpen) -> None:
        self._expect(IDLE, local=True, what="RT-OPEN")
        if self.role != "initiator":
            raise ProtocolError("local: only the initiator opens", layer="rtse")
        rq = RTORQ(checkpoint_size=p.checkpoint_size, window_size=p.window_size,
                   dialogue_mode=p.dialogue_mode, open=p.user_data,
                   application_protocol=p.application_protocol)
        self._proposed = rq
        self.dialogue_mode = p.dialogue_mode
        if self.mode == "x410":
            if p.session is None:
                raise ProtocolError("local: X.410 mode RT-OPEN needs session parameters",
                                    layer="rtse")
            self._out.append(dataclasses.replace(p.session, user_data=rtpdu.encode_x410(rq)))
        else:
            if p.association is None:
                raise ProtocolError("local: normal mode RT-OPEN needs association parameters",
                                    layer="rtse")
            contexts = {c.abstract_syntax: c.context_id
                        for c in p.association.presentation.contexts}
            self.rtse_context = contexts.get(self.rtse_syntax)
            self.user_context = contexts.get(self.user_syntax)
            if self.rtse_context is None or self.user_context is None:
                raise ProtocolError("local: presentation contexts for RTSE and its user are "
                                    "missing", layer="rtse")
            self._out.append(dataclasses.replace(
                p.association, user_information=self._external(rtpdu.encode_rtpdu(rq))))
        self.state = AWAIT_OPEN_CNF

    def _recv_associate(self, p: AAssociate) -> None:
        self._expect(IDLE, what="A-ASSOCIATE indication")
        contexts = {c.abstract_syntax: c.context_id for c in p.presentation.contexts}
        self.rtse_context = contexts.get(self.rtse_syntax)
        self.user_context = contexts.get(self.user_syntax)
        if self.rtse_context is None:
            self._violation("A-ASSOCIATE without the RTSE abstract syntax")
        rq = rtpdu.decode_rtpdu(self._rtse_pdu(p.user_information))
        if not isinstance(rq, RTORQ):
            self._violation(f"{type(rq).__name__} instead of RTORQ")
        assert isinstance(rq, RTORQ)
        self._opened(rq, association=p)

    def _recv_sconnect(self, p: SConnect) -> None:
        self._expect(IDLE, what="S-CONNECT indication")
        rq = rtpdu.decode_x410("PConnect", p.user_data)
        assert isinstance(rq, RTORQ)
        self._opened(rq, session_params=p)

    def _opened(self, rq: RTORQ, *, association: AAssociate | None = None,
                session_params: SConnect | None = None) -> None:
        self._proposed = rq
        self.dialogue_mode = rq.dialogue_mode
        self.state = AWAIT_OPEN_RSP
        if rq.recover is not None:
            # X.228 §7.2.3: recovery of an activity across associations is not offered --
            # nothing is kept once an association ends -- so refuse with cannotRecover(1).
            self._send_refuse(RTOpenRefuse(reason=RefuseReason.CANNOT_RECOVER))
            self._events.append(RTPAbort(reason="the peer asked to recover an association"))
            return
        self._events.append(RTOpen(user_data=rq.open, dialogue_mode=rq.dialogue_mode,
                                   checkpoint_size=rq.checkpoint_size,
                                   window_size=rq.window_size,
                                   application_protocol=rq.application_protocol,
                                   association=association, session=session_params))

    def _send_accept(self, p: RTOpenAccept) -> None:
        self._expect(AWAIT_OPEN_RSP, local=True, what="RT-OPEN response")
        assert self._proposed is not None
        # X.228 §7.2.2: the responder may lower the checkpoint size and window size only
        cs = self._proposed.checkpoint_size
        self.checkpoint_size = cs if p.checkpoint_size is None else min(cs, p.checkpoint_size)
        ws = self._proposed.window_size
        self.window_size = ws if p.window_size is None else min(ws, p.window_size)
        ac = RTOAC(checkpoint_size=self.checkpoint_size, window_size=self.window_size,
                   open=p.user_data)
        if self.mode == "x410":
            template = p.session
            if template is None:
                raise ProtocolError("local: X.410 accept needs session parameters",
                                    layer="rtse")
            self._out.append(dataclasses.replace(template, user_data=rtpdu.encode_x410(ac)))
        else:
            if p.association is None:
                raise ProtocolError("local: accept needs association parameters",
                                    layer="rtse")
            self._out.append(dataclasses.replace(
                p.association, user_information=self._external(rtpdu.encode_rtpdu(ac))))
        self.state = OPEN

    def _send_refuse(self, p: RTOpenRefuse) -> None:
        self._expect(AWAIT_OPEN_RSP, local=True, what="RT-OPEN response")
        rj = RTORJ(refuse_reason=p.reason, user_data=p.user_data)
        if self.mode == "x410":
            self._out.append(SConnectRefuse(reason=_SESSION_REFUSE_WITH_DATA,
                                            user_data=rtpdu.encode_x410(rj)))
        else:
            self._out.append(AAssociateReject(
                result=1, user_information=self._external(rtpdu.encode_rtpdu(rj))))
        self.state = CLOSED

    def _recv_associate_accept(self, p: AAssociateAccept) -> None:
        self._expect(AWAIT_OPEN_CNF, what="A-ASSOCIATE confirm")
        ac = rtpdu.decode_rtpdu(self._rtse_pdu(p.user_information))
        if not isinstance(ac, RTOAC):
            self._violation(f"{type(ac).__name__} instead of RTOAC")
        assert isinstance(ac, RTOAC)
        self._open_confirmed(ac, association=p)

    def _recv_sconnect_accept(self, p: SConnectAccept) -> None:
        self._expect(AWAIT_OPEN_CNF, what="S-CONNECT confirm")
        ac = rtpdu.decode_x410("PAccept", p.user_data)
        assert isinstance(ac, RTOAC)
        self._open_confirmed(ac, session_params=p)

    def _open_confirmed(self, ac: RTOAC, *, association: AAssociateAccept | None = None,
                        session_params: SConnectAccept | None = None) -> None:
        assert self._proposed is not None
        proposed = self._proposed
        # X.228 §7.2.2 lets the responder only lower both values.  Real responders raise them
        # (PP 6.0 answers checkpoint size 1 to a proposal of 0, x400-samples/pp): the
        # association still works if the sender -- we -- keeps within both sides' limits, so
        # the deviation is noted (the shell logs it) instead of aborting.
        if ac.checkpoint_size < 0 or ac.window_size < 0:
            self._violation("RTOAC with a negative checkpoint or window size")
        if ac.checkpoint_size > proposed.checkpoint_size:
            # the responder wants minor syncs; a smaller segment than it asked for is safe
            used = proposed.checkpoint_size or ac.checkpoint_size
            self.deviations.append(
                f"RTOAC raised the checkpoint size from {proposed.checkpoint_size} to "
                f"{ac.checkpoint_size} (X.228 §7.2.2); checkpointing every {used} KiB")
            self.checkpoint_size = used
        else:
            self.checkpoint_size = ac.checkpoint_size
        if ac.window_size > proposed.window_size:
            self.deviations.append(
                f"RTOAC raised the window size from {proposed.window_size} to "
                f"{ac.window_size} (X.228 §7.2.2); keeping {proposed.window_size}")
        self.window_size = max(min(ac.window_size, proposed.window_size), 1)
        self.state = OPEN
        self._events.append(RTOpenAccept(user_data=ac.open,
                                         checkpoint_size=self.checkpoint_size,
                                         window_size=self.window_size, association=association,
                                         session=session_params))

    def _recv_associate_reject(self, p: AAssociateReject) -> None:
        self._expect(AWAIT_OPEN_CNF, what="A-ASSOCIATE reject")
        reason: int | None = None
        data: bytes | None = None
        try:
            rj = rtpdu.decode_rtpdu(self._rtse_pdu(p.user_information))
            if isinstance(rj, RTORJ):
                reason, data = rj.refuse_reason, rj.user_data
        except ProtocolError:
            pass                              # a reject from ACSE itself carries no RTORJ
        self.state = CLOSED
        self._events.append(RTOpenRefuse(reason=reason, user_data=data))

    def _recv_sconnect_refuse(self, p: SConnectRefuse) -> None:
        self._expect(AWAIT_OPEN_CNF, what="S-CONNECT refuse")
        reason: int | None = None
        if p.user_data:
            rj = rtpdu.decode_x410("PRefuse", p.user_data)
            reason = rj.refuse_reason if isinstance(rj, RTORJ) else None
        self.state = CLOSED
        self._events.append(RTOpenRefuse(reason=reason))

    # ---------------------------------------------------------------- RT-TRANSFER (sender)

    def _send_transfer(self, p: RTTransfer) -> None:
        self._expect(OPEN, local=True, what="RT-TRANSFER")
        if not self.holds_turn:
            raise ProtocolError("local: RT-TRANSFER without the turn", layer="rtse")
        if self.mode == "x410":
            payload = p.apdu
        else:
            assert self.user_context is not None
            payload = rtpdu.encode_external(self.user_context, p.apdu)
        size = self.checkpoint_size * 1024 if self.checkpoint_size else len(payload) or 1
        view = memoryview(payload)
        self._segments = deque(bytes(view[i:i + size]) for i in range(0, len(payload), size))
        if not self._segments:
            self._segments.append(b"")
        self._activity_no += 1
        self._activity_id = str(self._activity_no).encode()
        self._unconfirmed = 0
        self._out.append(SActivityStart(activity_id=self._activity_id))
        self.state = SENDING
        self._pump()

    def _pump(self) -> None:
        """Send segments while the window allows (X.228 §7.4.2), then the activity end."""
        while self._segments:
            if self._unconfirmed >= self.window_size:
                return
            segment = self._segments.popleft()
            if self.mode == "x410":
                self._out.append(SData(user_data=segment))
            else:
                assert self.rtse_context is not None
                self._out.append(PData(user_data=(PDV(context_id=self.rtse_context,
                                                      value=rtpdu.encode_rttr(segment)),)))
            if self._segments and self.checkpoint_size:
                self._out.append(SSyncMinor(confirm_required=True))
                self._unconfirmed += 1
        if self.state == SENDING:
            self._out.append(SActivityEnd())
            self.state = AWAIT_END_CNF

    def _recv_sync_confirm(self, p: SSyncMinorConfirm) -> None:
        self._expect(SENDING, AWAIT_END_CNF, what="S-SYNC-MINOR confirm")
        if self._unconfirmed:
            self._unconfirmed -= 1
        if self.state == SENDING:
            self._pump()

    def _recv_end_confirm(self, p: SActivityEndConfirm) -> None:
        self._expect(AWAIT_END_CNF, what="S-ACTIVITY-END confirm")
        self.state = OPEN
        self._events.append(RTTransferConfirm(activity_id=self._activity_id))

    def _recv_exception(self, p: SUExceptionReport | SPExceptionReport) -> None:
        """X.228 §7.4.3: the receiver cannot go on; the sender discards the activity."""
        if self.state in (SENDING, AWAIT_END_CNF):
            self._segments.clear()
            self._out.append(SActivityDiscard(reason=0))
            self.state = DISCARDING
        elif self.state != DISCARDING:
            self._violation(f"exception report in state {self.state}")

    def _recv_discard_confirm(self, p: SActivityDiscardConfirm) -> None:
        self._expect(DISCARDING, what="S-ACTIVITY-DISCARD confirm")
        self.state = OPEN
        self._events.append(RTTransferFailed(reason="the receiver reported an exception"))

    # ---------------------------------------------------------------- RT-TRANSFER (receiver)

    def _recv_activity_start(self, p: SActivityStart) -> None:
        self._expect(OPEN, INTERRUPTED, what="S-ACTIVITY-START")
        if self.holds_turn:
            self._violation("activity started by the side without the turn")
        self._begin(p.activity_id)

    def _begin(self, activity_id: bytes) -> None:
        self._activity_id = activity_id
        self._parts = []
        self._received = 0
        self._checkpoints = {}
        self.state = RECEIVING

    def _append(self, segment: bytes) -> None:
        self._received += len(segment)
        if self._received > self.max_apdu + 64:
            self._violation(f"transferred APDU exceeds {self.max_apdu} octets")
        self._parts.append(segment)

    def _recv_pdata(self, p: PData) -> None:
        self._expect(RECEIVING, what="P-DATA")
        for pdv in p.user_data:
            if pdv.context_id != self.rtse_context:
                self._violation(f"P-DATA in presentation context {pdv.context_id}")
            self._append(rtpdu.decode_rttr(pdv.value))

    def _recv_sdata(self, p: SData) -> None:
        self._expect(RECEIVING, what="S-DATA")
        self._append(p.user_data)

    def _recv_sync(self, p: SSyncMinor) -> None:
        self._expect(RECEIVING, what="S-SYNC-MINOR")
        serial = p.serial if p.serial is not None else 0
        self._checkpoints[serial] = (len(self._parts), self._received)
        if p.confirm_required:
            self._out.append(SSyncMinorConfirm(serial=serial))

    def _recv_activity_end(self, p: SActivityEnd) -> None:
        self._expect(RECEIVING, what="S-ACTIVITY-END")
        data = b"".join(self._parts)
        self._parts = []
        if self.mode == "x410":
            apdu = data
        else:
            direct, indirect, apdu = rtpdu.decode_external(data)
            if indirect is not None and indirect != self.user_context or \
                    indirect is None and direct not in (None, self.user_syntax):
                self._violation("transferred APDU in a foreign presentation context")
        self.state = AWAIT_USER_ACCEPT
        self._events.append(RTTransfer(apdu=apdu))

    def _send_transfer_accept(self, p: RTTransferAccept) -> None:
        self._expect(AWAIT_USER_ACCEPT, local=True, what="RT-TRANSFER acceptance")
        self._out.append(SActivityEndConfirm())
        self.state = OPEN

    def _recv_interrupt(self, p: SActivityInterrupt) -> None:
        self._expect(RECEIVING, what="S-ACTIVITY-INTERRUPT")
        self._interrupted = {self._activity_id: (self._parts, self._checkpoints)}
        self._parts = []
        self._out.append(SActivityInterruptConfirm())
        self.state = INTERRUPTED

    def _recv_discard(self, p: SActivityDiscard) -> None:
        self._expect(RECEIVING, INTERRUPTED, what="S-ACTIVITY-DISCARD")
        self._parts = []
        self._interrupted = {}
        self._out.append(SActivityDiscardConfirm())
        self.state = OPEN

    def _recv_resume(self, p: SActivityResume) -> None:
        """X.228 §7.4.4: continue an interrupted activity from a confirmed checkpoint."""
        self._expect(OPEN, INTERRUPTED, what="S-ACTIVITY-RESUME")
        saved = self._interrupted.pop(p.old_activity_id, None)
        if saved is None or p.serial not in saved[1]:
            self._out.extend(self._abort_primitives(AbortReason.UNRECOGNIZED_ACTIVITY))
            self._fail("the peer resumed an activity this side does not hold")
            return
        parts, checkpoints = saved
        count, octets = checkpoints[p.serial]
        self._begin(p.activity_id)
        self._parts = parts[:count]
        self._received = octets
        self._checkpoints = {s: c for s, c in checkpoints.items() if s <= p.serial}

    # ---------------------------------------------------------------- turn

    def _send_turn_please(self, p: RTTurnPlease) -> None:
        self._expect(OPEN, SENDING, AWAIT_END_CNF, RECEIVING, AWAIT_USER_ACCEPT, local=True,
                     what="RT-TURN-PLEASE")
        if self.holds_turn:
            raise ProtocolError("local: RT-TURN-PLEASE while holding the turn", layer="rtse")
        data = rtpdu.encode_rtpdu(RTTP(priority=p.priority))
        self._out.append(STokenPlease(tokens=TURN, user_data=data))

    def _recv_token_please(self, p: STokenPlease) -> None:
        priority = 0
        if p.user_data:
            pdu = rtpdu.decode_rtpdu(p.user_data)
            priority = pdu.priority if isinstance(pdu, RTTP) else 0
        self._events.append(RTTurnPlease(priority=priority))

    def _send_turn_give(self, p: RTTurnGive) -> None:
        self._expect(OPEN, local=True, what="RT-TURN-GIVE")
        if not self.holds_turn:
            raise ProtocolError("local: RT-TURN-GIVE without the turn", layer="rtse")
        self.holds_turn = False
        self._out.append(SControlGive())

    def _recv_control_give(self, p: SControlGive | STokenGive) -> None:
        self._expect(OPEN, what="the turn")
        if isinstance(p, STokenGive) and (p.tokens & TURN) != TURN:
            return                          # a partial give: the turn is not complete yet
        self.holds_turn = True
        self._events.append(RTTurnGive())

    # ---------------------------------------------------------------- RT-CLOSE

    def _send_close(self, p: RTClose) -> None:
        self._expect(OPEN, local=True, what="RT-CLOSE")
        if self.role != "initiator" or not self.holds_turn:
            raise ProtocolError("local: RT-CLOSE needs the initiator holding the turn",
                                layer="rtse")
        self._out.append(SRelease() if self.mode == "x410" else ARelease(reason=0))
        self.state = AWAIT_CLOSE_CNF

    def _recv_release(self, p: ARelease | SRelease) -> None:
        self._expect(OPEN, what="release")
        self.state = AWAIT_CLOSE_RSP
        self._events.append(RTClose())

    def _send_close_accept(self, p: RTCloseAccept) -> None:
        self._expect(AWAIT_CLOSE_RSP, local=True, what="RT-CLOSE response")
        self._out.append(SReleaseAccept() if self.mode == "x410" else AReleaseAccept(reason=0))
        self.state = CLOSED

    def _recv_release_accept(self, p: AReleaseAccept | SReleaseAccept) -> None:
        self._expect(AWAIT_CLOSE_CNF, what="release confirm")
        self.state = CLOSED
        self._events.append(RTCloseAccept())

    # ---------------------------------------------------------------- aborts

    def _abort_primitives(self, reason: int | None, data: bytes | None = None) -> list[object]:
        ab = rtpdu.encode_rtpdu(RTAB(abort_reason=reason, user_data=data))
        if self.mode == "x410":
            return [SUAbort(user_data=ab)]
        if self.rtse_context is None:
            return [AAbort(source=0)]
        return [AAbort(source=0, user_information=self._external(ab))]

    def _send_abort(self, p: RTUAbort) -> None:
        if self.state in (IDLE, CLOSED):
            return
        self._out.extend(self._abort_primitives(
            p.reason if p.reason is not None else AbortReason.USER_ERROR, p.user_data))
        self.state = CLOSED

    def _recv_uabort(self, p: AAbort | SUAbort) -> None:
        reason: int | None = None
        data: bytes | None = None
        try:
            raw = p.user_data if isinstance(p, SUAbort) else (
                self._rtse_pdu(p.user_information) if p.user_information else b"")
            if raw:
                ab = rtpdu.decode_rtpdu(raw)
                if isinstance(ab, RTAB):
                    reason, data = ab.abort_reason, ab.user_data
        except (ProtocolError, DecodeError):
            pass                               # an abort is an abort, whatever it carries
        self.state = CLOSED
        self._events.append(RTUAbort(reason=reason, user_data=data))

    def _recv_pabort(self, p: APAbort | PPAbort | SPAbort) -> None:
        detail = getattr(p, "detail", "") or type(p).__name__
        self._fail(f"provider abort: {detail}")


# --------------------------------------------------------------------------------------------
# Dispatch tables: primitive class -> handler (the transitions above check the state)
# --------------------------------------------------------------------------------------------

_SEND: dict[type, Callable[[RTSEEngine, Any], None]] = {
    RTOpen: RTSEEngine._send_open,
    RTOpenAccept: RTSEEngine._send_accept,
    RTOpenRefuse: RTSEEngine._send_refuse,
    RTTransfer: RTSEEngine._send_transfer,
    RTTransferAccept: RTSEEngine._send_transfer_accept,
    RTTurnPlease: RTSEEngine._send_turn_please,
    RTTurnGive: RTSEEngine._send_turn_give,
    RTClose: RTSEEngine._send_close,
    RTCloseAccept: RTSEEngine._send_close_accept,
    RTUAbort: RTSEEngine._send_abort,
}

_RECEIVE: dict[type, Callable[[RTSEEngine, Any], None]] = {
    AAssociate: RTSEEngine._recv_associate,
    AAssociateAccept: RTSEEngine._recv_associate_accept,
    AAssociateReject: RTSEEngine._recv_associate_reject,
    SConnect: RTSEEngine._recv_sconnect,
    SConnectAccept: RTSEEngine._recv_sconnect_accept,
    SConnectRefuse: RTSEEngine._recv_sconnect_refuse,
    SSyncMinorConfirm: RTSEEngine._recv_sync_confirm,
    SActivityEndConfirm: RTSEEngine._recv_end_confirm,
    SUExceptionReport: RTSEEngine._recv_exception,
    SPExceptionReport: RTSEEngine._recv_exception,
    SActivityDiscardConfirm: RTSEEngine._recv_discard_confirm,
    SActivityStart: RTSEEngine._recv_activity_start,
    PData: RTSEEngine._recv_pdata,
    SData: RTSEEngine._recv_sdata,
    SSyncMinor: RTSEEngine._recv_sync,
    SActivityEnd: RTSEEngine._recv_activity_end,
    SActivityInterrupt: RTSEEngine._recv_interrupt,
    SActivityDiscard: RTSEEngine._recv_discard,
    SActivityResume: RTSEEngine._recv_resume,
    STokenPlease: RTSEEngine._recv_token_please,
    SControlGive: RTSEEngine._recv_control_give,
    STokenGive: RTSEEngine._recv_control_give,
    ARelease: RTSEEngine._recv_release,
    SRelease: RTSEEngine._recv_release,
    AReleaseAccept: RTSEEngine._recv_release_accept,
    SReleaseAccept: RTSEEngine._recv_release_accept,
    AAbort: RTSEEngine._recv_uabort,
    SUAbort: RTSEEngine._recv_uabort,
    APAbort: RTSEEngine._recv_pabort,
    PPAbort: RTSEEngine._recv_pabort,
    SPAbort: RTSEEngine._recv_pabort,
}

__all__ = [
    "AS_MTA_RTSE", "AS_MTSE", "BER", "TURN", "RTClose", "RTCloseAccept", "RTOpen",
    "RTOpenAccept", "RTOpenRefuse", "RTPAbort", "RTPrimitive", "RTSEEngine", "RTTransfer",
    "RTTransferAccept", "RTTransferConfirm", "RTTransferFailed", "RTTurnGive", "RTTurnPlease",
    "RTUAbort",
]
