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
* Reports and notifications: a report's label (X.411 §12.2.1.2, in the report transfer
  envelope) takes the same ways -- :func:`label_headers` with ``report=True`` for a DSN's
  header (``bridge.convert.dsn_from_report``), :func:`header_label` for a DSN's or an MDN's
  ``SIO-Label`` (``bridge.convert.report_from_dsn``, ``bridge.convert.mdn``) -- and the same
  policy (:func:`check_policy`, ``what="report"`` / ``"IPN"``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
    from bridge.convert.context import Context
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
                 unreadable: str | None = None, what: str = "message") -> None:
    """Apply ``policy`` to a message (``what``: or a report, an IPN) with per-message
    extensions ``exts``; ``where`` names whose policy it is, for the error text;
    ``unreadable`` says why a label the message came with could not be used (then
    ``require`` fails with invalid-security-label).

    A report is checked like a message (docs/mmhs.md "Security labels", reports): X.411
    §12.2.1.2 carries its label in the report transfer envelope (ReportTransferEnvelope-
    Extensions), and X.400's message security labelling labels "the message (and any reports
    on the message or probe)", so a report about a labelled message has that label and one
    without a label is about unlabelled traffic (or lost its label on the way).

    Raises :class:`SecurityLabelRefused`, :class:`SecurityLabelRequired` or
    :class:`InvalidSecurityLabel`."""
    if policy == "pass":
        return
    ext = find_label(exts)
    if policy == "refuse":
        if ext is not None:
            raise SecurityLabelRefused(f"the {what} has a security label and {where} "
                                       f"refuses labelled {what}s")
        return
    if ext is None:
        if unreadable is not None:
            raise InvalidSecurityLabel(f"{where} requires a security label and the {what}'s "
                                       f"cannot be used: {unreadable}")
        raise SecurityLabelRequired(f"{where} requires a security label and the {what} "
                                    "has none")
    try:
        _label(ext)
    except DecodeError as exc:
        raise InvalidSecurityLabel(f"{where} requires a security label and the {what}'s "
                                   f"cannot be read: {exc}") from exc


def _label(ext: Extension) -> tuple[bytes, SecurityLabel]:
    """The BER of a message-security-label and the label; DecodeError if it is none."""
    if not isinstance(ext.value, Opaque):
        raise DecodeError("no label value", path="MessageSecurityLabel")
    return ext.value.ber, label_from_ber(ext.value.ber)


# ------------------------------------------------------------------ X.400 -> Internet

def label_headers(run: Run, ext: Extension, *, report: bool = False) -> list[Header]:
    """message-security-label -> ``SIO-Label`` + ``SIO-Label-History`` (RFC 7444 §3, §5).

    ``report``: the label of an X.400 report (X.411 §12.2.1.2), going into a DSN's header.
    An unreadable one is then not refused for being critical: RFC 2156 §5.3.8.1 discards a
    report's security parameters "in preference to discarding the whole report" -- here it is
    kept visibly instead (``require`` still refuses it)."""
    try:
        ber, label = _label(ext)
    except DecodeError as exc:
        critical = bool(ext.criticality & _CRITICAL)
        policy = run.ctx.policy
        if policy.security_labels == "require" or (
                critical and policy.reject_critical and not report):
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

@dataclass(frozen=True, slots=True, kw_only=True)
class FieldLabel:
    """What one ``SIO-Label`` field gives towards X.400 (:func:`read_label_field`).

    Exactly one of: ``label`` -- an ESS or X.411 machine label that reads as a SecurityLabel
    (its octets as received); ``unreadable`` -- why the field, or its machine label, cannot be
    read; ``without`` -- what the field has instead of such a label (a display marking only,
    an ``:xml`` label).  ``more`` is set when the display marking, colours or other parameters
    say more than the label itself (they have no place in X.411)."""

    label: Opaque | None = None
    unreadable: str | None = None
    without: str | None = None
    more: bool = False


def read_label_field(value: str) -> FieldLabel:
    """RFC 7444 §3: one ``SIO-Label`` field value (folded or not) -> :class:`FieldLabel`."""
    try:
        sio = parse_sio_label(unfold(value))
    except LabelSyntaxError as exc:
        return FieldLabel(unreadable=f"SIO-Label: not an RFC 7444 label: {exc}")
    if sio.label is None or sio.type not in _MACHINE_TYPES:
        return FieldLabel(without="a display marking only" if sio.label is None
                          else f"a {sio.type} label")
    try:
        label = label_from_ber(sio.label)
    except DecodeError as exc:
        return FieldLabel(unreadable=f"SIO-Label: its {sio.type} label cannot be read: {exc}")
    more = bool(sio.marking not in (None, label.marking()) or sio.fgcolor or sio.bgcolor
                or sio.other)
    return FieldLabel(label=Opaque(ber=sio.label), more=more)


