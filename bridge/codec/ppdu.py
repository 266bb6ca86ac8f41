"""X.226 presentation PPDUs (kernel, normal mode) <-> frozen dataclasses.

The PPDU structures of X.226 §8 (``asn1/x226-presentation.asn``): CP (§8.2), CPA (§8.3), CPR
(§8.4), ARU / ARP (§8.5) and the User-data of TD (§8.7) and of the release PPDUs.  Only the BER
transfer syntax (``{joint-iso-itu-t asn1(1) basic-encoding(1)}`` = 2.1.1) is supported, and a
presentation data value is always one complete BER TLV: the ``single-ASN1-type`` choice of
PDV-list.  On input the ``octet-aligned`` choice is accepted too (its octets are then taken as
the value's BER encoding, which is what a BER transfer syntax puts there); ``arbitrary`` and
``simply-encoded-data`` are refused.

The TD user data is the hot path (every P1 message travels in it), so
:func:`encode_user_data` / :func:`decode_user_data` are written by hand over
:mod:`bridge.codec.ber`; the asn1tools path (:func:`encode_user_data_schema` /
:func:`decode_user_data_schema`) is kept as the reference they are tested against.

Every decoding failure is a :class:`~bridge.errors.DecodeError`; an encoding failure an
:class:`~bridge.errors.EncodeError`.  The engine (:mod:`bridge.x400.presentation`) turns them
into :class:`~bridge.errors.ProtocolError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from bridge.codec import asn1
from bridge.codec.ber import (
    CLASS_APPLICATION,
    CLASS_CONTEXT,
    CLASS_UNIVERSAL,
    encode_length,
    iter_children,
    normalise,
    pdu_length,
    read_tlv,
)
from bridge.errors import DecodeError, EncodeError

__all__ = [
    "ACSE_AS",
    "ARP",
    "ARU",
    "BER",
    "CP",
    "CPA",
    "CPR",
    "PDV",
    "AbortReason",
    "ContextDefinition",
    "ContextResult",
    "RefuseReason",
    "Result",
    "ResultReason",
    "decode_abort",
    "decode_cp",
    "decode_cpa",
    "decode_cpr",
    "decode_user_data",
    "decode_user_data_schema",
    "encode_abort",
    "encode_cp",
    "encode_cpa",
    "encode_cpr",
    "encode_user_data",
    "encode_user_data_schema",
]

#: The BER transfer syntax, {joint-iso-itu-t asn1(1) basic-encoding(1)} (X.690 §8.1).
BER = "2.1.1"
#: Contents octets of that OBJECT IDENTIFIER: 2*40+1 = 0x51, then 1 (X.690 §8.19.4).
_BER_OID_CONTENTS = b"\x51\x01"
#: The ACSE abstract syntax {joint-iso-itu-t association-control(2) abstract-syntax(1) apdus(0)
#: version1(1)} (X.227 §7.1).
ACSE_AS = "2.2.1.0.1"
#: Mode-selector mode-value normal-mode (X.226 §8.2).
_NORMAL_MODE = 1
#: Presentation context identifiers are INTEGER (1..127, ..., 128..7FFFFFFF) (X.226 §8.2).
_MAX_CONTEXT_ID = 0x7FFFFFFF


class Result(IntEnum):
    """Result of a proposed presentation context (X.226 §8.3, Result)."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    PROVIDER_REJECTION = 2


class ResultReason(IntEnum):
    """provider-reason of a Result-list item (X.226 §8.3)."""

    REASON_NOT_SPECIFIED = 0
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 1
    PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED = 2
    LOCAL_LIMIT_ON_DCS_EXCEEDED = 3


class RefuseReason(IntEnum):
    """Provider-reason of a CPR PPDU (X.226 §8.4)."""

    REASON_NOT_SPECIFIED = 0
    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2
    CALLED_PRESENTATION_ADDRESS_UNKNOWN = 3
    PROTOCOL_VERSION_NOT_SUPPORTED = 4
    DEFAULT_CONTEXT_NOT_SUPPORTED = 5
    USER_DATA_NOT_READABLE = 6
    NO_PSAP_AVAILABLE = 7


