"""P1 reports: X.411 §12.2.1.2 ReportTransferEnvelope + ReportTransferContent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from bridge.model.common import (
    ContentType,
    EncodedInformationTypes,
    Extension,
    MTSIdentifier,
    TraceElement,
)
from bridge.model.envelope import PerRecipientIndicators
from bridge.model.oraddress import ORName


class TypeOfMTSUser(IntEnum):
    """X.411 TypeOfMTSUser (DeliveryReport.type-of-MTS-user)."""

    PUBLIC = 0
    PRIVATE = 1
    MS = 2
    DL = 3
    PDAU = 4
    PHYSICAL_RECIPIENT = 5
    OTHER = 6


class NonDeliveryReason(IntEnum):
    """X.411 §8.3.1.2.1.9 NonDeliveryReasonCode."""

    TRANSFER_FAILURE = 0
    UNABLE_TO_TRANSFER = 1
    CONVERSION_NOT_PERFORMED = 2
    PHYSICAL_RENDITION_NOT_PERFORMED = 3
    PHYSICAL_DELIVERY_NOT_PERFORMED = 4
    RESTRICTED_DELIVERY = 5
    DIRECTORY_OPERATION_UNSUCCESSFUL = 6
    DEFERRED_DELIVERY_NOT_PERFORMED = 7
    TRANSFER_FAILURE_FOR_SECURITY_REASON = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryOutcome:
    """X.411 DeliveryReport: the subject was delivered at ``delivery_time``."""

    delivery_time: datetime
    type_of_user: int = TypeOfMTSUser.PUBLIC


@dataclass(frozen=True, slots=True, kw_only=True)
class NonDeliveryOutcome:
    """X.411 NonDeliveryReport: reason and optional diagnostic (§8.3.1.2.1.9/10)."""

    reason: int
    diagnostic: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportedRecipient:
    """X.411 PerRecipientReportTransferFields."""

    actual_recipient: ORName
    number: int
    indicators: PerRecipientIndicators
    arrival_time: datetime
    outcome: DeliveryOutcome | NonDeliveryOutcome
    converted_eits: EncodedInformationTypes | None = None
    originally_intended_recipient: ORName | None = None
    supplementary_information: str | None = None
    extensions: tuple[Extension, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """X.411 §12.2.1.2 Report: envelope (identifier, destination, trace) + content."""

    identifier: MTSIdentifier
    destination: ORName
    trace: tuple[TraceElement, ...]
    subject_identifier: MTSIdentifier
    recipients: tuple[ReportedRecipient, ...]
    envelope_extensions: tuple[Extension, ...] = ()
    subject_intermediate_trace: tuple[TraceElement, ...] | None = None
    original_eits: EncodedInformationTypes | None = None
    content_type: ContentType | None = None
    content_identifier: str | None = None
    returned_content: bytes | None = None
    additional_information: bytes | None = None  # opaque BER, X.411 AdditionalInformation
    extensions: tuple[Extension, ...] = ()
    #: what the decoder repaired in the peer's encoding (bridge.codec.repairs); not compared
    repairs: tuple[str, ...] = field(default=(), compare=False)