_MORE = ("SIO-Label display marking, colours or other parameters have no place in the X.411 "
         "label (the label itself is carried)")


def sio_label_field(b: HeadingBuilder, name: str, value: str) -> None:
    """``SIO-Label`` -> :attr:`MtsFields.security_label` (then the message-security-label
    extension, :func:`label_extension`).  Raises ``Invalid`` (the field is then kept in
    rfc-822-field with a defect) for a second field or one that does not parse."""
    mts = b.mts
    if mts.security_label is not None or mts.security_label_error is not None:
        raise Invalid("second SIO-Label field (RFC 7444 §3 allows one)")
    got = read_label_field(value)
    if got.unreadable is not None:
        mts.security_label_error = got.unreadable
        raise Invalid(got.unreadable)
    if got.label is None:
        b.defects.append(_defect(f"SIO-Label with {got.without}: no X.411 "
                                 "message-security-label can be made; the field is kept in "
                                 "rfc-822-field", lossy=False))
        b.extension_field(name, value)
        return
    mts.security_label = got.label
    if got.more:
        b.defects.append(_defect(_MORE, lossy=True))


def header_label(header: Iterable[tuple[str, str]], ctx: Context, defects: list[Defect], *,
                 what: str, kept_in: str | None) -> tuple[Extension, ...]:
    """The message-security-label of a notification made from Internet mail -- a DSN's
    report (X.411 §12.2.1.2, ReportTransferEnvelopeExtensions) or an MDN's IPN message --
    from the ``SIO-Label`` of its ``header``, with the rules of :func:`sio_label_field`;
    then the gateway's policy (:func:`check_policy`) on it, ``what`` naming the object.

    ``kept_in`` names where the header fields travel on (a DSN's: the dsn-header-list, RFC
    2156 §5.1.8 R-8) or is None (an MDN's header has no place in the IPN): a field that gives
    no label is recorded as a defect, lossy when it is kept nowhere.  An X.400(1984) peer
    (App B) takes no extensions: the label is then not sent, a lossy defect."""
    fields = [v for n, v in header if n.strip().lower() == "sio-label"]
    label: Opaque | None = None
    unreadable: str | None = None
    where = f"; the field is kept in {kept_in}" if kept_in else "; the field is dropped"
    for value in fields:                      # as sio_label_field: the first with a label
        got = read_label_field(value) if label is None and unreadable is None else \
            FieldLabel(unreadable="second SIO-Label field (RFC 7444 §3 allows one)")
        if got.label is not None:
            label = got.label
            if got.more:
                defects.append(_defect(_MORE, lossy=True))
            continue
        reason = got.unreadable or f"SIO-Label with {got.without}: no X.411 " \
            "message-security-label can be made"
        unreadable = unreadable or got.unreadable
        defects.append(_defect(f"{what}: {reason}{where}", lossy=kept_in is None))
    exts = (label_extension(label),) if label is not None else ()
    if exts and ctx.policy.x400_1984_peer:
        defects.append(Defect("downgrade", f"{what}: message-security-label not sent to an "
                              "X.400(84) peer (no extensions)", "RFC 2156 App B", True))
        exts = ()
    check_policy(exts, ctx.policy.security_labels, "the gateway", unreadable=unreadable,
                 what=what)
    return exts


def label_extension(label: Opaque) -> Extension:
    """The message-security-label ExtensionField for a label read from ``SIO-Label``."""
    return Extension(type=StandardExtension.MESSAGE_SECURITY_LABEL, value=label,
                     criticality=LABEL_CRITICALITY)


def _defect(detail: str, *, lossy: bool) -> Defect:
    return Defect("security-label", detail, _RULE_IN, lossy)


__all__ = ["INVALID_SECURITY_LABEL", "LABEL_CRITICALITY", "REASON_SECURITY",
           "SECURITY_POLICY_VIOLATION", "FieldLabel", "InvalidSecurityLabel",
           "SecurityLabelError", "SecurityLabelRefused", "SecurityLabelRequired", "check_policy",
           "find_label", "header_label", "label_extension", "label_headers",
           "read_label_field", "sio_label_field"]
