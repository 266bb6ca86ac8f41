"""RFC 7912: the ``MMHS-Authorizing-Users`` header field and the From / Sender mapping of a
military message (P772).

RFC 2156 §4.7.3.2 / §5.1.3 map ``From:`` to the X.420 authorizing-users and ``Sender:`` to the
originator when both are present, and the other way round.  In a military message the two
roles are distinct people: the drafter (``From:``, the X.420 originator) and the release
authority that authorizes the message (RFC 7912 §3, §4 "Draft and Release").  RFC 7912 gives
the release authority its own field, ``MMHS-Authorizing-Users: mailbox-list``, and the gateway
rule (RFC 7912 §5, read with RFC 6477 §6) for a military message is:

* ``From:`` <-> originator;
* ``MMHS-Authorizing-Users:`` <-> authorizing-users;
* no ``Sender:`` is generated; a ``Sender:`` received with a single ``From:`` mailbox has no
  heading field left and stays, verbatim, in the rfc-822-field extension (RFC 2156 §5.1.3
  "Other Fields") so that it comes back unchanged.  With several ``From:`` mailboxes (RFC 5322
  §3.6.2: then ``Sender:`` is required) the Sender is the originator and the ``From:`` field
  is kept in rfc-822-field.

A message with the field is a military message: it becomes P772 like one with any RFC 6477
field (the field is recorded in ``HeadingBuilder.mmhs`` under :data:`KEY`, which is not a
heading-extension OID and so generates no extension).  On the way back the rule applies to a
heading with STANAG 4406 heading extensions, an originator and authorizing users; any other
heading keeps the RFC 2156 mapping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.convert.mime_run import Run
from bridge.convert.result import Defect
from bridge.convert.x400_fields import Invalid
from bridge.model.ipm import Heading, ORDescriptor
from bridge.model.mmhs import is_military

if TYPE_CHECKING:
    from bridge.convert.x400_heading import HeadingBuilder

RULE = "RFC 7912 §5"
FIELD = "MMHS-Authorizing-Users"
#: the ``HeadingBuilder.mmhs`` key of the field's mailboxes (not an OID: no heading extension)
KEY = "rfc7912/authorizing-users"


# ------------------------------------------------------------------------- 822 -> X.400


def authorizing_in(b: HeadingBuilder, name: str, value: str) -> None:
    """RFC 7912 §3 ``MMHS-Authorizing-Users: mailbox-list``; the field appears at most once
    (a second one, or one without a mailbox, goes to rfc-822-field with a defect)."""
    if KEY in b.mmhs:
        raise Invalid(f"second {FIELD} field (RFC 7912 §3)")
    users = tuple(b.descriptors(value))
    if not users:
        raise Invalid("no mailbox (RFC 7912 §3 mailbox-list)")
    b.mmhs[KEY] = users


def roles(b: HeadingBuilder, sender_raw: list[str], from_raw: list[str]
          ) -> tuple[ORDescriptor | None, tuple[ORDescriptor, ...] | None]:
    """The (originator, authorizing-users) of a military message (RFC 7912 §5); the
    ``Sender:`` / ``From:`` fields left without a heading field go to rfc-822-field."""
    users = b.mmhs.get(KEY)
    authorizing = users if isinstance(users, tuple) and users else None
    if len(b.from_) == 1:
        for raw in sender_raw:
            b.extension_field("Sender", raw)
            b.defects.append(Defect("mmhs", "Sender: kept in the rfc-822-field extension (a "
                                    "military message maps From: to the originator)", RULE,
                                    lossy=False))
        return b.from_[0], authorizing
    if b.from_:
        for raw in from_raw:
            b.extension_field("From", raw)
        b.defects.append(Defect("mmhs", "From: has several mailboxes: the Sender is the "
                                "originator, From: kept in the rfc-822-field extension", RULE,
                                lossy=False))
    return (b.sender[0] if b.sender else None), authorizing


# ------------------------------------------------------------------------- X.400 -> 822


def applies(h: Heading) -> bool:
    """Is the RFC 7912 mapping used for this heading (a military heading with both an
    originator and authorizing users)?"""
    return bool(h.authorizing_users) and h.originator is not None and any(
        is_military(e.type) for e in h.extensions or ())


def authorizing_field(run: Run, h: Heading) -> str | None:
    """``MMHS-Authorizing-Users:`` for a heading :func:`applies` to."""
    if not applies(h):
        return None
    return run.descriptors(h.authorizing_users or (), "authorizing user")
