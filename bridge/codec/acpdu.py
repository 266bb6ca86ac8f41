"""X.227 ACSE APDUs (protocol version 1) <-> frozen dataclasses.

The APDUs of X.227 §9 (``asn1/x227-acse.asn``, abstract syntax 2.2.1.0.1): AARQ (§9.1), AARE
(§9.2), RLRQ (§9.3), RLRE (§9.4) and ABRT (§9.5), with the fields of the kernel and of the
authentication functional unit.

AE titles (X.227 §7.1.2, X.650): an AP-title is an OBJECT IDENTIFIER (form 2, a ``str``) or a
directory Name (form 1, kept as ``bytes``: the complete BER encoding of the Name, not
interpreted); an AE-qualifier is an INTEGER (form 2, an ``int``) or a RelativeDistinguishedName
(form 1, ``bytes``: its complete BER encoding).  The authentication value is kept as the BER
encoding of the Authentication-value CHOICE.

Every decoding failure is a :class:`~bridge.errors.DecodeError`, an encoding failure an
:class:`~bridge.errors.EncodeError`; :mod:`bridge.x400.acse` turns them into
:class:`~bridge.errors.ProtocolError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from bridge.codec import asn1
from bridge.codec.ber import CLASS_UNIVERSAL, encode_length, pdu_length, read_tlv
from bridge.errors import DecodeError, EncodeError

__all__ = [
    "AARE",
    "AARQ",
    "ABRT",
    "RLRE",
    "RLRQ",
    "APDU",
    "AssociateResult",
    "External",
    "ReleaseRequestReason",
    "ReleaseResponseReason",
    "decode_apdu",
    "encode_apdu",
]


class AssociateResult(IntEnum):
    """Associate-result (X.227 §9.2)."""

    ACCEPTED = 0
    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class ReleaseRequestReason(IntEnum):
    """Release-request-reason (X.227 §9.3)."""

    NORMAL = 0
    URGENT = 1
    USER_DEFINED = 30


class ReleaseResponseReason(IntEnum):
    """Release-response-reason (X.227 §9.4)."""

    NORMAL = 0
    NOT_FINISHED = 1
    USER_DEFINED = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class External:
    """An EXTERNAL of the user information (X.208 §34, X.227 §9 Association-information).

    ``value`` is the data value: for ``encoding`` "single-ASN1-type" one complete BER TLV, for
    "octet-aligned" the octets.  ``indirect_reference`` is the presentation context identifier
    (X.227 §7.1.5.x: the value's abstract syntax), ``direct_reference`` usually the transfer
    syntax.
    """

    direct_reference: str | None = None
    indirect_reference: int | None = None
    value: bytes
    encoding: str = "single-ASN1-type"


@dataclass(frozen=True, slots=True, kw_only=True)
class AARQ:
    """AARQ APDU (X.227 §9.1); titles as described in the module docstring."""

    versions: frozenset[int] = frozenset({0})
    application_context: str
    called_ap_title: str | bytes | None = None
    called_ae_qualifier: int | bytes | None = None
    called_ap_invocation: int | None = None
    called_ae_invocation: int | None = None
    calling_ap_title: str | bytes | None = None
    calling_ae_qualifier: int | bytes | None = None
    calling_ap_invocation: int | None = None
    calling_ae_invocation: int | None = None
    requirements: frozenset[int] | None = None
    mechanism_name: str | None = None
    authentication_value: bytes | None = None
    context_name_list: tuple[str, ...] | None = None
    implementation_information: bytes | None = None
    user_information: tuple[External, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AARE:
    """AARE APDU (X.227 §9.2).

    ``source`` is 0 for acse-service-user, 1 for acse-service-provider (the alternative of
    Associate-source-diagnostic), ``diagnostic`` the number in that alternative.
    """

    versions: frozenset[int] = frozenset({0})
    application_context: str
    result: int = AssociateResult.ACCEPTED
    source: int = 0
    diagnostic: int = 0
    responding_ap_title: str | bytes | None = None
    responding_ae_qualifier: int | bytes | None = None
    responding_ap_invocation: int | None = None
    responding_ae_invocation: int | None = None
    requirements: frozenset[int] | None = None
    mechanism_name: str | None = None
    authentication_value: bytes | None = None
    context_name_list: tuple[str, ...] | None = None
    implementation_information: bytes | None = None
    user_information: tuple[External, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RLRQ:
    """RLRQ APDU (X.227 §9.3); ``reason`` a :class:`ReleaseRequestReason` or None."""

    reason: int | None = None
    user_information: tuple[External, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RLRE:
    """RLRE APDU (X.227 §9.4); ``reason`` a :class:`ReleaseResponseReason` or None."""

    reason: int | None = None
    user_information: tuple[External, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ABRT:
    """ABRT APDU (X.227 §9.5); ``source`` 0 acse-service-user, 1 acse-service-provider;
    ``diagnostic`` the ABRT-diagnostic number (1 no-reason-given .. 6) or None."""

    source: int = 0
    diagnostic: int | None = None
    user_information: tuple[External, ...] = ()


APDU = AARQ | AARE | RLRQ | RLRE | ABRT

_SOURCES = ("acse-service-user", "acse-service-provider")  # index = AARE.source
#: ABRT-diagnostic is ENUMERATED (X.227 §9.5): number <-> name.
_ABRT_DIAGNOSTICS = {
    1: "no-reason-given", 2: "protocol-error", 3: "authentication-mechanism-name-not-recognized",
    4: "authentication-mechanism-name-required", 5: "authentication-failure",
    6: "authentication-required",
}
_ABRT_DIAGNOSTIC_NUMBERS = {v: k for k, v in _ABRT_DIAGNOSTICS.items()}
#: Universal tag numbers of a Name (SEQUENCE OF) and of an RDN (SET OF), X.680 §8.
_SEQUENCE, _SET = 16, 17


# ---------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------


def _bits_from(value: tuple[bytes, int]) -> frozenset[int]:
    data, nbits = value
    return frozenset(i for i in range(nbits) if data[i // 8] & (0x80 >> (i % 8)))


def _bits_to(bits: Iterable[int]) -> tuple[bytes, int]:
    ordered = sorted(bits)
    if not ordered:
        return b"", 0
    out = bytearray((ordered[-1] + 8) // 8)
    for i in ordered:
        out[i // 8] |= 0x80 >> (i % 8)
    return bytes(out), ordered[-1] + 1


def _externals_from(items: list[dict[str, Any]]) -> tuple[External, ...]:
    out = []
    for item in items:
        kind, value = item["encoding"]
        if kind == "arbitrary":
            raise DecodeError("EXTERNAL with arbitrary (BIT STRING) encoding is not supported",
                              path="Association-information.EXTERNAL.encoding")
        out.append(External(direct_reference=item.get("direct-reference"),
                            indirect_reference=item.get("indirect-reference"),
                            value=bytes(value), encoding=kind))
    return tuple(out)


def _externals_to(externals: tuple[External, ...]) -> list[dict[str, Any]]:
    out = []
    for ext in externals:
        item: dict[str, Any] = {"encoding": (ext.encoding, ext.value)}
        if ext.encoding not in ("single-ASN1-type", "octet-aligned"):
            raise EncodeError(f"EXTERNAL encoding {ext.encoding!r} is not supported")
        if ext.direct_reference is not None:
            item["direct-reference"] = ext.direct_reference
        if ext.indirect_reference is not None:
            item["indirect-reference"] = ext.indirect_reference
        out.append(item)
    return out


def _wrap(tag: int, contents: bytes) -> bytes:
    return bytes((0x20 | tag,)) + encode_length(len(contents)) + contents  # universal, constructed


def _unwrap(tag: int, data: bytes, what: str) -> bytes:
    """Contents of the complete universal constructed ``tag`` encoding ``data``."""
    try:
        ok = pdu_length(data) == len(data)
        tlv = read_tlv(data, 0)
    except DecodeError as exc:
        raise EncodeError(f"{what}: not a BER encoding ({exc})") from exc
    if not ok or tlv.tag_class != CLASS_UNIVERSAL or tlv.tag != tag or not tlv.constructed \
            or tlv.length < 0:
        raise EncodeError(f"{what}: expected one definite-length universal {tag} encoding")
    return data[tlv.content_offset:tlv.end]


def _title_from(value: Any) -> str | bytes | None:
    if value is None:
        return None
    kind, inner = value
    return _wrap(_SEQUENCE, inner) if kind == "ap-title-form1" else str(inner)


def _title_to(title: str | bytes) -> tuple[str, Any]:
    if isinstance(title, bytes):
        return ("ap-title-form1", _unwrap(_SEQUENCE, title, "AP-title form 1 (Name)"))
    return ("ap-title-form2", title)


def _qualifier_from(value: Any) -> int | bytes | None:
    if value is None:
        return None
    kind, inner = value
    return _wrap(_SET, inner) if kind == "ae-qualifier-form1" else int(inner)


def _qualifier_to(qualifier: int | bytes) -> tuple[str, Any]:
    if isinstance(qualifier, bytes):
        return ("ae-qualifier-form1",
                _unwrap(_SET, qualifier, "AE-qualifier form 1 (RelativeDistinguishedName)"))
    return ("ae-qualifier-form2", qualifier)


# (dataclass field, ASN.1 component, from-codec, to-codec) shared by AARQ and AARE
def _optional_fields(prefix: str, *, responding: bool) -> list[tuple[str, str, Any, Any]]:
    comp = "responding" if responding else prefix
    return [
        (f"{prefix}_ap_title", f"{comp}-AP-title", _title_from, _title_to),
        (f"{prefix}_ae_qualifier", f"{comp}-AE-qualifier", _qualifier_from, _qualifier_to),
        (f"{prefix}_ap_invocation", f"{comp}-AP-invocation-identifier", int, int),
        (f"{prefix}_ae_invocation", f"{comp}-AE-invocation-identifier", int, int),
    ]


_AARQ_TITLES = _optional_fields("called", responding=False) + \
    _optional_fields("calling", responding=False)
_AARE_TITLES = _optional_fields("responding", responding=True)


def _auth_from(value: dict[str, Any], out: dict[str, Any], requirements: str) -> None:
    if requirements in value:
        out["requirements"] = _bits_from(value[requirements])
    if "mechanism-name" in value:
        out["mechanism_name"] = value["mechanism-name"]
    for name in ("calling-authentication-value", "responding-authentication-value"):
        if name in value:
            out["authentication_value"] = asn1.encode("ACSE-Authentication-value", value[name])
    if "application-context-name-list" in value:
        out["context_name_list"] = tuple(value["application-context-name-list"])
    if "implementation-information" in value:
        out["implementation_information"] = value["implementation-information"]
    if "user-information" in value:
        out["user_information"] = _externals_from(value["user-information"])


def _auth_to(apdu: AARQ | AARE, out: dict[str, Any], requirements: str, auth: str) -> None:
    if apdu.versions != frozenset({0}):
        out["protocol-version"] = _bits_to(apdu.versions)
    if apdu.requirements is not None:
        out[requirements] = _bits_to(apdu.requirements)
    if apdu.mechanism_name is not None:
        out["mechanism-name"] = apdu.mechanism_name
    if apdu.authentication_value is not None:
        try:
            out[auth] = asn1.decode("ACSE-Authentication-value", apdu.authentication_value)
        except DecodeError as exc:
            raise EncodeError(f"authentication value is not an Authentication-value: {exc}") \
                from exc
    if apdu.context_name_list is not None:
        out["application-context-name-list"] = list(apdu.context_name_list)
    if apdu.implementation_information is not None:
        out["implementation-information"] = apdu.implementation_information
    if apdu.user_information:
        out["user-information"] = _externals_to(apdu.user_information)


# ---------------------------------------------------------------------------------------------
# APDUs
# ---------------------------------------------------------------------------------------------


def decode_apdu(data: bytes) -> APDU:
    """Decode one ACSE APDU (X.227 §9): AARQ, AARE, RLRQ, RLRE or ABRT."""
    kind, value = asn1.decode("ACSE-apdu", data)
    fields: dict[str, Any] = {}
    if kind == "aarq":
        if "protocol-version" in value:
            fields["versions"] = _bits_from(value["protocol-version"])
        for attr, comp, conv, _ in _AARQ_TITLES:
            if comp in value:
                fields[attr] = conv(value[comp])
        _auth_from(value, fields, "sender-acse-requirements")
        return AARQ(application_context=value["application-context-name"], **fields)
    if kind == "aare":
        if "protocol-version" in value:
            fields["versions"] = _bits_from(value["protocol-version"])
        for attr, comp, conv, _ in _AARE_TITLES:
            if comp in value:
                fields[attr] = conv(value[comp])
        _auth_from(value, fields, "responder-acse-requirements")
        source, diagnostic = value["result-source-diagnostic"]
        return AARE(application_context=value["application-context-name"],
                    result=value["result"], source=_SOURCES.index(source),
                    diagnostic=diagnostic, **fields)
    info = _externals_from(value.get("user-information", []))
    if kind == "rlrq":
        return RLRQ(reason=value.get("reason"), user_information=info)
    if kind == "rlre":
        return RLRE(reason=value.get("reason"), user_information=info)
    diag = value.get("abort-diagnostic")
    return ABRT(source=value["abort-source"],
                diagnostic=None if diag is None else _ABRT_DIAGNOSTIC_NUMBERS.get(diag, 1),
                user_information=info)


def encode_apdu(apdu: APDU) -> bytes:
    """Encode one ACSE APDU (X.227 §9) as BER."""
    out: dict[str, Any] = {}
    if isinstance(apdu, AARQ):
        out["application-context-name"] = apdu.application_context
        for attr, comp, _, conv in _AARQ_TITLES:
            if getattr(apdu, attr) is not None:
                out[comp] = conv(getattr(apdu, attr))
        _auth_to(apdu, out, "sender-acse-requirements", "calling-authentication-value")
        return asn1.encode("ACSE-apdu", ("aarq", out))
    if isinstance(apdu, AARE):
        if apdu.source not in (0, 1):
            raise EncodeError(f"AARE source {apdu.source} is neither 0 (user) nor 1 (provider)")
        out["application-context-name"] = apdu.application_context
        out["result"] = int(apdu.result)
        out["result-source-diagnostic"] = (_SOURCES[apdu.source], int(apdu.diagnostic))
        for attr, comp, _, conv in _AARE_TITLES:
            if getattr(apdu, attr) is not None:
                out[comp] = conv(getattr(apdu, attr))
        _auth_to(apdu, out, "responder-acse-requirements", "responding-authentication-value")
        return asn1.encode("ACSE-apdu", ("aare", out))
    if apdu.user_information:
        out["user-information"] = _externals_to(apdu.user_information)
    if isinstance(apdu, ABRT):
        out["abort-source"] = int(apdu.source)
        if apdu.diagnostic is not None:
            if apdu.diagnostic not in _ABRT_DIAGNOSTICS:
                raise EncodeError(f"ABRT-diagnostic {apdu.diagnostic} is not defined")
            out["abort-diagnostic"] = _ABRT_DIAGNOSTICS[apdu.diagnostic]
        return asn1.encode("ACSE-apdu", ("abrt", out))
    if apdu.reason is not None:
        out["reason"] = int(apdu.reason)
    return asn1.encode("ACSE-apdu", ("rlrq" if isinstance(apdu, RLRQ) else "rlre", out))
