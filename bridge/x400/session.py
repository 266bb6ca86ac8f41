"""X.225 session protocol engine (sans-IO) and the X.215 session service primitives.

What RTSE and P1 need (X.225 §7): connection establishment with connect data overflow, kernel,
half-duplex / duplex, exceptions, minor synchronize, activity management, orderly (and
negotiated) release, user and provider abort.  The state table is data in
:mod:`bridge.x400.session_states`; the SPDU codec is :mod:`bridge.x400.spdu`.  The engine is
split by concern: the SPM's state and shared checks in :mod:`bridge.x400.session_base`,
connection establishment (CN/AC/RF, overflow OA/CDO) in :mod:`bridge.x400.session_connect`,
minor synchronize and activities in :mod:`bridge.x400.session_activity`; this module keeps the
verbs, dispatch, data, tokens, exceptions, release and abort.

Verbs (STYLE.md §1): ``receive(tsdu)`` takes one complete TSDU from T-DATA, ``next_event()``
returns the next indication/confirm, ``send(primitive)`` returns the TSDU to hand to T-DATA.
The SPM sometimes answers on its own (OVERFLOW ACCEPT, CONNECT DATA OVERFLOW, GIVE TOKENS ACK,
the ABORT after a peer's protocol error): those TSDUs wait in :meth:`SessionEngine.tsdus_to_send`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.errors import ProtocolError
from bridge.x400 import spdu as sp
from bridge.x400.session_activity import ActivityProcedures
from bridge.x400.session_base import (
    _CAT2_NAMES,
    _DT_PREFIX,
    _ENCLOSURE_BEGIN,
    _ENCLOSURE_END,
    _SYNC_NOT_END,
    _V1_ABORT_DATA,
    LAYER,
    Role,
    _local,
    _one_octet,
)
from bridge.x400.session_connect import ConnectProcedures
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
    SConnect,
    SConnectAccept,
    SConnectRefuse,
    SControlGive,
    SData,
    SessionPrimitive,
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
from bridge.x400.session_states import DISCARD, TRANSITIONS
from bridge.x400.spdu import (
    PI,
    SI,
    SPDU,
    FunctionalUnit,
    Token,
    TokenSetting,
    TokenSide,
    TransportDisconnect,
    available_tokens,
)

__all__ = [
    "Role", "SessionEngine", "FunctionalUnit", "Token", "TokenSide", "TokenSetting",
    "ConnectionIdentifier", "SessionPrimitive", "SConnect", "SConnectAccept", "SConnectRefuse",
    "SData", "STokenGive", "STokenPlease", "SControlGive", "SSyncMinor", "SSyncMinorConfirm",
    "SActivityStart", "SActivityResume", "SActivityInterrupt", "SActivityInterruptConfirm",
    "SActivityDiscard", "SActivityDiscardConfirm", "SActivityEnd", "SActivityEndConfirm",
    "SUExceptionReport", "SPExceptionReport", "SRelease", "SReleaseAccept", "SReleaseRefuse",
    "SUAbort", "SPAbort", "available_tokens",
]


# ---------------------------------------------------------------------- engine
class SessionEngine(ConnectProcedures, ActivityProcedures):
    """One session connection endpoint (an SPM, X.225 §6.1), without I/O."""

    # ------------------------------------------------------------------ public verbs
    def next_event(self) -> SessionPrimitive | None:
        """The next indication or confirm, or None."""
        return self._events.popleft() if self._events else None

    def tsdus_to_send(self) -> list[bytes]:
        """TSDUs the SPM generated on its own (OA, CDO, GTA, AB after an error); drains."""
        out, self._out = self._out, []
        return out

    def connection_lost(self) -> None:
        """T-DISCONNECT indication: an S-P-ABORT unless the connection was already over."""
        if self.state not in ("STA01", "STA16"):
            self._events.append(SPAbort(reason=0, detail="transport connection lost"))
        self.state = "STA01"
        self._used = True

    def receive(self, tsdu: bytes) -> None:
        """Process one complete TSDU from the transport."""
        if self.state == "STA01" and self._used:
            raise ProtocolError("TSDU on a closed session connection", layer=LAYER)
        try:
            # hot path: ``GT DT`` in the data transfer state (X.225 §6.3.7)
            if self.state == "STA713" and tsdu[:4] == _DT_PREFIX:
                self._on_data(tsdu[4:])
                return
            if len(tsdu) > self.max_ssdu + 2 * sp.MAX_LI:
                self._fail(f"TSDU of {len(tsdu)} octets exceeds the limit")
            for s in sp.decode_tsdu(tsdu):
                self._dispatch(s)
        except ProtocolError:
            self._abort_on_error()
            raise

    def send(self, primitive: SessionPrimitive) -> bytes:
        """The TSDU that carries ``primitive`` (b"" when nothing goes on the wire)."""
        if type(primitive) is SData and self.state == "STA713":
            return self._send_data(primitive)
        handler = _SENDERS.get(type(primitive))
        if handler is None:
            raise _local(f"{type(primitive).__name__} cannot be sent by an SS-user")
        event, method = handler
        if isinstance(primitive, SUAbort) and self.state in ("STA01", "STA16"):
            return b""  # nothing to abort
        if self.state == "STA01" and (self._used or self.role != "initiator"):
            raise _local(f"{type(primitive).__name__}: no session connection "
                         f"({'closed' if self._used else 'the responder waits for CN'})")
        nxt = TRANSITIONS.get((self.state, event))
        if nxt is None:
            raise _local(f"{type(primitive).__name__} ({event}) not allowed in {self.state}")
        out = method(self, primitive)
        if event == "SCONreq" and self._cx.pending:
            nxt = "STA02B"  # the rest of the user data waits for OA (X.225 §7.1, §7.2)
        self.state = nxt
        return out

    # ------------------------------------------------------------------ errors
    def _abort_on_error(self) -> None:
        """Close after a peer's protocol error; leave an AB for the shell (X.225 §7.9)."""
        if self.state not in ("STA01", "STA16"):
            td = TransportDisconnect.RELEASED | TransportDisconnect.PROTOCOL_ERROR
            self._out.append(sp.encode(SPDU(si=SI.AB, params=(
                (PI.TRANSPORT_DISCONNECT, bytes((td,))),))))
        self.state = "STA01"
        self._used = True

    # ------------------------------------------------------------------ incoming
    def _name(self, s: SPDU) -> str:
        si = s.si
        if s.category == 0:
            return "GT" if si == SI.GT else "PT"
        if s.category == 2:
            if si == SI.MAP:
                return "MAP" if _one_octet(s, PI.SYNC_TYPE_ITEM) & _SYNC_NOT_END else "AE"
            return _CAT2_NAMES.get(si) or SI(si).name
        return SI(si).name

    def _dispatch(self, s: SPDU) -> None:
        if s.category == 0 and not s.params:
            return  # the empty GT/PT that carries category 2 SPDUs (X.225 §6.3.7)
        name = self._name(s)
        if self.state == "STA16" and name not in ("AB", "AA"):
            return  # we aborted or refused: whatever is still in flight is ignored
        if (self.state, name) in DISCARD:
            return
        nxt = TRANSITIONS.get((self.state, name))
        if nxt is None:
            self._fail(f"{name} SPDU not allowed in state {self.state}")
        handler = _RECEIVERS.get(name)
        if handler is None:  # pragma: no cover - every table event has a handler
            self._fail(f"{name} SPDU not supported")
        self.state = handler(self, s, nxt) or nxt

    def _on_data(self, data: bytes) -> None:
        if self.tokens_owned & Token.DATA:
            self._fail("peer sent DT without the data token")
        if self.requirements & FunctionalUnit.ACTIVITY and not self.in_activity:
            self._fail("peer sent DT outside an activity")
        if len(data) > self.max_ssdu:
            self._fail(f"DT of {len(data)} octets exceeds the SSDU limit")
        self._events.append(SData(user_data=data))

    def _rx_dt(self, s: SPDU, nxt: str) -> str | None:
        enc = s.get_bytes(PI.ENCLOSURE_ITEM)
        if enc is not None and enc != bytes((_ENCLOSURE_BEGIN | _ENCLOSURE_END,)):
            self._fail("segmented DT but segmentation was not negotiated")
        self._on_data(s.user_info)
        return None

    def _rx_gt(self, s: SPDU, nxt: str) -> str | None:
        ti = s.get_bytes(PI.TOKEN_ITEM)
        if ti is None:
            return None  # the category 0 prefix of a concatenated TSDU
        toks = sp.decode_tokens(ti)
        if toks & ~self.tokens_available or toks & self.tokens_owned:
            self._fail(f"peer gives tokens it does not own: {toks!r}")
        self.tokens_owned |= toks
        if toks & Token.DATA:
            self._exception = False
        self._events.append(STokenGive(tokens=toks))
        return None

    def _rx_pt(self, s: SPDU, nxt: str) -> str | None:
        ti = s.get_bytes(PI.TOKEN_ITEM)
        ud = self._ud(s)
        if ti is None and not ud:
            return None  # the category 0 prefix of a concatenated TSDU
        toks = sp.decode_tokens(ti or b"\x00")
        if toks & ~self.tokens_available:
            self._fail(f"peer asks for tokens that do not exist: {toks!r}")
        self._events.append(STokenPlease(tokens=toks, user_data=ud))
        return None

    def _rx_gtc(self, s: SPDU, nxt: str) -> str | None:
        if not self.requirements & FunctionalUnit.ACTIVITY or self.in_activity:
            self._fail("GTC needs activity management and no activity in progress")
        self.tokens_owned = self.tokens_available
        self._out.append(sp.encode(SPDU(si=SI.GTA)))
        self._events.append(SControlGive())
        return None

    def _rx_gta(self, s: SPDU, nxt: str) -> str | None:
        return None

    def _rx_ed(self, s: SPDU, nxt: str) -> str | None:
        if not self.requirements & FunctionalUnit.EXCEPTIONS:
            self._fail("ED but exceptions were not negotiated")
        if not self.tokens_available & self.tokens_owned & Token.DATA:
            self._fail("ED from the owner of the data token (or without half-duplex)")
        self._exception = True
        self._events.append(SUExceptionReport(reason=_one_octet(s, PI.REASON_CODE),
                                              user_data=self._ud(s)))
        return None

    def _rx_er(self, s: SPDU, nxt: str) -> str | None:
        if not self.requirements & FunctionalUnit.EXCEPTIONS:
            self._fail("ER but exceptions were not negotiated")
        self._exception = True
        self._events.append(SPExceptionReport(reason=0))
        return None

    def _rx_fn(self, s: SPDU, nxt: str) -> str | None:
        if self.in_activity:
            self._fail("FN inside an activity")
        self._peer_owns(self.tokens_available, "FN")  # X.215 §11.2: all available tokens
        self._events.append(SRelease(user_data=self._ud(s)))
        return None

    def _rx_dn(self, s: SPDU, nxt: str) -> str | None:
        self._events.append(SReleaseAccept(user_data=self._ud(s)))
        return None

    def _rx_nf(self, s: SPDU, nxt: str) -> str | None:
        if not self.requirements & FunctionalUnit.NEGOTIATED_RELEASE:
            self._fail("NF but negotiated release was not selected")
        self._events.append(SReleaseRefuse(user_data=self._ud(s)))
        return None

    def _rx_ab(self, s: SPDU, nxt: str) -> str | None:
        was = self.state
        td = _one_octet(s, PI.TRANSPORT_DISCONNECT, TransportDisconnect.RELEASED)
        ud = s.get_bytes(PI.USER_DATA) or b""
        if was != "STA16":
            if td & TransportDisconnect.USER_ABORT:
                self._events.append(SUAbort(user_data=ud))
            else:
                self._events.append(SPAbort(reason=td, detail="abort from the peer SPM"))
        self._used = True
        return None

    def _rx_aa(self, s: SPDU, nxt: str) -> str | None:
        return None

    # ------------------------------------------------------------------ outgoing
    def _send_data(self, p: SData) -> bytes:
        if self.tokens_available & Token.DATA and not self.tokens_owned & Token.DATA:
            raise _local("S-DATA needs the data token")
        if self.requirements & FunctionalUnit.ACTIVITY and not self.in_activity:
            raise _local("S-DATA is allowed only inside an activity")
        if self._exception:
            raise _local("S-DATA after an exception report: interrupt, discard or give the "
                         "data token first")
        return _DT_PREFIX + p.user_data

    def _tx_give(self, p: STokenGive) -> bytes:
        if not p.tokens or p.tokens & ~self.tokens_available:
            raise _local(f"cannot give {p.tokens!r}: not available")
        self._owns(p.tokens, "S-TOKEN-GIVE")
        self.tokens_owned &= ~p.tokens
        if p.tokens & Token.DATA:
            self._exception = False
        return sp.encode(SPDU(si=SI.GT, category=0, params=(
            (PI.TOKEN_ITEM, sp.encode_tokens(p.tokens)),)))

    def _tx_please(self, p: STokenPlease) -> bytes:
        if not p.tokens or p.tokens & ~self.tokens_available:
            raise _local(f"cannot ask for {p.tokens!r}: not available")
        if p.tokens & self.tokens_owned:
            raise _local(f"S-TOKEN-PLEASE for tokens we own: {p.tokens & self.tokens_owned!r}")
        return sp.encode(SPDU(si=SI.PT, category=0, params=tuple(
            [(PI.TOKEN_ITEM, sp.encode_tokens(p.tokens))] + self._ud_out(p.user_data))))

    def _tx_control_give(self, p: SControlGive) -> bytes:
        self._fu(FunctionalUnit.ACTIVITY, "S-CONTROL-GIVE")
        self._local_activity("S-CONTROL-GIVE", inside=False)
        self._owns(self.tokens_available, "S-CONTROL-GIVE")
        self.tokens_owned = Token(0)
        return sp.encode(SPDU(si=SI.GTC))

    def _tx_exception(self, p: SUExceptionReport) -> bytes:
        self._fu(FunctionalUnit.EXCEPTIONS, "S-U-EXCEPTION-REPORT")
        if not self.tokens_available & Token.DATA or self.tokens_owned & Token.DATA:
            raise _local("S-U-EXCEPTION-REPORT needs the data token on the peer's side")
        if not 0 <= p.reason <= 0xFF:
            raise _local("reason code must fit one octet")
        out = self._cat2(SI.ED, [(PI.REASON_CODE, bytes((p.reason,)))]
                         + self._ud_out(p.user_data))
        self._exception = True
        return out

    def _tx_release(self, p: SRelease) -> bytes:
        self._local_activity("S-RELEASE", inside=False)
        self._owns(self.tokens_available, "S-RELEASE")
        return sp.encode(SPDU(si=SI.FN, params=tuple(
            [(PI.TRANSPORT_DISCONNECT, bytes((TransportDisconnect.RELEASED,)))]
            + self._ud_out(p.user_data))))

    def _tx_release_accept(self, p: SReleaseAccept) -> bytes:
        return sp.encode(SPDU(si=SI.DN, params=tuple(self._ud_out(p.user_data))))

    def _tx_release_refuse(self, p: SReleaseRefuse) -> bytes:
        self._fu(FunctionalUnit.NEGOTIATED_RELEASE, "S-RELEASE refusal")
        return sp.encode(SPDU(si=SI.NF, params=tuple(self._ud_out(p.user_data))))

    def _tx_abort(self, p: SUAbort) -> bytes:
        td = TransportDisconnect.RELEASED | TransportDisconnect.USER_ABORT
        params: list[sp.Param] = [(PI.TRANSPORT_DISCONNECT, bytes((td,)))]
        params += self._ud_out(p.user_data, _V1_ABORT_DATA)
        self._used = True
        return sp.encode(SPDU(si=SI.AB, params=tuple(params)))


