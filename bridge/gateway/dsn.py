"""DSNs the gateway writes itself, about mail it accepted by SMTP (RFC 3461 §6, RFC 3464).

When a message that came in by SMTP cannot be delivered on the X.400 side (it does not convert,
no peer takes it and the queue expires it) or is delayed past the warning time, the gateway is
the reporting MTA: it sends a ``multipart/report; report-type=delivery-status`` to the
MAIL FROM address (never to the null reverse-path, RFC 5321 §6.1), honouring each recipient's
NOTIFY (RFC 3461 §4.1: NEVER suppresses, SUCCESS/DELAY only when asked) and the RET parameter
(§4.3: FULL returns the message, HDRS only its header).
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DSNRecipient:
    """One per-recipient block (RFC 3464 §2.3)."""

    address: str
    action: str                      # failed | delayed | delivered | relayed
    status: str                      # RFC 3463, e.g. 5.1.1
    diagnostic: str = ""             # "smtp; ..." or "x400; ..." or free text
    orcpt: str | None = None         # "rfc822;user@example.org"
    remote_mta: str | None = None


def wanted(action: str, notify: Sequence[str]) -> bool:
    """RFC 3461 §4.1: does this recipient's NOTIFY ask for a DSN of this action?"""
    values = {n.upper() for n in notify}
    if "NEVER" in values:
        return False
    if action == "failed":
        return not values or "FAILURE" in values
    if action == "delayed":
        return "DELAY" in values
    if action in ("delivered", "relayed"):
        return "SUCCESS" in values
    return False


def _header_only(original: bytes) -> bytes:
    end = original.find(b"\r\n\r\n")
    if end < 0:
        end = original.find(b"\n\n")
    return original if end < 0 else original[:end + 2]


def make_dsn(*, original: bytes, sender: str, recipients: Sequence[DSNRecipient],
             reporting_mta: str, postmaster: str, envid: str | None = None,
             ret: str | None = None, arrival: datetime | None = None,
             now: datetime | None = None) -> bytes:
    """The DSN message (RFC 3464 §2) for ``recipients``, addressed to ``sender``."""
    now = now or datetime.now(UTC)
    failed = any(r.action == "failed" for r in recipients)
    boundary = "=_dsn_" + email.utils.make_msgid().strip("<>").replace("@", "_")
    subject = "Undelivered Mail Returned to Sender" if failed else "Delivery Status Notification"
    head = [
        f"From: Mail Delivery System <{postmaster}>", f"To: <{sender}>",
        f"Subject: {subject}", f"Date: {email.utils.format_datetime(now)}",
        f"Message-ID: {email.utils.make_msgid(domain=reporting_mta)}",
        "Auto-Submitted: auto-replied", "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"']
    human = [f"This is the mail gateway at {reporting_mta}.", ""]
    for r in recipients:
        human.append(f"<{r.address}>: {r.action} ({r.status})"
                     + (f": {r.diagnostic}" if r.diagnostic else ""))
    # RFC 3464 §2.2 per-message fields, §2.3 per-recipient fields
    status = [f"Reporting-MTA: dns; {reporting_mta}"]
    if envid:
        status.append(f"Original-Envelope-Id: {envid}")
    if arrival is not None:
        status.append(f"Arrival-Date: {email.utils.format_datetime(arrival)}")
    for r in recipients:
        status.append("")
        if r.orcpt:
            status.append(f"Original-Recipient: {r.orcpt}")
        status += [f"Final-Recipient: rfc822; {r.address}", f"Action: {r.action}",
                   f"Status: {r.status}"]
        if r.remote_mta:
            status.append(f"Remote-MTA: dns; {r.remote_mta}")
        if r.diagnostic:
            kind = r.diagnostic.split(";", 1)[0].strip().lower()
            status.append("Diagnostic-Code: " + (r.diagnostic if kind in ("smtp", "x400")
                                                 else f"x-gateway; {r.diagnostic}"))
        status.append(f"Last-Attempt-Date: {email.utils.format_datetime(now)}")
    full = (ret or "").upper() == "FULL"
    returned = original if full else _header_only(original)
    eight_bit = any(b > 0x7F for b in returned)
    crlf = "\r\n"
    out = crlf.join(head) + crlf + crlf
    out += f"This is a MIME-encapsulated delivery status notification.{crlf}{crlf}"
    out += f"--{boundary}{crlf}Content-Type: text/plain; charset=us-ascii{crlf}{crlf}"
    out += crlf.join(_ascii(line) for line in human) + crlf + crlf
    out += f"--{boundary}{crlf}Content-Type: message/delivery-status{crlf}{crlf}"
    out += crlf.join(_ascii(line) for line in status) + crlf + crlf
    out += (f"--{boundary}{crlf}Content-Type: "
            f"{'message/rfc822' if full else 'text/rfc822-headers'}{crlf}")
    if eight_bit:
        out += f"Content-Transfer-Encoding: 8bit{crlf}"
    data = out.encode("ascii") + crlf.encode() + _crlf(returned)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + f"--{boundary}--{crlf}".encode("ascii")


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def _crlf(data: bytes) -> bytes:
    """Canonical CRLF line ends (RFC 5322 §2.1) for the returned content."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
