"""Building blocks shared by the envelope, report and IPM models.

X.411 (1988/1992) §12 defines the MTS types these mirror; nothing here knows about BER or the
ASN.1 library (see ``bridge/codec`` for that).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, IntFlag


def utc(dt: datetime) -> datetime:
    """Return ``dt`` as an aware UTC datetime (naive input is taken to be UTC)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class GlobalDomainIdentifier:
    """X.411 §18.3.1 GlobalDomainIdentifier: country, ADMD and optional PRMD.

    Names that were NumericString on the wire are kept as digit strings; the codec chooses
    NumericString iff a value is all digits (RFC 2156 §4.1.1).
    """

    country: str
    admd: str
    prmd: str | None = None

    def __str__(self) -> str:
        # RFC 2156 §5.3.3 global-id = std-or-address over the GDI attributes
        parts = []
        if self.prmd is not None:
            parts.append(f"PRMD={self.prmd}")
        parts.append(f"ADMD={self.admd}")
        parts.append(f"C={self.country}")
        return "/" + "/".join(parts) + "/"


@dataclass(frozen=True, slots=True, kw_only=True)
class MTSIdentifier:
    """X.411 §12.2.1.1.1.1 MTSIdentifier (message, probe, report or subject identifier)."""

    domain: GlobalDomainIdentifier
    local: str

    def __str__(self) -> str:
        # RFC 2156 §5.3.6 mts-msg-id = "[" global-id ";" *text "]"
        return f"[{self.domain};{self.local}]"


class Criticality(IntFlag):
    """X.411 §12.2.1.1.1.11 Criticality ::= BIT STRING {for-submission(0), for-transfer(1),
    for-delivery(2)}; bit n of the BIT STRING is flag value ``1 << n``."""

    NONE = 0
    FOR_SUBMISSION = 1
    FOR_TRANSFER = 2
    FOR_DELIVERY = 4


class StandardExtension(IntEnum):
    """X.411 standard-extension integer identifiers (the EXTENSION objects of §9–§12)."""

    RECIPIENT_REASSIGNMENT_PROHIBITED = 1
    ORIGINATOR_REQUESTED_ALTERNATE_RECIPIENT = 2
    DL_EXPANSION_PROHIBITED = 3
    CONVERSION_WITH_LOSS_PROHIBITED = 4
    LATEST_DELIVERY_TIME = 5
    REQUESTED_DELIVERY_METHOD = 6
    PHYSICAL_FORWARDING_PROHIBITED = 7
    PHYSICAL_FORWARDING_ADDRESS_REQUEST = 8
    PHYSICAL_DELIVERY_MODES = 9
    REGISTERED_MAIL_TYPE = 10
    RECIPIENT_NUMBER_FOR_ADVICE = 11
    PHYSICAL_RENDITION_ATTRIBUTES = 12
    ORIGINATOR_RETURN_ADDRESS = 13
    PHYSICAL_DELIVERY_REPORT_REQUEST = 14
    ORIGINATOR_CERTIFICATE = 15
    MESSAGE_TOKEN = 16
    CONTENT_CONFIDENTIALITY_ALGORITHM_IDENTIFIER = 17
    CONTENT_INTEGRITY_CHECK = 18
    MESSAGE_ORIGIN_AUTHENTICATION_CHECK = 19
    MESSAGE_SECURITY_LABEL = 20
    PROOF_OF_SUBMISSION_REQUEST = 21
    PROOF_OF_DELIVERY_REQUEST = 22
    CONTENT_CORRELATOR = 23
    PROBE_ORIGIN_AUTHENTICATION_CHECK = 24
    REDIRECTION_HISTORY = 25
    DL_EXPANSION_HISTORY = 26
    PHYSICAL_FORWARDING_ADDRESS = 27
    RECIPIENT_CERTIFICATE = 28
    PROOF_OF_DELIVERY = 29
    ORIGINATOR_AND_DL_EXPANSION_HISTORY = 30
    REPORTING_DL_NAME = 31
    REPORTING_MTA_CERTIFICATE = 32
    REPORT_ORIGIN_AUTHENTICATION_CHECK = 33
    ORIGINATING_MTA_CERTIFICATE = 34
    PROOF_OF_SUBMISSION = 35
    FORWARDING_REQUEST = 36
    TRACE_INFORMATION = 37
    INTERNAL_TRACE_INFORMATION = 38
    REPORTING_MTA_NAME = 39
    MULTIPLE_ORIGINATOR_CERTIFICATES = 40
    BLIND_COPY_RECIPIENTS = 41
    DL_EXEMPTED_RECIPIENTS = 42
    BODY_PART_ENCRYPTION_TOKEN = 43
    FORWARDED_CONTENT_TOKEN = 44
    CERTIFICATE_SELECTORS = 45


