"""P22 content: X.420 §7 interpersonal messages (IPM) and §8 notifications (IPN).

Sequence-valued heading fields are ``None`` when absent and a (possibly empty) tuple when
present: RFC 2156 §5.1.3 needs the difference (an empty Bcc is a zero-length sequence).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, IntFlag

from bridge.model.common import EncodedInformationTypes, Opaque
from bridge.model.envelope import DeliveryEnvelope
from bridge.model.oraddress import ORName


class Importance(IntEnum):
    """X.420 §7.2.14 ImportanceField."""

    LOW = 0
    NORMAL = 1
    HIGH = 2


class Sensitivity(IntEnum):
    """X.420 §7.2.15 SensitivityField."""

    PERSONAL = 1
    PRIVATE = 2
    COMPANY_CONFIDENTIAL = 3


class NotificationRequests(IntFlag):
    """X.420 §7.1.5 NotificationRequests BIT STRING {rn(0), nrn(1), ipm-return(2),
    an-supported(3), suppress-an(4)}."""

    NONE = 0
    RN = 1 << 0
    NRN = 1 << 1
    IPM_RETURN = 1 << 2
    AN_SUPPORTED = 1 << 3
    SUPPRESS_AN = 1 << 4


@dataclass(frozen=True, slots=True, kw_only=True)
class IPMSExtension:
    """X.420 §7.2.17 IPMSExtension: an OID and its value (model value, Opaque or None)."""

    type: str
    value: object = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IPMIdentifier:
    """X.420 §7.1.3 IPMIdentifier: optional user plus a user-relative identifier."""

    user: ORName | None = None
    local: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ORDescriptor:
    """X.420 §7.1.4 ORDescriptor."""

    formal_name: ORName | None = None
    free_form_name: str | None = None
    telephone: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipientSpecifier:
    """X.420 §7.1.5 RecipientSpecifier."""

    recipient: ORDescriptor
    notification_requests: NotificationRequests = NotificationRequests.NONE
    reply_requested: bool = False
    extensions: tuple[IPMSExtension, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Heading:
    """X.420 §7.2 Heading, every field."""

    this_ipm: IPMIdentifier
    originator: ORDescriptor | None = None
    authorizing_users: tuple[ORDescriptor, ...] | None = None
    primary: tuple[RecipientSpecifier, ...] | None = None
    copy: tuple[RecipientSpecifier, ...] | None = None
    blind_copy: tuple[RecipientSpecifier, ...] | None = None
    replied_to: IPMIdentifier | None = None
    obsoleted: tuple[IPMIdentifier, ...] | None = None
    related: tuple[IPMIdentifier, ...] | None = None
    subject: str | None = None
    expiry_time: datetime | None = None
    reply_time: datetime | None = None
    reply_recipients: tuple[ORDescriptor, ...] | None = None
    importance: Importance = Importance.NORMAL
    sensitivity: Sensitivity | None = None
    auto_forwarded: bool = False
    extensions: tuple[IPMSExtension, ...] | None = None


# ------------------------------------------------------------------ body parts (X.420 §7.3)


@dataclass(frozen=True, slots=True, kw_only=True)
class IA5TextBodyPart:
    """X.420 §7.3.1 ia5-text (or its extended form when ``extended``)."""

    text: str
    repertoire: int = 5  # Repertoire: ita2(2), ia5(5) (the DEFAULT)
    extended: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TeletexBodyPart:
    """X.420 §7.3.5 teletex: pages of T.61 text (decoded)."""

    pages: tuple[str, ...]
    number_of_pages: int | None = None
    telex_compatible: bool = False
    non_basic_parameters: Opaque | None = None
    extended: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class G3FacsimileBodyPart:
    """X.420 §7.3.3 g3-facsimile: one BIT STRING per page, kept as (octets, bit length)."""

    pages: tuple[tuple[bytes, int], ...]
    number_of_pages: int | None = None
    non_basic_parameters: Opaque | None = None
    extended: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class VideotexBodyPart:
    """X.420 §7.3.6 videotex (data kept as octets: T.100/T.101 are not rendered)."""

    data: bytes
    syntax: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageBodyPart:
    """X.420 §7.3.9 message: a forwarded IPM with its optional delivery information.
    ``mm_message``: the STANAG 4406 Annex A MM-Message extended body part (a forwarded
    military message in P772, ``extended`` too) instead of X.420's."""

    ipm: IPM
    delivery_time: datetime | None = None
    delivery_envelope: DeliveryEnvelope | None = None
    extended: bool = False
    mm_message: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BilaterallyDefinedBodyPart:
    """X.420 §7.3.12 bilaterally-defined: an OCTET STRING (RFC 2157 BP14)."""

    data: bytes
    extended: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OpaqueBodyPart:
    """A basic body part the model keeps as BER: voice [2], g4-class1 [4], nationally-defined
    [7], encrypted [8], mixed-mode [11]. ``tag`` is its BodyPart context tag."""

    tag: int
    value: Opaque


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneralTextBodyPart:
    """X.420 §7.4.11 general-text extended body part (RFC 2157 §3.3): ISO 2022 text whose
    character sets are named by ISO-IR registration numbers."""

    text: str
    charsets: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FileTransferBodyPart:
    """X.420 §7.4.12 file-transfer body part (FTBP, RFC 2157 §2.3).

    ``data`` is the file (the octet-aligned EXTERNALs of FileTransferData joined, each with
    direct-reference ``data_reference``); the attributes a MIME mapping uses are typed fields;
    every other FileTransferParameters component is kept in ``other_parameters`` (the BER of a
    FileTransferParameters value holding just those components), so nothing is lost.

    The RFC 2157 §2.3.3 EMA elements:

    * ``application_reference`` -- environment.application-reference.registered-identifier
      (the OID that selects the mapping, §3.3, §6.4);
    * ``description`` -- the first environment.user-visible-string (Content-Description);
      further strings stay in ``other_parameters``;
    * ``related_message`` -- the message-reference of the related-stored-file element that
      §2.3.2 marks as "Internet MIME Body Part" (cross-reference with a null
      application-cross-reference and no body-part-reference): the Content-ID;
    * ``headers`` -- the rfc-822-field extension in FileTransferParameters.extensions
      ("Other RFC-822 headers"; ``()`` when absent).
    """

    data: bytes
    data_reference: str | None = None
    filename: str | None = None
    contents_type: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    read: datetime | None = None
    size: int | None = None
    application_reference: str | None = None
    description: str | None = None
    related_message: IPMIdentifier | None = None
    headers: tuple[str, ...] = ()
    other_parameters: Opaque | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MimeBodyPart:
    """RFC 2157 §4.2 MIME body part (extended body part id-mime-bp-data / -parameters)."""

    content_type: str
    parameters: tuple[tuple[str, str], ...]
    headers: tuple[str, ...]
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtendedBodyPart:
    """X.420 §7.3.14 extended body part of a type the model does not interpret."""

    data_type: str
    data: Opaque
    parameters_type: str | None = None
    parameters: Opaque | None = None


