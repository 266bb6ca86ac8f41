"""Security labels across the gateway: X.411 message-security-label <-> RFC 7444 ``SIO-Label``.

* X.400 -> Internet (:func:`label_headers`, a rule of ``mime_headers.MTS_EXTENSIONS``): the
  message-security-label envelope extension (X.411 §9, standard extension 20) becomes
  ``SIO-Label: marking="SECRET"; type=":x411"; label="<base64 of the exact BER>"`` (RFC 7444
  §3), and the gateway records the translation in ``SIO-Label-History`` (RFC 7444 §5: a
  gateway that translates a label may add history).  The label's octets are carried
  unchanged, so a label covered by a signature still verifies and the way back is
  byte-identical.  A label that cannot be read is not dropped: under the ``require`` policy,
  or when it is critical and the policy rejects what cannot be mapped (RFC 2156 §5.3.6), the
  message is non-delivered with invalid-security-label; else it is kept visibly
  (``X400-Unmapped-Extension``) with a defect.
* Internet -> X.400 (:func:`sio_label_field`, a handler of ``to_x400.MTS_HANDLERS``): an
  ``SIO-Label`` whose machine label is an ESS (RFC 2634 §5.4) or X.411 label becomes the
  message-security-label extension, its octets unchanged, marked critical for transfer and
  delivery (:data:`LABEL_CRITICALITY`).  A field without such a label (a display marking only,
  an XML label) or that cannot be parsed stays in the rfc-822-field heading extension (RFC
  2156 §5.1.3), with a defect.
* Policy (:func:`check_policy`): ``pass`` / ``require`` / ``refuse``
  (:data:`~bridge.model.seclabel.LabelPolicy`), the gateway's (``[gateway] security-labels``,
  :class:`~bridge.convert.policy.MappingPolicy`) for every conversion and each X.400 peer's
  (:class:`~bridge.x400.profile.PeerProfile`) for what is transferred to it.  A message that
  may not pass is non-delivered: X.411 transfer-failure-for-security-reason (8) with
  security-policy-violation (53) or invalid-security-label (68); the RFC 3463 code comes from
  the same table as DSNs (``mappings/x400-dsn-status.tsv``, 5.7.x).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bridge.codec.seclabel import label_from_ber
from bridge.convert.mime_run import Run
from bridge.convert.mime_text import Header, date, extension_name
from bridge.convert.result import Defect
from bridge.convert.seclabel_text import (
    LabelSyntaxError,
    format_history,
    format_sio_label,
    parse_sio_label,
)
from bridge.convert.x400_fields import Invalid, unfold
from bridge.errors import BridgeError, DecodeError, SMTPReply, X400Diagnostic
from bridge.model.common import Criticality, Extension, Opaque, StandardExtension
from bridge.model.seclabel import (
    TYPE_ESS,
    TYPE_X411,
    LabelChange,
    LabelPolicy,
    SecurityLabel,
    SioLabel,
)

if TYPE_CHECKING:
    from bridge.convert.x400_heading import HeadingBuilder

#: X.411 §9.1: an MTA that cannot honour a critical-for-transfer (or -delivery) extension must
#: not transfer (deliver) the message -- what a label asks of an MTA that cannot enforce it
LABEL_CRITICALITY = Criticality.FOR_TRANSFER | Criticality.FOR_DELIVERY
_CRITICAL = Criticality.FOR_TRANSFER | Criticality.FOR_DELIVERY

#: X.411 NonDeliveryReasonCode transfer-failure-for-security-reason
REASON_SECURITY = 8
#: X.411 NonDeliveryDiagnosticCode values used here
SECURITY_POLICY_VIOLATION = 53
INVALID_SECURITY_LABEL = 68

_MACHINE_TYPES = (TYPE_ESS, TYPE_X411)
_RULE_OUT = "RFC 7444 §3, §5; X.411 §9"
_RULE_IN = "RFC 7444 §3; X.411 §9"


class SecurityLabelError(BridgeError):
    """A message the label policy does not let pass: non-delivery with X.411
    transfer-failure-for-security-reason (8) and ``diagnostic``; the SMTP reply's RFC 3463
    code is the one ``mappings/x400-dsn-status.tsv`` gives that pair (5.7.x)."""

    x400 = X400Diagnostic(reason=REASON_SECURITY, diagnostic=SECURITY_POLICY_VIOLATION)
    text = "Security label policy violation"
    diagnostic = SECURITY_POLICY_VIOLATION

    def __init__(self, message: str) -> None:
        from bridge.convert.dsn_status import status_tables

        status = status_tables().to_status(REASON_SECURITY, self.diagnostic)
        super().__init__(message, smtp=SMTPReply(code=554, enhanced=str(status),
                                                 text=self.text),
                         x400=X400Diagnostic(reason=REASON_SECURITY,
                                             diagnostic=self.diagnostic))


class SecurityLabelRefused(SecurityLabelError):
    """Policy ``refuse``: the message carries a security label (security-policy-violation)."""

    text = "Security-labelled messages are refused on this route"


class SecurityLabelRequired(SecurityLabelError):
    """Policy ``require``: the message carries no security label (security-policy-violation)."""

    text = "A security label is required on this route"


class InvalidSecurityLabel(SecurityLabelError):
    """The label cannot be read (X.411 invalid-security-label, 68)."""

    diagnostic = INVALID_SECURITY_LABEL
    text = "Invalid security label"


# ------------------------------------------------------------------------------ policy

def find_label(exts: Iterable[Extension]) -> Extension | None:
    """The message-security-label among ``exts`` (X.411 standard extension 20)."""
    return next((e for e in exts if e.type == StandardExtension.MESSAGE_SECURITY_LABEL), None)


def check_policy(exts: Iterable[Extension], policy: LabelPolicy, where: str, *,
                 unreadable: str | None = None) -> None:
    """Apply ``policy`` to a message with per-message extensions ``exts``; ``where`` names
    whose policy it is, for the error text; ``unreadable`` says why a label the message came
    with could not be used (then ``require`` fails with invalid-security-label).

    Raises :class:`SecurityLabelRefused`, :class:`SecurityLabelRequired` or
    :class:`InvalidSecurityLabel`."""
    if policy == "pass":
        return
    ext = find_label(exts)
    if policy == "refuse":
        if ext is not None:
            raise SecurityLabelRefused(f"the message has a security label and {where} "
                                       "refuses labelled messages")
        return
    if ext is None:
        if unreadable is not None:
            raise InvalidSecurityLabel(f"{where} requires a security label and the message's "
                                       f"cannot be used: {unreadable}")
        raise SecurityLabelRequired(f"{where} requires a security label and the message "
                                    "has none")
    try:
        _label(ext)
    except DecodeError as exc:
        raise InvalidSecurityLabel(f"{where} requires a security label and the message's "
                                   f"cannot be read: {exc}") from exc


def _label(ext: Extension) -> tuple[bytes, SecurityLabel]:
    """The BER of a message-security-label and the label; DecodeError if it is none."""
    if not isinstance(ext.value, Opaque):
        raise DecodeError("no label value", path="MessageSecurityLabel")
    return ext.value.ber, label_from_ber(ext.value.ber)


# ------------------------------------------------------------------ X.400 -> Internet

def label_headers(run: Run, ext: Extension) -> list[Header]:
    """message-security-label -> ``SIO-Label`` + ``SIO-Label-History`` (RFC 7444 §3, §5)."""
    try:
        ber, label = _label(ext)
    except DecodeError as exc:
        critical = bool(ext.criticality & _CRITICAL)
        policy = run.ctx.policy
        if policy.security_labels == "require" or (critical and policy.reject_critical):
            raise InvalidSecurityLabel(f"message-security-label cannot be read: {exc}") \
                from exc
        from bridge.convert.mime_headers import keep_unmapped

        run.defect("security-label", f"message-security-label cannot be read ({exc}); kept "
                   "as X400-Unmapped-Extension, no SIO-Label", _RULE_OUT)
        keep_unmapped(run, "MTS", extension_name(ext), ext.value, critical)
        return []
    sio = SioLabel(marking=label.marking(), type=TYPE_X411, label=ber)
    history = LabelChange(
        change="add", changed_by=run.ctx.postmaster, changed_at=date(run.ctx.now),
        comment=f"translated from X.411 by {run.ctx.mta_name}", new_type=TYPE_X411)
    return [("SIO-Label", format_sio_label(sio)), ("SIO-Label-History", format_history(history))]


# ------------------------------------------------------------------ Internet -> X.400

def sio_label_field(b: HeadingBuilder, name: str, value: str) -> None:
    """``SIO-Label`` -> :attr:`MtsFields.security_label` (then the message-security-label
    extension, :func:`label_extension`).  Raises ``Invalid`` (the field is then kept in
    rfc-822-field with a defect) for a second field or one that does not parse."""
    mts = b.mts
    if mts.security_label is not None or mts.security_label_error is not None:
        raise Invalid("second SIO-Label field (RFC 7444 §3 allows one)")
    try:
        sio = parse_sio_label(unfold(value))
    except LabelSyntaxError as exc:
        mts.security_label_error = f"SIO-Label: {exc}"
        raise Invalid(f"not an RFC 7444 label: {exc}") from None
    if sio.label is None or sio.type not in _MACHINE_TYPES:
        what = "a display marking only" if sio.label is None else f"a {sio.type} label"
        b.defects.append(_defect(f"SIO-Label with {what}: no X.411 message-security-label "
                                 "can be made; the field is kept in rfc-822-field",
                                 lossy=False))
        b.extension_field(name, value)
        return
    try:
        label = label_from_ber(sio.label)
    except DecodeError as exc:
        mts.security_label_error = f"SIO-Label {sio.type} label: {exc}"
        raise Invalid(f"its {sio.type} label cannot be read: {exc}") from None
    mts.security_label = Opaque(ber=sio.label)
    if sio.marking not in (None, label.marking()) or sio.fgcolor or sio.bgcolor or sio.other:
        b.defects.append(_defect("SIO-Label display marking, colours or other parameters "
                                 "have no place in the X.411 label (the label itself is "
                                 "carried)", lossy=True))


def label_extension(label: Opaque) -> Extension:
    """The message-security-label ExtensionField for a label read from ``SIO-Label``."""
    return Extension(type=StandardExtension.MESSAGE_SECURITY_LABEL, value=label,
                     criticality=LABEL_CRITICALITY)


def _defect(detail: str, *, lossy: bool) -> Defect:
    return Defect("security-label", detail, _RULE_IN, lossy)


__all__ = ["INVALID_SECURITY_LABEL", "LABEL_CRITICALITY", "REASON_SECURITY",
           "SECURITY_POLICY_VIOLATION", "InvalidSecurityLabel", "SecurityLabelError",
           "SecurityLabelRefused", "SecurityLabelRequired", "check_policy", "find_label",
           "label_extension", "label_headers", "sio_label_field"]