_S = SessionEngine
_SENDERS: dict[type, tuple[str, Callable[[SessionEngine, Any], bytes]]] = {
    SConnect: ("SCONreq", _S._tx_connect), SConnectAccept: ("SCONrsp+", _S._tx_accept),
    SConnectRefuse: ("SCONrsp-", _S._tx_refuse), SData: ("SDTreq", _S._send_data),
    STokenGive: ("SGTreq", _S._tx_give), STokenPlease: ("SPTreq", _S._tx_please),
    SControlGive: ("SCGreq", _S._tx_control_give), SSyncMinor: ("SSYNmreq", _S._tx_sync),
    SSyncMinorConfirm: ("SSYNmrsp", _S._tx_sync_confirm),
    SActivityStart: ("SACTSreq", _S._tx_activity_start),
    SActivityResume: ("SACTRreq", _S._tx_activity_resume),
    SActivityInterrupt: ("SACTIreq", _S._tx_interrupt),
    SActivityInterruptConfirm: ("SACTIrsp", _S._tx_interrupt_confirm),
    SActivityDiscard: ("SACTDreq", _S._tx_interrupt),
    SActivityDiscardConfirm: ("SACTDrsp", _S._tx_interrupt_confirm),
    SActivityEnd: ("SACTEreq", _S._tx_activity_end),
    SActivityEndConfirm: ("SACTErsp", _S._tx_activity_end_confirm),
    SUExceptionReport: ("SUERreq", _S._tx_exception), SRelease: ("SRELreq", _S._tx_release),
    SReleaseAccept: ("SRELrsp+", _S._tx_release_accept),
    SReleaseRefuse: ("SRELrsp-", _S._tx_release_refuse), SUAbort: ("SUABreq", _S._tx_abort),
}
_RECEIVERS: dict[str, Callable[[SessionEngine, SPDU, str], str | None]] = {
    "CN": _S._rx_cn, "CDO": _S._rx_cdo, "OA": _S._rx_oa, "AC": _S._rx_ac, "RF": _S._rx_rf,
    "DT": _S._rx_dt, "GT": _S._rx_gt, "PT": _S._rx_pt, "GTC": _S._rx_gtc, "GTA": _S._rx_gta,
    "MIP": _S._rx_mip, "MIA": _S._rx_mia, "AS": _S._rx_as, "AR": _S._rx_ar, "AI": _S._rx_ai,
    "AIA": _S._rx_aia, "AD": _S._rx_ad, "ADA": _S._rx_ada, "AE": _S._rx_ae, "AEA": _S._rx_aea,
    "ED": _S._rx_ed, "ER": _S._rx_er, "FN": _S._rx_fn, "DN": _S._rx_dn, "NF": _S._rx_nf,
    "AB": _S._rx_ab, "AA": _S._rx_aa,
}
