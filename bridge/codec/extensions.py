"""The registry of X.411 standard extensions the codec interprets (X.411 §9.2, §12).

Each row: standard-extension number -> (ASN.1 type of the value in asn1/, decoder, encoder).
Values of extensions without a row (security tokens, certificates, labels, private
extensions) are kept as :class:`~bridge.model.common.Opaque` BER so that they survive a
round trip and RFC 2156 §5.3.6 can decide about them by criticality.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

from bridge.codec import asn1
from bridge.codec.orname import (
    gdi_from,
    gdi_to,
    oraddress_from,
    oraddress_to,
    orname_from,
    orname_to,
)
from bridge.codec.values import (
    bits_to_int,
    decode_utctime,
    encode_utctime,
    int_to_bits,
    teletex,
    to_teletex,
)
from bridge.model.common import Criticality, Extension, Opaque
from bridge.model.envelope import DLExpansion, Redirection, ReportingMTAName

_Conv = Callable[[Any], Any]


def _enum_flag(false_name: str, true_name: str) -> tuple[_Conv, _Conv]:
    """A two-valued ENUMERATED read as a bool (True = the second, 'prohibited' value)."""
    return (lambda v: v == true_name), (lambda b: true_name if b else false_name)


def _redirections(v: Any) -> tuple[Redirection, ...]:
    return tuple(Redirection(
        intended_recipient=orname_from(r["intended-recipient-name"]["intended-recipient"]),
        time=decode_utctime(r["intended-recipient-name"]["redirection-time"]),
        reason=_REDIRECTION_REASONS.index(r["redirection-reason"])) for r in v)


def _redirections_to(v: tuple[Redirection, ...]) -> Any:
    return [{"intended-recipient-name": {"intended-recipient": orname_to(r.intended_recipient),
                                         "redirection-time": encode_utctime(r.time)},
             "redirection-reason": _REDIRECTION_REASONS[r.reason]} for r in v]


_REDIRECTION_REASONS = (
    "recipient-assigned-alternate-recipient", "originator-requested-alternate-recipient",
    "recipient-MD-assigned-alternate-recipient", "directory-look-up", "alias")


def _expansions(name_key: str, time_key: str) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    def dec(v: Any) -> tuple[DLExpansion, ...]:
        return tuple(DLExpansion(name=orname_from(e[name_key]), time=decode_utctime(e[time_key]))
                     for e in v)

    def enc(v: tuple[DLExpansion, ...]) -> Any:
        return [{name_key: orname_to(e.name), time_key: encode_utctime(e.time)} for e in v]

    return dec, enc


def _internal_trace(v: Any) -> Any:
    from bridge.codec.p1 import trace_from

    return trace_from(v, internal=True)


def _internal_trace_to(v: Any) -> Any:
    from bridge.codec.p1 import trace_to

    return trace_to(v, internal=True)


def _reporting_mta(v: Any) -> ReportingMTAName:
    dn = v.get("mta-directory-name")
    return ReportingMTAName(domain=gdi_from(v["domain"]), mta_name=v["mta-name"],
                            directory_name=Opaque(ber=asn1.encode("Name", dn)) if dn else None)


def _reporting_mta_to(v: ReportingMTAName) -> Any:
    out: dict[str, Any] = {"domain": gdi_to(v.domain), "mta-name": v.mta_name}
    if v.directory_name is not None:
        out["mta-directory-name"] = asn1.decode("Name", v.directory_name.ber)
    return out


def _identity(v: Any) -> Any:
    return v


def _tuple(v: Any) -> Any:
    return tuple(v)


_ORNAME = (orname_from, orname_to)
_ORNAMES = (lambda v: tuple(orname_from(x) for x in v), lambda v: [orname_to(x) for x in v])
_TIME = (decode_utctime, encode_utctime)

#: standard-extension -> (ASN.1 value type, decode, encode)
STANDARD_EXTENSIONS: dict[int, tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = {
    1: ("RecipientReassignmentProhibited", *_enum_flag(
        "recipient-reassignment-allowed", "recipient-reassignment-prohibited")),
    2: ("OriginatorRequestedAlternateRecipient", *_ORNAME),
    3: ("DLExpansionProhibited", *_enum_flag("dl-expansion-allowed", "dl-expansion-prohibited")),
    4: ("ConversionWithLossProhibited", *_enum_flag(
        "conversion-with-loss-allowed", "conversion-with-loss-prohibited")),
    5: ("LatestDeliveryTime", *_TIME),
    6: ("RequestedDeliveryMethod", _tuple, list),
    7: ("PhysicalForwardingProhibited", *_enum_flag(
        "physical-forwarding-allowed", "physical-forwarding-prohibited")),
    8: ("PhysicalForwardingAddressRequest", *_enum_flag(
        "physical-forwarding-address-not-requested", "physical-forwarding-address-requested")),
    9: ("PhysicalDeliveryModes", bits_to_int, int_to_bits),
    10: ("RegisteredMailType", _identity, _identity),
    11: ("RecipientNumberForAdvice", teletex, to_teletex),
    12: ("PhysicalRenditionAttributes", _identity, _identity),
    13: ("OriginatorReturnAddress", oraddress_from, oraddress_to),
    14: ("PhysicalDeliveryReportRequest", _identity, _identity),
    21: ("ProofOfSubmissionRequest", *_enum_flag(
        "proof-of-submission-not-requested", "proof-of-submission-requested")),
    22: ("ProofOfDeliveryRequest", *_enum_flag(
        "proof-of-delivery-not-requested", "proof-of-delivery-requested")),
    23: ("ContentCorrelator", lambda v: v[1],
         lambda v: ("ia5text", v) if isinstance(v, str) else ("octets", v)),
    25: ("RedirectionHistory", _redirections, _redirections_to),
    26: ("DLExpansionHistory", *_expansions("dl", "dl-expansion-time")),
    27: ("PhysicalForwardingAddress", *_ORNAME),
    30: ("OriginatorAndDLExpansionHistory", *_expansions(
        "originator-or-dl-name", "origination-or-expansion-time")),
    31: ("ReportingDLName", *_ORNAME),
    38: ("InternalTraceInformation", _internal_trace, _internal_trace_to),
    39: ("ReportingMTAName", _reporting_mta, _reporting_mta_to),
    42: ("DLExemptedRecipients", *_ORNAMES),
}


#: How ``ExtensionField.type`` is encoded (asn1/x411-mts-abstract-service.asn, ExtensionType):
#: "1992" -- ``[0] IMPLICIT INTEGER`` / ``[3] IMPLICIT OBJECT IDENTIFIER``, the EXTENSION
#: class of X.411 (1992) and later; "1988" -- ``[0]`` explicit around a universal INTEGER or
#: OBJECT IDENTIFIER, the EXTENSION macro of X.411 (1988) that ISODE-derived MTAs take.
ExtensionForm = Literal["1988", "1992"]
EXTENSION_FORMS: tuple[ExtensionForm, ...] = ("1988", "1992")

_form: ContextVar[ExtensionForm] = ContextVar("x400bridge_extension_form", default="1992")


@contextmanager
def extension_form(form: ExtensionForm) -> Iterator[None]:
    """Encode the ExtensionFields inside the ``with`` block in ``form`` (decoding takes both)."""
    if form not in EXTENSION_FORMS:
        raise ValueError(f"unknown extension form {form!r}")
    token = _form.set(form)
    try:
        yield
    finally:
        _form.reset(token)


def extensions_from(values: list[dict[str, Any]] | None) -> tuple[Extension, ...]:
    """X.411 §9.1 Extensions (SET OF ExtensionField) -> model, order kept; both forms of
    ``type`` are read (see :data:`ExtensionForm`)."""
    out = []
    for field in values or ():
        kind, ident = field["type"]
        if kind == "x411-1988":
            kind, ident = ident
        crit = Criticality(bits_to_int(field["criticality"])) if "criticality" in field else (
            Criticality.NONE)
        raw = field.get("value")
        value: object = None
        if raw is not None:
            row = STANDARD_EXTENSIONS.get(ident) if kind == "standard-extension" else None
            value = row[1](asn1.decode(row[0], raw)) if row else Opaque(ber=raw)
        out.append(Extension(type=ident, value=value, criticality=crit))
    return tuple(out)


def extensions_to(exts: tuple[Extension, ...]) -> list[dict[str, Any]]:
    """Model -> SET OF ExtensionField."""
    out = []
    form = _form.get()
    for ext in exts:
        ident = ("standard-extension", int(ext.type)) if isinstance(ext.type, int) else (
            "private-extension", ext.type)
        field: dict[str, Any] = {"type": ("x411-1988", ident) if form == "1988" else ident}
        if ext.criticality:
            field["criticality"] = int_to_bits(int(ext.criticality))
        if isinstance(ext.value, Opaque):
            field["value"] = ext.value.ber
        elif ext.value is not None:
            row = STANDARD_EXTENSIONS[int(ext.type)]
            field["value"] = asn1.encode(row[0], row[2](ext.value))
        out.append(field)
    return out
