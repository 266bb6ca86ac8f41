"""BER <-> :class:`~bridge.model.seclabel.SecurityLabel` (X.411 §9, RFC 2634 §5.4).

The message-security-label extension (X.411 standard extension 20) stays
:class:`~bridge.model.common.Opaque` in the envelope so that its octets travel unchanged (a
label may be covered by a signature: message-origin-authentication-check, ESS signed
attributes); these two functions read and write the label itself.

Decoding takes both the X.411 form (PrintableString privacy mark) and the ESS form (a
UTF8String one) through ``AnySecurityLabel`` (asn1/x411-mts-abstract-service.asn, a REWRITE).
Encoding writes definite lengths and the SET members in tag order (X.690 §10.3 as DER does);
the categories are written in the model's order.
"""

from __future__ import annotations

from typing import Any

from bridge.codec import asn1
from bridge.errors import DecodeError, EncodeError
from bridge.model.common import Opaque
from bridge.model.ortext import is_printable
from bridge.model.seclabel import SecurityCategory, SecurityLabel

_LABEL = "AnySecurityLabel"


def label_from_ber(data: bytes) -> SecurityLabel:
    """Decode one BER SecurityLabel / ESSSecurityLabel.

    Raises :class:`~bridge.errors.DecodeError` (with the component path) for octets that are
    not one, or whose values break X.411's bounds.
    """
    value = asn1.decode(_LABEL, data)
    mark = value.get("privacy-mark")
    try:
        return SecurityLabel(
            policy_id=value.get("security-policy-identifier"),
            classification=value.get("security-classification"),
            privacy_mark=mark[1] if mark else None,
            privacy_mark_utf8=bool(mark) and mark[0] == "utf8String",
            categories=tuple(SecurityCategory(type=c["type"], value=Opaque(ber=c["value"]))
                             for c in value.get("security-categories", ())))
    except ValueError as exc:
        raise DecodeError(str(exc), path=_LABEL) from exc


def label_to_ber(label: SecurityLabel) -> bytes:
    """Encode ``label``: the X.411 SecurityLabel, or the ESS form when its privacy mark is a
    UTF8String.  Raises :class:`~bridge.errors.EncodeError` (e.g. a PrintableString privacy
    mark with characters outside that alphabet)."""
    value: dict[str, Any] = {}
    if label.policy_id is not None:
        value["security-policy-identifier"] = label.policy_id
    if label.classification is not None:
        value["security-classification"] = label.classification
    if label.categories:
        value["security-categories"] = [{"type": c.type, "value": c.value.ber}
                                        for c in label.categories]
    if label.privacy_mark is None:
        return asn1.encode("SecurityLabel", value)
    if label.privacy_mark_utf8:
        value["privacy-mark"] = ("utf8String", label.privacy_mark)
        return asn1.encode(_LABEL, value)
    if not is_printable(label.privacy_mark):
        raise EncodeError(f"privacy-mark {label.privacy_mark!r} is not a PrintableString "
                          "(X.411 §9 PrivacyMark)")
    value["privacy-mark"] = label.privacy_mark
    return asn1.encode("SecurityLabel", value)


__all__ = ["label_from_ber", "label_to_ber"]
