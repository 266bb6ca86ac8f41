"""P1 envelopes: X.411 §12 MessageTransferEnvelope and ProbeTransferEnvelope, plus the
delivery envelope carried inside a forwarded message (X.420 MessageParameters).

"Both styles of addresses are kept" (PP): a :class:`Recipient` has its O/R name and, once the
mapping layer has computed it, its RFC 822 form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, IntFlag

from bridge.model.common import (
    ContentType,
    Criticality,
    EncodedInformationTypes,
    Extension,
    GlobalDomainIdentifier,
    MTSIdentifier,
    Opaque,
    Priority,
    StandardExtension,
    TraceElement,
    find_extension,
)
from bridge.model.oraddress import ORName


class PerMessageIndicators(IntFlag):
    """X.411 §12.2.1.1.1.7 PerMessageIndicators BIT STRING (bit n = ``1 << n``)."""

    NONE = 0
    DISCLOSURE_OF_OTHER_RECIPIENTS = 1 << 0
    IMPLICIT_CONVERSION_PROHIBITED = 1 << 1
    ALTERNATE_RECIPIENT_ALLOWED = 1 << 2
    CONTENT_RETURN_REQUEST = 1 << 3
    RESERVED = 1 << 4
    BIT_5 = 1 << 5
    BIT_6 = 1 << 6
    SERVICE_MESSAGE = 1 << 7


class PerRecipientIndicators(IntFlag):
    """X.411 §12.2.1.1.1.16 PerRecipientIndicators BIT STRING (at least 8 bits on the wire).

    ``responsibility`` is the bit RFC 2156 §4.6.2.1 uses to build the SMTP RCPT list;
    the originating-MTA and originator report requests are two bits each.
    """

    NONE = 0
    RESPONSIBILITY = 1 << 0
    ORIGINATING_MTA_REPORT = 1 << 1
    ORIGINATING_MTA_NON_DELIVERY_REPORT = 1 << 2
    ORIGINATOR_REPORT = 1 << 3
    ORIGINATOR_NON_DELIVERY_REPORT = 1 << 4
    RESERVED_5 = 1 << 5
    RESERVED_6 = 1 << 6
    RESERVED_7 = 1 << 7


@dataclass(frozen=True, slots=True, kw_only=True)
class BilateralInformation:
    """X.411 PerDomainBilateralInformation: the domain it is for and opaque information."""

    country: str | None
    admd: str | None
    prmd: str | None
    information: Opaque


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    """X.411 PerRecipientMessageTransferFields / PerRecipientProbeTransferFields."""

    name: ORName
    number: int
    indicators: PerRecipientIndicators = PerRecipientIndicators.NONE
    explicit_conversion: int | None = None
    extensions: tuple[Extension, ...] = ()
    rfc822: str | None = None  # set by the mapping layer, never by the codec

    @property
    def responsible(self) -> bool:
        return bool(self.indicators & PerRecipientIndicators.RESPONSIBILITY)


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """X.411 §12.2.1.1 MessageTransferEnvelope (``content_length`` is None) or §12.2.1.3
    ProbeTransferEnvelope (``content_length`` may be set).

    ``extensions`` keeps every per-message ExtensionField in order, with its criticality;
    internal trace (standard extension 38) is one of them — see :attr:`internal_trace`.
    """

    identifier: MTSIdentifier
    originator: ORName
    content_type: ContentType
    recipients: tuple[Recipient, ...]
    trace: tuple[TraceElement, ...]
    original_eits: EncodedInformationTypes | None = None
    content_identifier: str | None = None
    priority: Priority = Priority.NORMAL
    indicators: PerMessageIndicators = PerMessageIndicators.NONE
    deferred_delivery_time: datetime | None = None
    bilateral: tuple[BilateralInformation, ...] = ()
    extensions: tuple[Extension, ...] = ()
    content_length: int | None = None

    @property
    def internal_trace(self) -> tuple[TraceElement, ...]:
        ext = find_extension(self.extensions, StandardExtension.INTERNAL_TRACE_INFORMATION)
        if ext is None or not isinstance(ext.value, tuple):
            return ()
        return ext.value

    def extension(self, kind: int | str) -> Extension | None:
        return find_extension(self.extensions, kind)


def internal_trace_extension(trace: tuple[TraceElement, ...]) -> Extension:
    """The ExtensionField carrying internal trace (X.411 standard extension 38)."""
    return Extension(type=StandardExtension.INTERNAL_TRACE_INFORMATION, value=trace,
                     criticality=Criticality.NONE)


class DeliveryFlags(IntFlag):
    """X.411 DeliveryFlags ::= BIT STRING {implicit-conversion-prohibited(1)}."""

    NONE = 0
    IMPLICIT_CONVERSION_PROHIBITED = 1 << 1


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryEnvelope:
    """X.411 OtherMessageDeliveryFields, the delivery envelope a forwarded IPM may carry
    (X.420 §7.3.9 MessageParameters.delivery-envelope)."""

    content_type: ContentType
    originator: ORName
    this_recipient: ORName
    submission_time: datetime
    original_eits: EncodedInformationTypes | None = None
    priority: Priority = Priority.NORMAL
    delivery_flags: DeliveryFlags | None = None
    other_recipients: tuple[ORName, ...] = ()
    originally_intended_recipient: ORName | None = None
    converted_eits: EncodedInformationTypes | None = None
    content_identifier: str | None = None
    extensions: tuple[Extension, ...] = ()


class RedirectionReason(IntEnum):
    """X.411 RedirectionReason (RFC 2156 §4.6.2.2 redirect-comment texts)."""

    RECIPIENT_ASSIGNED_ALTERNATE_RECIPIENT = 0
    ORIGINATOR_REQUESTED_ALTERNATE_RECIPIENT = 1
    RECIPIENT_MD_ASSIGNED_ALTERNATE_RECIPIENT = 2
    DIRECTORY_LOOK_UP = 3
    ALIAS = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Redirection:
    """X.411 Redirection (an element of the redirection-history extension, 25)."""

    intended_recipient: ORName
    time: datetime
    reason: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DLExpansion:
    """X.411 DLExpansion / OriginatorAndDLExpansion (extensions 26 and 30)."""

    name: ORName
    time: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportingMTAName:
    """X.411 ReportingMTAName (extension 39)."""

    domain: GlobalDomainIdentifier
    mta_name: str
    directory_name: Opaque | None = None
