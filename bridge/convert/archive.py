"""Archived Internet messages towards X.400: an SMTP envelope made from what the headers
record (issue 13: "every real message converts, with its losses reported").

A message taken from an archive has no SMTP envelope, and RFC 2156 §5.1 needs one (the MTS
originator and recipients).  The headers that record it are used, in this order:

* originator: ``Return-Path`` (RFC 5321 §4.4: the reverse-path, ``<>`` included), ``Sender``,
  ``From``;
* recipients: ``To``, ``Cc``, ``Bcc``; when none of those names a recipient that can be
  carried, the trace of the delivery -- ``Resent-To``, ``Resent-Cc``, ``Resent-Bcc``,
  ``Delivered-To``, ``X-Original-To``, ``Envelope-To``, ``X-Envelope-To``,
  ``Apparently-To`` -- and then the archive's owner (``--owner``, an X.400 P1 message needs
  at least one recipient, X.411 §12.2.1.1), else the gateway's postmaster.

An address that cannot be carried (8-bit where ASCII is needed, an empty local part, a broken
source route) is left out of the envelope with a defect; the header field itself still goes
to the IPM heading, where the conversion keeps what it cannot map as text (rfc-822-field).
Each choice made here is a defect of the result, so the report says how the envelope came
about.  Nothing here is used by the gateway, which has the real envelope.
"""

from __future__ import annotations

import dataclasses
import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

from bridge.convert.context import Context
from bridge.convert.result import Defect, X400Result
from bridge.errors import BridgeError
from bridge.mapping.address import Role

_RULE = "RFC 2156 §5.1 (archive: the envelope from the headers)"
_ORIGINATOR_FIELDS = ("Return-Path", "Sender", "From")
_RECIPIENT_FIELDS = ("To", "Cc", "Bcc")
#: fields that record where a copy was delivered, when To/Cc/Bcc name nobody (Bcc copies,
#: list mail, drafts)
_DELIVERY_FIELDS = ("Resent-To", "Resent-Cc", "Resent-Bcc", "Delivered-To", "X-Original-To",
                    "Envelope-To", "X-Envelope-To", "Apparently-To")


@dataclass(frozen=True, slots=True)
class ArchiveEnvelope:
    """The SMTP envelope made for an archived message and how it was made."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    defects: tuple[Defect, ...] = ()


def _addresses(values: Sequence[str]) -> list[str]:
    try:
        return [a for _, a in email.utils.getaddresses([str(v) for v in values])]
    except (RecursionError, ValueError, IndexError, TypeError):   # the stdlib parser's limits
        return []


def _carried(address: str, ctx: Context, role: Role) -> str | None:
    """None when ``address`` can be an envelope address, else why not."""
    if not address.isascii():
        return "it has non-ASCII characters"
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return "it is not local-part@domain"
    try:
        ctx.to_x400(address, role)
    except BridgeError as exc:
        return str(exc)
    return None


def archive_envelope(data: bytes, ctx: Context, *, owner: str | None = None) -> ArchiveEnvelope:
    """The envelope for ``data`` from its headers (see the module docstring)."""
    defects: list[Defect] = []
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(data)
        get = headers.get_all
    except (RecursionError, ValueError, IndexError, TypeError):
        defects.append(Defect("envelope", "the header cannot be read for addresses", _RULE))

        def get(name: str, default: list[str] | None = None) -> list[str]:  # type: ignore[misc]
            return []

    mail_from = ""
    for name in _ORIGINATOR_FIELDS:
        values = get(name, []) or []
        if name == "Return-Path" and any(str(v).strip() in ("<>", "") for v in values[:1]):
            break                                           # the null reverse-path
        for address in _addresses(values):
            why = _carried(address, ctx, Role.SMTP_ORIGINATOR) if address else "empty"
            if why is None:
                mail_from = address
                break
            defects.append(Defect("envelope", f"{name}: {address!r} is not the originator: "
                                  f"{why}", _RULE))
        if mail_from:
            break

    rcpts: list[str] = []
    for group in (_RECIPIENT_FIELDS, _DELIVERY_FIELDS):
        for name in group:
            for address in _addresses(get(name, []) or []):
                if not address or address in rcpts:
                    continue
                why = _carried(address, ctx, Role.SMTP_RECIPIENT)
                if why is None:
                    rcpts.append(address)
                else:
                    defects.append(Defect("envelope", f"{name}: {address!r} left out of the "
                                          f"envelope: {why}", _RULE))
        if rcpts:
            if group is _DELIVERY_FIELDS:
                defects.append(Defect("envelope", "no To/Cc/Bcc recipient: the recipients "
                                      "are those the delivery fields record", _RULE,
                                      lossy=False))
            break
    if not rcpts:
        fallback = owner or ctx.postmaster
        what = "the archive's owner" if owner else "the gateway's postmaster"
        address = _addresses([fallback])[0] if _addresses([fallback]) else fallback
        rcpts.append(address)
        defects.append(Defect("envelope", f"no recipient in the headers: the envelope names "
                              f"{what}, {address}", _RULE, lossy=False))
    return ArchiveEnvelope(mail_from=mail_from, rcpt_to=tuple(rcpts), defects=tuple(defects))


def archive_to_x400(data: bytes, ctx: Context, *, owner: str | None = None) -> X400Result:
    """An archived RFC 5322 message (or DSN) as X.400: :func:`archive_envelope` (``owner``,
    else ``ctx.archive_owner``), then the gateway's own conversion
    (:func:`bridge.convert.reports.internet_to_x400`)."""
    from bridge.convert.reports import internet_to_x400

    env = archive_envelope(data, ctx, owner=owner or ctx.archive_owner)
    res = internet_to_x400(data, env.mail_from, list(env.rcpt_to), ctx)
    return dataclasses.replace(res, defects=(*env.defects, *res.defects))
