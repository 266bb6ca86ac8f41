"""X.400 -> Internet mail: one P1 message (IPM or IPN) -> one RFC 5322/MIME message and its
SMTP envelope (RFC 2156 §5.3, §4.6.2; RFC 2157 for the body).

:func:`x400_to_mime` is pure: the message, a :class:`~bridge.convert.context.Context`, and the
result with its defects.  The header is, in order (§5.3.7 X-8: trace first, most recent
first): the gateway's ``Received:``, ``X400-Received:`` fields, ``Date:``, the §5.3.6 envelope
fields, the §5.3.4 heading fields (or §5.3.5 for an IPN), then MIME.
"""

from __future__ import annotations

from bridge.codec import decode_content, repairs
from bridge.convert.context import Context
from bridge.convert.ipn_text import ipn_entity
from bridge.convert.mdn_request import disposition_notification_to
from bridge.convert.mime_bodies import ipm_entity, serialize
from bridge.convert.mime_headers import (
    Header,
    Run,
    date,
    envelope_headers,
    merged_trace,
    trace_headers,
)
from bridge.convert.notary import smtp_from_x400
from bridge.convert.result import MimeResult, repaired
from bridge.convert.seclabel import check_policy as check_label_policy
from bridge.errors import BridgeError, MappingError, SMTPReply, X400Diagnostic
from bridge.model.apdu import Message
from bridge.model.common import StandardExtension
from bridge.model.envelope import Envelope, Recipient
from bridge.model.ipm import IPM
from bridge.model.mmhs import ID_MMHS_CONT_MM88

#: §5.3.6 X400-Content-Type: the content types this converter maps (P2 1984, P22 1988, and
#: P772 -- STANAG 4406 id-mmhs-cont-mm88, an IPM with military heading extensions, RFC 6477 §6)
IPMS_CONTENT_TYPES: frozenset[int | str] = frozenset({2, 22, ID_MMHS_CONT_MM88})


class ContentTypeNotSupported(BridgeError):
    """G-1: only interpersonal messaging content is converted.  X.411 unable-to-transfer (1)
    / content-type-not-supported (15)."""

    smtp = SMTPReply(code=554, enhanced="5.6.1", text="X.400 content type not supported")
    x400 = X400Diagnostic(reason=1, diagnostic=15)


class ConversionWithLossProhibited(BridgeError):
    """RFC 2157 §6.2, X.411 §12.2.1.1.1.11: the originator prohibited conversion with loss
    and the conversion loses information.  X.411 conversion-not-performed (2) /
    conversion-with-loss-prohibited (19)."""

    smtp = SMTPReply(code=554, enhanced="5.6.2", text="Conversion with loss prohibited")
    x400 = X400Diagnostic(reason=2, diagnostic=19)


_CONTENT_LOSS = frozenset({"charset", "parameters-discarded", "body-part-discarded"})


def x400_to_mime(message: Message, ctx: Context) -> MimeResult:
    """RFC 2156 §5.3: convert a P2/P22 message for delivery to Internet mail (X-1).

    Raises :class:`ContentTypeNotSupported` for other content, ``DecodeError`` for bad P22,
    ``UnsupportedCriticalFunction`` for a critical element that cannot be mapped (X-11,
    policy ``reject_critical``), ``MappingError`` when no responsible recipient maps, and
    :class:`ConversionWithLossProhibited` when the body conversion loses information that
    the originator said must not be lost.
    """
    env = message.envelope
    if env.content_type not in IPMS_CONTENT_TYPES:
        raise ContentTypeNotSupported(
            f"content type {env.content_type} is not P2/P22/P772 (RFC 2156 §5.3)")
    check_label_policy(env.extensions, ctx.policy.security_labels, "the gateway")  # MIL-5
    with repairs.collecting() as notes:
        content = decode_content(message.content)
    run = Run(ctx)
    run.defects += [repaired(n) for n in (*message.repairs, *notes)]
    mail_from, pairs = _smtp_originator(run, env), smtp_recipients(run, env)
    rcpt_to = tuple(dict.fromkeys(a for _, a in pairs))
    run.smtp_originator = mail_from or ctx.postmaster
    leading: list[Header] = trace_headers(run, env)
    leading.append(("Date", message_date(run, env)))
    leading += envelope_headers(run, env)
    if isinstance(content, IPM):
        request = disposition_notification_to(run, content, env)  # N-5 (policy ipn_as_mdn)
        entity = ipm_entity(run, content, leading, [request] if request else [])
    elif ctx.policy.ipn_as_mdn:  # N-4, N-5: the notification as an RFC 8098 MDN
        from bridge.convert.mdn import mdn_entity

        responsible = [r for r in env.recipients if r.responsible]
        entity = mdn_entity(run, content, leading, responsible)
        mail_from = ""  # RFC 8098 §3: the MAIL FROM of an MDN MUST be the null reverse-path
    else:
        responsible = [r for r in env.recipients if r.responsible]
        entity = ipn_entity(run, content, leading, responsible)
    check_conversion_with_loss(run, env)
    smtp = smtp_from_x400(mail_from, pairs, env.identifier, env.indicators,
                          lambda kind, detail, rule: run.defect(kind, detail, rule,
                                                                 lossy=False))
    return MimeResult(message=serialize(entity), mail_from=mail_from, rcpt_to=rcpt_to,
                      defects=tuple(run.defects), smtp=smtp)


