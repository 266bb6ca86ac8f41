"""The whole OSI stack of one P1 association as one sans-IO engine: bytes in, P1 events out.

Bottom-up: :mod:`~bridge.x400.cotp` (TPKT + X.224 class 0, RFC 1006) -> :mod:`~bridge.x400.
session` (X.225) -> [normal mode: :mod:`~bridge.x400.presentation` (X.226) -> :mod:`~bridge.
x400.acse` (X.227)] -> :mod:`~bridge.x400.rtse` (X.228) -> :mod:`~bridge.x400.mta` (X.419 P1).
X.410-1984 mode leaves presentation and ACSE out (X.228 §7.1 b): the same engines, configured,
not a second stack.

Verbs: ``receive_data(bytes)`` (``b""`` when TCP closed), ``next_event()`` -> an
:data:`~bridge.x400.mta.MTAPrimitive` or None, ``send(primitive)``, and ``data_to_send()`` ->
the octets to write to TCP.  The transport connection is part of the engine: the initiator's
:class:`~bridge.x400.mta.BindRequest` first sends the COTP CR and goes on with the session
CONNECT when the CC arrives; the responder accepts a CR by itself.

``timings`` (a dict, optional) accumulates the seconds spent in each layer -- the figures
``bench/p1.py`` prints; a layer's time excludes the layers it calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from bridge.codec import rtpdu
from bridge.codec.ber import MAX_LENGTH
from bridge.errors import DecodeError, ProtocolError
from bridge.x400.acse import ACSEEngine
from bridge.x400.cotp import COTPEngine, TConnect, TConnectAccept, TData, TDisconnect
from bridge.x400.mta import (
    AS_ACSE,
    Aborted,
    BindAccept,
    BindRequest,
    MTAEngine,
    MTAPrimitive,
)
from bridge.x400.presentation import PresentationEngine
from bridge.x400.rtse import AS_MTA_RTSE, AS_MTSE
from bridge.x400.session import SConnect, SessionEngine

Role = Literal["initiator", "responder"]
Mode = Literal["normal", "x410"]

LAYERS = ("cotp", "session", "presentation", "acse", "rtse+p1")

#: Octets a peer may have buffered before its MTA-bind succeeded: the CONNECT SPDU with 10,240
#: octets of Extended User Data (X.225 §8.3) and its overflow fit many times over; a P1 bind
#: with presentation, ACSE and RTSE around it is a few hundred octets.
PRE_BIND_LIMIT = 64 * 1024


class Stack:
    """One association: COTP, session, presentation, ACSE, RTSE and P1 engines wired up."""

    def __init__(self, role: Role, *, mode: Mode | None = "normal",
                 max_apdu: int = MAX_LENGTH, max_tpdu_size: int = 65531,
                 pre_bind_limit: int = PRE_BIND_LIMIT,
                 timings: dict[str, float] | None = None) -> None:
        self.role: Role = role
        # a responder may leave the mode open: the first S-CONNECT tells (see _detect_mode)
        self.mode: Mode | None = mode
        # Until the MTA-bind has succeeded the peer is nobody: only a bind-sized TSDU/SSDU may
        # be buffered (issue 12: 8 unauthenticated connections sending DT TPDUs without
        # end-of-TSDU took 500 MB).  The APDU limit applies once bound (:meth:`_bound`).
        self._full_limit = max_apdu + 65536
        first = min(pre_bind_limit, self._full_limit)
        self.cotp = COTPEngine(role, max_tsdu=first, max_tpdu_size=max_tpdu_size)
        self.session = SessionEngine(role, max_ssdu=first)
        self.presentation = PresentationEngine(
            role, abstract_syntaxes=frozenset({AS_ACSE, AS_MTA_RTSE, AS_MTSE}))
        self.acse = ACSEEngine(role)
        self.mta = MTAEngine(role, mode=mode or "normal", max_apdu=max_apdu)
        self.timings = timings
        self.closed = False
        self._out: list[bytes] = []
        self._pending_bind: BindRequest | None = None
        self._events: list[MTAPrimitive] = []
        self._tsel = b""

    # ------------------------------------------------------------------ verbs

    def data_to_send(self) -> bytes:
        """Octets to write to the TCP connection (possibly empty)."""
        if not self._out:
            return b""
        out = b"".join(self._out)
        self._out.clear()
        return out

    def next_event(self) -> MTAPrimitive | None:
        """The next P1 event, or None."""
        return self._events.pop(0) if self._events else None

    def send(self, p: MTAPrimitive) -> None:
        """A P1 request/response; its octets are collected by :meth:`data_to_send`."""
        if self.closed:
            raise ProtocolError("local: the association is closed", layer="p1")
        try:
            if isinstance(p, BindRequest):
                if self.role != "initiator" or self._pending_bind is not None:
                    raise ProtocolError("local: only an idle initiator binds", layer="p1")
                self._pending_bind = p
                self._out.append(self._timed("cotp", self.cotp.send, TConnect(
                    calling_tsel=p.calling.tsel, called_tsel=p.called.tsel)))
                return
            self._down(self._timed("rtse+p1", self.mta.send, p))
            if isinstance(p, BindAccept):
                self._bound()
        except ProtocolError:
            self.closed = True
            raise

    def receive_data(self, data: bytes) -> None:
        """Octets from TCP (``b""`` = the peer closed).  Raises ProtocolError on bad input."""
        try:
            self._timed("cotp", self.cotp.receive_data, data)
            while (ev := self.cotp.next_event()) is not None:
                self._on_transport(ev)
        except ProtocolError:
            self.closed = True
            raise

    # ------------------------------------------------------------------ internals

    def _timed(self, layer: str, fn: Callable[..., Any], *args: Any) -> Any:
        if self.timings is None:
            return fn(*args)
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.timings[layer] = self.timings.get(layer, 0.0) + time.perf_counter() - start

    def _on_transport(self, ev: object) -> None:
        if isinstance(ev, TData):
            self._timed("session", self.session.receive, ev.data)
            self._pump_session()
        elif isinstance(ev, TConnect):
            # RFC 1006 §5: the responder accepts the transport connection; the selectors are
            # checked one layer up (the peer table names the MTA, not the TSAP).
            self._tsel = ev.called_tsel
            self._out.append(self._timed("cotp", self.cotp.send,
                                         TConnectAccept(responding_tsel=ev.called_tsel)))
        elif isinstance(ev, TConnectAccept):
            bind, self._pending_bind = self._pending_bind, None
            if bind is None:
                raise ProtocolError("unexpected T-CONNECT confirm", layer="cotp")
            self._down(self._timed("rtse+p1", self.mta.send, bind))
        elif isinstance(ev, TDisconnect):
            self.closed = True
            self.session.connection_lost()
            self._pump_session()
            if not any(isinstance(e, Aborted) for e in self._events) and \
                    not self.mta.rtse.state == "closed":
                self._events.append(Aborted(reason=f"transport disconnected {ev.detail}".strip()))

    def _pump_session(self) -> None:
        for tsdu in self.session.tsdus_to_send():      # OA, CDO, GTA, AB the SPM sent itself
            self._out.append(self._timed("cotp", self.cotp.send, TData(data=tsdu)))
        while (sev := self.session.next_event()) is not None:
            if self.mode is None and isinstance(sev, SConnect):
                self._set_mode(_detect_mode(sev.user_data))
            if self.mode == "x410":
                self._to_mta(sev)
                continue
            self._timed("presentation", self.presentation.receive, sev)
            while (pev := self.presentation.next_event()) is not None:
                self._timed("acse", self.acse.receive, pev)
                while (aev := self.acse.next_event()) is not None:
                    self._to_mta(aev)

    def _set_mode(self, mode: Mode) -> None:
        self.mode = mode
        self.mta.mode = mode
        self.mta.rtse.mode = mode

    def _bound(self) -> None:
        """The MTA-bind succeeded: from now on the APDU limit applies."""
        self.cotp.max_tsdu = self.session.max_ssdu = self._full_limit

    def _to_mta(self, primitive: object) -> None:
        self._timed("rtse+p1", self.mta.receive, primitive)
        while (ev := self.mta.next_event()) is not None:
            if isinstance(ev, BindAccept):
                self._bound()
            self._events.append(ev)
        self._down(self.mta.pending())

    def _down(self, primitives: list[object]) -> None:
        for p in primitives:
            if self.mode == "x410":
                self._to_session(p)
                continue
            for q in self._timed("acse", self.acse.send, p):
                for r in self._timed("presentation", self.presentation.send, q):
                    self._to_session(r)

    def _to_session(self, primitive: object) -> None:
        tsdu = self._timed("session", self.session.send, primitive)
        if tsdu:
            self._out.append(self._timed("cotp", self.cotp.send, TData(data=tsdu)))


def _detect_mode(user_data: bytes) -> Mode:
    """X.410-1984 mode or normal mode, from the S-CONNECT user data (X.228 §7.1, X.226 §8.2).

    Normal mode carries a presentation CP-type whose mode-selector says normal-mode(1); X.410
    mode carries the RTS PConnect, whose first element [0] DataTransferSyntax {x409(0)} has
    the octets of a mode-selector x410-1984-mode(0) -- X.226 made them coincide on purpose.
    """
    try:
        rtpdu.decode_x410("PConnect", user_data)
    except DecodeError:
        return "normal"
    return "x410"
