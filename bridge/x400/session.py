"""X.225 session protocol engine (sans-IO) and the X.215 session service primitives.

What RTSE and P1 need (X.225 §7): connection establishment with connect data overflow, kernel,
half-duplex / duplex, exceptions, minor synchronize, activity management, orderly (and
negotiated) release, user and provider abort.  The state table is data in
:mod:`bridge.x400.session_states`; the SPDU codec is :mod:`bridge.x400.spdu`.

Verbs (STYLE.md §1): ``receive(tsdu)`` takes one complete TSDU from T-DATA, ``next_event()``
returns the next indication/confirm, ``send(primitive)`` returns the TSDU to hand to T-DATA.
The SPM sometimes answers on its own (OVERFLOW ACCEPT, CONNECT DATA OVERFLOW, GIVE TOKENS ACK,
the ABORT after a peer's protocol error): those TSDUs wait in :meth:`SessionEngine.tsdus_to_send`.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from bridge.errors import ProtocolError
from bridge.x400 import spdu as sp
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
    DEFAULT_REQUIREMENTS,
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

Role = Literal["initiator", "responder"]
LAYER = "session"


# ---------------------------------------------------------------------- engine
_GT_EMPTY = b"\x01\x00"  # GIVE TOKENS with no parameters: the category 0 prefix (§6.3.7)
_DT_PREFIX = b"\x01\x00\x01\x00"  # empty GT + DT with no parameters; user information follows
_V1_USER_DATA = 512  # X.225 §8.3: User Data PI max in protocol version 1
_V1_ABORT_DATA = 9  # X.225 §8.3 (ABORT SPDU): user data max in version 1
_CN_USER_DATA = 10240  # X.225 §8.3 (CONNECT SPDU): Extended User Data, v2
_CDO_CHUNK = 65000  # user data per CDO SPDU: fits the 65 535-octet LI with the other PIs
_ACTIVITY_ID_MAX = 6  # X.225 §8.3 Activity Identifier: 1..6 octets
_VERSION_1 = 0x01  # Version Number PI bit 1
_VERSION_2 = 0x02  # Version Number PI bit 2
_DATA_OVERFLOW_MORE = 0x01  # Data Overflow PI: more data follows in CDO SPDUs (§7.1, §7.3)
_ENCLOSURE_BEGIN = 0x01  # Enclosure Item bit 1: beginning of SSDU
_ENCLOSURE_END = 0x02  # Enclosure Item bit 2: end of SSDU
_SYNC_NO_CONFIRM = 0x01  # Sync Type Item (MIP): explicit confirmation not required
_SYNC_NOT_END = 0x01  # Sync Type Item (MAP): activity not ended, i.e. S-SYNC-MAJOR
_RF_USER_REASON = 2  # Reason Code 2: rejection by called SS-user, user data follows (§8.3, RF)
#: category 2 meaning of the SI codes that category 1 / 0 SPDUs share (X.225 §8.3, Table 9)
_CAT2_NAMES = {int(SI.DT): "DT", int(SI.AI): "AI", int(SI.AIA): "AIA", int(SI.AEA): "AEA"}
_SERIAL_LAST = 999_999  # X.225 §8.3 Serial Number: at most six digits
_ALL_FU = 0x1FFF  # the 13 functional-unit bits X.225 §8.3 defines; the rest are reserved
_SUPPORTED = (FunctionalUnit.HALF_DUPLEX | FunctionalUnit.DUPLEX | FunctionalUnit.EXCEPTIONS
              | FunctionalUnit.MINOR_SYNC | FunctionalUnit.ACTIVITY
              | FunctionalUnit.NEGOTIATED_RELEASE)


def _conn_id_params(cid: ConnectionIdentifier | None, user_ref_pi: int) -> list[sp.Param]:
    if cid is None:
        return []
    items = [(pi, v) for pi, v in ((user_ref_pi, cid.calling_ss_user_reference),
                                   (PI.COMMON_REFERENCE, cid.common_reference),
                                   (PI.ADDITIONAL_REFERENCE, cid.additional_reference)) if v]
    return [(PI.CONNECTION_IDENTIFIER, tuple(items))] if items else []


def _conn_id_from(group: dict[int, bytes] | None) -> ConnectionIdentifier | None:
    if group is None:
        return None
    ref = group.get(PI.CALLING_SS_USER_REFERENCE, group.get(PI.CALLED_SS_USER_REFERENCE, b""))
    return ConnectionIdentifier(calling_ss_user_reference=ref,
                                common_reference=group.get(PI.COMMON_REFERENCE, b""),
                                additional_reference=group.get(PI.ADDITIONAL_REFERENCE, b""))


def _user_data_param(data: bytes) -> list[sp.Param]:
    return [(PI.USER_DATA, data)] if data else []


def _one_octet(spdu: SPDU, code: int, default: int = 0) -> int:
    v = spdu.get_bytes(code)
    if v is None:
        return default
    if len(v) != 1:
        raise ProtocolError(f"PI {code} must be one octet", layer=LAYER)
    return v[0]


def _local(reason: str) -> ProtocolError:
    return ProtocolError(f"local: {reason}", layer=LAYER)


@dataclass(slots=True)
class _Connect:
    """What the connect phase remembers (proposal, overflow data)."""

    proposed: FunctionalUnit = FunctionalUnit(0)
    versions: int = 0
    setting: TokenSetting | None = None
    pending: bytes = b""  # initiator: user data still to go in CDO SPDUs
    buffered: SConnect | None = None  # responder: CN waiting for its CDOs
    overflow: bytearray | None = None


class SessionEngine:
    """One session connection endpoint (an SPM, X.225 §6.1), without I/O."""

    def __init__(self, role: Role, *, max_ssdu: int = 64 * 1024 * 1024) -> None:
        if role not in ("initiator", "responder"):
            raise ValueError(f"role must be 'initiator' or 'responder', not {role!r}")
        self.role: Role = role
        self.max_ssdu = max_ssdu
        self.state = "STA01"
        self.version = 2
        self.requirements = FunctionalUnit(0)
        self.tokens_owned = Token(0)
        self.tokens_available = Token(0)
        self.in_activity = False
        self.next_serial = 0  # V(M), X.225 §4.5 local variables
        self._va = 0  # V(A): lowest serial we sent that the peer has not confirmed
        self._peer_unconfirmed: list[int] = []  # MIP serials indicated, awaiting our MIA
        self._ae_serial = 0
        self._exception = False  # an ED was sent or received and not yet cleared (§7.28)
        self._used = False
        self._events: deque[SessionPrimitive] = deque()
        self._out: list[bytes] = []
        self._cx = _Connect()

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
    def _fail(self, reason: str) -> NoReturn:
        raise ProtocolError(reason, layer=LAYER)

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

    def _peer_owns(self, tokens: Token, what: str) -> None:
        """The peer's SPDU needs ``tokens`` on its side (X.215 §11.2 token restrictions)."""
        need = tokens & self.tokens_available
        if need & self.tokens_owned:
            self._fail(f"peer sent {what} without the {need & self.tokens_owned!r} token")

    def _need_activity(self, what: str, inside: bool) -> None:
        if self.requirements & FunctionalUnit.ACTIVITY and self.in_activity != inside:
            self._fail(f"peer sent {what} {'outside' if inside else 'inside'} an activity")

    def _check_user_data(self, data: bytes, limit: int | None = None) -> bytes:
        if self.version == 1 and len(data) > (limit or _V1_USER_DATA):
            self._fail("user data too long for session protocol version 1")
        if len(data) > self.max_ssdu:
            self._fail("user data exceeds the SSDU limit")
        return data

    def _ud(self, s: SPDU) -> bytes:
        return self._check_user_data(s.get_bytes(PI.USER_DATA) or b"")

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

    def _rx_cn(self, s: SPDU, nxt: str) -> str | None:
        if self.role != "responder":
            self._fail("CN received by the initiator")
        item = s.get_group(PI.CONNECT_ACCEPT_ITEM) or {}
        v = item.get(PI.VERSION_NUMBER, bytes((_VERSION_1,)))
        if len(v) != 1 or not v[0] & (_VERSION_1 | _VERSION_2):
            self._fail("CN proposes no protocol version we support")
        versions = v[0]
        self.version = 2 if versions & _VERSION_2 else 1
        req = s.get_bytes(PI.SESSION_USER_REQUIREMENTS)
        if req is None:  # default: half-duplex, minor sync, activity, capability (§8.3, CN)
            proposed = DEFAULT_REQUIREMENTS
        elif len(req) != 2:
            self._fail("Session User Requirements must be two octets")
        else:
            proposed = FunctionalUnit(int.from_bytes(req, "big") & _ALL_FU)
        isn = item.get(PI.INITIAL_SERIAL_NUMBER)
        setting = sp.decode_token_setting(item.get(PI.TOKEN_SETTING_ITEM),
                                          available_tokens(proposed))
        ud, xud = s.get_bytes(PI.USER_DATA), s.get_bytes(PI.EXTENDED_USER_DATA)
        if ud is not None and xud is not None:
            self._fail("CN carries both User Data and Extended User Data")
        if xud is not None and self.version == 1:
            self._fail("Extended User Data needs protocol version 2")
        data = ud if ud is not None else (xud or b"")
        if len(data) > (_V1_USER_DATA if self.version == 1 else _CN_USER_DATA):
            self._fail("CN user data too long")
        self._cx.proposed, self._cx.versions, self._cx.setting = proposed, versions, setting
        self._used = True
        ind = SConnect(calling_ssel=s.get_bytes(PI.CALLING_SSAP) or b"",
                       called_ssel=s.get_bytes(PI.CALLED_SSAP) or b"",
                       requirements=proposed, initial_tokens=setting,
                       connection_id=_conn_id_from(s.get_group(PI.CONNECTION_IDENTIFIER)),
                       version=self.version,
                       initial_serial=None if isn is None else sp.decode_serial(isn),
                       user_data=data)
        if _one_octet(s, PI.DATA_OVERFLOW) & _DATA_OVERFLOW_MORE:
            if self.version == 1:
                self._fail("Data Overflow needs protocol version 2")
            self._cx.buffered, self._cx.overflow = ind, bytearray(data)
            self._out.append(sp.encode(SPDU(si=SI.OA, params=(
                (PI.VERSION_NUMBER, bytes((_VERSION_2,))),))))
            return "STA01D"
        self._events.append(ind)
        return None

    def _rx_cdo(self, s: SPDU, nxt: str) -> str | None:
        buf, first = self._cx.overflow, self._cx.buffered
        assert buf is not None and first is not None
        buf += s.get_bytes(PI.USER_DATA) or b""
        if len(buf) > self.max_ssdu:
            self._fail("connect user data exceeds the SSDU limit")
        if not _one_octet(s, PI.ENCLOSURE_ITEM) & _ENCLOSURE_END:
            return None
        self._cx.overflow = self._cx.buffered = None
        self._events.append(dataclasses.replace(first, user_data=bytes(buf)))
        return "STA08"

    def _rx_oa(self, s: SPDU, nxt: str) -> str | None:
        data, self._cx.pending = self._cx.pending, b""
        for i in range(0, len(data), _CDO_CHUNK):
            chunk = data[i:i + _CDO_CHUNK]
            end = _ENCLOSURE_END if i + _CDO_CHUNK >= len(data) else 0
            self._out.append(sp.encode(SPDU(si=SI.CDO, params=(
                (PI.ENCLOSURE_ITEM, bytes((end,))), (PI.USER_DATA, chunk)))))
        return None

    def _rx_ac(self, s: SPDU, nxt: str) -> str | None:
        item = s.get_group(PI.CONNECT_ACCEPT_ITEM) or {}
        v = item.get(PI.VERSION_NUMBER, bytes((_VERSION_1,)))
        if len(v) != 1 or v[0] not in (_VERSION_1, _VERSION_2) or not v[0] & self._cx.versions:
            self._fail("AC selects a protocol version we did not propose")
        self.version = 2 if v[0] == _VERSION_2 else 1
        req = s.get_bytes(PI.SESSION_USER_REQUIREMENTS)
        if req is None:
            fu = DEFAULT_REQUIREMENTS & self._cx.proposed
        elif len(req) != 2:
            self._fail("Session User Requirements must be two octets")
        else:
            fu = FunctionalUnit(int.from_bytes(req, "big"))
        if fu & ~self._cx.proposed:
            self._fail("AC selects functional units we did not propose")
        setting = sp.decode_token_setting(item.get(PI.TOKEN_SETTING_ITEM), available_tokens(fu))
        if TokenSide.CALLED_CHOICE in setting.values():
            self._fail("AC leaves a token at the called SS-user's choice")
        isn = item.get(PI.INITIAL_SERIAL_NUMBER)
        ud = self._ud(s)
        self._connected(fu, setting, None if isn is None else sp.decode_serial(isn))
        self._events.append(SConnectAccept(
            responding_ssel=s.get_bytes(PI.CALLED_SSAP) or b"", requirements=fu,
            initial_tokens=setting,
            connection_id=_conn_id_from(s.get_group(PI.CONNECTION_IDENTIFIER)),
            version=self.version, initial_serial=self.next_serial if isn else None,
            user_data=ud))
        return None

    def _rx_rf(self, s: SPDU, nxt: str) -> str | None:
        rc = s.get_bytes(PI.REASON_CODE) or b"\x00"
        self._used = True
        self._events.append(SConnectRefuse(reason=rc[0], user_data=rc[1:]))
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
    def _owns(self, tokens: Token, what: str) -> None:
        missing = tokens & self.tokens_available & ~self.tokens_owned
        if missing:
            raise _local(f"{what} needs the {missing!r} token")

    def _local_activity(self, what: str, inside: bool) -> None:
        if self.requirements & FunctionalUnit.ACTIVITY and self.in_activity != inside:
            raise _local(f"{what} is allowed only {'inside' if inside else 'outside'} "
                         "an activity")

    def _fu(self, fu: FunctionalUnit, what: str) -> None:
        if not self.requirements & fu:
            raise _local(f"{what} needs the {fu!r} functional unit")

    def _ud_out(self, data: bytes, limit: int = _V1_USER_DATA) -> list[sp.Param]:
        if self.version == 1 and len(data) > limit:
            raise _local(f"user data over {limit} octets needs session version 2")
        return _user_data_param(data)

    def _cat2(self, si: int, params: list[sp.Param]) -> bytes:
        return _GT_EMPTY + sp.encode(SPDU(si=si, params=tuple(params), category=2))

    def _send_data(self, p: SData) -> bytes:
        if self.tokens_available & Token.DATA and not self.tokens_owned & Token.DATA:
            raise _local("S-DATA needs the data token")
        if self.requirements & FunctionalUnit.ACTIVITY and not self.in_activity:
            raise _local("S-DATA is allowed only inside an activity")
        if self._exception:
            raise _local("S-DATA after an exception report: interrupt, discard or give the "
                         "data token first")
        return _DT_PREFIX + p.user_data

    def _tx_connect(self, p: SConnect) -> bytes:
        if p.version not in (1, 2):
            raise _local("version must be 1 or 2")
        if p.requirements & ~_SUPPORTED:
            raise _local(f"functional units not implemented: {p.requirements & ~_SUPPORTED!r}")
        self.version = p.version
        avail = available_tokens(p.requirements)
        setting = TokenSetting(p.initial_tokens) if p.initial_tokens is not None else TokenSetting(
            {t: TokenSide.INITIATOR for t in Token if avail & t})
        if any(t & ~avail for t in setting):
            raise _local("token setting for a token that is not available")
        self._cx.proposed = p.requirements
        self._cx.versions = _VERSION_2 if p.version == 2 else _VERSION_1
        self._cx.setting = setting
        item: list[tuple[int, bytes]] = [(PI.PROTOCOL_OPTIONS, b"\x00"),
                                         (PI.VERSION_NUMBER, bytes((self._cx.versions,)))]
        if p.initial_serial is not None:
            item.append((PI.INITIAL_SERIAL_NUMBER, sp.encode_serial(p.initial_serial)))
        item.append((PI.TOKEN_SETTING_ITEM, sp.encode_token_setting(setting)))
        params: list[sp.Param] = _conn_id_params(p.connection_id, PI.CALLING_SS_USER_REFERENCE)
        params.append((PI.CONNECT_ACCEPT_ITEM, tuple(item)))
        params.append((PI.SESSION_USER_REQUIREMENTS, int(p.requirements).to_bytes(2, "big")))
        if p.calling_ssel:
            params.append((PI.CALLING_SSAP, p.calling_ssel))
        if p.called_ssel:
            params.append((PI.CALLED_SSAP, p.called_ssel))
        data = p.user_data
        if len(data) <= _V1_USER_DATA:
            params += _user_data_param(data)
        elif p.version == 1:
            raise _local("CN user data over 512 octets needs session version 2")
        elif len(data) <= _CN_USER_DATA:
            params.append((PI.EXTENDED_USER_DATA, data))
        else:
            params.append((PI.DATA_OVERFLOW, bytes((_DATA_OVERFLOW_MORE,))))
            params.append((PI.EXTENDED_USER_DATA, data[:_CN_USER_DATA]))
            self._cx.pending = data[_CN_USER_DATA:]
        self._used = True
        return sp.encode(SPDU(si=SI.CN, params=tuple(params)))

    def _connected(self, fu: FunctionalUnit, setting: TokenSetting, isn: int | None) -> None:
        self.requirements = fu
        self.tokens_available = available_tokens(fu)
        mine = TokenSide.INITIATOR if self.role == "initiator" else TokenSide.RESPONDER
        self.tokens_owned = Token(0)
        for tok, side in setting.items():
            if side == mine:
                self.tokens_owned |= tok
        self.next_serial = self._va = isn if isn is not None else 0

    def _tx_accept(self, p: SConnectAccept) -> bytes:
        fu = self._cx.proposed & p.requirements & _SUPPORTED
        if bool(fu & FunctionalUnit.HALF_DUPLEX) == bool(fu & FunctionalUnit.DUPLEX):
            raise _local("the accepted requirements must hold exactly one of half-duplex and "
                         f"duplex (proposed {self._cx.proposed!r}, accepted {p.requirements!r})")
        avail = available_tokens(fu)
        proposed = self._cx.setting or TokenSetting({})
        chosen = p.initial_tokens or TokenSetting({})
        final: dict[Token, TokenSide] = {}
        for tok in Token:
            if not avail & tok:
                continue
            side = proposed.get(tok, TokenSide.INITIATOR)
            if side == TokenSide.CALLED_CHOICE:
                side = chosen.get(tok, TokenSide.INITIATOR)
                if side == TokenSide.CALLED_CHOICE:
                    raise _local(f"the response must choose a side for {tok!r}")
            elif tok in chosen and chosen[tok] != side:
                raise _local(f"{tok!r} was not left to the called SS-user's choice")
            final[tok] = side
        setting = TokenSetting(final)
        item: list[tuple[int, bytes]] = [(PI.PROTOCOL_OPTIONS, b"\x00"),
                                         (PI.VERSION_NUMBER, bytes((1 << (self.version - 1),)))]
        if p.initial_serial is not None:
            item.append((PI.INITIAL_SERIAL_NUMBER, sp.encode_serial(p.initial_serial)))
        item.append((PI.TOKEN_SETTING_ITEM, sp.encode_token_setting(setting)))
        params: list[sp.Param] = _conn_id_params(p.connection_id, PI.CALLED_SS_USER_REFERENCE)
        params.append((PI.CONNECT_ACCEPT_ITEM, tuple(item)))
        params.append((PI.SESSION_USER_REQUIREMENTS, int(fu).to_bytes(2, "big")))
        if p.responding_ssel:
            params.append((PI.CALLED_SSAP, p.responding_ssel))
        params += self._ud_out(p.user_data)
        out = sp.encode(SPDU(si=SI.AC, params=tuple(params)))
        self._connected(fu, setting, p.initial_serial)
        return out

    def _tx_refuse(self, p: SConnectRefuse) -> bytes:
        if p.user_data and p.reason != _RF_USER_REASON:
            raise _local("refusal user data needs reason code 2 (rejection by SS-user)")
        if not 0 <= p.reason <= 0xFF:
            raise _local("reason code must fit one octet")
        self._ud_out(p.user_data)
        return sp.encode(SPDU(si=SI.RF, params=(
            (PI.TRANSPORT_DISCONNECT, bytes((TransportDisconnect.RELEASED,))),
            (PI.REASON_CODE, bytes((p.reason,)) + p.user_data))))

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
