"""X.400 notification requests -> ``Disposition-Notification-To:`` (N-5, policy ipn_as_mdn).

X.420 §7.1.5: each heading recipient (RecipientSpecifier) may ask for a receipt (``rn``)
and/or a non-receipt (``nrn``) notification, which its UA sends to the IPM's originator.
RFC 8098 §2.1 asks for an MDN message-wide with ``Disposition-Notification-To:`` naming the
address the MDN goes to.  The project's suggested mapping (CONFORMANCE N-5, RFC 8098 §8
"non-binding" guidelines; RFC 2156 §5.3 has no element for it and is followed when the
policy is off):

* X.400 -> 822 (here): when a heading recipient that this conversion delivers to (a
  responsible envelope recipient, or the originally intended recipient of a redirected one)
  asks for rn or nrn, the header gets ``Disposition-Notification-To: <originator>``: the
  heading originator's address, else the SMTP originator (the MTS originator, §4.6.2.1);
* 822 -> X.400 (:func:`bridge.convert.x400_heading.originator_asks`): a
  Disposition-Notification-To naming a From or Sender mailbox asks every recipient for rn
  and nrn; the field itself is kept in the rfc-822-field extension (§5.1.2), so that it comes
  back verbatim -- and then no second one is generated here.

Recipients that asked nothing and recipients this conversion does not deliver to do not make
the request: RFC 8098 has one request for every recipient of the 822 message.
"""

from __future__ import annotations

from bridge.convert.mime_headers import Header, Run, redirected_from
from bridge.model.envelope import Envelope
from bridge.model.ipm import IPM, NotificationRequests
from bridge.model.oraddress import ORAddress

__all__ = ["FIELD", "disposition_notification_to"]

FIELD = "Disposition-Notification-To"  # RFC 8098 §2.1
ASKS = NotificationRequests.RN | NotificationRequests.NRN  # X.420 §7.1.5 rn(0), nrn(1)


def _delivered_to(env: Envelope) -> set[ORAddress]:
    """The O/R addresses this conversion delivers to: the responsible recipients and, for a
    redirected one, the originally intended recipient (the name the heading carries)."""
    out: set[ORAddress] = set()
    for r in env.recipients:
        if r.responsible:
            out.add(r.name.address)
            first = redirected_from(r)
            if first is not None:
                out.add(first.address)
    return out


def disposition_notification_to(run: Run, ipm: IPM, env: Envelope) -> Header | None:
    """N-5: the ``Disposition-Notification-To`` field for ``ipm`` delivered with ``env``, or
    None (policy off, or no delivered recipient asks for rn/nrn).  The caller
    (:func:`~bridge.convert.mime_bodies.ipm_entity`) drops it when the field is already
    restored from rfc-822-field."""
    if not run.ctx.policy.ipn_as_mdn:
        return None
    h = ipm.heading
    delivered = _delivered_to(env)
    asking = [s for s in (h.primary or ()) + (h.copy or ()) + (h.blind_copy or ())
              if s.notification_requests & ASKS and s.recipient.formal_name is not None
              and s.recipient.formal_name.address in delivered]
    if not asking:
        return None
    address: str | None = None
    if h.originator is not None and h.originator.formal_name is not None:
        address = run.addr_spec(h.originator.formal_name, "IPM originator")
    address = address or run.smtp_originator  # §5.3.2: From is then the SMTP originator
    return (FIELD, address) if address else None
