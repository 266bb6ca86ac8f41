"""What goes into the queue and what comes out of a delivery attempt (shared by every side).

The queue (:mod:`bridge.queue.store`) stores a :class:`Submission` durably -- JSON for the
envelope and metadata, the message octets as raw bytes, a schema version, never pickle
(STYLE.md §10) -- and keeps a state per recipient.  Delivery workers report one
:data:`Outcome` per recipient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

#: to-x400: ``data`` is an RFC 5322 message (from SMTP), converted and sent over P1 / spool --
#: or, with ``meta["format"] == "apdu"``, a ready BER MTS-APDU (a report the gateway wrote).
#: to-smtp: ``data`` is a BER MTS-APDU (from P1 / spool, ``meta["format"] == "apdu"``),
#: converted and sent by SMTP -- or an RFC 5322 message sent as it is (mail relayed from SMTP
#: to SMTP, DSNs the gateway wrote).
Direction = Literal["to-x400", "to-smtp"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    """One recipient of a submission.

    ``address`` is the address on the *source* side (RFC 5321 forward-path for to-x400, the
    std-or text of the O/R name for to-smtp); ``route`` names the destination the delivery
    worker uses (an X.400 peer nickname, ``"spool"``, or an SMTP domain) -- it is also the key
    of the per-destination backoff.  ``notify`` holds RFC 3461 NOTIFY values (empty = not
    given), ``orcpt`` the ORCPT (``type;xtext``).  ``extra`` is JSON-able data the converter
    needs (e.g. the X.400 per-recipient report request).
    """

    address: str
    route: str = ""
    notify: tuple[str, ...] = ()
    orcpt: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Submission:
    """A message entering the queue -- the only way in is ``Queue.submit``.

    ``origin`` says where it came from ("smtp", "p1:<peer>", "spool", "cli", "report");
    ``sender`` is the SMTP MAIL FROM (to-x400; "" for the null reverse-path) or the X.400
    originator (to-smtp); ``meta`` is JSON-able (ENVID, RET, client address, tracking id, ...).
    ``priority`` is the RFC 6710 priority (-9..9, higher first, 0 the default): a claim takes
    due recipients of a higher priority before older ones of a lower priority.
    """

    direction: Direction
    origin: str
    sender: str
    recipients: tuple[Recipient, ...]
    data: bytes
    meta: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivered:
    """The next hop took responsibility for the message for this recipient."""

    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """Permanent failure for this recipient: report it (DSN or X.400 NDR).

    ``status`` is the RFC 3463 enhanced code ("5.1.1"), ``diagnostic`` the remote text (e.g.
    "smtp; 550 5.1.1 no such user" or "x400; 1 0"); ``x400`` optionally the X.411
    (reason, diagnostic) pair.
    """

    status: str
    diagnostic: str = ""
    x400: tuple[int, int | None] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Deferred:
    """Temporary failure: try again later (exponential backoff per destination)."""

    status: str = "4.0.0"
    diagnostic: str = ""


Outcome = Delivered | Failed | Deferred