BodyPart = (
    IA5TextBodyPart | TeletexBodyPart | G3FacsimileBodyPart | VideotexBodyPart | MessageBodyPart
    | BilaterallyDefinedBodyPart | OpaqueBodyPart | GeneralTextBodyPart | FileTransferBodyPart
    | MimeBodyPart | ExtendedBodyPart
)


@dataclass(frozen=True, slots=True, kw_only=True)
class MultipartType:
    """RFC 2157 §7.2 multipart-message heading extension value."""

    subtype: str
    is_message: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class IPM:
    """X.420 §7 IPM: a heading and a body."""

    heading: Heading
    body: tuple[BodyPart, ...] = ()


# ------------------------------------------------------------------ notifications (X.420 §8)


class NonReceiptReason(IntEnum):
    IPM_DISCARDED = 0
    IPM_AUTO_FORWARDED = 1


class DiscardReason(IntEnum):
    IPM_EXPIRED = 0
    IPM_OBSOLETED = 1
    USER_SUBSCRIPTION_TERMINATED = 2
    NOT_USED = 3


class AcknowledgmentMode(IntEnum):
    MANUAL = 0
    AUTOMATIC = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class NonReceiptFields:
    """X.420 §8.3 NonReceiptFields."""

    reason: int
    discard_reason: int | None = None
    auto_forward_comment: str | None = None
    returned_ipm: IPM | None = None
    extensions: tuple[IPMSExtension, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptFields:
    """X.420 §8.4 ReceiptFields."""

    receipt_time: datetime
    acknowledgment_mode: AcknowledgmentMode = AcknowledgmentMode.MANUAL
    supplementary_info: str | None = None
    extensions: tuple[IPMSExtension, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherNotificationFields:
    """X.420 (1992+) other-notification-type-fields, kept as BER."""

    value: Opaque


@dataclass(frozen=True, slots=True, kw_only=True)
class IPN:
    """X.420 §8 IPN: the common fields and one of receipt / non-receipt / other."""

    subject_ipm: IPMIdentifier
    fields: ReceiptFields | NonReceiptFields | OtherNotificationFields
    ipn_originator: ORDescriptor | None = None
    ipm_intended_recipient: ORDescriptor | None = None
    conversion_eits: EncodedInformationTypes | None = None
    extensions: tuple[IPMSExtension, ...] | None = None
