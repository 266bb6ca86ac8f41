"""X.224 class 0 TPDUs as RFC 1006 §5 carries them: codes, parameters, encode/decode helpers.

The wire half of :mod:`bridge.x400.cotp` (which holds the service primitives, the X.224 Annex A
state table and the engine): TPDU codes (X.224 §13.1), the CR/CC variable-part parameters
(§13.3.4), DR reasons (§13.5.3) and ER causes (§13.12.3), the TPDU size parameters of the
negotiation the engine's docstring describes, and the helpers that check a received TPDU's header
and build a CR or CC.  Errors are :class:`~bridge.errors.ProtocolError` with layer ``"cotp"``.
The underscored helpers are internal to the two modules.
"""

from __future__ import annotations

from enum import IntEnum

from bridge.errors import ProtocolError
from bridge.x400.tpkt import TPKTFramer

__all__ = [
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
    "TPDUCode",
]

_LAYER = "cotp"

DEFAULT_MAX_TPDU_SIZE = 65531  # RFC 1006 §5 default; = 65535 - 4 (the largest TPKT minus header)
MIN_TPDU_SIZE = 128  # X.224 §13.3.4: the smallest TPDU size (2**7), the class 0 default
MAX_CONNECT_USER_DATA = 32  # X.224 §13.3.4/§13.4.4: CR/CC user data "shall not exceed 32 octets"
MAX_DT_DATA = 65524  # RFC 1006 §6: the largest data a peer must take in one DT TPDU
DT_HEADER_SIZE = 3  # class 0 DT (X.224 §13.7): LI, code 0xF0, TPDU-NR+EOT
DT_LI = 2  # X.224 §13.7.1: the DT header length indicator is 2 in class 0
EOT = 0x80  # X.224 §13.7.3 (RFC 1006 §6): bit 8 of the TPDU-NR octet marks the last DT of a TSDU
_LI_RESERVED = 255  # X.224 §13.2.1: LI 255 is reserved (extension)
_F0_UNIT = 128  # X.224 §13.3.4 (p): the preferred maximum TPDU size is given in units of 128
_LOCAL_REF = 0x0001  # our SRC-REF: one connection per TCP connection, so any non-zero value


class TPDUCode(IntEnum):
    """TPDU codes, the high 4 bits of octet 2 (X.224 §13.1, Table 8)."""

    CR = 0xE0  # connection request (low 4 bits: CDT, 0 in class 0)
    CC = 0xD0  # connection confirm
    DR = 0x80  # disconnect request
    DC = 0xC0  # disconnect confirm (not class 0)
    DT = 0xF0  # data
    ED = 0x10  # expedited data (RFC 1006 §6 non-standard class 0 form, only if negotiated)
    AK = 0x60  # data acknowledgement (not class 0)
    EA = 0x20  # expedited data acknowledgement (not class 0)
    RJ = 0x50  # reject (not class 0)
    ER = 0x70  # TPDU error


class Parameter(IntEnum):
    """Variable-part parameter codes of CR/CC (X.224 §13.3.4)."""

    TPDU_SIZE = 0xC0  # value n: maximum TPDU size 2**n octets, n = 7..13
    CALLING_TSAP = 0xC1  # calling transport selector
    CALLED_TSAP = 0xC2  # called (in CC: responding) transport selector
    ADDITIONAL_OPTIONS = 0xC6  # bit 1: use of expedited data (RFC 1006 §5)
    ALTERNATIVE_CLASSES = 0xC7  # one octet per class, class in the high 4 bits
    PREFERRED_MAX_TPDU_SIZE = 0xF0  # X.224 (1995): value * 128 octets


_DR_ADDITIONAL_INFO = 0xE0  # X.224 §13.5.4: DR "additional information" parameter
_ER_INVALID_TPDU = 0xC1  # X.224 §13.12.4: ER "invalid TPDU" (the rejected header)


class DisconnectReason(IntEnum):
    """DR reason codes (X.224 §13.5.3 (e))."""

    NOT_SPECIFIED = 0
    TSAP_CONGESTION = 1
    SESSION_ENTITY_NOT_ATTACHED = 2
    ADDRESS_UNKNOWN = 3
    NORMAL = 128
    REMOTE_CONGESTION = 129
    NEGOTIATION_FAILED = 130
    DUPLICATE_SOURCE_REFERENCE = 131
    MISMATCHED_REFERENCES = 132
    PROTOCOL_ERROR = 133
    REFERENCE_OVERFLOW = 135
    CONNECTION_REQUEST_REFUSED = 136
    HEADER_OR_PARAMETER_LENGTH_INVALID = 138


class RejectCause(IntEnum):
    """ER reject causes (X.224 §13.12.3 (d))."""

    NOT_SPECIFIED = 0
    INVALID_PARAMETER_CODE = 1
    INVALID_TPDU_TYPE = 2
    INVALID_PARAMETER_VALUE = 3


