"""The X.225 SPM's state and the checks every procedure shares (internal to the session engine).

:class:`SPMBase` holds the X.225 §4.5 local variables and connection state of one session
connection endpoint and the checks both directions use (token ownership, X.215 §11.2;
functional units; activity scope; user data limits, X.225 §8.3).  The procedures are mixins on
it: connection establishment in :mod:`bridge.x400.session_connect`, synchronization and
activities in :mod:`bridge.x400.session_activity`; :class:`bridge.x400.session.SessionEngine`
adds data, tokens, exceptions, release and abort and the public verbs.  The constants are the
X.225 §8.3 values all of them use.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal, NoReturn

from bridge.codec.ber import MAX_LENGTH
from bridge.errors import ProtocolError
from bridge.x400 import spdu as sp
from bridge.x400.session_primitives import (
    ConnectionIdentifier,
    SConnect,
    SessionPrimitive,
)
from bridge.x400.spdu import (
    PI,
    SI,
    SPDU,
    FunctionalUnit,
    Token,
    TokenSetting,
)

Role = Literal["initiator", "responder"]
LAYER = "session"


# ---------------------------------------------------------------------- X.225 §8.3 values
_GT_EMPTY = b"\x01\x00"  # GIVE TOKENS with no parameters: the category 0 prefix (§6.3.7)
_PT_EMPTY = b"\x02\x00"  # PLEASE TOKENS with no parameters: the prefix of acknowledgements
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


class SPMBase:
    """An SPM's state (X.225 §4.5) and shared checks; the engine is :class:`SessionEngine`."""

    def __init__(self, role: Role, *, max_ssdu: int = MAX_LENGTH) -> None:
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

    # ------------------------------------------------------------------ errors
    def _fail(self, reason: str) -> NoReturn:
        raise ProtocolError(reason, layer=LAYER)

    # ------------------------------------------------------------------ incoming
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
        """A category 2 SPDU behind the empty category 0 SPDU X.225 §6.3.7 pairs it with."""
        prefix = _PT_EMPTY if si in sp.PLEASE_TOKENS_PREFIXED else _GT_EMPTY
        return prefix + sp.encode(SPDU(si=si, params=tuple(params), category=2))
