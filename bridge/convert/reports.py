"""Delivery reports <-> delivery status notifications (RFC 2156 §5.1.8, §5.3.8, §5.3.9; RFC 3464).

* :func:`report_to_dsn` -- an X.400 report becomes a ``multipart/report;
  report-type=delivery-status`` (§5.3.8, conformance R-1..R-6, R-15): the ``dr-user-info``
  text, the ``message/delivery-status`` part with MIXER's ``X400-*`` fields, and the returned
  content.
* :func:`dsn_to_report` -- a DSN becomes an MTA.Report (§5.1.8, R-7..R-10): failed/delivered
  recipients are reported, delayed/relayed/expanded ones go to an IPM; the DSN's headers and
  fields ride in the ``dsn-header-list`` / ``dsn-field-list`` extensions and the whole DSN is
  the returned content.
* :func:`answer_probe` -- the gateway services a probe itself (§5.3.9, G-3).

The two conversions live in :mod:`bridge.convert.dsn_from_report` and
:mod:`bridge.convert.report_from_dsn` (their shared text forms in
:mod:`bridge.convert.report_common`); this module is their common entry point and holds the
probe answer.

Status codes come from :mod:`bridge.convert.dsn_status` (the tables in ``mappings/``).
The message and content conversions of ``to_mime`` / ``to_x400`` are used when present
(imported lazily); without them the returned content and the R-7 IPM fall back to the minimal
forms described at ``dsn_from_report._returned_part`` and ``report_from_dsn._minimal_ipm``,
recorded as defects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from bridge.convert.context import Context
from bridge.convert.dsn_from_report import report_to_dsn
from bridge.convert.gateway_reports import gateway_report, reported
from bridge.convert.notary import SmtpEnvelope
from bridge.convert.report_common import (
    digest,
    local_id,
)
from bridge.convert.report_from_dsn import NotADSNError, dsn_to_report
from bridge.convert.result import Defect, X400Result
from bridge.model import (
    DeliveryOutcome,
    NonDeliveryOutcome,
    ORName,
    Probe,
    Report,
)

__all__ = ["NotADSNError", "answer_probe", "dsn_to_report", "internet_to_x400", "is_dsn",
           "report_to_dsn"]


def is_dsn(data: bytes) -> bool:
    """An RFC 3464 DSN (``multipart/report; report-type=delivery-status``), judged from the
    first 8 KiB -- the header and the start of the body."""
    head = data[:8192].lower()
    return b"multipart/report" in head and b"delivery-status" in head


def internet_to_x400(data: bytes, mail_from: str, rcpt_to: Sequence[str], ctx: Context, *,
                     smtp: SmtpEnvelope | None = None) -> X400Result:
    """An RFC 5322 message towards X.400: a DSN becomes an X.400 report (RFC 2156 §5.1.8),
    anything else an IPM (§5.1).  Both conversions check the message's limits
    (:func:`~bridge.convert.limits.check_limits`) before they parse it."""
    from bridge.convert.to_x400 import mime_to_x400

    if is_dsn(data):
        try:
            return dsn_to_report(data, mail_from, rcpt_to, ctx)
        except NotADSNError as exc:         # a report-shaped message: still a message
            res = mime_to_x400(data, mail_from, rcpt_to, ctx, smtp=smtp)
            note = Defect("dsn", f"not converted as a report ({exc}): converted as a message",
                          "RFC 2156 §5.1.8", lossy=False)
            return dataclasses.replace(res, defects=(note, *res.defects))
    return mime_to_x400(data, mail_from, rcpt_to, ctx, smtp=smtp)


# ============================================================== probes (§5.3.9, G-3)


def answer_probe(probe: Probe, ctx: Context, deliverable: Callable[[ORName], bool]) -> Report:
    """RFC 2156 §5.3.9: the gateway services a probe itself.

    Each recipient the probe hands to the gateway (responsibility bit set; all of them if
    none is marked) gets a delivery report when ``deliverable`` says a message would be
    delivered, else unable-to-transfer / unrecognised-OR-name.  The supplementary
    information names the gateway, as §5.3.9 requires.
    """
    env = probe.envelope
    note = f"Probe serviced by MIXER gateway {ctx.gateway_domain}"
    targets = [r for r in env.recipients if r.responsible] or list(env.recipients)
    recipients = [
        reported(r, DeliveryOutcome(delivery_time=ctx.now) if deliverable(r.name)
                 else NonDeliveryOutcome(reason=1, diagnostic=0), ctx, note)
        for r in targets]
    return gateway_report(env, recipients, ctx,
                          local=local_id("probe." + digest(env.identifier)[:20]))