@dataclass(frozen=True, slots=True, kw_only=True)
class Opaque:
    """A value the model does not interpret, kept as its complete BER encoding (one TLV).

    Used for unknown extensions, private extensions, security tokens and other values that must
    survive a round trip untouched (X.411 §12.2.1.1.1.11: unknown non-critical extensions are
    passed on).
    """

    ber: bytes

    def __repr__(self) -> str:
        return f"Opaque({len(self.ber)} bytes)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Extension:
    """X.411 ExtensionField: a standard (integer) or private (OID string) extension.

    ``value`` is a model value for extensions the codec knows (see ``bridge.codec.extensions``),
    :class:`Opaque` for the others, or ``None`` when the field carried no value.
    """

    type: int | str
    value: object = None
    criticality: Criticality = Criticality.NONE

    @property
    def standard(self) -> StandardExtension | None:
        if isinstance(self.type, int):
            try:
                return StandardExtension(self.type)
            except ValueError:
                return None
        return None


def find_extension(extensions: tuple[Extension, ...], kind: int | str) -> Extension | None:
    """Return the first extension of ``kind`` in ``extensions``, or None."""
    for ext in extensions:
        if ext.type == kind:
            return ext
    return None


class BuiltInEIT(IntEnum):
    """X.411 §18.3.2 BuiltInEncodedInformationTypes bit numbers."""

    UNDEFINED = 0
    TELEX = 1
    IA5_TEXT = 2
    G3_FACSIMILE = 3
    G4_CLASS_1 = 4
    TELETEX = 5
    VIDEOTEX = 6
    VOICE = 7
    SFD = 8
    MIXED_MODE = 9


@dataclass(frozen=True, slots=True, kw_only=True)
class EncodedInformationTypes:
    """X.411 §18.3.2 EncodedInformationTypes.

    ``builtin`` holds the set bit numbers (:class:`BuiltInEIT`); ``extended`` the OIDs of
    extended EITs (e.g. RFC 2156 App D eit-mixer 1.3.6.1.7.1.3.5); the non-basic parameters are
    kept as the set bit numbers of their BIT STRINGs.
    """

    builtin: frozenset[int] = frozenset()
    extended: tuple[str, ...] = ()
    g3_facsimile: frozenset[int] | None = None
    teletex: Opaque | None = None


class Priority(IntEnum):
    """X.411 §12.2.1.1.1.6 Priority ::= [APPLICATION 7] ENUMERATED."""

    NORMAL = 0
    NON_URGENT = 1
    URGENT = 2


class RoutingAction(IntEnum):
    """X.411 §12.3.1.1.1.8 RoutingAction."""

    RELAYED = 0
    REROUTED = 1


class OtherActions(IntFlag):
    """X.411 OtherActions ::= BIT STRING {redirected(0), dl-operation(1)}."""

    NONE = 0
    REDIRECTED = 1
    DL_OPERATION = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceElement:
    """One trace element: X.411 §12.2.1.1.1.12 TraceInformationElement or, when ``mta_name``
    is set, an InternalTraceInformationElement (§12.2.1.1.1.13).

    For internal trace the attempted hop is either ``attempted_mta`` or ``attempted_domain``.
    """

    domain: GlobalDomainIdentifier
    arrival_time: datetime
    routing_action: RoutingAction = RoutingAction.RELAYED
    mta_name: str | None = None
    attempted_domain: GlobalDomainIdentifier | None = None
    attempted_mta: str | None = None
    deferred_time: datetime | None = None
    converted_eits: EncodedInformationTypes | None = None
    other_actions: OtherActions = OtherActions.NONE

    @property
    def internal(self) -> bool:
        return self.mta_name is not None


ContentType = int | str
"""X.411 ContentType: built-in integer (2 = P2 1984, 22 = P22 1988, ...) or extended OID."""

