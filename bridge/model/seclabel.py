"""Security labels: the X.411 / ESS label and the RFC 7444 ``SIO-Label`` field's content.

* :class:`SecurityLabel` -- X.411 §9 (and §12.2.1.1.1.x message-security-label, standard
  extension 20) ``SecurityLabel ::= SET {security-policy-identifier, security-classification,
  privacy-mark, security-categories}``; RFC 2634 §5.4 ``ESSSecurityLabel`` is the same SET
  (its privacy mark may also be a UTF8String).  Security categories are policy-defined: their
  values are kept as BER (:class:`~bridge.model.common.Opaque`) so nothing is lost.
* :class:`SioLabel` -- the parameters of an RFC 7444 ``SIO-Label`` header field: a display
  marking with its colours and/or a machine label (``type`` + the label's octets).
* :class:`LabelChange` -- one RFC 7444 ``SIO-Label-History`` entry.

No codec and no ``email`` here: BER is in :mod:`bridge.codec.seclabel`, the header syntax in
:mod:`bridge.convert.seclabel_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from bridge.model.common import Opaque


class Classification(IntEnum):
    """X.411 §9 SecurityClassification's named values (0..256 are allowed; others are
    policy-defined and stay numbers)."""

    UNMARKED = 0
    UNCLASSIFIED = 1
    RESTRICTED = 2
    CONFIDENTIAL = 3
    SECRET = 4
    TOP_SECRET = 5


#: X.411 ub-integer-options: the largest SecurityClassification
UB_CLASSIFICATION = 256
#: X.411 ub-privacy-mark-length
UB_PRIVACY_MARK = 128
#: X.411 ub-security-categories
UB_SECURITY_CATEGORIES = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityCategory:
    """X.411 §9 ``SecurityCategory ::= SEQUENCE {type [0] OBJECT IDENTIFIER, value [1] ...}``:
    ``value`` is the complete BER of the value inside the ``[1]`` tag."""

    type: str
    value: Opaque


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityLabel:
    """X.411 §9 SecurityLabel / RFC 2634 §5.4 ESSSecurityLabel.

    ``privacy_mark_utf8`` is True when the privacy mark is the ESS ``utf8String`` alternative
    (X.411 knows only PrintableString).  Categories keep the order they were received in.
    """

    policy_id: str | None = None
    classification: int | None = None
    privacy_mark: str | None = None
    privacy_mark_utf8: bool = False
    categories: tuple[SecurityCategory, ...] = ()

    def __post_init__(self) -> None:
        if self.classification is not None and not 0 <= self.classification <= \
                UB_CLASSIFICATION:
            raise ValueError(f"security-classification {self.classification} is outside "
                             f"0..{UB_CLASSIFICATION} (X.411 ub-integer-options)")
        mark = self.privacy_mark
        if mark is not None and (not mark or (len(mark) > UB_PRIVACY_MARK
                                              and not self.privacy_mark_utf8)):
            raise ValueError("privacy-mark is 1..128 characters (X.411 ub-privacy-mark-length;"
                             " RFC 2634 utf8String: at least 1)")
        if len(self.categories) > UB_SECURITY_CATEGORIES:
            raise ValueError("more than 64 security categories (X.411 ub-security-categories)")

    @property
    def classification_name(self) -> str | None:
        """The X.411 name of the classification in display form (``TOP SECRET``), or None
        when absent or policy-defined."""
        if self.classification is None:
            return None
        try:
            return Classification(self.classification).name.replace("_", " ")
        except ValueError:
            return None

    def marking(self) -> str | None:
        """A display marking made from the label alone (no security policy information file
        is consulted): the classification name, then the privacy mark; None when neither
        says anything readable."""
        parts = [p for p in (self.classification_name, self.privacy_mark) if p]
        return " ".join(parts) if parts else None


#: RFC 7444 §3 ``type`` values of a machine label: an ESS label (RFC 2634, DER) and an X.411
#: label (BER); ":xml" labels (XML Security Labels) are carried but not interpreted here
TYPE_ESS = ":ess"
TYPE_X411 = ":x411"
TYPE_XML = ":xml"


@dataclass(frozen=True, slots=True, kw_only=True)
class SioLabel:
    """The content of one RFC 7444 ``SIO-Label`` header field.

    ``label`` holds the octets of the machine label (the base64 of the ``label`` parameter
    decoded); ``other`` keeps parameters RFC 7444 does not define, in order, so that none is
    dropped unseen.
    """

    marking: str | None = None
    fgcolor: str | None = None
    bgcolor: str | None = None
    type: str | None = None
    label: bytes | None = None
    other: tuple[tuple[str, str], ...] = ()


#: What a route does with labels (docs/mmhs.md "Security labels"): ``pass`` lets labelled and
#: unlabelled messages through; ``require`` non-delivers a message without a label;
#: ``refuse`` non-delivers a message with one.
LabelPolicy = Literal["pass", "require", "refuse"]
LABEL_POLICIES: tuple[LabelPolicy, ...] = ("pass", "require", "refuse")


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelChange:
    """One RFC 7444 ``SIO-Label-History`` field: what changed, by whom, when, and why."""

    change: str                     # "add", "delete", "update" or "none"
    changed_by: str | None = None   # who made the change (an address)
    changed_at: str | None = None   # RFC 5322 date-time, as text
    comment: str | None = None
    new_type: str | None = None
    prev_type: str | None = None


__all__ = ["LABEL_POLICIES", "TYPE_ESS", "TYPE_X411", "TYPE_XML", "UB_CLASSIFICATION",
           "UB_PRIVACY_MARK", "UB_SECURITY_CATEGORIES", "Classification", "LabelChange",
           "LabelPolicy", "SecurityCategory", "SecurityLabel", "SioLabel"]
