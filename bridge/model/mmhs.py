"""Military messaging (P772): STANAG 4406 Ed. 2 / ACP 123 Annex A1 heading extensions.

P772 content is an X.420 InformationObject whose heading carries these extensions (as
:class:`~bridge.model.ipm.IPMSExtension` values); the content type is the extended content
type :data:`ID_MMHS_CONT_MM88`.  Each value type below is frozen, compares by value and has
a canonical ``__str__`` (the RFC 6477 §3 field text where there is a field).

Not modelled (kept as :class:`~bridge.model.common.Opaque`): address list indicator (A1.11),
pilot forwarding information (A1.13), security information labels (A1.16, deprecated) and
the distribution extensions of A1.3.  The ACP 127 notification request (A2.1, a recipient
specifier extension) and response (A3.1, an IPN extension) are modelled below; the MM-Message
extended body part is a :class:`~bridge.model.ipm.MessageBodyPart` with ``mm_message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, IntFlag

from bridge.model.common import Opaque
from bridge.model.ipm import ORDescriptor

# STANAG 4406 Annex A MMSObjectIdentifiers: id-mmhs = {1 3 26 0 4406 0}, id-mm = {id-mmhs 2}
# (heading extensions), id-mcont = {id-mmhs 4} (content types), id-et = {id-mmhs 7}.
ID_MMHS = "1.3.26.0.4406.0"
ID_MM = ID_MMHS + ".2"
#: id-mmhs-cont-mm88 (id-mct-p772): the P772 content type
ID_MMHS_CONT_MM88 = ID_MMHS + ".4.1"
ID_MM_PRIMARY_PRECEDENCE = ID_MM + ".0"
ID_MM_COPY_PRECEDENCE = ID_MM + ".1"
ID_MM_MESSAGE_TYPE = ID_MM + ".2"
ID_MM_ADDRESS_LIST_INDICATOR = ID_MM + ".3"
ID_MM_EXEMPTED_ADDRESS = ID_MM + ".4"
ID_MM_EXTENDED_AUTHORISATION_INFO = ID_MM + ".5"
ID_MM_DISTRIBUTION_CODES = ID_MM + ".6"
ID_MM_HANDLING_INSTRUCTIONS = ID_MM + ".7"
ID_MM_MESSAGE_INSTRUCTIONS = ID_MM + ".8"
ID_MM_CODRESS_MESSAGE = ID_MM + ".9"
ID_MM_ORIGINATOR_REFERENCE = ID_MM + ".10"
ID_MM_OTHER_RECIPIENTS_INDICATOR = ID_MM + ".11"
ID_MM_PILOT_FORWARDING_INFO = ID_MM + ".12"
ID_MM_ACP127_MESSAGE_IDENTIFIER = ID_MM + ".13"
ID_MM_ORIGINATOR_PLAD = ID_MM + ".14"
ID_MM_ACP127_NOTIFICATION_REQUEST = ID_MM + ".15"
ID_MM_ACP127_NOTIFICATION_RESPONSE = ID_MM + ".16"
ID_MM_INFORMATION_LABELS = ID_MM + ".17"
#: Annex A MMSExtendedBodyPartTypes: the MM-Message (a forwarded military message) and its
#: parameters (id-et = {id-mmhs 7})
ID_ET_MM_MESSAGE = ID_MMHS + ".7.9"
ID_EP_MM_MESSAGE = ID_MMHS + ".7.10"

#: heading-extension OID -> the STANAG 4406 name of the extension (for ``dump`` and defects)
NAMES: dict[str, str] = {
    ID_MM_PRIMARY_PRECEDENCE: "primary-precedence",
    ID_MM_COPY_PRECEDENCE: "copy-precedence",
    ID_MM_MESSAGE_TYPE: "message-type",
    ID_MM_ADDRESS_LIST_INDICATOR: "address-list-indicator",
    ID_MM_EXEMPTED_ADDRESS: "exempted-address",
    ID_MM_EXTENDED_AUTHORISATION_INFO: "extended-authorisation-info",
    ID_MM_DISTRIBUTION_CODES: "distribution-codes",
    ID_MM_HANDLING_INSTRUCTIONS: "handling-instructions",
    ID_MM_MESSAGE_INSTRUCTIONS: "message-instructions",
    ID_MM_CODRESS_MESSAGE: "codress-message",
    ID_MM_ORIGINATOR_REFERENCE: "originator-reference",
    ID_MM_OTHER_RECIPIENTS_INDICATOR: "other-recipients-indicator",
    ID_MM_PILOT_FORWARDING_INFO: "pilot-forwarding-info",
    ID_MM_ACP127_MESSAGE_IDENTIFIER: "acp127-message-identifier",
    ID_MM_ORIGINATOR_PLAD: "originator-plad",
    ID_MM_ACP127_NOTIFICATION_REQUEST: "acp127-notification-request",
    ID_MM_ACP127_NOTIFICATION_RESPONSE: "acp127-notification-response",
    ID_MM_INFORMATION_LABELS: "information-labels",
}

UB_MILITARY_STRING = 69  # MMSUpperBounds ub-military-string
LB_MILITARY_SIC, UB_MILITARY_SIC = 3, 8  # lb-military-sic, ub-military-sic
UB_MILITARY_NUMBER_OF_SICS = 8  # ub-military-number-of-sics


def is_military(oid: str) -> bool:
    """Is ``oid`` one of the STANAG 4406 heading extensions (under id-mm)?"""
    return oid.startswith(ID_MM + ".")


class Precedence(IntEnum):
    """A1.8/A1.9 MMHSPrecedence: the NATO-defined levels (0..15 NATO, 16..31 national)."""

    DEFERRED = 0
    ROUTINE = 1
    PRIORITY = 2
    IMMEDIATE = 3
    FLASH = 4
    OVERRIDE = 5


class MessageTypeKind(IntEnum):
    """A1.10 TypeMessage (0..127 NATO-defined, 128..255 national or bilateral)."""

    EXERCISE = 0
    OPERATION = 1
    PROJECT = 2
    DRILL = 3


def _level(value: int, names: type[IntEnum]) -> str:
    try:
        return names(value).name.lower()
    except ValueError:
        return str(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExemptedAddresses:
    """A1.1 exempted address: AL members that should not receive the message."""

    addresses: tuple[ORDescriptor, ...]

    def __str__(self) -> str:
        return "; ".join(str(d.formal_name or d.free_form_name or "") for d in self.addresses)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtendedAuthorisationInfo:
    """A1.2: when the message was released (UTCTime, zone kept)."""

    time: datetime

    def __str__(self) -> str:
        return self.time.isoformat()


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributionExtension:
    """A1.3 DistributionExtensionField (INSTANCE OF TYPE-IDENTIFIER), kept opaque.
    ``instance_of``: encoded as INSTANCE OF ([UNIVERSAL 8], the STANAG text) or as the
    ``SEQUENCE {dist-type, dist-value}`` some implementations (Wireshark) use."""

    type: str
    value: Opaque
    instance_of: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributionCodes:
    """A1.3: subject indicator codes (SICs) and distribution extensions."""

    sics: tuple[str, ...] | None = None
    extensions: tuple[DistributionExtension, ...] | None = None

    def __str__(self) -> str:
        text = "; ".join(self.sics or ())
        if self.extensions:
            text += f" (+{len(self.extensions)} distribution extension(s))"
        return text


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlingInstructions:
    """A1.4: instructions for traffic operators (military strings)."""

    instructions: tuple[str, ...]

    def __str__(self) -> str:
        return "; ".join(self.instructions)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageInstructions:
    """A1.5: message instructions ("remarks", operating signals)."""

    instructions: tuple[str, ...]

    def __str__(self) -> str:
        return "; ".join(self.instructions)


@dataclass(frozen=True, slots=True, kw_only=True)
class CodressMessage:
    """A1.6: the message is in Codress format (the number of encrypted groups)."""

    number: int

    def __str__(self) -> str:
        return str(self.number)


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginatorReference:
    """A1.7: the originator's number."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True, kw_only=True)
