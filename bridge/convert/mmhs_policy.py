"""Military messages and the peer or route they go to: the per-peer content policy (P22 or
P772), and the X.400 priority of a P772 message.

**Content policy** (``PeerProfile.content``, ``content = "auto" | "p772" | "p22"`` in a peer
table, docs/x400-endpoint.md), applied by :func:`bridge.x400.profile.prepare` to each
message just before it goes to the peer:

* ``auto`` (default): the content goes as converted -- P772 when the message has ``MMHS-*``
  fields (RFC 6477 §6), else P2/P22.
* ``p772`` (a military MTA): a P2/P22 message goes as P772 (content type
  ``id-mmhs-cont-mm88``).  An IPM gets what RFC 6477 §6 requires of a P772 IPM: a (the
  extended-authorisation-info, here the submission time: the first trace element's arrival,
  X.411 §12.2.1.1.1.7, since an X.420 heading has no date), b (primary-precedence, the local
  default :data:`~bridge.convert.mmhs.DEFAULT_PRIMARY_PRECEDENCE` when the IPM has primary
  recipients), d (this-IPM local identifier of 15 characters or more, with the envelope
  originator as its O/R address part when it had none), and its forwarded messages become
  MM-Messages.  An IPN changes only its content type (``mn`` has the IPN's tag).
* ``p22`` (a peer that takes no P772): a P772 message is **not** transferred.  RFC 6477 §6
  says a message with ``MMHS-*`` fields MUST go as P772; downgrading it to P22 would drop
  the military heading extensions (precedence, authorisation time, ...) that the recipient's
  handling depends on, so the message is non-delivered instead:
  :class:`~bridge.convert.to_mime.ContentTypeNotSupported` (X.411 unable-to-transfer /
  content-type-not-supported, SMTP 5.6.1).

**Priority** (RFC 6710 §4.5 / App A, :func:`envelope_priority`): a P772 message without an
SMTP MT-PRIORITY takes its X.411 envelope priority from the ``MMHS-Primary-Precedence`` it
was given (:data:`bridge.convert.priority.PRECEDENCE_PRIORITY`), over a ``Priority:`` field
(the difference is a defect).  A precedence outside the six NATO levels, or the §6 b default
(the originator gave no precedence), leaves the priority to ``Priority:`` (normal without).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Literal

from bridge.codec import decode_content, encode_content
from bridge.convert.mmhs import (
    ACP123_MIN_LOCAL,
    DEFAULT_PRIMARY_PRECEDENCE,
    PRIMARY,
    RULE_6,
    with_extensions,
)
from bridge.convert.priority import PRECEDENCE_PRIORITY
from bridge.convert.result import Defect
from bridge.convert.to_mime import ContentTypeNotSupported
from bridge.model import mmhs
from bridge.model.apdu import Message
from bridge.model.common import Priority
from bridge.model.ipm import IPM, IPMIdentifier, IPMSExtension
from bridge.model.oraddress import ORName

ContentPolicy = Literal["auto", "p22", "p772"]
#: the values of the ``content`` peer key
CONTENT_POLICIES: tuple[ContentPolicy, ...] = ("auto", "p22", "p772")
#: X.411 built-in content types of interpersonal messaging: P2 (1984), P22 (1988)
IPMS_BUILT_IN = (2, 22)


def apply_content_policy(apdu: Message, content: ContentPolicy, now: datetime
                         ) -> tuple[Message, list[str]]:
    """``apdu`` as a peer with content policy ``content`` takes it, and notes for the log;
    raises :class:`ContentTypeNotSupported` for a P772 message to a ``p22`` peer."""
    ctype = apdu.envelope.content_type
    if content == "p22" and ctype == mmhs.ID_MMHS_CONT_MM88:
        raise ContentTypeNotSupported("the peer takes no P772 (content = \"p22\") and a "
                                      "military message must go as P772 (RFC 6477 section 6)")
    if content != "p772" or ctype not in IPMS_BUILT_IN:
        return apdu, []
    obj = decode_content(apdu.content)
    notes = [f"content type {ctype} sent as P772 ({mmhs.ID_MMHS_CONT_MM88}): the peer "
             "takes military messages only (content = \"p772\")"]
    if isinstance(obj, IPM):
        trace = apdu.envelope.trace
        when = trace[0].arrival_time if trace else now
        defects: list[Defect] = []
        obj = force_p772(obj, when, apdu.envelope.originator, defects)
        notes += [f"{d.kind}: {d.detail} ({d.rule})" for d in defects]
    env = replace(apdu.envelope, content_type=mmhs.ID_MMHS_CONT_MM88)
    return replace(apdu, envelope=env, content=encode_content(obj)), notes


def force_p772(ipm: IPM, when: datetime, originator: ORName,
               defects: list[Defect]) -> IPM:
    """A P2/P22 IPM as P772 (RFC 6477 §6 rules a, b, d for an IPM without ``MMHS-*``
    fields); ``originator`` is the O/R address part of an identifier without one."""
    h = ipm.heading
    have = {e.type for e in h.extensions or ()}
    added: list[IPMSExtension] = []
    if mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO not in have:
        added.append(IPMSExtension(type=mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO,
                                   value=mmhs.ExtendedAuthorisationInfo(time=when)))
        defects.append(Defect("mmhs", "extended-authorisation-info is the submission time",
                              RULE_6 + " a", lossy=False))
    if h.primary and mmhs.ID_MM_PRIMARY_PRECEDENCE not in have:
        added.append(IPMSExtension(type=mmhs.ID_MM_PRIMARY_PRECEDENCE, value=mmhs.
                                   PrimaryPrecedence(level=DEFAULT_PRIMARY_PRECEDENCE)))
        defects.append(Defect("mmhs", "primary-precedence set to "
                              f"{DEFAULT_PRIMARY_PRECEDENCE.name.lower()} (local policy)",
                              RULE_6 + " b", lossy=False))
    ident = h.this_ipm
    this_ipm = IPMIdentifier(user=ident.user or originator,
                             local=ident.local.ljust(ACP123_MIN_LOCAL))
    return with_extensions(ipm, added, this_ipm, defects)


def envelope_priority(found: dict[str, object], given: Priority | None,
                      defects: list[Defect]) -> Priority:
    """The X.411 priority of a P772 message without MT-PRIORITY: that of the
    ``MMHS-Primary-Precedence`` field's level (``found`` is ``HeadingBuilder.mmhs``), else
    ``given`` (the ``Priority:`` field), else normal."""
    value = found.get(mmhs.ID_MM_PRIMARY_PRECEDENCE)
    level = value.level if isinstance(value, mmhs.PrimaryPrecedence) else None
    if level is None or level not in mmhs.Precedence._value2member_map_:
        return given or Priority.NORMAL
    priority = PRECEDENCE_PRIORITY[mmhs.Precedence(level)]
    if given is not None and given != priority:
        defects.append(Defect("priority", f"Priority: {_word(given)} not used: the {PRIMARY} "
                              f"{mmhs.Precedence(level).name.lower()} gives {_word(priority)}",
                              "RFC 6710 App A; RFC 6477 §6"))
    return priority


def _word(priority: Priority) -> str:
    return priority.name.lower().replace("_", "-")
