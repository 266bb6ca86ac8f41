"""The X.225 session state table, as data (X.225 Annex A, Tables A.2-A.4).

Theory of operation
-------------------
The engine (:mod:`bridge.x400.session`) keeps one state named as X.225 Annex A names it.  Every
input is an *event* with the Annex A name: an outgoing service primitive (``SDTreq``,
``SCONrsp+`` ...) or an incoming SPDU (``DT``, ``AC`` ...).  ``TRANSITIONS[(state, event)]``
gives the next state; a pair that is missing is not allowed in that state:

* an outgoing primitive that is missing is a *local* error (a bug of the SS-user);
* an incoming SPDU that is missing is a protocol error of the peer: the engine raises
  :class:`bridge.errors.ProtocolError` and closes (STA01).

``DISCARD`` lists (state, SPDU) pairs that X.225 tells the SPM to ignore silently -- SPDUs the
peer sent before it saw our ACTIVITY INTERRUPT / DISCARD (Annex A, STA05B/STA05C: "discard").
Predicates (who owns which token, which functional units were negotiated, serial numbers) are
checked by the engine's action for the event, which may still refuse.

We implement the subset RTSE and P1 need: kernel, half-duplex, duplex, exceptions, minor
synchronize, activity management, negotiated release; connect data overflow (§7.1-§7.3).  Major
synchronize, resynchronize, expedited, typed and capability data are not implemented: their
SPDUs are protocol errors, their functional units are never accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["STATES", "TRANSITIONS", "DISCARD", "OUTGOING", "INCOMING"]

#: X.225 Annex A state names (the subset we use) and their meaning.
STATES: Final[Mapping[str, str]] = {
    "STA01": "Idle, no transport connection",
    "STA01D": "Wait for the CONNECT DATA OVERFLOW SPDU",
    "STA02A": "Wait for the ACCEPT SPDU",
    "STA02B": "Wait for the OVERFLOW ACCEPT SPDU",
    "STA03": "Wait for the DISCONNECT SPDU",
    "STA04B": "Wait for the ACTIVITY END ACK SPDU",
    "STA05B": "Wait for the ACTIVITY INTERRUPT ACK SPDU",
    "STA05C": "Wait for the ACTIVITY DISCARD ACK SPDU",
    "STA08": "Wait for S-CONNECT response",
    "STA09": "Wait for S-RELEASE response",
    "STA10B": "Wait for S-ACTIVITY-END response",
    "STA11B": "Wait for S-ACTIVITY-INTERRUPT response",
    "STA11C": "Wait for S-ACTIVITY-DISCARD response",
    "STA16": "Wait for T-DISCONNECT indication",
    "STA18": "Wait for the GIVE TOKENS ACK SPDU",
    "STA713": "Data transfer state",
}

#: outgoing events (X.225 Annex A, Table A.2 names)
OUTGOING: Final = frozenset({
    "SCONreq", "SCONrsp+", "SCONrsp-", "SDTreq", "SGTreq", "SPTreq", "SCGreq", "SSYNmreq",
    "SSYNmrsp", "SACTSreq", "SACTRreq", "SACTIreq", "SACTIrsp", "SACTDreq", "SACTDrsp",
    "SACTEreq", "SACTErsp", "SUERreq", "SRELreq", "SRELrsp+", "SRELrsp-", "SUABreq",
})
#: incoming events: SPDU names (X.225 Annex A, Table A.3)
INCOMING: Final = frozenset({
    "CN", "AC", "RF", "OA", "CDO", "DT", "GT", "PT", "GTC", "GTA", "MIP", "MIA", "AS", "AR",
    "AI", "AIA", "AD", "ADA", "AE", "AEA", "ED", "ER", "FN", "DN", "NF", "AB", "AA",
})

# Events that keep the data transfer state STA713 (each still checked by its predicate).
_DATA_PHASE_OUT = ("SDTreq", "SGTreq", "SPTreq", "SSYNmreq", "SSYNmrsp", "SACTSreq",
                   "SACTRreq", "SUERreq")
_DATA_PHASE_IN = ("DT", "GT", "PT", "MIP", "MIA", "AS", "AR", "ED", "ER")


def _table() -> dict[tuple[str, str], str]:
    t: dict[tuple[str, str], str] = {
        # connection establishment (X.225 §7.1; Annex A STA01, STA01D, STA02A/B, STA08)
        ("STA01", "SCONreq"): "STA02A",  # or STA02B when the data overflows (§7.2)
        ("STA01", "CN"): "STA08",  # or STA01D when CN carries Data Overflow (§7.3)
        ("STA01D", "CDO"): "STA01D",  # the last CDO (Enclosure Item end) moves to STA08
        ("STA02B", "OA"): "STA02A",
        ("STA02B", "RF"): "STA01",
        ("STA02A", "AC"): "STA713",
        ("STA02A", "RF"): "STA01",
        ("STA08", "SCONrsp+"): "STA713",
        ("STA08", "SCONrsp-"): "STA16",
        # give control (X.225 §7.18, §7.19): GTC -> GTA
        ("STA713", "SCGreq"): "STA18",
        ("STA18", "GTA"): "STA713",
        ("STA713", "GTC"): "STA713",  # the SPM answers GTA itself
        # activity end (X.225 §7.35, §7.36)
        ("STA713", "SACTEreq"): "STA04B",
        ("STA04B", "AEA"): "STA713",
        ("STA713", "AE"): "STA10B",
        ("STA10B", "SACTErsp"): "STA713",
        # the sender may still interrupt or discard an activity it has ended but that is not
        # yet acknowledged -- what RTSE does on an exception report (X.228 §7.4.3)
        ("STA04B", "SACTIreq"): "STA05B",
        ("STA04B", "SACTDreq"): "STA05C",
        ("STA10B", "AI"): "STA11B",
        ("STA10B", "AD"): "STA11C",
        # activity interrupt (X.225 §7.31, §7.32)
        ("STA713", "SACTIreq"): "STA05B",
        ("STA05B", "AIA"): "STA713",
        ("STA713", "AI"): "STA11B",
        ("STA11B", "SACTIrsp"): "STA713",
        # activity discard (X.225 §7.33, §7.34)
        ("STA713", "SACTDreq"): "STA05C",
        ("STA05C", "ADA"): "STA713",
        ("STA713", "AD"): "STA11C",
        ("STA11C", "SACTDrsp"): "STA713",
        # orderly release (X.225 §7.6-§7.8)
        ("STA713", "SRELreq"): "STA03",
        ("STA03", "DN"): "STA01",
        ("STA03", "NF"): "STA713",
        ("STA713", "FN"): "STA09",
        ("STA09", "SRELrsp+"): "STA16",
        ("STA09", "SRELrsp-"): "STA713",
        # the peer may still give tokens, ask for them or report while we wait (§7.17, §7.21, §7.28)
        ("STA03", "PT"): "STA03",
        ("STA03", "ED"): "STA03",
        ("STA03", "MIA"): "STA03",  # a confirm the peer sent before it saw our FN
        ("STA04B", "MIA"): "STA04B",  # ... or before it saw our AE
        ("STA04B", "PT"): "STA04B",
        ("STA04B", "ED"): "STA04B",
        ("STA10B", "SPTreq"): "STA10B",
        ("STA18", "PT"): "STA18",
    }
    for ev in _DATA_PHASE_OUT + _DATA_PHASE_IN:
        t[("STA713", ev)] = "STA713"
    # abort (X.225 §7.9, §7.10): allowed from every state with a connection
    for st in STATES:
        if st not in ("STA01", "STA16"):
            t[(st, "SUABreq")] = "STA16"
            t[(st, "AB")] = "STA01"
    t[("STA16", "AB")] = "STA01"  # abort collision
    t[("STA16", "AA")] = "STA01"
    return t


#: (state, event) -> next state
TRANSITIONS: Final[Mapping[tuple[str, str], str]] = _table()

#: incoming SPDUs X.225 Annex A tells us to discard after we sent AI or AD
DISCARD: Final = frozenset(
    (st, ev) for st in ("STA05B", "STA05C")
    for ev in ("DT", "GT", "PT", "MIP", "MIA", "ED", "AE", "AS", "AR")
)