def smtp_envelope(run: Run, env: Envelope) -> tuple[str, tuple[str, ...]]:
    """§4.6.2.1 (A-26): MAIL FROM = the originator (directory name discarded); RCPT TO = each
    recipient with the responsibility bit.  An unmappable originator gives the gateway
    administrator (§5.3.2, X-2); unmappable recipients are skipped, and none left is an
    error."""
    mail_from = _smtp_originator(run, env)
    return mail_from, tuple(dict.fromkeys(a for _, a in smtp_recipients(run, env)))


def _smtp_originator(run: Run, env: Envelope) -> str:
    mail_from = run.addr_spec(env.originator, "originator")
    if mail_from is None:
        mail_from = run.ctx.postmaster
        run.defect("address", "SMTP originator set to the gateway administrator",
                   "RFC 2156 §5.3.2 (X-2)")
    return mail_from


def smtp_recipients(run: Run, env: Envelope) -> list[tuple[Recipient, str]]:
    """§4.6.2.1 (A-26): each recipient with the responsibility bit and its RCPT TO address
    (the unmappable ones skipped, none left an error) -- in envelope order, so that App A
    §3.2 can give each its NOTIFY and ORCPT (R-11)."""
    responsible = [r for r in env.recipients if r.responsible]
    pairs = []
    for r in responsible:
        address = run.addr_spec(r.name, "recipient")
        if address:
            pairs.append((r, address))
    if responsible and not pairs:
        raise MappingError("no recipient of the message can be mapped to RFC 822 "
                           "(RFC 2156 §4.6.2.1)", address=str(responsible[0].name))
    if not responsible:
        run.defect("recipients", "no recipient has the responsibility bit: no SMTP "
                   "recipients", "RFC 2156 §4.6.2.1 (A-26)", lossy=False)
    return pairs


def message_date(run: Run, env: Envelope) -> str:
    """§5.3.2 (X-2, Date always present) and §5.3.6 (message-submission-time -> Date): the
    transfer envelope has no submission time; the originating domain's trace element (the
    first) records it, as in the §5.3.4.2 example.  Without trace: the conversion time."""
    trace = env.trace or tuple(merged_trace(env))
    if trace:
        return date(trace[0].arrival_time)
    run.defect("date", "no trace: Date is the conversion time", "RFC 2156 §5.3.2", lossy=False)
    return date(run.ctx.now)


def check_conversion_with_loss(run: Run, env: Envelope) -> None:
    """X.411 conversion-with-loss-prohibited (extension 4) and RFC 2157 §6.2: a lossy body
    conversion is then a non-delivery, unless the policy does not reject critical items."""
    ext = env.extension(StandardExtension.CONVERSION_WITH_LOSS_PROHIBITED)
    if ext is None or ext.value is not True:
        return
    lost = [d for d in run.defects if d.lossy and d.kind in _CONTENT_LOSS]
    if not lost:
        return
    if run.ctx.policy.reject_critical:
        raise ConversionWithLossProhibited(
            "conversion with loss prohibited, but: " + "; ".join(str(d) for d in lost))
    run.defect("conversion", "conversion-with-loss-prohibited not honoured (policy)",
               "RFC 2157 §6.2")
