"""X.225 minor synchronization and activity management: MIP/MIA, AS, AR, AI/AIA, AD/ADA, AE/AEA.

X.225 §7.20-§7.21 and §7.29-§7.36 (a mixin of :class:`bridge.x400.session.SessionEngine`):
serial numbers V(M) and V(A), the activity identifier, and who holds the tokens after an
activity is interrupted or discarded.
"""

from __future__ import annotations

from bridge.x400 import spdu as sp
from bridge.x400.session_base import (
    _ACTIVITY_ID_MAX,
    _SERIAL_LAST,
    _SYNC_NO_CONFIRM,
    SPMBase,
    _conn_id_from,
    _local,
    _one_octet,
)
from bridge.x400.session_primitives import (
    ConnectionIdentifier,
    SActivityDiscard,
    SActivityDiscardConfirm,
    SActivityEnd,
    SActivityEndConfirm,
    SActivityInterrupt,
    SActivityInterruptConfirm,
    SActivityResume,
    SActivityStart,
    SSyncMinor,
    SSyncMinorConfirm,
)
from bridge.x400.spdu import (
    PI,
    SI,
    SPDU,
    FunctionalUnit,
    Token,
)


class ActivityProcedures(SPMBase):
    """Minor synchronize and activity management (X.225 §7.20-§7.21, §7.29-§7.36)."""

    # ------------------------------------------------------------------ incoming
    def _rx_mip(self, s: SPDU, nxt: str) -> str | None:
        if not self.requirements & FunctionalUnit.MINOR_SYNC:
            self._fail("MIP but minor synchronize was not negotiated")
        self._peer_owns(Token.MINOR_SYNC | Token.DATA, "MIP")
        self._need_activity("MIP", inside=True)
        serial = self._serial(s, self.next_serial, "MIP")
        confirm = not _one_octet(s, PI.SYNC_TYPE_ITEM) & _SYNC_NO_CONFIRM
        self.next_serial += 1
        if confirm:
            self._peer_unconfirmed.append(serial)
        self._events.append(SSyncMinor(serial=serial, confirm_required=confirm,
                                       user_data=self._ud(s)))
        return None

    def _serial(self, s: SPDU, expected: int | None, what: str) -> int:
        v = s.get_bytes(PI.SERIAL_NUMBER)
        if v is None:
            self._fail(f"{what} without a Serial Number")
        n = sp.decode_serial(v)
        if expected is not None and n != expected:
            self._fail(f"{what} serial {n}, expected {expected}")
        return n

    def _rx_mia(self, s: SPDU, nxt: str) -> str | None:
        n = self._serial(s, None, "MIA")
        if not self._va <= n < self.next_serial:
            self._fail(f"MIA for serial {n} that is not outstanding")
        self._va = n + 1
        self._events.append(SSyncMinorConfirm(serial=n, user_data=self._ud(s)))
        return None

    def _activity_id(self, v: bytes | None, what: str) -> bytes:
        if v is None or not 1 <= len(v) <= _ACTIVITY_ID_MAX:
            self._fail(f"{what} needs an Activity Identifier of 1-6 octets")
        return v

    def _rx_as(self, s: SPDU, nxt: str) -> str | None:
        self._activity_rx_checks("AS")
        aid = self._activity_id(s.get_bytes(PI.ACTIVITY_IDENTIFIER), "AS")
        self._start_activity(1)
        self._events.append(SActivityStart(activity_id=aid, user_data=self._ud(s)))
        return None

    def _activity_rx_checks(self, what: str) -> None:
        if not self.requirements & FunctionalUnit.ACTIVITY:
            self._fail(f"{what} but activity management was not negotiated")
        self._need_activity(what, inside=False)
        self._peer_owns(Token.MAJOR_ACTIVITY | Token.DATA | Token.MINOR_SYNC, what)

    def _rx_ar(self, s: SPDU, nxt: str) -> str | None:
        self._activity_rx_checks("AR")
        link = s.get_group(PI.LINKING_INFORMATION)
        if link is None:
            self._fail("AR without Linking Information")
        old = self._activity_id(link.get(PI.ACTIVITY_IDENTIFIER), "AR (old)")
        serial_v = link.get(PI.SERIAL_NUMBER)
        if serial_v is None:
            self._fail("AR without a Serial Number")
        serial = sp.decode_serial(serial_v)
        if serial >= _SERIAL_LAST:
            self._fail("AR resumes after the last serial number")
        aid = self._activity_id(s.get_bytes(PI.ACTIVITY_IDENTIFIER), "AR")
        cid = _conn_id_from(link)
        if cid == ConnectionIdentifier():
            cid = None
        self._start_activity(serial + 1)
        self._events.append(SActivityResume(activity_id=aid, old_activity_id=old, serial=serial,
                                            old_connection_id=cid, user_data=self._ud(s)))
        return None

    def _start_activity(self, vm: int) -> None:
        self.in_activity = True
        self.next_serial = self._va = vm
        self._peer_unconfirmed.clear()
        self._exception = False

    def _end_activity(self, *, tokens_to_requester: bool | None = None,
                      requester_is_us: bool = False) -> None:
        self.in_activity = False
        self._peer_unconfirmed.clear()
        self._exception = False
        if tokens_to_requester:  # after AI/AD every token goes to the requester (§7.31-§7.34)
            self.tokens_owned = self.tokens_available if requester_is_us else Token(0)

    def _rx_ai(self, s: SPDU, nxt: str) -> str | None:
        self._interrupt_rx_checks("AI")
        self._events.append(SActivityInterrupt(reason=_one_octet(s, PI.REASON_CODE)))
        return None

    def _interrupt_rx_checks(self, what: str) -> None:
        if not self.in_activity:
            self._fail(f"{what} outside an activity")
        self._peer_owns(Token.MAJOR_ACTIVITY, what)

    def _rx_aia(self, s: SPDU, nxt: str) -> str | None:
        self._end_activity(tokens_to_requester=True, requester_is_us=True)
        self._events.append(SActivityInterruptConfirm())
        return None

    def _rx_ad(self, s: SPDU, nxt: str) -> str | None:
        self._interrupt_rx_checks("AD")
        self._events.append(SActivityDiscard(reason=_one_octet(s, PI.REASON_CODE)))
        return None

    def _rx_ada(self, s: SPDU, nxt: str) -> str | None:
        self._end_activity(tokens_to_requester=True, requester_is_us=True)
        self._events.append(SActivityDiscardConfirm())
        return None

    def _rx_ae(self, s: SPDU, nxt: str) -> str | None:
        if not self.in_activity:
            self._fail("AE outside an activity")
        self._peer_owns(Token.MAJOR_ACTIVITY | Token.DATA | Token.MINOR_SYNC, "AE")
        n = self._serial(s, self.next_serial, "AE")
        self.next_serial += 1
        self._ae_serial = n
        self._events.append(SActivityEnd(serial=n, user_data=self._ud(s)))
        return None

    def _rx_aea(self, s: SPDU, nxt: str) -> str | None:
        v = s.get_bytes(PI.SERIAL_NUMBER)
        if v is not None and sp.decode_serial(v) != self._ae_serial:
            self._fail("AEA for the wrong serial number")
        self._va = self.next_serial
        self._end_activity()
        self._events.append(SActivityEndConfirm(user_data=self._ud(s)))
        return None

    # ------------------------------------------------------------------ outgoing
    def _tx_sync(self, p: SSyncMinor) -> bytes:
        self._fu(FunctionalUnit.MINOR_SYNC, "S-SYNC-MINOR")
        self._owns(Token.MINOR_SYNC | Token.DATA, "S-SYNC-MINOR")
        self._local_activity("S-SYNC-MINOR", inside=True)
        if p.serial is not None and p.serial != self.next_serial:
            raise _local(f"S-SYNC-MINOR serial {p.serial}, the next is {self.next_serial}")
        params: list[sp.Param] = []
        if not p.confirm_required:
            params.append((PI.SYNC_TYPE_ITEM, bytes((_SYNC_NO_CONFIRM,))))
        params.append((PI.SERIAL_NUMBER, sp.encode_serial(self.next_serial)))
        params += self._ud_out(p.user_data)
        self.next_serial += 1
        return self._cat2(SI.MIP, params)

    def _tx_sync_confirm(self, p: SSyncMinorConfirm) -> bytes:
        if p.serial not in self._peer_unconfirmed:
            raise _local(f"no S-SYNC-MINOR {p.serial} awaits confirmation")
        self._peer_unconfirmed = [n for n in self._peer_unconfirmed if n > p.serial]
        return self._cat2(SI.MIA, [(PI.SERIAL_NUMBER, sp.encode_serial(p.serial))]
                          + self._ud_out(p.user_data))

    def _activity_tx_checks(self, what: str) -> None:
        self._fu(FunctionalUnit.ACTIVITY, what)
        self._local_activity(what, inside=False)
        self._owns(Token.MAJOR_ACTIVITY | Token.DATA | Token.MINOR_SYNC, what)

    def _check_aid(self, aid: bytes) -> bytes:
        if not 1 <= len(aid) <= _ACTIVITY_ID_MAX:
            raise _local("an activity identifier has 1-6 octets")
        return aid

    def _tx_activity_start(self, p: SActivityStart) -> bytes:
        self._activity_tx_checks("S-ACTIVITY-START")
        params: list[sp.Param] = [(PI.ACTIVITY_IDENTIFIER, self._check_aid(p.activity_id))]
        params += self._ud_out(p.user_data)
        self._start_activity(1)
        return self._cat2(SI.AS, params)

    def _tx_activity_resume(self, p: SActivityResume) -> bytes:
        self._activity_tx_checks("S-ACTIVITY-RESUME")
        cid = p.old_connection_id or ConnectionIdentifier()
        link = [(pi, v) for pi, v in ((PI.CALLING_SS_USER_REFERENCE,
                                       cid.calling_ss_user_reference),
                                      (PI.COMMON_REFERENCE, cid.common_reference),
                                      (PI.ADDITIONAL_REFERENCE, cid.additional_reference)) if v]
        link += [(PI.ACTIVITY_IDENTIFIER, self._check_aid(p.old_activity_id)),
                 (PI.SERIAL_NUMBER, sp.encode_serial(p.serial))]
        params: list[sp.Param] = [(PI.LINKING_INFORMATION, tuple(link)),
                                  (PI.ACTIVITY_IDENTIFIER, self._check_aid(p.activity_id))]
        params += self._ud_out(p.user_data)
        self._start_activity(p.serial + 1)
        return self._cat2(SI.AR, params)

    def _tx_interrupt(self, p: SActivityInterrupt | SActivityDiscard) -> bytes:
        what = type(p).__name__
        self._fu(FunctionalUnit.ACTIVITY, what)
        self._local_activity(what, inside=True)
        self._owns(Token.MAJOR_ACTIVITY, what)
        if not 0 <= p.reason <= 0xFF:
            raise _local("reason code must fit one octet")
        si = SI.AI if isinstance(p, SActivityInterrupt) else SI.AD
        return self._cat2(si, [(PI.REASON_CODE, bytes((p.reason,)))])

    def _tx_interrupt_confirm(self, p: SActivityInterruptConfirm | SActivityDiscardConfirm
                              ) -> bytes:
        self._end_activity(tokens_to_requester=True, requester_is_us=False)
        si = SI.AIA if isinstance(p, SActivityInterruptConfirm) else SI.ADA
        return self._cat2(si, [])

    def _tx_activity_end(self, p: SActivityEnd) -> bytes:
        self._fu(FunctionalUnit.ACTIVITY, "S-ACTIVITY-END")
        self._local_activity("S-ACTIVITY-END", inside=True)
        self._owns(Token.MAJOR_ACTIVITY | Token.DATA | Token.MINOR_SYNC, "S-ACTIVITY-END")
        if p.serial is not None and p.serial != self.next_serial:
            raise _local(f"S-ACTIVITY-END serial {p.serial}, the next is {self.next_serial}")
        self._ae_serial = self.next_serial
        params: list[sp.Param] = [(PI.SERIAL_NUMBER, sp.encode_serial(self.next_serial))]
        params += self._ud_out(p.user_data)
        self.next_serial += 1
        return self._cat2(SI.AE, params)

    def _tx_activity_end_confirm(self, p: SActivityEndConfirm) -> bytes:
        params: list[sp.Param] = [(PI.SERIAL_NUMBER, sp.encode_serial(self._ae_serial))]
        params += self._ud_out(p.user_data)
        self._va = self.next_serial
        self._end_activity()
        return self._cat2(SI.AEA, params)
