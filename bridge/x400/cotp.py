"""X.224 transport class 0 as RFC 1006 §5 runs it over TCP, sans-IO.

Theory of operation
-------------------
One :class:`COTPEngine` serves one TCP connection (one network connection).  Bytes from TCP enter
``receive_data``; the engine splits them into TPKTs (:mod:`bridge.x400.tpkt`), decodes each class 0
TPDU (X.224 §13: CR, CC, DR, DT, ER; anything else is a protocol error), runs the state table
below and queues service primitives for ``next_event``.  ``send(primitive)`` returns the TPKT-framed
octets to write to TCP.

RFC 1006 §5 differs from plain class 0 in that (a) CR and CC may carry user data, (b) the default
maximum TPDU size is 65531 octets instead of 128 (RFC 2126 §4.1.1 agrees), (c) expedited data may be
negotiated (this engine never agrees to it, so an ED TPDU is a protocol error) and (d) TCP is the
network service: N-DISCONNECT is the TCP close.  In class 0 a transport connection is released by
releasing the network connection (X.224 §6.7, RFC 2126 §4.1.3): a T-DISCONNECT request on an open
connection yields no octets -- the shell closes TCP; a DR TPDU is sent only to refuse a CR.

TPDU size negotiation (X.224 §6.5.4 (g) and §13.3.4): a CR may carry the "TPDU size" parameter
(0xC0, value n meaning 2**n octets, n = 7..13) and/or the "preferred maximum TPDU size" parameter
(0xF0, X.224 (1995): value times 128 octets); when both are present the latter wins; when neither is
present RFC 1006 §5 says the size is 65531.  The CC may name a smaller size; the negotiated size is
the smaller of what each side said.  Because a peer that does not know 0xF0 only understood the
0xC0 part of a proposal, the engine answers with 0xF0 only to a peer that used it, and (RFC 2126
§6.4) names the size in every CC unless it is the 65531 default, which neither parameter can
express.

States (X.224 Annex A names; the network connection is already up when the engine starts)::

    CLOSED   no transport connection yet (the initiator sends CR, the responder awaits one)
    WFCC     initiator: CR sent, waiting for CC
    WFTRESP  responder: CR received, waiting for the T-CONNECT response (or T-DISCONNECT)
    OPEN     data transfer
    RELEASED terminal: the transport connection and with it the TCP connection are finished
             (X.224 CLOSED after the network connection is released; the engine accepts nothing)

A protocol error moves the engine to RELEASED and raises :class:`~bridge.errors.ProtocolError`
with layer ``"cotp"`` (or ``"tpkt"`` for framing errors); the shell then closes TCP.

The TPDU codes, parameters and encode/decode helpers are in :mod:`bridge.x400.cotp_tpdu`; the names
that were public here stay importable from this module.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from bridge.codec.ber import MAX_LENGTH
from bridge.errors import ProtocolError
from bridge.x400.cotp_tpdu import (
    _DR_ADDITIONAL_INFO,
    _ER_INVALID_TPDU,
    _TPDU_NAMES,
    DEFAULT_MAX_TPDU_SIZE,
    DT_HEADER_SIZE,
    DT_LI,
    EOT,
    MAX_CONNECT_USER_DATA,
    MAX_DT_DATA,
    MIN_TPDU_SIZE,
    DisconnectReason,
    Parameter,
    RejectCause,
    TPDUCode,
    _connect_tpdu,
    _error,
    _expressible,
    _header_length,
    _parameters,
    _peer_size,
    _size_parameters,
    _tsap,
)
from bridge.x400.tpkt import TPKT_HEADER_SIZE, TPKT_MAX_LENGTH, TPKT_VERSION, TPKTFramer

__all__ = [
    "COTPEngine",
    "COTPState",
    "DEFAULT_MAX_TPDU_SIZE",
    "DT_HEADER_SIZE",
    "DT_LI",
    "EOT",
    "MAX_CONNECT_USER_DATA",
    "MAX_DT_DATA",
    "MIN_TPDU_SIZE",
    "DisconnectReason",
    "Parameter",
    "RejectCause",
    "TConnect",
    "TConnectAccept",
    "TData",
    "TDisconnect",
    "TPDUCode",
    "TransportPrimitive",
]

_FEED_CHUNK = 65536  # receive_data feeds the framer at most this much before draining it


class COTPState(Enum):
    """Connection states, X.224 Annex A names (see the module docstring)."""

    CLOSED = "CLOSED"
    WFCC = "WFCC"
    WFTRESP = "WFTRESP"
    OPEN = "OPEN"
    RELEASED = "RELEASED"


# -- service primitives (X.214 T-CONNECT, T-DATA, T-DISCONNECT) -------------------------------


def _check_tsel(name: str, value: bytes) -> None:
    if len(value) > 255:  # the parameter length field is one octet
        raise ValueError(f"{name} longer than 255 octets")


def _check_size(value: int) -> None:
    if not MIN_TPDU_SIZE <= value <= DEFAULT_MAX_TPDU_SIZE:
        raise ValueError(f"max_tpdu_size must be {MIN_TPDU_SIZE}..{DEFAULT_MAX_TPDU_SIZE}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TConnect:
    """T-CONNECT request/indication, carried by the CR TPDU (X.224 §13.3).

    ``max_tpdu_size`` is the proposed size: sent, it is capped by the engine's own limit; received,
    it is what the peer proposed (65531 when the CR named none, RFC 1006 §5).  ``user_data`` is
    the connect data RFC 1006 §5 allows in a CR; at most 32 octets are sent (X.224 §13.3.5), any
    amount is accepted.
    """

    calling_tsel: bytes = b""
    called_tsel: bytes = b""
    max_tpdu_size: int = DEFAULT_MAX_TPDU_SIZE
    user_data: bytes = b""

    def __post_init__(self) -> None:
        _check_tsel("calling_tsel", self.calling_tsel)
        _check_tsel("called_tsel", self.called_tsel)
        _check_size(self.max_tpdu_size)


@dataclass(frozen=True, slots=True, kw_only=True)
class TConnectAccept:
    """T-CONNECT response/confirm, carried by the CC TPDU (X.224 §13.4).

    Sent, ``max_tpdu_size`` is the most the responder accepts; received (the confirm), it is the
    negotiated size.  ``user_data``: RFC 1006 §5 connect data (at most 32 octets are sent).
    """

    responding_tsel: bytes = b""
    max_tpdu_size: int = DEFAULT_MAX_TPDU_SIZE
    user_data: bytes = b""

    def __post_init__(self) -> None:
        _check_tsel("responding_tsel", self.responding_tsel)
        _check_size(self.max_tpdu_size)


@dataclass(frozen=True, slots=True, kw_only=True)
class TDisconnect:
    """T-DISCONNECT request/indication (X.214 §13.3).

    Received: from a DR TPDU (``reason`` is its X.224 reason code), an ER TPDU (reason 133,
    ``detail`` names the reject cause) or the TCP close (N-DISCONNECT, RFC 1006 §5).  Sent: in
    state WFTRESP a DR refusing the CR (class 0 DR carries no user data, X.224 §13.5.5); otherwise
    no octets at all -- the shell closes TCP (X.224 §6.7, class 0 implicit release).
    """

    reason: int = 0
    user_data: bytes = b""
    detail: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.reason <= 255:
            raise ValueError("reason must fit one octet (X.224 §13.5.3)")


@dataclass(frozen=True, slots=True, kw_only=True)
class TData:
    """T-DATA request/indication: one complete TSDU (DT TPDUs reassembled up to EOT, X.224 §6.3)."""

    data: bytes


TransportPrimitive = TConnect | TConnectAccept | TDisconnect | TData


# -- state table (X.224 Annex A, class 0 over RFC 1006) -----------------------------------------
# Inputs are named as X.224 Annex A names them: TCONreq / TCONresp / TDTreq / TDISreq from the
# user, CR / CC / DR / DT / ER TPDUs from the peer, NDISind when TCP closes.  A pair that is not in
# the table is a protocol error (a TPDU from the peer) or a usage error (a request from the user).

_S = COTPState
TRANSITIONS: dict[tuple[COTPState, str], COTPState] = {
    (_S.CLOSED, "TCONreq"): _S.WFCC,  # initiator: send CR
    (_S.CLOSED, "CR"): _S.WFTRESP,  # responder: T-CONNECT indication
    (_S.CLOSED, "TDISreq"): _S.RELEASED,  # N-DISCONNECT request
    (_S.CLOSED, "NDISind"): _S.RELEASED,
    (_S.CLOSED, "ER"): _S.RELEASED,
    (_S.WFCC, "CC"): _S.OPEN,  # T-CONNECT confirm
    (_S.WFCC, "DR"): _S.RELEASED,  # refused: T-DISCONNECT indication
    (_S.WFCC, "ER"): _S.RELEASED,
    (_S.WFCC, "TDISreq"): _S.RELEASED,  # N-DISCONNECT request
    (_S.WFCC, "NDISind"): _S.RELEASED,
    (_S.WFTRESP, "TCONresp"): _S.OPEN,  # send CC
    (_S.WFTRESP, "TDISreq"): _S.RELEASED,  # send DR (refusal)
    (_S.WFTRESP, "DR"): _S.RELEASED,
    (_S.WFTRESP, "ER"): _S.RELEASED,
    (_S.WFTRESP, "NDISind"): _S.RELEASED,
    (_S.OPEN, "TDTreq"): _S.OPEN,  # send DT TPDUs
    (_S.OPEN, "DT"): _S.OPEN,  # T-DATA indication at EOT
    (_S.OPEN, "TDISreq"): _S.RELEASED,  # N-DISCONNECT request (class 0 implicit release)
    (_S.OPEN, "DR"): _S.RELEASED,  # tolerated: some peers send DR before closing
    (_S.OPEN, "ER"): _S.RELEASED,
    (_S.OPEN, "NDISind"): _S.RELEASED,
}
del _S


# -- the engine ---------------------------------------------------------------------------------


class COTPEngine:
    """One class 0 transport connection over one TCP connection (RFC 1006 §5, X.224).

    ``max_tsdu`` bounds a reassembled TSDU (a larger one is a protocol error); ``max_tpdu_size`` is
    the largest TPDU this side proposes or accepts (128..65531).
    """

    def __init__(
        self,
        role: Literal["initiator", "responder"],
        *,
        max_tsdu: int = MAX_LENGTH,
        max_tpdu_size: int = DEFAULT_MAX_TPDU_SIZE,
    ) -> None:
        if role not in ("initiator", "responder"):
            raise ValueError("role must be 'initiator' or 'responder'")
        _check_size(max_tpdu_size)
        if max_tsdu < 0:
            raise ValueError("max_tsdu must be >= 0")
        self.role: Literal["initiator", "responder"] = role
        self.max_tsdu = max_tsdu
        self._local_max = max_tpdu_size
        self._tpdu_size = max_tpdu_size  # negotiated once connected
        self._state = COTPState.CLOSED
        self._framer = TPKTFramer()
        self._events: deque[TransportPrimitive] = deque()
        self._fragments: list[memoryview] = []
        self._tsdu_len = 0
        self._peer_ref = 0
        # initiator: the proposal as a peer without / with 0xF0 understands it
        self._proposed_legacy = DEFAULT_MAX_TPDU_SIZE
        self._proposed_preferred = DEFAULT_MAX_TPDU_SIZE
        # responder: the CR's proposal and whether the peer used 0xF0
        self._cr_size = DEFAULT_MAX_TPDU_SIZE
        self._cr_preferred = False

    # -- introspection --

    @property
    def state(self) -> COTPState:
        return self._state

    @property
    def max_tpdu_size(self) -> int:
        """The negotiated maximum TPDU size (before negotiation: this side's limit)."""
        return self._tpdu_size

    @property
    def buffered(self) -> int:
        """Octets received and held by the framer (an incomplete TPKT): memory accounting."""
        return self._framer.buffered

    @property
    def reassembling(self) -> int:
        """Octets of a TSDU received so far without its EOT (bounded by ``max_tsdu``)."""
        return self._tsdu_len

    # -- receiving --

    def receive_data(self, data: bytes) -> None:
        """Take octets from TCP; ``b""`` means TCP closed (N-DISCONNECT indication).

        Raises :class:`ProtocolError` (and moves to RELEASED) when the peer breaks RFC 1006 or
        X.224; events decoded before the error stay available from ``next_event``.  Octets that
        arrive after release are discarded.
        """
        if self._state is COTPState.RELEASED:
            return
        if not data:
            detail = "network connection closed (N-DISCONNECT, RFC 1006 §5)"
            if self._tsdu_len:
                detail += f"; {self._tsdu_len} octets of an unfinished TSDU lost"
            self._release()
            self._events.append(TDisconnect(detail=detail))
            return
        try:
            view = memoryview(data)
            for start in range(0, len(view), _FEED_CHUNK):
                self._framer.feed(view[start : start + _FEED_CHUNK])
                while (tpdu := self._framer.next_packet()) is not None:
                    if self._handle(tpdu):  # released: the rest is discarded
                        return
        except ProtocolError:
            self._release()
            raise

    def next_event(self) -> TransportPrimitive | None:
        """The next primitive for the user (session layer), or None."""
        return self._events.popleft() if self._events else None

    def _release(self) -> None:
        self._state = COTPState.RELEASED
        self._fragments = []
        self._tsdu_len = 0
        self._framer = TPKTFramer()  # drop any buffered octets

    def _transition(self, event: str) -> None:
        new = TRANSITIONS.get((self._state, event))
        if new is None:
            raise _error(f"{event} TPDU not allowed in state {self._state.value} ({self.role})")
        self._state = new

    def _handle(self, tpdu: bytes) -> bool:
        """Process one TPDU; True when it released the connection."""
        if len(tpdu) >= DT_HEADER_SIZE and tpdu[1] == TPDUCode.DT:  # the hot path
            self._on_dt(tpdu)
            return False
        code = tpdu[1] & 0xF0  # a TPKT always holds >= 3 octets (RFC 1006 §6 length >= 7)
        if code == TPDUCode.CR and self.role == "responder":
            self._on_cr(tpdu)
        elif code == TPDUCode.CC and self.role == "initiator":
            self._on_cc(tpdu)
        elif code == TPDUCode.DR:
            self._on_dr(tpdu)
        elif code == TPDUCode.ER:
            self._on_er(tpdu)
        elif code == TPDUCode.ED:
            raise _error("ED TPDU but expedited data was not negotiated (RFC 1006 §5)")
        else:
            name = _TPDU_NAMES.get(code, f"unknown code 0x{tpdu[1]:02x}")
            raise _error(
                f"{name} TPDU not valid for a class 0 {self.role} (state {self._state.value})"
            )
        return self._state is COTPState.RELEASED

    def _on_dt(self, tpdu: bytes) -> None:
        """DT (X.224 §13.7): append to the TSDU; at EOT deliver it as one T-DATA indication."""
        if tpdu[0] != DT_LI:
            raise _error(f"DT TPDU with length indicator {tpdu[0]} (class 0 requires {DT_LI})")
        if self._state is not COTPState.OPEN:
            raise _error(f"DT TPDU in state {self._state.value} (before the connection is open)")
        size = len(tpdu) - DT_HEADER_SIZE
        if self._tsdu_len + size > self.max_tsdu:
            raise _error(f"TSDU exceeds the limit of {self.max_tsdu} octets")
        if size:
            self._fragments.append(memoryview(tpdu)[DT_HEADER_SIZE:])
            self._tsdu_len += size
        if tpdu[2] & EOT:
            data = b"".join(self._fragments)  # the one join per TSDU
            self._fragments = []
            self._tsdu_len = 0
            self._events.append(TData(data=data))

    def _on_cr(self, tpdu: bytes) -> None:
        """CR (X.224 §13.3): T-CONNECT indication; class negotiation per RFC 2126 §6.3."""
        li = _header_length(tpdu, 6, "CR")
        self._transition("CR")
        params = _parameters(tpdu, 7, li + 1)
        preferred_class = tpdu[6] >> 4
        if preferred_class != 0:
            alternatives = params.get(Parameter.ALTERNATIVE_CLASSES, b"")
            if not any(octet >> 4 == 0 for octet in alternatives):
                raise _error(
                    f"CR proposes class {preferred_class} without alternative class 0 "
                    "(RFC 1006 is class 0 only)"
                )
        self._peer_ref = (tpdu[4] << 8) | tpdu[5]
        self._cr_size, self._cr_preferred = _peer_size(params)
        self._events.append(
            TConnect(
                calling_tsel=params.get(Parameter.CALLING_TSAP, b""),
                called_tsel=params.get(Parameter.CALLED_TSAP, b""),
                max_tpdu_size=self._cr_size,
                user_data=tpdu[li + 1 :],
            )
        )

    def _on_cc(self, tpdu: bytes) -> None:
        """CC (X.224 §13.4): T-CONNECT confirm; the negotiated size is the smaller one."""
        li = _header_length(tpdu, 6, "CC")
        self._transition("CC")
        if tpdu[6] >> 4 != 0:
            raise _error(f"CC selects class {tpdu[6] >> 4}, but class 0 was proposed")
        params = _parameters(tpdu, 7, li + 1)
        self._peer_ref = (tpdu[4] << 8) | tpdu[5]
        size, preferred = _peer_size(params)
        proposed = self._proposed_preferred if preferred else self._proposed_legacy
        self._tpdu_size = min(proposed, size)
        self._events.append(
            TConnectAccept(
                responding_tsel=params.get(Parameter.CALLED_TSAP, b""),
                max_tpdu_size=self._tpdu_size,
                user_data=tpdu[li + 1 :],
            )
        )

    def _on_dr(self, tpdu: bytes) -> None:
        """DR (X.224 §13.5): T-DISCONNECT indication with the peer's reason."""
        li = _header_length(tpdu, 6, "DR")
        self._transition("DR")
        params = _parameters(tpdu, 7, li + 1)
        reason = tpdu[6]
        try:
            name = DisconnectReason(reason).name.lower().replace("_", " ")
        except ValueError:
            name = "unknown reason"
        detail = f"DR received: reason {reason} ({name})"
        info = params.get(_DR_ADDITIONAL_INFO)
        if info:
            detail += f", additional information {info.hex()}"
        self._release()
        self._events.append(TDisconnect(reason=reason, user_data=tpdu[li + 1 :], detail=detail))

    def _on_er(self, tpdu: bytes) -> None:
        """ER (X.224 §13.12): the peer rejected one of our TPDUs; the connection is over."""
        li = _header_length(tpdu, 4, "ER")
        self._transition("ER")
        params = _parameters(tpdu, 5, li + 1)
        cause = tpdu[4]
        try:
            name = RejectCause(cause).name.lower().replace("_", " ")
        except ValueError:
            name = "unknown cause"
        detail = f"ER received: reject cause {cause} ({name})"
        rejected = params.get(_ER_INVALID_TPDU)
        if rejected:
            detail += f", rejected TPDU header {rejected.hex()}"
        self._release()
        self._events.append(TDisconnect(reason=DisconnectReason.PROTOCOL_ERROR, detail=detail))

    # -- sending --

    def send(self, primitive: TransportPrimitive) -> bytes:
        """Return the TPKT-framed octets that carry ``primitive`` (``b""`` when there are none).

        A primitive not allowed in the current state (or for this role) raises
        :class:`ProtocolError` without changing the state.
        """
        if isinstance(primitive, TData):
            if self._state is not COTPState.OPEN:
                raise _error(f"T-DATA request in state {self._state.value}")
            return self._data_tpdus(primitive.data)
        if isinstance(primitive, TConnect):
            return self._send_cr(primitive)
        if isinstance(primitive, TConnectAccept):
            return self._send_cc(primitive)
        if isinstance(primitive, TDisconnect):
            return self._send_disconnect(primitive)
        raise TypeError(f"not a transport primitive: {primitive!r}")

    def _next_state(self, event: str, *, role: str | None = None) -> COTPState:
        """The state after a user request (X.224 Annex A); a usage error if not allowed."""
        new = TRANSITIONS.get((self._state, event))
        if new is None or (role is not None and role != self.role):
            raise _error(f"{event} not allowed in state {self._state.value} ({self.role})")
        return new

    def _send_cr(self, request: TConnect) -> bytes:
        new_state = self._next_state("TCONreq", role="initiator")
        size = min(request.max_tpdu_size, self._local_max)
        preferred = size < DEFAULT_MAX_TPDU_SIZE and _expressible(size, False) != size
        self._proposed_legacy = _expressible(size, False)
        self._proposed_preferred = _expressible(size, preferred)
        params = (
            _tsap(Parameter.CALLING_TSAP, request.calling_tsel)
            + _tsap(Parameter.CALLED_TSAP, request.called_tsel)
            + _size_parameters(self._proposed_preferred, preferred)
        )
        octets = _connect_tpdu(TPDUCode.CR, 0, params, request.user_data)
        self._state = new_state
        return octets

    def _send_cc(self, response: TConnectAccept) -> bytes:
        new_state = self._next_state("TCONresp", role="responder")
        wanted = min(self._cr_size, response.max_tpdu_size, self._local_max)
        size = _expressible(wanted, self._cr_preferred)
        params = _tsap(Parameter.CALLED_TSAP, response.responding_tsel) + _size_parameters(
            size, self._cr_preferred
        )
        octets = _connect_tpdu(TPDUCode.CC, self._peer_ref, params, response.user_data)
        self._tpdu_size = size
        self._state = new_state
        return octets

    def _send_disconnect(self, request: TDisconnect) -> bytes:
        if self._state is COTPState.RELEASED:
            return b""
        self._next_state("TDISreq")  # allowed in every state but RELEASED
        if self._state is not COTPState.WFTRESP:
            # Class 0 implicit release (X.224 §6.7): no TPDU, the shell closes TCP.
            self._release()
            return b""
        if request.user_data:
            raise ValueError("a class 0 DR carries no user data (X.224 §13.5.5)")
        self._release()
        # DR: LI 6, code, DST-REF (the CR's SRC-REF), SRC-REF 0 (no connection), reason
        ref = self._peer_ref
        tpdu = bytes((6, TPDUCode.DR, ref >> 8, ref & 0xFF, 0, 0, request.reason))
        return TPKTFramer.frame(tpdu)

    def _data_tpdus(self, data: bytes) -> bytes:
        """Segment a TSDU into DT TPDUs of at most the negotiated size (X.224 §6.3), framed."""
        # Data per DT: the negotiated TPDU size minus the 3-octet DT header, and never above the
        # 65524 octets RFC 1006 §6 promises a peer ("maximum TSDU size of 65524 octets" per DT).
        per_dt = min(min(self._tpdu_size, TPKT_MAX_LENGTH - TPKT_HEADER_SIZE) - DT_HEADER_SIZE,
                     MAX_DT_DATA)
        total = len(data)
        if total <= per_dt:  # one DT: the common case
            length = TPKT_HEADER_SIZE + DT_HEADER_SIZE + total
            header = (TPKT_VERSION, 0, length >> 8, length & 0xFF, DT_LI, TPDUCode.DT, EOT)
            return bytes(header) + data
        view = memoryview(data)
        parts: list[bytes | memoryview] = []
        for start in range(0, total, per_dt):
            chunk = view[start : start + per_dt]
            length = TPKT_HEADER_SIZE + DT_HEADER_SIZE + len(chunk)
            eot = EOT if start + per_dt >= total else 0
            header = (TPKT_VERSION, 0, length >> 8, length & 0xFF, DT_LI, TPDUCode.DT, eot)
            parts.append(bytes(header))
            parts.append(chunk)
        return b"".join(parts)