class AbortReason(IntEnum):
    """Abort-reason of an ARP PPDU (X.226 §8.5.2)."""

    REASON_NOT_SPECIFIED = 0
    UNRECOGNIZED_PPDU = 1
    UNEXPECTED_PPDU = 2
    UNEXPECTED_SESSION_SERVICE_PRIMITIVE = 3
    UNRECOGNIZED_PPDU_PARAMETER = 4
    UNEXPECTED_PPDU_PARAMETER = 5
    INVALID_PPDU_PARAMETER_VALUE = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class PDV:
    """One presentation data value (X.226 §8.7 PDV-list): a complete BER TLV in a context."""

    context_id: int
    value: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextDefinition:
    """One item of the presentation-context-definition-list (X.226 §8.2 Context-list)."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...] = (BER,)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextResult:
    """One item of the presentation-context-definition-result-list (X.226 §8.3 Result-list).

    ``result`` is a :class:`Result`; ``transfer_syntax`` is present for acceptance;
    ``reason`` (a :class:`ResultReason`) only for provider-rejection.
    """

    result: int
    transfer_syntax: str | None = BER
    reason: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CP:
    """CP PPDU, normal mode (X.226 §8.2).

    ``session_requirements`` holds the bit numbers of User-session-requirements (half-duplex(0),
    duplex(1), ...) when the parameter is present, ``versions`` those of Protocol-version
    (absent = {version-1(0)}); ``default_context`` is (abstract, transfer) syntax.
    """

    calling_selector: bytes = b""
    called_selector: bytes = b""
    contexts: tuple[ContextDefinition, ...] = ()
    default_context: tuple[str, str] | None = None
    versions: frozenset[int] = frozenset({0})
    presentation_requirements: frozenset[int] = frozenset()
    session_requirements: frozenset[int] | None = None
    user_data: tuple[PDV, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CPA:
    """CPA PPDU, normal mode (X.226 §8.3)."""

    responding_selector: bytes = b""
    results: tuple[ContextResult, ...] = ()
    versions: frozenset[int] = frozenset({0})
    presentation_requirements: frozenset[int] = frozenset()
    session_requirements: frozenset[int] | None = None
    user_data: tuple[PDV, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CPR:
    """CPR PPDU, normal mode (X.226 §8.4); ``reason`` is a :class:`RefuseReason`."""

    responding_selector: bytes = b""
    results: tuple[ContextResult, ...] = ()
    default_context_result: int | None = None
    reason: int | None = None
    user_data: tuple[PDV, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ARU:
    """ARU PPDU, normal mode (X.226 §8.5.1): user abort, with (pcid, transfer syntax) list."""

    context_ids: tuple[tuple[int, str], ...] = ()
    user_data: tuple[PDV, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ARP:
    """ARP PPDU (X.226 §8.5.2): provider abort; ``reason`` is an :class:`AbortReason`."""

    reason: int | None = None
    event: int | None = None


# ---------------------------------------------------------------------------------------------
# Bit strings as sets of bit numbers
# ---------------------------------------------------------------------------------------------


def _bits_from(value: tuple[bytes, int]) -> frozenset[int]:
    data, nbits = value
    return frozenset(i for i in range(nbits) if data[i // 8] & (0x80 >> (i % 8)))


def _bits_to(bits: Iterable[int]) -> tuple[bytes, int]:
    bits = sorted(bits)
    if not bits:
        return b"", 0
    nbits = bits[-1] + 1
    out = bytearray((nbits + 7) // 8)
    for i in bits:
        out[i // 8] |= 0x80 >> (i % 8)
    return bytes(out), nbits


# ---------------------------------------------------------------------------------------------
# User-data: the hand-written fast path (X.226 §8.7, X.690)
# ---------------------------------------------------------------------------------------------


def _check_context_id(cid: int, offset: int | None = None) -> int:
    if not 1 <= cid <= _MAX_CONTEXT_ID:
        raise DecodeError(f"presentation context identifier {cid} out of range 1..2**31-1",
                          path="PDV-list.presentation-context-identifier", offset=offset)
    return cid


def encode_user_data(pdvs: Iterable[PDV]) -> bytes:
    """Encode User-data as fully-encoded-data: ``[APPLICATION 1] SEQUENCE OF PDV-list``.

    Each PDV-list is ``SEQUENCE {presentation-context-identifier INTEGER,
    single-ASN1-type [0] EXPLICIT value}`` (X.226 §8.7; the transfer-syntax-name is omitted,
    as it must be outside context management, X.226 §8.7 note).  Raises
    :class:`EncodeError` for an identifier out of range or a value that is not exactly one
    complete BER TLV.
    """
    items = []
    for pdv in pdvs:
        cid = pdv.context_id
        value = pdv.value
        if not 1 <= cid <= _MAX_CONTEXT_ID:
            raise EncodeError(f"presentation context identifier {cid} out of range")
        try:
            whole = pdu_length(value)
        except DecodeError as exc:
            raise EncodeError(f"PDV value is not a BER TLV: {exc}") from exc
        if whole != len(value):
            raise EncodeError("PDV value must be exactly one complete BER TLV")
        # INTEGER contents: minimal two's complement of a positive number (X.690 §8.3.2);
        # (bit_length + 8) // 8 octets leave room for the sign bit.
        cid_octets = cid.to_bytes((cid.bit_length() + 8) // 8, "big")
        body = (b"\x02" + encode_length(len(cid_octets)) + cid_octets
                + b"\xa0" + encode_length(len(value)) + value)  # a0: [0] constructed
        items.append(b"\x30" + encode_length(len(body)) + body)  # 30: SEQUENCE
    if not items:
        raise EncodeError("fully-encoded-data needs at least one PDV-list (X.226 §8.7)")
    contents = b"".join(items)
    return b"\x61" + encode_length(len(contents)) + contents  # 61: [APPLICATION 1] constructed


def decode_user_data(data: bytes) -> tuple[PDV, ...]:
    """Decode User-data (X.226 §8.7) to its presentation data values, by hand.

    Accepts indefinite lengths (the input is normalised first, :func:`bridge.codec.ber.
    normalise`), a transfer-syntax-name only if it is BER, ``single-ASN1-type`` holding exactly
    one TLV and primitive ``octet-aligned``.  Raises :class:`DecodeError` for anything else.
    """
    data = normalise(bytes(data))
    top = read_tlv(data, 0)
    if top.tag_class == CLASS_APPLICATION and top.tag == 0:
        raise DecodeError("simply-encoded-data is not supported (no default context)",
                          path="User-data", offset=0)
    if not (top.tag_class == CLASS_APPLICATION and top.tag == 1 and top.constructed):
        raise DecodeError("not User-data (expected [APPLICATION 1] fully-encoded-data)",
                          path="User-data", offset=0)
    pdvs = []
    for item in iter_children(data, top):
        if not (item.tag_class == CLASS_UNIVERSAL and item.tag == 16 and item.constructed):
            raise DecodeError("PDV-list is not a SEQUENCE", path="User-data.PDV-list",
                              offset=item.offset)
        fields = list(iter_children(data, item))
        i = 0
        if fields and fields[0].tag_class == CLASS_UNIVERSAL and fields[0].tag == 6:
            ts = fields[0]
            if data[ts.content_offset:ts.end] != _BER_OID_CONTENTS:
                raise DecodeError("transfer syntax other than BER (2.1.1)",
                                  path="PDV-list.transfer-syntax-name", offset=ts.offset)
            i = 1
        if len(fields) != i + 2:
            raise DecodeError(f"PDV-list with {len(fields)} elements",
                              path="User-data.PDV-list", offset=item.offset)
        pcid, pdv = fields[i], fields[i + 1]
        if not (pcid.tag_class == CLASS_UNIVERSAL and pcid.tag == 2 and not pcid.constructed
                and 1 <= pcid.length <= 5):  # 5 octets: 0x00 + 4 for values up to 2**32 - 1
            raise DecodeError("bad presentation-context-identifier",
                              path="PDV-list.presentation-context-identifier",
                              offset=pcid.offset)
        cid = int.from_bytes(data[pcid.content_offset:pcid.end], "big", signed=True)
        _check_context_id(cid, pcid.offset)
        pdvs.append(PDV(context_id=cid, value=_pdv_value(data, pdv)))
    if not pdvs:
        raise DecodeError("fully-encoded-data without a PDV-list", path="User-data", offset=0)
    return tuple(pdvs)


def octet_aligned_value(value: bytes, *, path: str, offset: int) -> bytes:
    """The octets of an ``octet-aligned`` encoding (X.226 PDV-list, X.690 §8.18 EXTERNAL),
    which must be exactly one BER TLV; :class:`DecodeError` at ``path``/``offset`` if not."""
    try:
        whole = pdu_length(value)
    except DecodeError as exc:
        raise DecodeError(f"octet-aligned value is not BER: {exc.reason}", path=path,
                          offset=offset) from exc
    if whole != len(value):
        raise DecodeError("octet-aligned value is not one BER TLV", path=path, offset=offset)
    return value


def _pdv_value(data: bytes, pdv: Any) -> bytes:
    path = "PDV-list.presentation-data-values"
    if pdv.tag_class == CLASS_CONTEXT and pdv.tag == 0 and pdv.constructed:
        inner = list(iter_children(data, pdv))
        if len(inner) != 1:
            raise DecodeError(f"single-ASN1-type holds {len(inner)} values, not one",
                              path=path, offset=pdv.offset)
        return data[inner[0].offset:inner[0].end]
    if pdv.tag_class == CLASS_CONTEXT and pdv.tag == 1 and not pdv.constructed:
        return octet_aligned_value(data[pdv.content_offset:pdv.end], path=path,
                                   offset=pdv.offset)
    raise DecodeError("presentation-data-values neither single-ASN1-type nor octet-aligned",
                      path=path, offset=pdv.offset)


# ---------------------------------------------------------------------------------------------
# User-data: the asn1tools path (reference; also used inside CP/CPA/CPR/ARU)
# ---------------------------------------------------------------------------------------------


def _pdvs_from(value: Any) -> tuple[PDV, ...]:
    kind, items = value
    if kind != "fully-encoded-data":
        raise DecodeError("simply-encoded-data is not supported (no default context)",
                          path="User-data")
    if not items:
        raise DecodeError("fully-encoded-data without a PDV-list", path="User-data")
    pdvs = []
    for item in items:
        ts = item.get("transfer-syntax-name")
        if ts is not None and ts != BER:
            raise DecodeError(f"transfer syntax {ts} other than BER (2.1.1)",
                              path="PDV-list.transfer-syntax-name")
        cid = _check_context_id(item["presentation-context-identifier"])
        choice, inner = item["presentation-data-values"]
        if choice == "single-ASN1-type":
            raw = bytes(inner)
        elif choice == "octet-aligned":
            raw = bytes(inner)
            try:
                ok = pdu_length(raw) == len(raw)
            except DecodeError:
                ok = False
            if not ok:
                raise DecodeError("octet-aligned value is not one BER TLV",
                                  path="PDV-list.presentation-data-values")
        else:
            raise DecodeError("presentation-data-values arbitrary is not supported",
                              path="PDV-list.presentation-data-values")
        pdvs.append(PDV(context_id=cid, value=raw))
    return tuple(pdvs)


def _pdvs_to(pdvs: Iterable[PDV]) -> tuple[str, list[dict[str, Any]]]:
    items: list[dict[str, Any]] = []
    for pdv in pdvs:
        if not 1 <= pdv.context_id <= _MAX_CONTEXT_ID:
            raise EncodeError(f"presentation context identifier {pdv.context_id} out of range")
        items.append({"presentation-context-identifier": pdv.context_id,
                      "presentation-data-values": ("single-ASN1-type", pdv.value)})
    if not items:
        raise EncodeError("fully-encoded-data needs at least one PDV-list (X.226 §8.7)")
    return ("fully-encoded-data", items)


def encode_user_data_schema(pdvs: Iterable[PDV]) -> bytes:
    """:func:`encode_user_data` through asn1tools (``Pres-User-data``); same octets."""
    return asn1.encode("Pres-User-data", _pdvs_to(pdvs))


def decode_user_data_schema(data: bytes) -> tuple[PDV, ...]:
    """:func:`decode_user_data` through asn1tools (``Pres-User-data``)."""
    return _pdvs_from(asn1.decode("Pres-User-data", data))


# ---------------------------------------------------------------------------------------------
# CP / CPA / CPR (X.226 §8.2-§8.4)
# ---------------------------------------------------------------------------------------------


def _results_from(items: list[dict[str, Any]]) -> tuple[ContextResult, ...]:
    return tuple(ContextResult(result=item["result"],
                               transfer_syntax=item.get("transfer-syntax-name"),
                               reason=item.get("provider-reason")) for item in items)


def _results_to(results: Iterable[ContextResult]) -> list[dict[str, Any]]:
    out = []
    for r in results:
        item: dict[str, Any] = {"result": int(r.result)}
        if r.transfer_syntax is not None:
            item["transfer-syntax-name"] = r.transfer_syntax
        if r.reason is not None:
            item["provider-reason"] = int(r.reason)
        out.append(item)
    return out


def _mode(value: dict[str, Any], name: str) -> dict[str, Any]:
    if value["mode-selector"]["mode-value"] != _NORMAL_MODE:
        raise DecodeError("X.410-1984 mode is not supported by the presentation layer",
                          path=f"{name}.mode-selector")
    params = value.get("normal-mode-parameters")
    if params is None:
        raise DecodeError("normal mode without normal-mode-parameters",
                          path=f"{name}.normal-mode-parameters")
    result: dict[str, Any] = params
    return result


def _common_from(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "protocol-version" in params:
        out["versions"] = _bits_from(params["protocol-version"])
    if "presentation-requirements" in params:
        out["presentation_requirements"] = _bits_from(params["presentation-requirements"])
    if "user-session-requirements" in params:
        out["session_requirements"] = _bits_from(params["user-session-requirements"])
    if "user-data" in params:
        out["user_data"] = _pdvs_from(params["user-data"])
    return out


def _common_to(params: dict[str, Any], ppdu: CP | CPA) -> None:
    if ppdu.versions != frozenset({0}):
        params["protocol-version"] = _bits_to(ppdu.versions)
    if ppdu.presentation_requirements:
        params["presentation-requirements"] = _bits_to(ppdu.presentation_requirements)
    if ppdu.session_requirements is not None:
        params["user-session-requirements"] = _bits_to(ppdu.session_requirements)
    if ppdu.user_data:
        params["user-data"] = _pdvs_to(ppdu.user_data)


def decode_cp(data: bytes) -> CP:
    """Decode a CP PPDU (X.226 §8.2), normal mode only."""
    params = _mode(asn1.decode("CP-type", data), "CP-type")
    contexts = tuple(
        ContextDefinition(context_id=_check_context_id(item["presentation-context-identifier"]),
                          abstract_syntax=item["abstract-syntax-name"],
                          transfer_syntaxes=tuple(item["transfer-syntax-name-list"]))
        for item in params.get("presentation-context-definition-list", ()))
    ids = [c.context_id for c in contexts]
    if len(set(ids)) != len(ids):
        raise DecodeError("a presentation context identifier is proposed twice",
                          path="CP-type.presentation-context-definition-list")
    default = params.get("default-context-name")
    return CP(
        calling_selector=params.get("calling-presentation-selector", b""),
        called_selector=params.get("called-presentation-selector", b""),
        contexts=contexts,
        default_context=(None if default is None else
                         (default["abstract-syntax-name"], default["transfer-syntax-name"])),
        **_common_from(params),
    )


def encode_cp(cp: CP) -> bytes:
    """Encode a CP PPDU (X.226 §8.2), normal mode."""
    params: dict[str, Any] = {}
    if cp.calling_selector:
        params["calling-presentation-selector"] = cp.calling_selector
    if cp.called_selector:
        params["called-presentation-selector"] = cp.called_selector
    if cp.contexts:
        params["presentation-context-definition-list"] = [
            {"presentation-context-identifier": c.context_id,
             "abstract-syntax-name": c.abstract_syntax,
             "transfer-syntax-name-list": list(c.transfer_syntaxes)} for c in cp.contexts]
    if cp.default_context is not None:
        params["default-context-name"] = {"abstract-syntax-name": cp.default_context[0],
                                          "transfer-syntax-name": cp.default_context[1]}
    _common_to(params, cp)
    return asn1.encode("CP-type", {"mode-selector": {"mode-value": _NORMAL_MODE},
                                   "normal-mode-parameters": params})


def decode_cpa(data: bytes) -> CPA:
    """Decode a CPA PPDU (X.226 §8.3), normal mode only."""
    params = _mode(asn1.decode("CPA-PPDU", data), "CPA-PPDU")
    return CPA(
        responding_selector=params.get("responding-presentation-selector", b""),
        results=_results_from(params.get("presentation-context-definition-result-list", [])),
        **_common_from(params),
    )


def encode_cpa(cpa: CPA) -> bytes:
    """Encode a CPA PPDU (X.226 §8.3), normal mode."""
    params: dict[str, Any] = {}
    if cpa.responding_selector:
        params["responding-presentation-selector"] = cpa.responding_selector
    if cpa.results:
        params["presentation-context-definition-result-list"] = _results_to(cpa.results)
    _common_to(params, cpa)
    return asn1.encode("CPA-PPDU", {"mode-selector": {"mode-value": _NORMAL_MODE},
                                    "normal-mode-parameters": params})


def decode_cpr(data: bytes) -> CPR:
    """Decode a CPR PPDU (X.226 §8.4), normal mode only."""
    _, params = asn1.decode("CPR-PPDU", data)
    return CPR(
        responding_selector=params.get("responding-presentation-selector", b""),
        results=_results_from(params.get("presentation-context-definition-result-list", [])),
        default_context_result=params.get("default-context-result"),
        reason=params.get("provider-reason"),
        user_data=_pdvs_from(params["user-data"]) if "user-data" in params else (),
    )


def encode_cpr(cpr: CPR) -> bytes:
    """Encode a CPR PPDU (X.226 §8.4), normal mode."""
    params: dict[str, Any] = {}
    if cpr.responding_selector:
        params["responding-presentation-selector"] = cpr.responding_selector
    if cpr.results:
        params["presentation-context-definition-result-list"] = _results_to(cpr.results)
    if cpr.default_context_result is not None:
        params["default-context-result"] = int(cpr.default_context_result)
    if cpr.reason is not None:
        params["provider-reason"] = int(cpr.reason)
    if cpr.user_data:
        params["user-data"] = _pdvs_to(cpr.user_data)
    return asn1.encode("CPR-PPDU", ("normal-mode-parameters", params))


# ---------------------------------------------------------------------------------------------
# ARU / ARP (X.226 §8.5)
# ---------------------------------------------------------------------------------------------


def decode_abort(data: bytes) -> ARU | ARP:
    """Decode the S-U-ABORT user data (X.226 §8.5 Abort-type): an ARU or an ARP PPDU."""
    kind, value = asn1.decode("Abort-type", data)
    if kind == "arp-ppdu":
        return ARP(reason=value.get("provider-reason"), event=value.get("event-identifier"))
    _, params = value
    return ARU(
        context_ids=tuple((_check_context_id(i["presentation-context-identifier"]),
                           i["transfer-syntax-name"])
                          for i in params.get("presentation-context-identifier-list", ())),
        user_data=_pdvs_from(params["user-data"]) if "user-data" in params else (),
    )


def encode_abort(ppdu: ARU | ARP) -> bytes:
    """Encode an ARU or ARP PPDU (X.226 §8.5) as S-U-ABORT user data."""
    if isinstance(ppdu, ARP):
        arp: dict[str, Any] = {}
        if ppdu.reason is not None:
            arp["provider-reason"] = int(ppdu.reason)
        if ppdu.event is not None:
            arp["event-identifier"] = int(ppdu.event)
        return asn1.encode("Abort-type", ("arp-ppdu", arp))
    params: dict[str, Any] = {}
    if ppdu.context_ids:
        params["presentation-context-identifier-list"] = [
            {"presentation-context-identifier": cid, "transfer-syntax-name": ts}
            for cid, ts in ppdu.context_ids]
    if ppdu.user_data:
        params["user-data"] = _pdvs_to(ppdu.user_data)
    return asn1.encode("Abort-type", ("aru-ppdu", ("normal-mode-parameters", params)))
