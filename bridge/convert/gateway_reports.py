"""Reports the gateway itself writes about a message it took responsibility for.

When the gateway has accepted an X.400 message (P1 transfer confirmed) and then cannot deliver
it on the Internet side -- the recipient does not map (RFC 2156 §4.3.5), the SMTP server
refuses it, the queue gives up -- it must tell the X.400 originator with a non-delivery report,
exactly as an X.400 MTA would (X.411 §14.3.2, RFC 2156 §5.3.8 in reverse); and a delivery
report when the recipient asked for one and the message was relayed (X.411 §12.2.1.1.1.16).
The SMTP status codes map to X.411 reason and diagnostic codes through the same
``mappings/dsn-x400-status.tsv`` table (R-9) that DSNs use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bridge.convert.context import Context
from bridge.convert.dsn_status import status_tables
from bridge.convert.report_common import NOT_PRINTABLE, UB_LOCAL_ID, UB_SUPPLEMENTARY_INFO
from bridge.model.apdu import Message
from bridge.model.common import MTSIdentifier, StandardExtension, TraceElement
from bridge.model.envelope import Envelope, PerRecipientIndicators, Recipient
from bridge.model.report import DeliveryOutcome, NonDeliveryOutcome, Report, ReportedRecipient

#: X.411 §12.2.1.1.1.16: the per-recipient indicator bits that ask for a delivery report
WANTS_DELIVERY_REPORT = (PerRecipientIndicators.ORIGINATOR_REPORT
                         | PerRecipientIndicators.ORIGINATING_MTA_REPORT)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipientFate:
    """What became of one recipient: delivered (``status`` None) or failed with an RFC 3463
    status ("5.1.1") and the remote diagnostic text."""

    status: str | None = None
    diagnostic: str = ""


def reported(r: Recipient, outcome: DeliveryOutcome | NonDeliveryOutcome, ctx: Context,
             note: str) -> ReportedRecipient:
    """One recipient of a report the gateway writes, its supplementary information ``note``
    made a PrintableString within its upper bound."""
    return ReportedRecipient(
        actual_recipient=r.name, number=r.number, indicators=r.indicators, arrival_time=ctx.now,
        outcome=outcome,
        supplementary_information=NOT_PRINTABLE.sub("?", note)[:UB_SUPPLEMENTARY_INFO])


def gateway_report(env: Envelope, recipients: Sequence[ReportedRecipient], ctx: Context, *,
                   local: str) -> Report:
    """A report from this gateway (its domain, its trace element) on the message or probe
    with envelope ``env``, to that envelope's originator (X.411 §12.2.1.2).  The subject's
    message-security-label goes into the report transfer envelope: X.400's message security
    labelling labels a message "and any reports on the message or probe" (X.402 §10.2)."""
    label = tuple(e for e in env.extensions
                  if e.type == StandardExtension.MESSAGE_SECURITY_LABEL)
    return Report(
        identifier=MTSIdentifier(domain=ctx.domain_id, local=local),
        destination=env.originator,
        trace=(TraceElement(domain=ctx.domain_id, arrival_time=ctx.now),),
        subject_identifier=env.identifier, subject_intermediate_trace=env.trace or None,
        original_eits=env.original_eits, content_type=env.content_type,
        content_identifier=env.content_identifier, recipients=tuple(recipients),
        envelope_extensions=label)


def message_report(message: Message, fates: Mapping[int, RecipientFate], ctx: Context) -> \
        Report | None:
    """The X.411 Report on ``message`` for the recipients (by recipient number) in ``fates``.

    Failed recipients always get a non-delivery report; delivered ones a delivery report only
    when their per-recipient indicators ask for one.  None when nothing is to be reported.
    """
    env = message.envelope
    tables = status_tables()
    out = []
    for r in env.recipients:
        fate = fates.get(r.number)
        if fate is None:
            continue
        outcome: DeliveryOutcome | NonDeliveryOutcome
        if fate.status is None:
            if not r.indicators & WANTS_DELIVERY_REPORT:
                continue
            outcome = DeliveryOutcome(delivery_time=ctx.now)
        else:
            code = tables.to_x400(fate.status)
            outcome = NonDeliveryOutcome(reason=code.reason, diagnostic=code.diagnostic)
        out.append(reported(r, outcome, ctx,
                            fate.diagnostic or f"MIXER gateway {ctx.gateway_domain}"))
    if not out:
        return None
    digest = hashlib.sha256(repr((env.identifier, sorted(fates))).encode()).hexdigest()
    return gateway_report(env, out, ctx, local=("rpt." + digest)[:UB_LOCAL_ID])