_TPDU_NAMES = {code.value: code.name for code in TPDUCode}


# -- TPDU decoding helpers ----------------------------------------------------------------------


def _error(reason: str) -> ProtocolError:
    return ProtocolError(reason, layer=_LAYER)


def _parameters(tpdu: bytes, start: int, end: int) -> dict[int, bytes]:
    """Decode the variable part ``tpdu[start:end]``: (code, length, value) triples.

    X.224 §13.2.3; a parameter with an unknown code is ignored by the caller.
    """
    params: dict[int, bytes] = {}
    pos = start
    while pos < end:
        if end - pos < 2:
            raise _error("truncated parameter in the variable part")
        code, length = tpdu[pos], tpdu[pos + 1]
        pos += 2
        if length > end - pos:
            raise _error(f"parameter 0x{code:02x} overruns the header (length {length})")
        params[code] = tpdu[pos : pos + length]
        pos += length
    return params


def _header_length(tpdu: bytes, fixed: int, name: str) -> int:
    """Check the LI of a TPDU with a ``fixed``-octet fixed part (code included); return LI."""
    li = tpdu[0]
    if li == _LI_RESERVED or li < fixed or li + 1 > len(tpdu):
        raise _error(f"{name} TPDU with invalid length indicator {li} ({len(tpdu)} octets)")
    return li


def _peer_size(params: dict[int, bytes]) -> tuple[int, bool]:
    """The maximum TPDU size a CR/CC names, and whether it used 0xF0 (X.224 §13.3.4).

    0xF0 (units of 128) wins over 0xC0 (2**n, n = 7..13); neither means 65531 (RFC 1006 §5).
    Values above 65531 are capped to it (a TPKT holds no more, RFC 1006 §6).
    """
    size = DEFAULT_MAX_TPDU_SIZE
    legacy = params.get(Parameter.TPDU_SIZE)
    if legacy is not None:
        if len(legacy) != 1 or not 7 <= legacy[0] <= 13:
            raise _error(f"invalid TPDU size parameter {legacy.hex()} (X.224: 2**7..2**13)")
        size = 1 << legacy[0]
    preferred = params.get(Parameter.PREFERRED_MAX_TPDU_SIZE)
    if preferred is None:
        return size, False
    units = int.from_bytes(preferred, "big")
    if not 1 <= len(preferred) <= 4 or units == 0:
        raise _error(f"invalid preferred maximum TPDU size parameter {preferred.hex()}")
    return min(units * _F0_UNIT, DEFAULT_MAX_TPDU_SIZE), True


def _expressible(size: int, with_preferred: bool) -> int:
    """The largest size <= ``size`` that the size parameters can name to a peer.

    65531 is the RFC 1006 default (no parameter).  With 0xF0 any multiple of 128; with 0xC0 only
    2**7..2**13.
    """
    if size >= DEFAULT_MAX_TPDU_SIZE:
        return DEFAULT_MAX_TPDU_SIZE
    if with_preferred:
        return size - size % _F0_UNIT
    return 1 << min(size.bit_length() - 1, 13)


def _size_parameters(size: int, with_preferred: bool) -> bytes:
    """Encode the size parameters for an expressible ``size`` (none for the 65531 default)."""
    if size >= DEFAULT_MAX_TPDU_SIZE:
        return b""
    out = bytes((Parameter.TPDU_SIZE, 1, min(size.bit_length() - 1, 13)))
    if with_preferred:
        out += bytes((Parameter.PREFERRED_MAX_TPDU_SIZE, 2)) + (size // _F0_UNIT).to_bytes(2, "big")
    return out


def _tsap(code: Parameter, tsel: bytes) -> bytes:
    return bytes((code, len(tsel))) + tsel if tsel else b""


def _connect_tpdu(code: TPDUCode, dst_ref: int, params: bytes, user_data: bytes) -> bytes:
    """CR or CC: LI, code, DST-REF, SRC-REF, class and option (class 0), parameters, user data."""
    if len(user_data) > MAX_CONNECT_USER_DATA:
        raise ValueError(f"connect user data over {MAX_CONNECT_USER_DATA} octets (X.224 §13.3.5)")
    li = 6 + len(params)  # fixed part: code 1 + DST-REF 2 + SRC-REF 2 + class/option 1
    if li >= _LI_RESERVED:
        raise ValueError("CR/CC header too long (selectors too long)")
    fixed = bytes((li, code, dst_ref >> 8, dst_ref & 0xFF, _LOCAL_REF >> 8, _LOCAL_REF & 0xFF, 0))
    tpdu = fixed + params + user_data
    return TPKTFramer.frame(tpdu)
