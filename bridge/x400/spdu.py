"""X.225 session protocol data units: a pure codec (bytes <-> :class:`SPDU`), no state.

Structure (X.225 §8.2): an SPDU is SI (one octet) + LI + parameter field [+ user information].
LI is one octet for 0..254; 0xFF followed by two octets (big-endian) for 255..65535 (§8.2).
The parameter field is a sequence of PGI units (code + LI + PI units) and PI units (code + LI +
value), with the same length rule.  Only DT, EX and TD carry a User Information field, which
follows the parameter field and runs to the end of the TSDU (§8.3).

Concatenation (X.225 §6.3.7): a TSDU holds either one category 1 SPDU, or a category 0 SPDU (GT
or PT) followed by category 2 SPDUs (basic concatenation; DT is always sent as ``GT DT``).
Because GT and DT share SI 1, and AB/AI (25), AA/AIA (26) share codes, the *position* in the TSDU
decides what a code means: :func:`decode_tsdu` records it in :attr:`SPDU.category`.

Every malformed input raises :class:`bridge.errors.ProtocolError` with ``layer="session"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from bridge.errors import ProtocolError

__all__ = [
    "SI", "PI", "SPDU", "Param", "Value", "TokenWire", "TransportDisconnect",
    "FunctionalUnit", "DEFAULT_REQUIREMENTS", "Token", "TokenSide", "TokenSetting",
    "available_tokens",
    "encode_tokens", "decode_tokens", "encode_token_setting", "decode_token_setting",
    "encode", "encode_length", "decode_tsdu", "encode_serial", "decode_serial",
    "CATEGORY_0", "CATEGORY_1", "CATEGORY_2", "MAX_LI",
]

LAYER = "session"
MAX_LI = 0xFFFF  # X.225 §8.2: a three-octet LI encodes at most 65 535
_LI_ESCAPE = 0xFF  # first LI octet 255 announces the two-octet form (§8.2)
_MAX_SPDUS_PER_TSDU = 16  # bound on extended concatenation (X.225 §6.3.7); we send at most 2
_SERIAL_MAX = 999_999  # X.225 §8.3 Serial Number: 1-6 IA5 digits, 0..999 999


class SI(IntEnum):
    """SPDU identifiers (X.225 §8.3, Table 9).  Aliases share a code; the TSDU position decides."""

    ER = 0  # EXCEPTION REPORT (category 2)
    GT = 1  # GIVE TOKENS (category 0) ...
    DT = 1  # ... DATA TRANSFER (category 2)
    PT = 2  # PLEASE TOKENS (category 0)
    EX = 5  # EXPEDITED DATA
    PR = 7  # PREPARE
    NF = 8  # NOT FINISHED
    FN = 9  # FINISH
    DN = 10  # DISCONNECT
    RF = 12  # REFUSE
    CN = 13  # CONNECT
    AC = 14  # ACCEPT
    CDO = 15  # CONNECT DATA OVERFLOW
    OA = 16  # OVERFLOW ACCEPT
    GTC = 21  # GIVE TOKENS CONFIRM
    GTA = 22  # GIVE TOKENS ACK
    AB = 25  # ABORT (category 1) ...
    AI = 25  # ... ACTIVITY INTERRUPT (category 2)
    AA = 26  # ABORT ACCEPT (category 1) ...
    AIA = 26  # ... ACTIVITY INTERRUPT ACK (category 2)
    AR = 29  # ACTIVITY RESUME
    TD = 33  # TYPED DATA
    RA = 34  # RESYNCHRONIZE ACK
    MAP = 41  # MAJOR SYNC POINT ...
    AE = 41  # ... ACTIVITY END (MAP without "activity not ended", X.225 §7.35)
    MAA = 42  # MAJOR SYNC ACK ...
    AEA = 42  # ... ACTIVITY END ACK
    AS = 45  # ACTIVITY START
    ED = 48  # EXCEPTION DATA
    MIP = 49  # MINOR SYNC POINT
    MIA = 50  # MINOR SYNC ACK
    RS = 53  # RESYNCHRONIZE
    AD = 57  # ACTIVITY DISCARD
    ADA = 58  # ACTIVITY DISCARD ACK
    CD = 61  # CAPABILITY DATA
    CDA = 62  # CAPABILITY DATA ACK


class PI(IntEnum):
    """Parameter (group) identifiers (X.225 §8.3, Table 10)."""

    CONNECTION_IDENTIFIER = 1  # PGI
    CONNECT_ACCEPT_ITEM = 5  # PGI
    CALLED_SS_USER_REFERENCE = 9
    CALLING_SS_USER_REFERENCE = 10
    COMMON_REFERENCE = 11
    ADDITIONAL_REFERENCE = 12
    SYNC_TYPE_ITEM = 15
    TOKEN_ITEM = 16
    TRANSPORT_DISCONNECT = 17
    PROTOCOL_OPTIONS = 19
    SESSION_USER_REQUIREMENTS = 20
    TSDU_MAXIMUM_SIZE = 21
    VERSION_NUMBER = 22
    INITIAL_SERIAL_NUMBER = 23
    PREPARE_TYPE = 24
    ENCLOSURE_ITEM = 25
    TOKEN_SETTING_ITEM = 26
    RESYNC_TYPE = 27
    LINKING_INFORMATION = 33  # PGI (ACTIVITY RESUME)
    ACTIVITY_IDENTIFIER = 41  # also Old Activity Identifier inside PGI 33
    SERIAL_NUMBER = 42
    REFLECT_PARAMETER = 49
    REASON_CODE = 50
    CALLING_SSAP = 51
    CALLED_SSAP = 52  # Responding Session Selector in AC
    SECOND_INITIAL_SERIAL_NUMBER = 55
    UPPER_LIMIT_SERIAL_NUMBER = 56
    LARGE_INITIAL_SERIAL_NUMBER = 57
    LARGE_SECOND_INITIAL_SERIAL_NUMBER = 58
    DATA_OVERFLOW = 60
    USER_DATA = 193
    EXTENDED_USER_DATA = 194


class TokenWire(IntFlag):
    """Token Item PI 16 bits (X.225 §8.3): data 1, minor sync 3, major/activity 5, release 7."""

    DATA = 0x01
    MINOR_SYNC = 0x04
    MAJOR_ACTIVITY = 0x10
    RELEASE = 0x40


class TransportDisconnect(IntFlag):
    """Transport Disconnect PI 17 (X.225 §8.3: RF, FN, AB): bit 1 = 1 released, 0 kept."""

    RELEASED = 0x01
    USER_ABORT = 0x02
    PROTOCOL_ERROR = 0x04
    NO_REASON = 0x08
    IMPLEMENTATION_RESTRICTION = 0x10


#: PGI codes whose value is a sequence of PI units (X.225 Table 10).  User Data (193) and
#: Extended User Data (194) are PGIs too but carry an opaque value.
_GROUP_CODES = frozenset({PI.CONNECTION_IDENTIFIER, PI.CONNECT_ACCEPT_ITEM,
                          PI.LINKING_INFORMATION})
#: codes that may not appear inside a PGI (groups do not nest)
_TOP_ONLY = _GROUP_CODES | {PI.USER_DATA, PI.EXTENDED_USER_DATA}

CATEGORY_0 = frozenset({SI.GT, SI.PT})
CATEGORY_1 = frozenset({SI.CN, SI.AC, SI.RF, SI.FN, SI.DN, SI.NF, SI.AB, SI.AA, SI.OA, SI.CDO,
                        SI.GTC, SI.GTA, SI.PR, SI.TD, SI.EX})
CATEGORY_2 = frozenset({SI.DT, SI.MIP, SI.MIA, SI.MAP, SI.MAA, SI.RS, SI.RA, SI.AS, SI.AR,
                        SI.AD, SI.ADA, SI.AI, SI.AIA, SI.CD, SI.CDA, SI.ER, SI.ED})
#: Basic concatenation (X.225 §6.3.7, Table 8): which category 0 SPDU a category 2 SPDU travels
#: behind.  The SPDUs a token holder sends (data, sync points, activity requests) go with GIVE
#: TOKENS; the confirmations and reports the other side sends go with PLEASE TOKENS.  ISODE
#: enforces this on input (x400-samples/pp: "not expecting 0x2a to be concatenated after
#: 0x1"), so we send exactly this; on input either prefix is accepted.
PLEASE_TOKENS_PREFIXED = frozenset({SI.MIA, SI.MAA, SI.RA, SI.AIA, SI.ADA, SI.CDA, SI.ER,
                                    SI.ED})
GIVE_TOKENS_PREFIXED = CATEGORY_2 - PLEASE_TOKENS_PREFIXED
_USER_INFO_SIS = frozenset({SI.DT, SI.EX, SI.TD})  # SPDUs with a User Information field

Value = bytes | tuple[tuple[int, bytes], ...]
Param = tuple[int, Value]


@dataclass(frozen=True, slots=True, kw_only=True)
class SPDU:
    """One SPDU: SI, parameters in wire order, and the User Information field (DT/EX/TD).

    ``params`` holds ``(code, value)`` pairs; a PGI's value is a tuple of ``(pi, bytes)``.
    ``category`` is 0, 1 or 2 (X.225 §6.3.7) -- it tells GT from DT and AB from AI.
    """

    si: int
    params: tuple[Param, ...] = ()
    user_info: bytes = b""
    category: int = 1

    def get(self, code: int) -> Value | None:
        """The value of parameter ``code`` at the top level, or None if absent."""
        for c, v in self.params:
            if c == code:
                return v
        return None

    def get_bytes(self, code: int) -> bytes | None:
        """A PI's value as bytes (a PGI where a PI is expected is a protocol error)."""
        v = self.get(code)
        if v is not None and not isinstance(v, bytes):
            raise ProtocolError(f"PI {code} must not be a parameter group", layer=LAYER)
        return v

    def get_group(self, code: int) -> dict[int, bytes] | None:
        """A PGI's PIs as a dict, or None if the PGI is absent."""
        v = self.get(code)
        if v is None:
            return None
        if isinstance(v, bytes):
            raise ProtocolError(f"PGI {code} must be a parameter group", layer=LAYER)
        return dict(v)


