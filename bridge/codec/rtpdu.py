"""RTSE APDUs (X.228 §9, X.410-1984 §5.7) and the P1 MTA-bind (X.419 §7.2) <-> dataclasses.

The RT-OPEN / RT-CLOSE / RT-ABORT APDUs go through :mod:`bridge.codec.asn1` (module
``Reliable-Transfer-APDU`` in ``asn1/x228-rtse.asn``).  The data path -- one ``RTTRapdu``
(OCTET STRING, X.228 §9.1) per segment and the ``EXTERNAL`` that wraps the transferred APDU
(X.228 §7.3.1: the RTSE-user's APDU with its presentation context) -- is encoded and decoded
here by hand with :mod:`bridge.codec.ber`: it runs once per message segment and the general
codec would cost more than everything else on the path.  Tests check both paths agree.

Nothing outside ``bridge/codec`` sees an asn1tools value: the rest of the stack uses the frozen
dataclasses below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.codec import asn1
from bridge.codec.ber import (
    CLASS_CONTEXT,
    CLASS_UNIVERSAL,
    encode_length,
    iter_children,
    normalise,
    pdu_length,
    read_tlv,
    string_contents,
)
from bridge.codec.ppdu import octet_aligned_value
from bridge.errors import DecodeError, EncodeError

#: X.228 §9.1 dialogueMode values
MONOLOGUE = 0
TWA = 1

#: X.228 §9.1 applicationProtocol: X.419 §7.2 mts-transfer-protocol (1988) = 12,
#: mts-transfer-protocol-1984 = 1 (the X.410 default)
PROTOCOL_P1_1988 = 12
PROTOCOL_P1_1984 = 1


class RefuseReason:
    """X.228 §9.1 RefuseReason."""

    RTS_BUSY = 0
    CANNOT_RECOVER = 1
    VALIDATION_FAILURE = 2
    UNACCEPTABLE_DIALOGUE_MODE = 3


class AbortReason:
    """X.228 §9.1 AbortReason."""

    LOCAL_SYSTEM_PROBLEM = 0
    INVALID_PARAMETER = 1
    UNRECOGNIZED_ACTIVITY = 2
    TEMPORARY_PROBLEM = 3
    PROTOCOL_ERROR = 4
    PERMANENT_PROBLEM = 5
    USER_ERROR = 6
    TRANSFER_COMPLETED = 7


@dataclass(frozen=True, slots=True, kw_only=True)
class Recover:
    """ConnectionData.recover: the SessionConnectionIdentifier of the association to recover."""

    calling_ss_user_reference: bytes
    common_reference: bytes
    additional_reference: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RTORQ:
    """RT-OPEN request (X.228 §9.1 RTORQapdu; X.410-1984 mode: PConnect.pUserData)."""

    checkpoint_size: int = 0          # in units of 1024 octets; 0 = no checkpointing
    window_size: int = 3
    dialogue_mode: int = MONOLOGUE
    open: bytes | None = None         # ConnectionData.open: the user's bind APDU (BER TLV)
    recover: Recover | None = None
    application_protocol: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RTOAC:
    """RT-OPEN accept (X.228 §9.1 RTOACapdu; X.410-1984 mode: PAccept.pUserData)."""

    checkpoint_size: int = 0
    window_size: int = 3
    open: bytes | None = None
    recover: Recover | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RTORJ:
    """RT-OPEN refuse (X.228 §9.1 RTORJapdu; X.410-1984 mode: PRefuse)."""

    refuse_reason: int | None = None
    user_data: bytes | None = None    # userDataRJ: the user's bind error APDU (BER TLV)


@dataclass(frozen=True, slots=True, kw_only=True)
class RTAB:
    """RT-ABORT (X.228 §9.1 RTABapdu)."""

    abort_reason: int | None = None
    user_data: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RTTP:
    """RT-TURN-PLEASE (X.228 §9.1 RTTPapdu): the priority of the request."""

    priority: int = 0


RTPDU = RTORQ | RTOAC | RTORJ | RTAB | RTTP


# --------------------------------------------------------------------------------------------
# ConnectionData
# --------------------------------------------------------------------------------------------

def _cd_from(value: tuple[str, Any]) -> tuple[bytes | None, Recover | None]:
    kind, inner = value
    if kind == "open":
        return bytes(inner), None
    return None, Recover(calling_ss_user_reference=bytes(inner["callingSSuserReference"][1]),
                         common_reference=bytes(inner["commonReference"]),
                         additional_reference=inner.get("additionalReferenceInformation"))


def _cd_to(open_: bytes | None, recover: Recover | None) -> tuple[str, Any]:
    if recover is not None:
        sci: dict[str, Any] = {
            "callingSSuserReference": ("octetString", recover.calling_ss_user_reference),
            "commonReference": recover.common_reference}
        if recover.additional_reference is not None:
            sci["additionalReferenceInformation"] = recover.additional_reference
        return ("recover", sci)
    if open_ is None:
        raise EncodeError("ConnectionData needs open data or a recover identifier")
    return ("open", open_)


# --------------------------------------------------------------------------------------------
# Normal mode: RTSE-apdus (X.228 §9.1)
# --------------------------------------------------------------------------------------------

def encode_rtpdu(pdu: RTPDU) -> bytes:
    """Encode an RTSE APDU of normal mode as a BER ``RTSE-apdus`` value."""
    value: tuple[str, Any]
    if isinstance(pdu, RTORQ):
        rq: dict[str, Any] = {"checkpointSize": pdu.checkpoint_size,
                              "windowSize": pdu.window_size,
                              "dialogueMode": pdu.dialogue_mode,
                              "connectionDataRQ": _cd_to(pdu.open, pdu.recover)}
        if pdu.application_protocol is not None:
            rq["applicationProtocol"] = pdu.application_protocol
        value = ("rtorq-apdu", rq)
    elif isinstance(pdu, RTOAC):
        value = ("rtoac-apdu", {"checkpointSize": pdu.checkpoint_size,
                                "windowSize": pdu.window_size,
                                "connectionDataAC": _cd_to(pdu.open, pdu.recover)})
    elif isinstance(pdu, RTORJ):
        rj: dict[str, Any] = {}
        if pdu.refuse_reason is not None:
            rj["refuseReason"] = pdu.refuse_reason
        if pdu.user_data is not None:
            rj["userDataRJ"] = pdu.user_data
        value = ("rtorj-apdu", rj)
    elif isinstance(pdu, RTAB):
        ab: dict[str, Any] = {}
        if pdu.abort_reason is not None:
            ab["abortReason"] = pdu.abort_reason
        if pdu.user_data is not None:
            ab["userdataAB"] = pdu.user_data
        value = ("rtab-apdu", ab)
    else:
        value = ("rttp-apdu", pdu.priority)
    return asn1.encode("RTSE-apdus", value)


def decode_rtpdu(data: bytes) -> RTPDU:
    """Decode a normal-mode ``RTSE-apdus`` value other than RTTR (see :func:`decode_rttr`)."""
    kind, v = asn1.decode("RTSE-apdus", data)
    try:
        if kind == "rtorq-apdu":
            open_, recover = _cd_from(v["connectionDataRQ"])
            return RTORQ(checkpoint_size=v.get("checkpointSize", 0),
                         window_size=v.get("windowSize", 3),
                         dialogue_mode=v.get("dialogueMode", MONOLOGUE), open=open_,
                         recover=recover, application_protocol=v.get("applicationProtocol"))
        if kind == "rtoac-apdu":
            open_, recover = _cd_from(v["connectionDataAC"])
            return RTOAC(checkpoint_size=v.get("checkpointSize", 0),
                         window_size=v.get("windowSize", 3), open=open_, recover=recover)
        if kind == "rtorj-apdu":
            return RTORJ(refuse_reason=v.get("refuseReason"), user_data=v.get("userDataRJ"))
        if kind == "rtab-apdu":
            return RTAB(abort_reason=v.get("abortReason"), user_data=v.get("userdataAB"))
        if kind == "rttp-apdu":
            return RTTP(priority=v)
    except (KeyError, TypeError, IndexError) as exc:
        raise DecodeError(f"invalid RTSE APDU: {exc!r}", path="RTSE-apdus") from exc
    raise DecodeError(f"unexpected RTSE APDU {kind}", path="RTSE-apdus")


# --------------------------------------------------------------------------------------------
# X.410-1984 mode: PConnect / PAccept / PRefuse (X.410 §5.7)
# --------------------------------------------------------------------------------------------

def encode_x410(pdu: RTORQ | RTOAC | RTORJ) -> bytes:
    """Encode the X.410-1984 session user data of RT-OPEN (PConnect, PAccept or PRefuse)."""
    if isinstance(pdu, RTORQ):
        ud: dict[str, Any] = {"checkpointSize": pdu.checkpoint_size,
                              "windowSize": pdu.window_size,
                              "dialogueMode": pdu.dialogue_mode,
                              "connectionDataRQ": _cd_to(pdu.open, pdu.recover)}
        if pdu.application_protocol is not None:
            ud["applicationProtocol"] = pdu.application_protocol
        return asn1.encode("PConnect", {"dataTransferSyntax": {"x409": 0}, "pUserData": ud})
    if isinstance(pdu, RTOAC):
        return asn1.encode("PAccept", {"dataTransferSyntax": {"x409": 0}, "pUserData": {
            "checkpointSize": pdu.checkpoint_size, "windowSize": pdu.window_size,
            "connectionDataAC": _cd_to(pdu.open, pdu.recover)}})
    return asn1.encode("PRefuse", {"refuseReason": pdu.refuse_reason
                                   if pdu.refuse_reason is not None
                                   else RefuseReason.VALIDATION_FAILURE})


def decode_x410(kind: str, data: bytes) -> RTORQ | RTOAC | RTORJ:
    """Decode X.410-1984 RT-OPEN user data; ``kind`` is "PConnect", "PAccept" or "PRefuse"."""
    v = asn1.decode(kind, data)
    try:
        if kind == "PRefuse":
            return RTORJ(refuse_reason=v["refuseReason"])
        if v["dataTransferSyntax"].get("x409", 0) != 0:
            raise DecodeError("X.410 data transfer syntax is not X.409", path=kind)
        ud = v["pUserData"]
        if kind == "PConnect":
            open_, recover = _cd_from(ud["connectionDataRQ"])
            return RTORQ(checkpoint_size=ud.get("checkpointSize", 0),
                         window_size=ud.get("windowSize", 3),
                         dialogue_mode=ud.get("dialogueMode", MONOLOGUE), open=open_,
                         recover=recover,
                         application_protocol=ud.get("applicationProtocol", PROTOCOL_P1_1984))
        open_, recover = _cd_from(ud["connectionDataAC"])
        return RTOAC(checkpoint_size=ud.get("checkpointSize", 0),
                     window_size=ud.get("windowSize", 3), open=open_, recover=recover)
    except (KeyError, TypeError, IndexError) as exc:
        raise DecodeError(f"invalid {kind}: {exc!r}", path=kind) from exc


# --------------------------------------------------------------------------------------------
# The data path: RTTR segments and the EXTERNAL around the transferred APDU
# --------------------------------------------------------------------------------------------

_OCTET_STRING = 0x04
_EXTERNAL = 0x28          # [UNIVERSAL 8] constructed (X.690 §8.18)
_INTEGER = 0x02
_ENUMERATED = 0x0A


def encode_rttr(segment: bytes | memoryview) -> bytes:
    """One RTTRapdu (X.228 §9.1): a primitive OCTET STRING holding one segment."""
    return b"\x04" + encode_length(len(segment)) + bytes(segment)


def decode_rttr(data: bytes) -> bytes:
    """The segment inside an RTTRapdu (X.228 §9.1).

    Any BER form is accepted (X.690 §8.7: primitive, or constructed -- with definite or
    indefinite lengths, as ISODE-derived MTAs send -- whose segments are joined).
    """
    tlv = read_tlv(data)
    if tlv.tag_class != CLASS_UNIVERSAL or tlv.tag != _OCTET_STRING:
        raise DecodeError("RTTR APDU is not an OCTET STRING", path="RTTRapdu", offset=0)
    if tlv.length >= 0 and tlv.end != len(data):
        raise DecodeError("trailing bytes after the RTTR APDU", path="RTTRapdu",
                          offset=tlv.end)
    if not tlv.constructed:
        return data[tlv.content_offset:tlv.end]
    try:
        end = pdu_length(data)
        if end != len(data):
            raise DecodeError("trailing bytes after the RTTR APDU", offset=end)
        return string_contents(data, tlv)
    except DecodeError as exc:
        raise DecodeError(exc.reason, path="RTTRapdu", offset=exc.offset) from exc


def _oid(body: bytes) -> str:
    """Dotted form of OBJECT IDENTIFIER contents (X.690 §8.19)."""
    arcs: list[int] = []
    n = 0
    for i, octet in enumerate(body):
        n = (n << 7) | (octet & 0x7F)
        if not octet & 0x80:
            if not arcs:
                first = min(n // 40, 2)
                arcs += [first, n - 40 * first]
            else:
                arcs.append(n)
            n = 0
        elif i == len(body) - 1:
            raise DecodeError("truncated OBJECT IDENTIFIER", path="EXTERNAL")
    if not arcs:
        raise DecodeError("empty OBJECT IDENTIFIER", path="EXTERNAL")
    return ".".join(map(str, arcs))


def encode_external(context_id: int, value: bytes) -> bytes:
    """``EXTERNAL {indirect-reference pcid, encoding single-ASN1-type [0] value}``.

    X.228 §7.3.1 b: in normal mode the transferred APDU is a presentation data value of the
    RTSE-user's abstract syntax (P1: id-as-mtse), identified by its presentation context.
    """
    if not 0 <= context_id <= 127:
        raise EncodeError(f"presentation context identifier {context_id} out of range")
    inner = b"\x02\x01" + bytes((context_id,)) + b"\xa0" + encode_length(len(value)) + value
    return b"\x28" + encode_length(len(inner)) + inner


def decode_external(data: bytes) -> tuple[str | None, int | None, bytes]:
    """(direct-reference, indirect-reference, value) of a BER EXTERNAL (X.690 §8.18).

    Every BER form of the EXTERNAL is accepted: definite or indefinite lengths anywhere (PP
    6.0 sends ``28 80 02 01 05 a0 80 ... 00 00 00 00``, x400-samples/pp), and an
    ``octet-aligned`` encoding as a primitive or constructed OCTET STRING (§8.7.3).  An EXTERNAL
    with an indefinite length is first re-encoded with definite lengths
    (:func:`bridge.codec.ber.normalise`).  The value of ``single-ASN1-type`` is returned as the
    contents of its ``[0]`` (checked by the user's decoder); that of ``octet-aligned`` as its
    octets, which must be one BER TLV.
    """
    tlv = read_tlv(data)
    if tlv.tag_class != CLASS_UNIVERSAL or tlv.tag != 8 or not tlv.constructed:
        raise DecodeError("transferred APDU is not an EXTERNAL", path="EXTERNAL", offset=0)
    if tlv.length < 0 or any(c.length < 0 for c in iter_children(data, tlv)):
        # only then is the whole value rewritten; a definite EXTERNAL (what we and most MTAs
        # send) is taken apart in place and its value left for the P1 decoder to check
        try:
            data = normalise(data)
        except DecodeError as exc:
            raise DecodeError(f"transferred APDU is not BER: {exc.reason}", path="EXTERNAL",
                              offset=exc.offset) from exc
        tlv = read_tlv(data)
    elif tlv.end != len(data):
        raise DecodeError("trailing bytes after the EXTERNAL", path="EXTERNAL", offset=tlv.end)
    direct: str | None = None
    indirect: int | None = None
    for child in iter_children(data, tlv):
        body = data[child.content_offset:child.end]
        if child.tag_class == CLASS_UNIVERSAL and child.tag == 6 and not child.constructed:
            direct = _oid(body)
        elif child.tag_class == CLASS_UNIVERSAL and child.tag == _INTEGER and \
                not child.constructed:
            if not 1 <= len(body) <= 4:
                raise DecodeError("bad indirect-reference", path="EXTERNAL",
                                  offset=child.offset)
            indirect = int.from_bytes(body, "big", signed=True)
        elif child.tag_class == CLASS_UNIVERSAL and child.tag == 7:
            continue                                  # data-value-descriptor: informative
        elif child.tag_class == CLASS_CONTEXT and child.tag == 0 and child.constructed:
            return direct, indirect, body            # single-ASN1-type
        elif child.tag_class == CLASS_CONTEXT and child.tag == 1:
            return direct, indirect, octet_aligned_value(       # the encoding itself
                string_contents(data, child), path="EXTERNAL", offset=child.offset)
        else:
            raise DecodeError("unsupported EXTERNAL encoding", path="EXTERNAL",
                              offset=child.offset)
    raise DecodeError("EXTERNAL without an encoding", path="EXTERNAL", offset=0)


# --------------------------------------------------------------------------------------------
# The MTA-bind (X.411 §12.1, carried per X.419 §7.2)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class MTABind:
    """MTABindArgument or MTABindResult: the MTA name and simple credentials.

    ``name`` None is the ``unauthenticated`` alternative.  ``password`` is the simple
    credential (IA5String -> ``str``, OCTET STRING -> ``bytes``); ``strong`` is set when the
    peer used strong credentials or a security context, which this gateway does not verify.
    """

    name: str | None = None
    password: str | bytes | None = None
    strong: bool = False


def _bind_to(bind: MTABind, result: bool) -> tuple[str, Any]:
    if bind.name is None:
        return ("unauthenticated", None)
    password = bind.password if bind.password is not None else ""
    creds = ("simple", ("ia5-string", password) if isinstance(password, str)
             else ("octet-string", password))
    if result:
        return ("authenticated", {"responder-name": bind.name, "responder-credentials": creds})
    return ("authenticated", {"initiator-name": bind.name, "initiator-credentials": creds})


def _bind_from(value: tuple[str, Any], result: bool) -> MTABind:
    kind, v = value
    if kind == "unauthenticated":
        return MTABind()
    name = v["responder-name" if result else "initiator-name"]
    ckind, cred = v["responder-credentials" if result else "initiator-credentials"]
    if ckind != "simple":
        return MTABind(name=name, strong=True)
    return MTABind(name=name, password=cred[1], strong="security-context" in v)


def encode_bind(bind: MTABind, *, result: bool, x410: bool) -> bytes:
    """The bind argument (or result) as ConnectionData.open carries it.

    Normal mode wraps it in the ROS BIND tag ([16] argument, [17] result, X.219 §9); in
    X.410-1984 mode the bare value is carried.
    """
    if x410:
        return asn1.encode("MTABindResult" if result else "MTABindArgument",
                           _bind_to(bind, result))
    return asn1.encode("ROS-BindResult-MTA" if result else "ROS-BindArgument-MTA",
                       _bind_to(bind, result))


def decode_bind(data: bytes, *, result: bool, x410: bool) -> MTABind:
    """Inverse of :func:`encode_bind`."""
    if x410:
        value = asn1.decode("MTABindResult" if result else "MTABindArgument", data)
    else:
        value = asn1.decode("ROS-BindResult-MTA" if result else "ROS-BindArgument-MTA", data)
    try:
        return _bind_from(value, result)
    except (KeyError, TypeError, IndexError) as exc:
        raise DecodeError(f"invalid MTA bind: {exc!r}", path="MTABindArgument") from exc


def encode_bind_error(error: int) -> bytes:
    """The MTA-bind error (X.411 §12.1.3 MTABindError) in its ROS [18] wrapper."""
    return asn1.encode("ROS-BindError-MTA", error)


#: X.411 §12.1.3 MTABindError (X.410 (1984) §3.4 had the same values), for logs and messages
BIND_ERROR_NAMES = {0: "busy", 2: "authentication-error", 3: "unacceptable-dialogue-mode",
                    4: "unacceptable-security-context", 5: "inadequate-association-confidentiality"}


def bind_error_name(error: int | None) -> str:
    """``authentication-error (2)`` and the like; ``unknown`` for None."""
    if error is None:
        return "unknown"
    return f"{BIND_ERROR_NAMES.get(error, 'unknown error')} ({error})"


def decode_bind_error(data: bytes) -> int:
    """The MTABindError in RT-OPEN refuse user data, in each form real MTAs send.

    * ``[18] EXPLICIT INTEGER`` -- the ROS bind-error wrapper of X.419 §7.2 / X.219 (ours);
    * a bare universal INTEGER (or ENUMERATED) -- the X.410 (1984) form, where the RTORJ
      userDataRJ holds the MTABindError itself.  PP 6.0 sends it in normal mode too
      (``02 01 02``, x400-samples/pp/pp-rtoac-and-bind-refusal.pcap frame 20).
    """
    try:
        data = normalise(bytes(data))
        tlv = read_tlv(data)
        if tlv.end != len(data):
            raise DecodeError("trailing bytes after the MTABindError", offset=tlv.end)
        if tlv.tag_class == CLASS_CONTEXT and tlv.tag == 18 and tlv.constructed:
            inner = list(iter_children(data, tlv))
            if len(inner) != 1:
                raise DecodeError("bind-error wrapper without one value", offset=tlv.offset)
            tlv = inner[0]
        if tlv.tag_class != CLASS_UNIVERSAL or tlv.tag not in (_INTEGER, _ENUMERATED) or \
                tlv.constructed or not 1 <= tlv.length <= 4:
            raise DecodeError("MTABindError is not an INTEGER", offset=tlv.offset)
    except DecodeError as exc:
        raise DecodeError(exc.reason, path="MTABindError", offset=exc.offset) from exc
    return int.from_bytes(data[tlv.content_offset:tlv.end], "big", signed=True)
