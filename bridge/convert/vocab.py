"""The fixed vocabularies of RFC 2156's header fields, once, as data, for both directions.

Each table maps a model value to the text RFC 2156 writes for it; the reverse lookups are
case-independent.  Used by both ``to_mime`` (X.400 -> 822) and ``to_x400`` (822 -> X.400).
"""

from __future__ import annotations

from bridge.model.common import BuiltInEIT, Priority
from bridge.model.envelope import RedirectionReason
from bridge.model.ipm import Importance, Sensitivity

#: §5.3.4 Importance: low / normal / high
IMPORTANCE = {Importance.LOW: "low", Importance.NORMAL: "normal", Importance.HIGH: "high"}

#: §5.3.4 Sensitivity: Personal / Private / Company-Confidential
SENSITIVITY = {Sensitivity.PERSONAL: "Personal", Sensitivity.PRIVATE: "Private",
               Sensitivity.COMPANY_CONFIDENTIAL: "Company-Confidential"}

#: §5.3.6 Priority: normal / non-urgent / urgent
PRIORITY = {Priority.NORMAL: "normal", Priority.NON_URGENT: "non-urgent",
            Priority.URGENT: "urgent"}

#: §5.3.4 Autosubmitted (X.420 auto-submitted heading extension values)
AUTOSUBMITTED = {0: "not-auto-submitted", 1: "auto-generated", 2: "auto-replied"}

#: §5.3.3 EIT names (X-3); anything else is written as its OID
EIT_NAMES = {BuiltInEIT.UNDEFINED: "Undefined", BuiltInEIT.TELEX: "Telex",
             BuiltInEIT.IA5_TEXT: "IA5-Text", BuiltInEIT.G3_FACSIMILE: "G3-Fax",
             BuiltInEIT.G4_CLASS_1: "TIF0", BuiltInEIT.TELETEX: "Teletex",
             BuiltInEIT.VIDEOTEX: "Videotex", BuiltInEIT.VOICE: "Voice", BuiltInEIT.SFD: "SFD",
             BuiltInEIT.MIXED_MODE: "TIF1"}

#: §4.6.2.2 redirect-comment reasons (A-28)
REDIRECTION_REASONS = {
    RedirectionReason.RECIPIENT_ASSIGNED_ALTERNATE_RECIPIENT:
        "Recipient Assigned Alternate Recipient",
    RedirectionReason.ORIGINATOR_REQUESTED_ALTERNATE_RECIPIENT:
        "Originator Requested Alternate Recipient",
    RedirectionReason.RECIPIENT_MD_ASSIGNED_ALTERNATE_RECIPIENT:
        "Recipient MD Assigned Alternate Recipient",
    RedirectionReason.DIRECTORY_LOOK_UP: "Directory Look Up",
    RedirectionReason.ALIAS: "Alias",
}

#: §5.3.6 X400-Content-Type labelled integers (built-in content types)
CONTENT_TYPES = {2: "P2", 22: "P22", 35: "P35", 40: "P40", 0: "unidentified", 1: "external"}

#: RFC 2156 App D / §5.1.5: eit-mixer pseudo-EIT marking a MIXER conversion
EIT_MIXER = "1.3.6.1.7.1.3.5"
#: App D: the MTS extensions carrying DSN header/field lists (R-8)
ID_DSN_HEADER_LIST = "1.3.6.1.7.1.3.3"
ID_DSN_FIELD_LIST = "1.3.6.1.7.1.3.4"


def reverse(table: dict[int, str]) -> dict[str, int]:
    """Case-independent reverse lookup of one of the tables above."""
    return {v.lower(): int(k) for k, v in table.items()}