class PrimaryPrecedence:
    """A1.8: the precedence for the primary (action) recipients."""

    level: int

    def __str__(self) -> str:
        return _level(self.level, Precedence)


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyPrecedence:
    """A1.9: the precedence for the copy (information) recipients."""

    level: int

    def __str__(self) -> str:
        return _level(self.level, Precedence)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageType:
    """A1.10: exercise, operation, project, drill (or another number) and its name."""

    type: int
    identifier: str | None = None

    def __str__(self) -> str:
        kind = _level(self.type, MessageTypeKind)
        return kind if self.identifier is None else f'{kind}; identifier="{self.identifier}"'


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherRecipient:
    """A1.12 OtherRecipientDesignator: a recipient reached outside the MMHS."""

    designator: str
    copy: bool = False  # type primary(0) / copy(1)


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherRecipientsIndicator:
    """A1.12: primary and copy recipients reached by other means, in the given order."""

    recipients: tuple[OtherRecipient, ...]

    def __str__(self) -> str:
        return "; ".join(("cc " if r.copy else "to ") + r.designator for r in self.recipients)


@dataclass(frozen=True, slots=True, kw_only=True)
class Acp127MessageIdentifier:
    """A1.14: ACP 127 format line 3 (routing indicator, serial number, filing time)."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginatorPlad:
    """A1.15: the originator's plain language address designator."""

    text: str

    def __str__(self) -> str:
        return self.text


MilitaryExtensionValue = (
    ExemptedAddresses | ExtendedAuthorisationInfo | DistributionCodes | HandlingInstructions
    | MessageInstructions | CodressMessage | OriginatorReference | PrimaryPrecedence
    | CopyPrecedence | MessageType | OtherRecipientsIndicator | Acp127MessageIdentifier
    | OriginatorPlad)


class Acp127Notification(IntFlag):
    """A2.1 Acp127NotificationType: the BIT STRING's named bits (bit n -> 1 << n)."""

    NN = 1  # acp127-nn(0): negative notification
    PN = 2  # acp127-pn(1): positive notification
    TN = 4  # acp127-tn(2): transfer notification


def acp127_names(kinds: int) -> str:
    """``nn, pn, tn`` (the bits set, in bit order), for texts and fields."""
    return ", ".join(k.name.lower() for k in Acp127Notification if kinds & k)  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True, kw_only=True)
class Acp127NotificationRequest:
    """A2.1: the ACP 127 notifications asked of the ACP 127 gateway for one recipient."""

    kinds: Acp127Notification

    def __str__(self) -> str:
        return acp127_names(self.kinds)


@dataclass(frozen=True, slots=True, kw_only=True)
class Acp127NotificationResponse:
    """A3.1: the ACP 127 gateway's answer (an IPN extension): which notification, when, the
    ACP 127 recipient and supplementary information; the address list indicator is kept as
    BER (``address_list``)."""

    kinds: Acp127Notification
    receipt_time: datetime
    recipient: str | None = None
    supplementary_info: str | None = None
    address_list: Opaque | None = None

    def __str__(self) -> str:
        text = f"{acp127_names(self.kinds)} at {self.receipt_time.isoformat()}"
        if self.recipient is not None:
            text += f" for {self.recipient}"
        return text if self.supplementary_info is None else f"{text} ({self.supplementary_info})"
