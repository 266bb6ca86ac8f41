"""X.225 connection establishment: CN, AC, RF and connect data overflow (OA, CDO).

X.225 §7.1-§7.5 (a mixin of :class:`bridge.x400.session.SessionEngine`): the CONNECT SPDU with
its proposal of version, functional units, initial tokens and serial number; ACCEPT or REFUSE;
user data beyond 10 240 octets in CONNECT DATA OVERFLOW SPDUs once the responder's OVERFLOW
ACCEPT has arrived.
"""

from __future__ import annotations

import dataclasses

from bridge.x400 import spdu as sp
from bridge.x400.session_base import (
    _ALL_FU,
    _CDO_CHUNK,
    _CN_USER_DATA,
    _DATA_OVERFLOW_MORE,
    _ENCLOSURE_END,
    _RF_USER_REASON,
    _SUPPORTED,
    _V1_USER_DATA,
    _VERSION_1,
    _VERSION_2,
    SPMBase,
    _conn_id_from,
    _conn_id_params,
    _local,
    _one_octet,
    _user_data_param,
)
from bridge.x400.session_primitives import (
    SConnect,
    SConnectAccept,
    SConnectRefuse,
)
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


class ConnectProcedures(SPMBase):
    """Connection establishment (X.225 §7.1-§7.5: CN, OA, CDO, AC, RF), both directions."""

    # ------------------------------------------------------------------ incoming
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

    # ------------------------------------------------------------------ outgoing
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
