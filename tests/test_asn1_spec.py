"""The compiled ASN.1 specification (asn1/*.asn) and bridge.codec.asn1.

Round trips of representative P1 and P22 values, the on-the-wire tags X.411 / X.419 / X.420
prescribe (checked with a minimal TLV walker and pyasn1's schema-less decoder, independent of
asn1tools), and the error contract of encode/decode (path and offset).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyasn1.codec.ber import decoder as pyasn1_decoder
from pyasn1.type import tag as pyasn1_tag

from bridge.codec import asn1
from bridge.errors import DecodeError, EncodeError

# ---------------------------------------------------------------------------------------------
# A minimal, independent TLV walker (definite lengths only; test helper)
# ---------------------------------------------------------------------------------------------


def tlv(data: bytes, offset: int = 0) -> tuple[int, bool, int, int, int]:
    """(class bits, constructed, tag number, contents start, contents end) of one TLV."""
    first = data[offset]
    cls, constructed, number = first & 0xC0, bool(first & 0x20), first & 0x1F
    i = offset + 1
    if number == 0x1F:
        number = 0
        while True:
            number = (number << 7) | (data[i] & 0x7F)
            i += 1
            if not data[i - 1] & 0x80:
                break
    length = data[i]
    i += 1
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[i:i + n], "big")
        i += n
    return cls, constructed, number, i, i + length


def children(data: bytes, start: int, end: int) -> list[tuple[int, bool, int, int, int, int]]:
    """Child TLVs of a constructed contents [start, end): (cls, cons, num, cstart, cend, off)."""
    out = []
    while start < end:
        cls, cons, num, cs, ce = tlv(data, start)
        out.append((cls, cons, num, cs, ce, start))
        start = ce
    return out


UNIV, APP, CTX = 0x00, 0x40, 0x80

# ---------------------------------------------------------------------------------------------
# Value builders (asn1tools' plain values)
# ---------------------------------------------------------------------------------------------

T0 = b"240430174500Z"
T1 = b"240430174530+0200"
GT = b"20240430174500Z"


def gdi() -> dict[str, Any]:
    return {
        "country-name": ("iso-3166-alpha2-code", "GB"),
        "administration-domain-name": ("printable", "ADMD"),
        "private-domain-identifier": ("printable", "PRMD"),
    }


def mts_id(local: str) -> dict[str, Any]:
    return {"global-domain-identifier": gdi(), "local-identifier": local}


def orname(surname: str = "Kille", *, full: bool = True) -> dict[str, Any]:
    std: dict[str, Any] = {
        "country-name": ("iso-3166-alpha2-code", "GB"),
        "administration-domain-name": ("printable", " "),
        "private-domain-name": ("printable", "Isode"),
        "organization-name": "Isode Limited",
        "personal-name": {"surname": surname, "given-name": "Steve", "initials": "E",
                          "generation-qualifier": "3rd"},
        "organizational-unit-names": ["Dev", "Mail"],
    }
    if not full:
        return {"built-in-standard-attributes": std}
    std.update({"network-address": "1234567", "terminal-identifier": "T1",
                "numeric-user-identifier": "42"})
    return {
        "built-in-standard-attributes": std,
        "built-in-domain-defined-attributes": [{"type": "RFC-822", "value": "s.kille(a)isode.com"}],
        "extension-attributes": [
            {"extension-attribute-type": 1,
             "extension-attribute-value": asn1.encode("CommonName", "Steve Kille")},
            {"extension-attribute-type": 2,
             "extension-attribute-value": asn1.encode("TeletexCommonName", b"J\xc8urgen")},
        ],
        "directory-name": ("rdnSequence", [[{"type": "2.5.4.6", "value": b"\x13\x02GB"}],
                                           [{"type": "2.5.4.3", "value": b"\x13\x02SK"}]]),
    }


def eits() -> dict[str, Any]:
    return {
        "built-in-encoded-information-types": (b"\x20", 3),          # ia5-text
        "g3-facsimile": (b"\x00\xc0", 10),
        "teletex": {"graphic-character-sets": b"\x01\x02", "page-formats": b"\x00"},
        "extended-encoded-information-types": ["2.6.3.4.2", "1.3.6.1.7.1.3.5"],
    }


def trace() -> list[dict[str, Any]]:
    return [
        {"global-domain-identifier": gdi(),
         "domain-supplied-information": {"arrival-time": T0, "routing-action": "relayed"}},
        {"global-domain-identifier": gdi(),
         "domain-supplied-information": {
             "arrival-time": T1, "routing-action": "rerouted", "attempted-domain": gdi(),
             "deferred-time": T0, "converted-encoded-information-types": eits(),
             "other-actions": (b"\xc0", 2)}},
    ]


def internal_trace() -> list[dict[str, Any]]:
    return [
        {"global-domain-identifier": gdi(), "mta-name": "mta1.example",
         "mta-supplied-information": {"arrival-time": T0, "routing-action": "relayed",
                                      "attempted": ("mta", "mta2.example")}},
        {"global-domain-identifier": gdi(), "mta-name": "mta2.example",
         "mta-supplied-information": {"arrival-time": T0, "routing-action": "rerouted",
                                      "attempted": ("domain", gdi()),
                                      "other-actions": (b"\x80", 1)}},
    ]


def ext(number: int, type_name: str, value: Any, critical: bool = False) -> dict[str, Any]:
    field: dict[str, Any] = {"type": ("standard-extension", number),
                             "value": asn1.encode(type_name, value)}
    if critical:
        field["criticality"] = (b"\x20", 3)   # for-delivery
    return field


def bilateral() -> dict[str, Any]:
    return {"country-name": ("iso-3166-alpha2-code", "GB"),
            "domain": ("private-domain", {"administration-domain-name": ("printable", "A"),
                                          "private-domain-identifier": ("printable", "P")}),
            "bilateral-information": b"\x04\x03abc"}


def message_apdu(content: bytes = b"\x30\x00") -> tuple[str, dict[str, Any]]:
    """A message MTS-APDU with every X.411 §12.2.1.1 envelope field."""
    envelope = {
        "message-identifier": mts_id("msg-1"),
        "originator-name": orname(),
        "original-encoded-information-types": eits(),
        "content-type": ("built-in", 22),
        "content-identifier": "cid-1",
        "priority": "urgent",
        "per-message-indicators": (b"\xb0", 4),
        "deferred-delivery-time": T1,
        "per-domain-bilateral-information": [bilateral()],
        "trace-information": trace(),
        "extensions": [
            ext(1, "RecipientReassignmentProhibited", "recipient-reassignment-prohibited", True),
            ext(3, "DLExpansionProhibited", "dl-expansion-prohibited"),
            ext(4, "ConversionWithLossProhibited", "conversion-with-loss-prohibited"),
            ext(5, "LatestDeliveryTime", T0),
            ext(13, "OriginatorReturnAddress", {k: v for k, v in orname().items()
                                                if k != "directory-name"}),
            ext(23, "ContentCorrelator", ("ia5text", "correlator")),
            ext(26, "DLExpansionHistory", [{"dl": orname("List"), "dl-expansion-time": T0}]),
            ext(38, "InternalTraceInformation", internal_trace()),
            {"type": ("private-extension", "1.2.3.4"), "value": b"\x05\x00"},
        ],
        "per-recipient-fields": [
            {"recipient-name": orname("Rose"),
             "originally-specified-recipient-number": 1,
             "per-recipient-indicators": (b"\x98", 8),
             "explicit-conversion": 11,
             "extensions": [
                 ext(2, "MTAOriginatorRequestedAlternateRecipient", orname("Alt")),
                 ext(6, "RequestedDeliveryMethod", [1, 0]),
                 ext(25, "RedirectionHistory", [{
                     "intended-recipient-name": {"intended-recipient": orname("Old"),
                                                 "redirection-time": T0},
                     "redirection-reason": "alias"}]),
                 ext(41, "BlindCopyRecipientsField", [{"recipient": {"free-form-name": b"x"}}]),
             ]},
            {"recipient-name": orname("Other", full=False),
             "originally-specified-recipient-number": 2,
             "per-recipient-indicators": (b"\x10", 8)},
        ],
    }
    return ("message", {"envelope": envelope, "content": content})


def report_apdu() -> tuple[str, dict[str, Any]]:
    """A report MTS-APDU (X.411 §12.2.3) with a delivery and a non-delivery recipient."""
    envelope = {
        "report-identifier": mts_id("rep-1"),
        "report-destination-name": orname(),
        "trace-information": trace(),
        "extensions": [ext(39, "ReportingMTAName", {"domain": gdi(), "mta-name": "mta.example"}),
                       ext(38, "InternalTraceInformation", internal_trace())],
    }
    content = {
        "subject-identifier": mts_id("msg-1"),
        "subject-intermediate-trace-information": trace(),
        "original-encoded-information-types": eits(),
        "content-type": ("extended", "2.6.1.10.1"),
        "content-identifier": "cid-1",
        "returned-content": b"\xa0\x00",
        "additional-information": b"\x04\x01x",
        "extensions": [ext(23, "ContentCorrelator", ("octets", b"\x00\x01"))],
        "per-recipient-fields": [
            {"actual-recipient-name": orname("Rose"),
             "originally-specified-recipient-number": 1,
             "per-recipient-indicators": (b"\x98", 8),
             "last-trace-information": {
                 "arrival-time": T0, "converted-encoded-information-types": eits(),
                 "report-type": ("delivery", {"message-delivery-time": T1,
                                              "type-of-MTS-user": 1})},
             "originally-intended-recipient-name": orname("Intended"),
             "supplementary-information": "delivered by gateway",
             "extensions": [ext(27, "PhysicalForwardingAddress", orname("Fwd"))]},
            {"actual-recipient-name": orname("Gone", full=False),
             "originally-specified-recipient-number": 2,
             "per-recipient-indicators": (b"\x10", 8),
             "last-trace-information": {
                 "arrival-time": T0,
                 "report-type": ("non-delivery", {"non-delivery-reason-code": 1,
                                                  "non-delivery-diagnostic-code": 0})}},
        ],
    }
    return ("report", {"envelope": envelope, "content": content})


def probe_apdu() -> tuple[str, dict[str, Any]]:
    """A probe MTS-APDU (X.411 §12.2.2)."""
    return ("probe", {
        "probe-identifier": mts_id("probe-1"),
        "originator-name": orname(),
        "original-encoded-information-types": eits(),
        "content-type": ("built-in", 22),
        "content-identifier": "cid-2",
        "content-length": 9000,
        "per-message-indicators": (b"\x20", 3),
        "per-domain-bilateral-information": [bilateral()],
        "trace-information": trace(),
        "extensions": [ext(4, "ConversionWithLossProhibited", "conversion-with-loss-allowed")],
        "per-recipient-fields": [
            {"recipient-name": orname("Rose"), "originally-specified-recipient-number": 1,
             "per-recipient-indicators": (b"\x90", 8), "explicit-conversion": 0}],
    })


def ipm_id(local: str) -> dict[str, Any]:
    return {"user": orname(full=False), "user-relative-identifier": local}


def descriptor(name: str) -> dict[str, Any]:
    return {"formal-name": orname(name), "free-form-name": name.encode("latin-1"),
            "telephone-number": "+44 1"}


def recipient(name: str) -> dict[str, Any]:
    return {"recipient": descriptor(name), "notification-requests": (b"\xc0", 2),
            "reply-requested": True,
            "recipient-extensions": [{"type": "2.6.1.20.1",
                                      "value": asn1.encode("Precedence", 5)}]}


def hext(oid: str, type_name: str, value: Any) -> dict[str, Any]:
    return {"type": oid, "value": asn1.encode(type_name, value)}


# Decoding fills in DEFAULT values (X.420 §7.2: importance normal, auto-forwarded FALSE).
HEADING_DEFAULTS: dict[str, Any] = {"importance": "normal", "auto-forwarded": False}


def heading() -> dict[str, Any]:
    """Every X.420 §7.2 heading field."""
    return {
        "this-IPM": ipm_id("ipm-1"),
        "originator": descriptor("Kille"),
        "authorizing-users": [descriptor("Boss")],
        "primary-recipients": [recipient("Rose"), recipient("Alvestrand")],
        "copy-recipients": [recipient("Copy")],
        "blind-copy-recipients": [recipient("Blind")],
        "replied-to-IPM": ipm_id("ipm-0"),
        "obsoleted-IPMs": [ipm_id("old-1")],
        "related-IPMs": [ipm_id("rel-1"), ipm_id("rel-2")],
        "subject": b"Gr\xc8u\xdfe",
        "expiry-time": T0,
        "reply-time": T1,
        "reply-recipients": [descriptor("Reply")],
        "importance": "high",
        "sensitivity": "company-confidential",
        "auto-forwarded": True,
        "extensions": [
            hext("2.6.1.5.0", "IncompleteCopy", None),
            hext("2.6.1.5.1", "Languages", ["en", "fr"]),
            hext("2.6.1.5.2", "AutoSubmitted", "auto-generated"),
            hext("2.6.1.5.5", "AuthorizationTime", GT),
            hext("2.6.1.5.8", "ExtendedSubject",
                 {"character-encoding": ("two-octets", "Grüße".encode("utf-16-be")),
                  "iso-639-language-code": "de"}),
            hext("1.3.6.1.7.1.3.2", "RFC822FieldList", ["X-Fruit: Kiwi"]),
            hext("1.3.6.1.7.1.1.3", "MultipartType", {"subtype": "alternative",
                                                      "isAMessage": False}),
            {"type": "1.2.3.4.5"},                      # value absent = NULL
        ],
    }


def body_parts(text: str = "Hello, world\r\n") -> list[Any]:
    """Every basic body part of X.420 §7.4 (1992 text), plus extended ones."""
    inner_ipm = {"heading": {**HEADING_DEFAULTS, "this-IPM": ipm_id("fwd-1"), "subject": b"fwd"},
                 "body": [("basic", ("ia5-text", {"parameters": {"repertoire": "ia5"},
                                                  "data": "inner"}))]}
    delivery_envelope = {
        "content-type": ("built-in", 22), "originator-name": orname(),
        "this-recipient-name": orname("Rose"), "message-submission-time": T0,
        "priority": "non-urgent", "content-identifier": "c",
        "other-recipient-names": [orname("Other")], "delivery-flags": (b"\x40", 2),
        "extensions": [ext(5, "LatestDeliveryTime", T0)]}
    general_text = {"type-id": "2.6.1.4.11",
                    "value": asn1.encode("GeneralTextData", b"\x1b-A caf\xe9")}
    return [
        ("basic", ("ia5-text", {"parameters": {"repertoire": "ia5"}, "data": text})),
        ("basic", ("voice", {"parameters": {}, "data": (b"\x55", 8)})),
        ("basic", ("g3-facsimile", {"parameters": {"number-of-pages": 1,
                                                   "non-basic-parameters": (b"\x00\xc0", 10)},
                                    "data": [(b"\xff\x00", 16)]})),
        ("basic", ("g4-class1", [b"\x04\x01\x00"])),
        ("basic", ("teletex", {"parameters": {"number-of-pages": 2, "telex-compatible": True,
                                              "non-basic-parameters": {"page-formats": b"\x01"}},
                               "data": [b"page \xc8u", b"page 2"]})),
        ("basic", ("videotex", {"parameters": {"syntax": 1}, "data": b"\x1b\x00"})),
        ("basic", ("encrypted", {"parameters": {"algorithm-identifier": {
            "algorithm": "2.5.8.1.1", "parameters": b"\x05\x00"}},
            "data": (b"\x01\x02", 16)})),
        ("basic", ("message", {"parameters": {"delivery-time": T0,
                                              "delivery-envelope": delivery_envelope},
                               "data": inner_ipm})),
        ("basic", ("mixed-mode", [b"\x04\x01\x01", b"\x30\x00"])),
        ("basic", ("bilaterally-defined", b"\x00\x01\x02")),
        ("basic", ("nationally-defined", b"\x04\x02NL")),
        ("extended", {"parameters": {"type-id": "2.6.1.11.11",
                                     "value": asn1.encode("GeneralTextParameters", [1, 6, 100])},
                      "data": general_text}),
        ("extended", {"parameters": {"type-id": "2.6.1.11.12",
                                     "value": asn1.encode("FileTransferParameters", ftbp())},
                      "data": {"type-id": "2.6.1.4.12",
                               "value": asn1.encode("FileTransferData", [{
                                   "direct-reference": "1.0.8571.5.3",
                                   "encoding": ("octet-aligned", b"\x00binary\xff")}])}}),
    ]


def ftbp() -> dict[str, Any]:
    """FileTransferParameters with the FTAM attributes RFC 2157 §2.3 maps."""
    return {
        "related-stored-file": [{"file-identifier": ("cross-reference", {
            "application-cross-reference": b"",
            "message-reference": {"user-relative-identifier": "cid.example"}})}],
        "contents-type": ("document-type", {"document-type-name": "1.0.8571.5.3"}),
        "environment": {"application-reference": ("registered-identifier", "1.3.6.1.7.1.2.1.5"),
                        "user-visible-string": [b"A description"]},
        "file-attributes": {
            "pathname": ("incomplete-pathname", [b"report.pdf"]),
            "permitted-actions": (b"\x80", 1),
            "date-and-time-of-creation": ("actual-values", GT),
            "date-and-time-of-last-modification": ("actual-values", GT),
            "date-and-time-of-last-read-access": ("no-value-available", None),
            "identity-of-creator": ("actual-values", b"kille"),
            "object-size": ("actual-values", 12345),
            "legal-qualifications": ("actual-values", b"none"),
            "private-use": ("actual-values", {"direct-reference": "1.2.3",
                                              "encoding": ("single-ASN1-type", b"\x05\x00")}),
        },
        "extensions": [hext("1.3.6.1.7.1.3.2", "RFC822FieldList", ["Content-ID: <cid@example>"])],
    }


def ipm() -> tuple[str, dict[str, Any]]:
    return ("ipm", {"heading": heading(), "body": body_parts()})


def rn() -> tuple[str, dict[str, Any]]:
    return ("ipn", {
        "subject-ipm": ipm_id("ipm-1"),
        "ipn-originator": descriptor("Rose"),
        "ipm-intended-recipient": descriptor("Intended"),
        "conversion-eits": eits(),
        "notification-extensions": [{"type": "1.2.3", "value": b"\x05\x00"}],
        "choice": ("receipt-fields", {"receipt-time": T0, "acknowledgment-mode": "automatic",
                                      "suppl-receipt-info": "read",
                                      "rn-extensions": [{"type": "1.2.4"}]}),
    })


def nrn() -> tuple[str, dict[str, Any]]:
    return ("ipn", {
        "subject-ipm": ipm_id("ipm-1"),
        "ipn-originator": descriptor("Rose"),
        "choice": ("non-receipt-fields", {
            "non-receipt-reason": "ipm-discarded", "discard-reason": "ipm-expired",
            "auto-forward-comment": "gone fishing",
            "returned-ipm": {"heading": {**HEADING_DEFAULTS, "this-IPM": ipm_id("ipm-1")},
                             "body": [("basic", ("ia5-text", {"parameters": {"repertoire": "ia5"},
                                                              "data": "text"}))]},
            "nrn-extensions": [{"type": "1.2.5", "value": b"\x02\x01\x01"}]}),
    })


# ---------------------------------------------------------------------------------------------
# The specification
# ---------------------------------------------------------------------------------------------

CODEC_TYPES = [
    "MTS-APDU", "Message", "Report", "Probe", "MessageTransferEnvelope",
    "PerRecipientMessageTransferFields", "ProbeTransferEnvelope",
    "PerRecipientProbeTransferFields", "ReportTransferEnvelope", "ReportTransferContent",
    "PerRecipientReportTransferFields", "LastTraceInformation", "TraceInformation",
    "TraceInformationElement", "DomainSuppliedInformation", "InternalTraceInformation",
    "InternalTraceInformationElement", "MTASuppliedInformation", "MessageIdentifier",
    "ReportIdentifier", "ProbeIdentifier", "Content", "MTABindArgument", "MTABindResult",
    "MTABindError", "MTSIdentifier", "GlobalDomainIdentifier", "MTAName", "Priority",
    "PerMessageIndicators", "PerRecipientIndicators", "ContentType", "EncodedInformationTypes",
    "ExtensionField", "ExtensionType", "Criticality", "NonDeliveryReasonCode",
    "NonDeliveryDiagnosticCode", "SupplementaryInformation", "DLExpansionHistory",
    "RedirectionHistory", "OriginatorReturnAddress", "ContentCorrelator", "ReportType",
    "OtherMessageDeliveryFields", "ORName", "ORAddress", "BuiltInStandardAttributes",
    "BuiltInDomainDefinedAttributes", "ExtensionAttributes", "ExtensionAttribute", "Name",
    "PresentationAddress", "External",
    "InformationObject", "IPM", "IPN", "Heading", "Body", "BodyPart", "ExtendedBodyPart",
    "InstanceOf", "IPMIdentifier", "ORDescriptor", "RecipientSpecifier", "NotificationRequests",
    "IPMSExtension", "MessageParameters", "MessageBodyPart", "IncompleteCopy", "Languages",
    "AutoSubmitted", "GeneralTextParameters", "GeneralTextData", "FileTransferParameters",
    "FileTransferData", "ForwardedContentParameters", "VoiceParameters", "VoiceData",
    "RFC822FieldList", "MimeParameters", "WantedMIMEConversions", "MultipartType",
]

# X.411 §9.1 extension attribute types 1..40 and the type of each value.
EXTENSION_ATTRIBUTE_VALUE_TYPES = [
    "CommonName", "TeletexCommonName", "TeletexOrganizationName", "TeletexPersonalName",
    "TeletexOrganizationalUnitNames", "TeletexDomainDefinedAttributes", "PDSName",
    "PhysicalDeliveryCountryName", "PostalCode", "PhysicalDeliveryOfficeName",
    "PhysicalDeliveryOfficeNumber", "ExtensionORAddressComponents",
    "PhysicalDeliveryPersonalName", "PhysicalDeliveryOrganizationName",
    "ExtensionPhysicalDeliveryAddressComponents", "UnformattedPostalAddress", "StreetAddress",
    "PostOfficeBoxAddress", "PosteRestanteAddress", "UniquePostalName", "LocalPostalAttributes",
    "ExtendedNetworkAddress", "TerminalType", "UniversalCommonName", "UniversalOrganizationName",
    "UniversalPersonalName", "UniversalOrganizationalUnitNames",
    "UniversalDomainDefinedAttributes", "UniversalPhysicalDeliveryOfficeName",
    "UniversalPhysicalDeliveryOfficeNumber", "UniversalExtensionORAddressComponents",
    "UniversalPhysicalDeliveryPersonalName", "UniversalPhysicalDeliveryOrganizationName",
    "UniversalExtensionPhysicalDeliveryAddressComponents", "UniversalUnformattedPostalAddress",
    "UniversalStreetAddress", "UniversalPostOfficeBoxAddress", "UniversalPosteRestanteAddress",
    "UniversalUniquePostalName", "UniversalLocalPostalAttributes",
]

# X.411 §9.2 standard extensions 1..42 declared with a value type (36 is X.413, 37/38 trace).
STANDARD_EXTENSION_VALUE_TYPES = [
    "RecipientReassignmentProhibited", "OriginatorRequestedAlternateRecipient",
    "MTAOriginatorRequestedAlternateRecipient", "DLExpansionProhibited",
    "ConversionWithLossProhibited", "LatestDeliveryTime", "RequestedDeliveryMethod",
    "PhysicalForwardingProhibited", "PhysicalForwardingAddressRequest", "PhysicalDeliveryModes",
    "RegisteredMailType", "RecipientNumberForAdvice", "PhysicalRenditionAttributes",
    "OriginatorReturnAddress", "PhysicalDeliveryReportRequest", "OriginatorCertificate",
    "MessageToken", "ContentConfidentialityAlgorithmIdentifier", "ContentIntegrityCheck",
    "MessageOriginAuthenticationCheck", "MessageSecurityLabel", "ProofOfSubmissionRequest",
    "ProofOfDeliveryRequest", "ContentCorrelator", "ProbeOriginAuthenticationCheck",
    "RedirectionHistory", "DLExpansionHistory", "PhysicalForwardingAddress",
    "RecipientCertificate", "ProofOfDelivery", "OriginatorAndDLExpansionHistory",
    "ReportingDLName", "ReportingMTACertificate", "ReportOriginAuthenticationCheck",
    "OriginatingMTACertificate", "ProofOfSubmission", "TraceInformation",
    "InternalTraceInformation", "ReportingMTAName", "ExtendedCertificates",
    "BlindCopyRecipientsField", "DLExemptedRecipients", "CertificateSelectors",
]


@pytest.mark.parametrize(
    "name", CODEC_TYPES + EXTENSION_ATTRIBUTE_VALUE_TYPES + STANDARD_EXTENSION_VALUE_TYPES)
def test_type_exists(name: str) -> None:
    assert name in asn1._spec().types


def test_type_names_are_unique_across_modules() -> None:
    """asn1tools drops a name defined in two modules from ``types``: none may be dropped."""
    spec = asn1._spec()
    for module, types in spec.modules.items():
        for name in types:
            assert spec.types.get(name) is types[name], f"{module}.{name} clashes"


def test_unknown_type_name() -> None:
    with pytest.raises(ValueError, match="NoSuchType"):
        asn1.encode("NoSuchType", None)
    with pytest.raises(ValueError, match="NoSuchType"):
        asn1.decode("NoSuchType", b"\x05\x00")


# ---------------------------------------------------------------------------------------------
# Round trips (strict decoding checks the constraints too)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [message_apdu(), report_apdu(), probe_apdu()],
                         ids=["message", "report", "probe"])
def test_mts_apdu_round_trip(value: Any) -> None:
    data = asn1.encode("MTS-APDU", value)
    assert asn1.decode("MTS-APDU", data, strict=True) == value
    assert asn1.decode("MTS-APDU", data) == value


@pytest.mark.parametrize("value", [ipm(), rn(), nrn()], ids=["ipm", "rn", "nrn"])
def test_information_object_round_trip(value: Any) -> None:
    data = asn1.encode("InformationObject", value)
    assert asn1.decode("InformationObject", data, strict=True) == value


def test_ipm_as_message_content() -> None:
    content = asn1.encode("InformationObject", ipm())
    apdu = message_apdu(content)
    decoded = asn1.decode("MTS-APDU", asn1.encode("MTS-APDU", apdu))
    assert asn1.decode("InformationObject", decoded[1]["content"]) == ipm()


def test_extension_values_decode_from_their_fields() -> None:
    envelope = asn1.decode("MTS-APDU", asn1.encode("MTS-APDU", message_apdu()))[1]["envelope"]
    fields = {f["type"][1]: f for f in envelope["extensions"]}
    assert asn1.decode("InternalTraceInformation", fields[38]["value"]) == internal_trace()
    assert asn1.decode("RecipientReassignmentProhibited", fields[1]["value"]) == \
        "recipient-reassignment-prohibited"
    assert fields[1]["criticality"] == (b"\x20", 3)
    assert "criticality" not in fields[3]
    assert fields["1.2.3.4"]["value"] == b"\x05\x00"


def test_ftbp_and_extended_body_parts_round_trip() -> None:
    params = asn1.encode("FileTransferParameters", ftbp())
    assert asn1.decode("FileTransferParameters", params, strict=True) == ftbp()
    bp = body_parts()[-1]
    assert asn1.decode("BodyPart", asn1.encode("BodyPart", bp)) == bp


@pytest.mark.parametrize("type_name, value", [
    ("MTABindArgument", ("authenticated", {
        "initiator-name": "percival.smhs.co.uk",
        "initiator-credentials": ("simple", ("ia5-string", "excalibur"))})),
    ("MTABindResult", ("authenticated", {
        "responder-name": "guinevere.smhs.co.uk",
        "responder-credentials": ("simple", ("octet-string", b"merlin"))})),
    ("MTABindArgument", ("unauthenticated", None)),
    ("MTABindError", 2),
    ("MimeParameters", {"content-type": "image/png",
                        "content-parameters": [{"parameter": "name", "parameter-value": "a.png"}],
                        "other-header-fields": ["Content-ID: <x@y>"]}),
    ("WantedMIMEConversions", [{"x400-type": ("standard", 0),
                                "mime-type": {"type": "text/plain", "encoding": "base64"}}]),
    ("UniversalPersonalName", {"surname": {"character-encoding": ("four-octets",
                                                                  "Ж".encode("utf-32-be"))}}),
    ("ExtendedNetworkAddress", ("e163-4-address", {"number": "441234", "sub-address": "5"})),
    ("ExtendedNetworkAddress", ("psap-address", {"tSelector": b"\x00\x01",
                                                 "nAddresses": [b"\x54\x00"]})),
    ("UnformattedPostalAddress", {"printable-address": ["The Dome", "Richmond"],
                                  "teletex-string": b"The Dome\nRichmond"}),
    ("PDSParameter", {"printable-string": "Box 1", "teletex-string": b"Box \xc8u"}),
    ("IPMSecurityLabel", {"content-security-label": {
        "security-policy-identifier": "1.2.3", "security-classification": 3,
        "privacy-mark": "IN CONFIDENCE",
        "security-categories": [{"type": "1.2.4", "value": b"\x02\x01\x01"}]}}),
    ("CirculationList", [{"circulation-recipient": recipient("A"),
                          "checked": ("timestamped", GT)},
                         {"circulation-recipient": recipient("B"),
                          "checked": ("simple", None)}]),
    ("AbsenceAdvice", {"advice": body_parts()[0], "next-available": T0}),
    ("ForwardedContentParameters", {"delivery-time": T0, "mts-identifier": mts_id("m")}),
])
def test_other_types_round_trip(type_name: str, value: Any) -> None:
    data = asn1.encode(type_name, value)
    assert asn1.decode(type_name, data, strict=True) == value


# The P1 bind of two Isode M-Switch MTAs (Wireshark's x400-ping-success.pcap, 2005; see
# /work/shared/x400-samples/README.md): third-party bytes, decoded and re-encoded identically.
ISODE_BIND_ARGUMENT = bytes.fromhex(
    "a1228013706572636976616c2e736d68732e636f2e756ba10b1609657863616c69627572")
ISODE_BIND_RESULT = bytes.fromhex(
    "a12080146775696e65766572652e736d68732e636f2e756ba10816066d65726c696e")


@pytest.mark.parametrize("type_name, data, value", [
    ("MTABindArgument", ISODE_BIND_ARGUMENT, ("authenticated", {
        "initiator-name": "percival.smhs.co.uk",
        "initiator-credentials": ("simple", ("ia5-string", "excalibur"))})),
    ("MTABindResult", ISODE_BIND_RESULT, ("authenticated", {
        "responder-name": "guinevere.smhs.co.uk",
        "responder-credentials": ("simple", ("ia5-string", "merlin"))})),
])
def test_real_mta_bind(type_name: str, data: bytes, value: Any) -> None:
    assert asn1.decode(type_name, data, strict=True) == value
    assert asn1.encode(type_name, value) == data


# ---------------------------------------------------------------------------------------------
# Value representation
# ---------------------------------------------------------------------------------------------


def test_string_and_time_types_are_octets() -> None:
    h = asn1.decode("Heading", asn1.encode("Heading", heading()))
    assert h["subject"] == b"Gr\xc8u\xdfe"          # T.61 octets, not Latin-1 text
    assert h["expiry-time"] == T0 and h["reply-time"] == T1
    assert isinstance(h["extensions"][0]["value"], bytes)   # ANY -> bytes, not bytearray
    assert asn1.encode("UTCTimeOctets", b"2404301745Z") == b"\x17\x0b2404301745Z"


def test_defaults_decode_to_their_values() -> None:
    """ASN1-NOTES bug 4: auto-forwarded is a real BOOLEAN default, not the string 'FALSE'."""
    h = asn1.decode("Heading", asn1.encode("Heading", {"this-IPM": ipm_id("x")}))
    assert h["auto-forwarded"] is False
    assert h["importance"] == "normal"
    assert "primary-recipients" not in h            # DEFAULT {} rewritten as OPTIONAL
    env = asn1.decode("MTS-APDU", asn1.encode("MTS-APDU", probe_apdu()))[1]
    assert "priority" not in env                    # probes have no priority


def test_priority_default_is_not_encoded() -> None:
    apdu = message_apdu()
    apdu[1]["envelope"]["priority"] = "normal"
    data = asn1.encode("MTS-APDU", apdu)
    assert b"\x47\x01" not in data                  # [APPLICATION 7] omitted (DEFAULT normal)
    assert asn1.decode("MTS-APDU", data)[1]["envelope"]["priority"] == "normal"


# ---------------------------------------------------------------------------------------------
# Tags on the wire (X.411 / X.419 / X.420), checked independently of asn1tools
# ---------------------------------------------------------------------------------------------


def test_mts_apdu_tags() -> None:
    data = asn1.encode("MTS-APDU", message_apdu())
    cls, cons, num, cs, ce = tlv(data)
    assert (cls, cons, num) == (CTX, True, 0)       # message [0], implicit on Message
    assert ce == len(data)
    envelope, content = children(data, cs, ce)
    assert envelope[:3] == (UNIV, True, 17)         # MessageTransferEnvelope SET
    assert content[:3] == (UNIV, False, 4)          # Content OCTET STRING
    tags = [c[:3] for c in children(data, envelope[3], envelope[4])]
    assert (APP, True, 4) in tags                   # MessageIdentifier MTSIdentifier
    assert (APP, True, 0) in tags                   # originator-name ORName
    assert (APP, False, 6) in tags                  # content-type built-in
    assert (APP, False, 7) in tags                  # priority
    assert (APP, False, 8) in tags                  # per-message-indicators
    assert (APP, True, 9) in tags                   # trace-information
    assert (CTX, True, 2) in tags                   # per-recipient-fields
    assert (CTX, True, 3) in tags                   # extensions
    assert tlv(asn1.encode("MTS-APDU", report_apdu()))[:3] == (CTX, True, 1)
    assert tlv(asn1.encode("MTS-APDU", probe_apdu()))[:3] == (CTX, True, 2)


def test_extension_attribute_value_is_explicit() -> None:
    data = asn1.encode("ExtensionAttribute", {
        "extension-attribute-type": 1,
        "extension-attribute-value": asn1.encode("CommonName", "Steve Kille")})
    kind, value = children(data, *tlv(data)[3:5])
    assert kind[:3] == (CTX, False, 0)              # [0] IMPLICIT INTEGER
    assert value[:3] == (CTX, True, 1)              # [1] constructed: EXPLICIT
    decoded, rest = pyasn1_decoder.decode(data[value[5]:value[4]])
    assert rest == b""
    assert str(decoded) == "Steve Kille"
    assert decoded.tagSet[0] == pyasn1_tag.Tag(pyasn1_tag.tagClassUniversal,
                                               pyasn1_tag.tagFormatSimple, 19)
    assert decoded.tagSet[-1] == pyasn1_tag.Tag(pyasn1_tag.tagClassContext,
                                                pyasn1_tag.tagFormatConstructed, 1)


def test_extension_field_value_is_explicit() -> None:
    data = asn1.encode("ExtensionField", ext(5, "LatestDeliveryTime", T0, critical=True))
    kind, crit, value = children(data, *tlv(data)[3:5])
    assert kind[:3] == (CTX, False, 0) and crit[:3] == (CTX, False, 1)
    decoded, _ = pyasn1_decoder.decode(data[value[5]:value[4]])
    assert decoded.tagSet[0].tagId == 23 and decoded.tagSet[-1].tagId == 2   # [2] { UTCTime }
    assert str(decoded) == T0.decode()


def test_heading_tags() -> None:
    data = asn1.encode("Heading", heading())
    tags = {c[2]: c for c in children(data, *tlv(data)[3:5]) if c[0] == CTX}
    assert sorted(tags) == list(range(16))
    subject = tags[8]
    assert subject[1] is True                       # subject [8] EXPLICIT
    decoded, _ = pyasn1_decoder.decode(data[subject[5]:subject[4]])
    assert decoded.tagSet[0].tagId == 20 and bytes(decoded) == b"Gr\xc8u\xdfe"   # T61String
    assert data[tags[14][3]:tags[14][4]] == b"\xff"  # auto-forwarded [14] BOOLEAN TRUE
    assert tags[9][1] is False                      # expiry-time [9] IMPLICIT UTCTime
    assert data[tags[9][3]:tags[9][4]] == T0


def test_orname_and_directory_name_tags() -> None:
    data = asn1.encode("ORName", orname())
    assert tlv(data)[:3] == (APP, True, 0)
    parts = children(data, *tlv(data)[3:5])
    assert [p[:3] for p in parts] == [(UNIV, True, 16), (UNIV, True, 16), (UNIV, True, 17),
                                      (CTX, True, 0)]
    dn = parts[3]                                   # [0] Name: a CHOICE, so explicit
    assert tlv(data, dn[3])[:3] == (UNIV, True, 16)
    std = children(data, parts[0][3], parts[0][4])
    assert std[0][:3] == (APP, True, 1)             # CountryName [APPLICATION 1] CHOICE
    assert tlv(data, std[0][3])[:3] == (UNIV, False, 19)


def test_body_part_tags() -> None:
    expected = [0, 2, 3, 4, 5, 6, 8, 9, 11, 14, 7, 15, 15]
    for bp, number in zip(body_parts(), expected, strict=True):
        data = asn1.encode("BodyPart", bp)
        constructed = number != 14                  # bilaterally-defined: OCTET STRING
        assert tlv(data)[:3] == (CTX, constructed, number), bp
    national = asn1.encode("BodyPart", body_parts()[10])
    assert tlv(national, tlv(national)[3])[:3] == (UNIV, False, 4)   # [7] EXPLICIT
    extended = asn1.encode("BodyPart", body_parts()[11])
    params, data_ = children(extended, *tlv(extended)[3:5])
    assert params[:3] == (CTX, True, 0)             # parameters [0] IMPLICIT INSTANCE OF
    assert data_[:3] == (UNIV, True, 8)             # data INSTANCE OF = [UNIVERSAL 8]
    type_id, value = children(extended, data_[3], data_[4])
    assert type_id[:3] == (UNIV, False, 6) and value[:3] == (CTX, True, 0)
    assert tlv(extended, value[3])[:3] == (UNIV, False, 27)   # GeneralString


def test_ipn_choice_is_explicit() -> None:
    data = asn1.encode("InformationObject", rn())
    assert tlv(data)[:3] == (CTX, True, 1)
    choice = [c for c in children(data, *tlv(data)[3:5]) if c[:3] == (CTX, True, 0)]
    assert len(choice) == 1
    assert tlv(data, choice[0][3])[:3] == (CTX, True, 1)      # [0] { [1] ReceiptFields }


# ---------------------------------------------------------------------------------------------
# Errors: trailing bytes, truncation, located errors, strictness
# ---------------------------------------------------------------------------------------------


def test_trailing_bytes_rejected_with_offset() -> None:
    data = asn1.encode("MTS-APDU", probe_apdu())
    with pytest.raises(DecodeError) as info:
        asn1.decode("MTS-APDU", data + b"\x00\x00")
    assert info.value.offset == len(data)


@pytest.mark.parametrize("cut", [1, 2, 10, 100, -1])
def test_truncated_input_rejected(cut: int) -> None:
    data = asn1.encode("MTS-APDU", probe_apdu())
    with pytest.raises(DecodeError):
        asn1.decode("MTS-APDU", data[:cut])


def test_empty_input_rejected() -> None:
    with pytest.raises(DecodeError):
        asn1.decode("MTS-APDU", b"")


def test_located_decode_error_has_path_and_offset() -> None:
    data = bytearray(asn1.encode("MTS-APDU", message_apdu()))
    at = data.index(b"\x61\x04\x13\x02GB")          # first CountryName
    data[at + 2] = 0x02                             # PrintableString -> INTEGER
    with pytest.raises(DecodeError) as info:
        asn1.decode("MTS-APDU", bytes(data))
    err = info.value
    assert err.path.startswith("MTS-APDU.message.envelope.")
    assert err.path.endswith("country-name")
    assert err.offset == at + 2
    assert err.path in str(err)


def test_wrong_tag_at_top_level() -> None:
    with pytest.raises(DecodeError) as info:
        asn1.decode("MTS-APDU", b"\x30\x00")
    assert info.value.path.startswith("MTS-APDU")
    assert info.value.offset == 0


def test_indefinite_lengths_are_accepted() -> None:
    """Legacy MTAs send indefinite lengths, also inside ANY (ASN1-NOTES bug 6)."""
    definite = asn1.encode("ExtensionAttribute", {
        "extension-attribute-type": 4,
        "extension-attribute-value": asn1.encode("TeletexPersonalName", {"surname": b"K"})})
    indefinite = bytes.fromhex("3080 800104 a180 3180 8001 4b 0000 0000 0000")
    assert asn1.decode("ExtensionAttribute", indefinite) == \
        asn1.decode("ExtensionAttribute", definite)


def test_strict_checks_constraints() -> None:
    value = {"built-in-standard-attributes": {"organization-name": "a@b"}}
    data = asn1.encode("ORName", value)             # encode does not check constraints
    assert asn1.decode("ORName", data) == value
    with pytest.raises(DecodeError) as info:
        asn1.decode("ORName", data, strict=True)
    assert "organization-name" in info.value.path
    short = asn1.encode("PerRecipientIndicators", (b"\x80", 5))
    assert asn1.decode("PerRecipientIndicators", short) == (b"\x80", 5)
    with pytest.raises(DecodeError):
        asn1.decode("PerRecipientIndicators", short, strict=True)


def test_encode_error_names_type_and_path() -> None:
    bad = message_apdu()
    bad[1]["envelope"]["originator-name"] = {"built-in-standard-attributes":
                                             {"organization-name": 5}}
    with pytest.raises(EncodeError, match=r"MTS-APDU\.message\.envelope\.originator-name\."
                                          r"built-in-standard-attributes\.organization-name"):
        asn1.encode("MTS-APDU", bad)
    with pytest.raises(EncodeError, match="per-recipient-fields"):
        asn1.encode("MTS-APDU", ("message", {"envelope": {
            k: v for k, v in message_apdu()[1]["envelope"].items()
            if k != "per-recipient-fields"}, "content": b""}))
    with pytest.raises(EncodeError, match="MTS-APDU"):
        asn1.encode("MTS-APDU", ("no-such-alternative", {}))


def test_parse_tree_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The JSON cache of the parse tree gives the same tree; a damaged cache is ignored."""
    import asn1tools

    from bridge.codec import asn1 as codec_asn1
    from bridge.resources import data_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    files = sorted(data_dir("asn1").glob("*.asn"))
    fresh = codec_asn1._parsed(files)
    (cached,) = (tmp_path / "x400bridge").glob("asn1-*.json")
    assert codec_asn1._parsed(files) == fresh  # from the cache: the same tree, tuples and all
    cached.write_text("{not json", encoding="utf-8")
    assert codec_asn1._parsed(files) == fresh
    spec = asn1tools.compiler.compile_dict(fresh, "ber")
    assert "MTS-APDU" in spec.types