def encode_length(n: int) -> bytes:
    """LI for ``n`` octets (X.225 §8.2)."""
    if n < _LI_ESCAPE:
        return bytes((n,))
    if n > MAX_LI:
        raise ProtocolError(f"local: length {n} exceeds the 65 535-octet LI limit", layer=LAYER)
    return bytes((_LI_ESCAPE, n >> 8, n & 0xFF))


def _encode_unit(code: int, value: Value) -> bytes:
    if isinstance(value, bytes):
        body = value
    else:
        body = b"".join(bytes((c,)) + encode_length(len(v)) + v for c, v in value)
    return bytes((code,)) + encode_length(len(body)) + body


def encode(spdu: SPDU) -> bytes:
    """The octets of one SPDU (parameters in the given order, then the user information)."""
    field = b"".join(_encode_unit(c, v) for c, v in spdu.params)
    return bytes((spdu.si,)) + encode_length(len(field)) + field + spdu.user_info


def _read_length(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode an LI at ``pos``; returns (length, position after the LI)."""
    if pos >= end:
        raise ProtocolError(f"truncated length indicator at offset {pos}", layer=LAYER)
    li = data[pos]
    if li != _LI_ESCAPE:
        return li, pos + 1
    if pos + 3 > end:
        raise ProtocolError(f"truncated three-octet length at offset {pos}", layer=LAYER)
    return (data[pos + 1] << 8) | data[pos + 2], pos + 3


def _decode_units(data: bytes, pos: int, end: int, *, nested: bool) -> tuple[Param, ...]:
    out: list[Param] = []
    seen: set[int] = set()
    while pos < end:
        code = data[pos]
        length, pos = _read_length(data, pos + 1, end)
        if pos + length > end:
            raise ProtocolError(f"parameter {code} length {length} runs past its field "
                                f"(offset {pos})", layer=LAYER)
        if code in seen:
            raise ProtocolError(f"parameter {code} repeated", layer=LAYER)
        seen.add(code)
        value: Value
        if nested and code in _TOP_ONLY:
            raise ProtocolError(f"parameter group {code} inside a parameter group", layer=LAYER)
        if not nested and code in _GROUP_CODES:
            value = _decode_units(data, pos, pos + length, nested=True)  # type: ignore[assignment]
        else:
            value = data[pos:pos + length]
        out.append((code, value))
        pos += length
    return tuple(out)


def decode_tsdu(data: bytes) -> list[SPDU]:
    """Split one TSDU into its SPDUs (X.225 §6.3.7 concatenation rules, position-aware)."""
    n = len(data)
    if n == 0:
        raise ProtocolError("empty TSDU", layer=LAYER)
    out: list[SPDU] = []
    pos = 0
    while pos < n:
        if len(out) >= _MAX_SPDUS_PER_TSDU:
            raise ProtocolError("too many concatenated SPDUs in one TSDU", layer=LAYER)
        si = data[pos]
        if not out:
            if si in CATEGORY_0:
                category = 0
            elif si in CATEGORY_1:
                category = 1
            else:
                raise ProtocolError(f"SPDU SI {si} cannot start a TSDU", layer=LAYER)
        elif si in CATEGORY_2:
            category = 2
        else:
            raise ProtocolError(f"SPDU SI {si} cannot be concatenated", layer=LAYER)
        length, start = _read_length(data, pos + 1, n)
        end = start + length
        if end > n:
            raise ProtocolError(f"SPDU {si} LI {length} runs past the TSDU end", layer=LAYER)
        params = _decode_units(data, start, end, nested=False)
        user_info = b""
        if category != 0 and si in _USER_INFO_SIS:
            user_info = data[end:]
            end = n
        out.append(SPDU(si=si, params=params, user_info=user_info, category=category))
        pos = end
    return out


def encode_serial(n: int) -> bytes:
    """Serial Number PI value: decimal IA5 digits (X.225 §8.3, 0..999 999)."""
    if not 0 <= n <= _SERIAL_MAX:
        raise ProtocolError(f"local: serial number {n} out of range", layer=LAYER)
    return str(n).encode("ascii")


def decode_serial(value: bytes) -> int:
    """Parse a Serial Number PI value; anything but 1-6 ASCII digits is a protocol error."""
    if not 1 <= len(value) <= 6 or not all(0x30 <= b <= 0x39 for b in value):
        raise ProtocolError(f"bad serial number {value!r}", layer=LAYER)
    return int(value)


class FunctionalUnit(IntFlag):
    """Session User Requirements PI 20 bits (X.225 §8.3; X.215 §9 functional units)."""

    HALF_DUPLEX = 0x0001
    DUPLEX = 0x0002
    EXPEDITED = 0x0004
    MINOR_SYNC = 0x0008
    MAJOR_SYNC = 0x0010
    RESYNC = 0x0020
    ACTIVITY = 0x0040
    NEGOTIATED_RELEASE = 0x0080
    CAPABILITY_DATA = 0x0100
    EXCEPTIONS = 0x0200
    TYPED_DATA = 0x0400
    SYMMETRIC_SYNC = 0x0800
    DATA_SEPARATION = 0x1000


#: X.225 §8.3 (CN): Session User Requirements absent = half-duplex, minor sync, activity
#: management and capability data (0x0001 | 0x0008 | 0x0040 | 0x0100)
DEFAULT_REQUIREMENTS = FunctionalUnit(0x0149)


class Token(IntFlag):
    """The four session tokens (X.215 §7.2)."""

    DATA = 1
    MINOR_SYNC = 2
    MAJOR_ACTIVITY = 4
    RELEASE = 8


class TokenSide(IntEnum):
    """Token Setting Item values, two bits per token (X.225 §8.3)."""

    INITIATOR = 0  # initiator's side
    RESPONDER = 1  # responder's side
    CALLED_CHOICE = 2  # called SS-user's choice (CN only; AC resolves it)


class TokenSetting(Mapping[Token, TokenSide]):
    """An immutable, hashable token -> side mapping (the S-CONNECT "initial token" setting)."""

    __slots__ = ("_items", "_map")

    def __init__(self, items: Mapping[Token, TokenSide] | Iterable[tuple[Token, TokenSide]]
                 = ()) -> None:
        pairs = dict(items.items() if isinstance(items, Mapping) else items)
        norm: dict[Token, TokenSide] = {}
        for tok, side in pairs.items():
            t, s = Token(tok), TokenSide(side)
            if t not in _TOKEN_SHIFT:
                raise ValueError(f"one token per entry, not {t!r}")
            norm[t] = s
        self._items = tuple(sorted(norm.items()))
        self._map = dict(self._items)

    def __getitem__(self, key: Token) -> TokenSide:
        return self._map[key]

    def __iter__(self) -> Iterator[Token]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        inner = ", ".join(f"{t.name}: {s.name}" for t, s in self._items)
        return f"TokenSetting({{{inner}}})"


_TOKEN_WIRE = {Token.DATA: TokenWire.DATA, Token.MINOR_SYNC: TokenWire.MINOR_SYNC,
               Token.MAJOR_ACTIVITY: TokenWire.MAJOR_ACTIVITY, Token.RELEASE: TokenWire.RELEASE}
# Token Setting Item: data bits 2-1, minor sync 4-3, major/activity 6-5, release 8-7
_TOKEN_SHIFT = {Token.DATA: 0, Token.MINOR_SYNC: 2, Token.MAJOR_ACTIVITY: 4, Token.RELEASE: 6}
_SETTING_RESERVED = 0x03  # the fourth two-bit value is reserved


def available_tokens(fu: FunctionalUnit) -> Token:
    """Tokens that exist under a set of functional units (X.215 §7.2, X.225 §5.6)."""
    t = Token(0)
    if fu & FunctionalUnit.HALF_DUPLEX:
        t |= Token.DATA
    if fu & FunctionalUnit.MINOR_SYNC:
        t |= Token.MINOR_SYNC
    if fu & (FunctionalUnit.MAJOR_SYNC | FunctionalUnit.ACTIVITY):
        t |= Token.MAJOR_ACTIVITY
    if fu & FunctionalUnit.NEGOTIATED_RELEASE:
        t |= Token.RELEASE
    return t


def encode_tokens(tokens: Token) -> bytes:
    """Token Item PI value."""
    return bytes((sum(int(bit) for tok, bit in _TOKEN_WIRE.items() if tokens & tok),))


def decode_tokens(value: bytes) -> Token:
    """Parse a Token Item PI value (one octet)."""
    if len(value) != 1:
        raise ProtocolError("Token Item must be one octet", layer=LAYER)
    t = Token(0)
    for tok, bit in _TOKEN_WIRE.items():
        if value[0] & bit:
            t |= tok
    return t


def encode_token_setting(setting: Mapping[Token, TokenSide]) -> bytes:
    """Token Setting Item PI value."""
    return bytes((sum(int(side) << _TOKEN_SHIFT[tok] for tok, side in setting.items()),))


def decode_token_setting(value: bytes | None, available: Token) -> TokenSetting:
    """Parse a Token Setting Item for the available tokens (absent = all initiator's side)."""
    if value is None:
        value = b"\x00"
    if len(value) != 1:
        raise ProtocolError("Token Setting Item must be one octet", layer=LAYER)
    out: dict[Token, TokenSide] = {}
    for tok, shift in _TOKEN_SHIFT.items():
        if available & tok:
            bits = (value[0] >> shift) & 0x03
            if bits == _SETTING_RESERVED:
                raise ProtocolError("reserved token setting value", layer=LAYER)
            out[tok] = TokenSide(bits)
    return TokenSetting(out)
