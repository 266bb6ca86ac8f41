"""The protocol-neutral information model (frozen dataclasses; no codec, no ``email``)."""

from bridge.model.apdu import APDU, Message, Probe
from bridge.model.common import (
    BuiltInEIT,
    ContentType,
    Criticality,
    EncodedInformationTypes,
    Extension,
    GlobalDomainIdentifier,
    MTSIdentifier,
    Opaque,
    OtherActions,
    Priority,
    RoutingAction,
    StandardExtension,
    TraceElement,
)
from bridge.model.envelope import (
    BilateralInformation,
    DeliveryEnvelope,
    DeliveryFlags,
    Envelope,
    PerMessageIndicators,
    PerRecipientIndicators,
    Recipient,
)
from bridge.model.ipm import (
    IPM,
    IPN,
    AcknowledgmentMode,
    BilaterallyDefinedBodyPart,
    BodyPart,
    ExtendedBodyPart,
    FileTransferBodyPart,
    G3FacsimileBodyPart,
    GeneralTextBodyPart,
    Heading,
    IA5TextBodyPart,
    Importance,
    IPMIdentifier,
    IPMSExtension,
    MessageBodyPart,
    MimeBodyPart,
    NonReceiptFields,
    NotificationRequests,
    OpaqueBodyPart,
    ORDescriptor,
    OtherNotificationFields,
    ReceiptFields,
    RecipientSpecifier,
    Sensitivity,
    TeletexBodyPart,
    VideotexBodyPart,
)
from bridge.model.oraddress import (
    DirectoryName,
    DomainDefinedAttribute,
    ExtendedNetworkAddress,
    ORAddress,
    ORName,
    PersonalName,
    PostalAttribute,
    UniversalAttribute,
    UniversalText,
)
from bridge.model.report import (
    DeliveryOutcome,
    NonDeliveryOutcome,
    Report,
    ReportedRecipient,
)

__all__ = [name for name in dir() if not name.startswith("_")]
