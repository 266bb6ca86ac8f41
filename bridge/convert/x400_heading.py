"""RFC 822 header -> X.420 IPM heading (RFC 2156 §5.1.1-§5.1.3, §4.7, App B) and the
MIXER-defined MTS header fields (§5.1.7, App J).

The header fields are dispatched through :data:`HEADER_HANDLERS` (field name -> handler), a
registry as data in the way of ``email.headerregistry``.  A handler raises :class:`Invalid`
when the field body does not conform; the field then goes, unfolded, to the ``rfc-822-field``
heading extension (§5.1.3 "Other Fields": "the same treatment is applied to RFC 822 fields
where the content of the field does not conform").  Fields without a handler go there too
(§5.1.2, H-1).  Trace fields (Received, X400-Received) belong to :mod:`x400_trace`; MIME
fields to :mod:`x400_bodies` (RFC 2157).

Field values (unfolding, the ``rfc-822-field`` form, upper bounds, T.61, message identifiers,
dates) are in :mod:`bridge.convert.x400_fields`, addresses in
:mod:`bridge.convert.x400_addresses`; their names are importable from here as well.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.policy import default as default_policy
from typing import TypeVar

from bridge.codec.p22ext import ID_HEX, ID_RFC_822_FIELD_LIST
from bridge.convert import mmhs, mmhs_auth
from bridge.convert.context import Context
from bridge.convert.result import Defect
from bridge.convert.vocab import AUTOSUBMITTED, IMPORTANCE, SENSITIVITY, reverse
from bridge.convert.x400_addresses import (
    MailboxLike,
    SimpleMailbox,
    descriptor,
    group_descriptor,
    parse_address_list,
    parse_mailboxes,
)
from bridge.convert.x400_fields import (
    COMMENT,
    MSG_ID,
    UB_CONTENT_CORRELATOR,
    UB_CONTENT_ID,
    UB_FREE_FORM_NAME,
    UB_LANGUAGES,
    UB_SUBJECT,
    BoundsError,
    Invalid,
    bound_ipm_id,
    decode_raw,
    human_t61,
    ia5_field,
    msg_ids,
    parse_date,
    printable_content_id,
    truncate_safely,
    unfold,
)
from bridge.errors import BridgeError
from bridge.mapping.msgid import msgid_to_ipm_id
from bridge.model.common import EncodedInformationTypes, Opaque, Priority
from bridge.model.envelope import DLExpansion
from bridge.model.ipm import (
    Heading,
    Importance,
    IPMIdentifier,
    IPMSExtension,
    NotificationRequests,
    ORDescriptor,
    RecipientSpecifier,
    Sensitivity,
)
from bridge.model.oraddress import ORAddress

__all__ = [
    "BoundsError",
    "COMMENT",
    "HEADER_HANDLERS",
    "Handler",
    "HeadingBuilder",
    "ID_HEX_AUTO_SUBMITTED",
    "ID_HEX_INCOMPLETE_COPY",
    "ID_HEX_LANGUAGES",
    "Invalid",
    "MTS_FIELDS",
    "MailboxLike",
    "MtsFields",
    "SimpleMailbox",
    "UB_CONTENT_CORRELATOR",
    "UB_CONTENT_ID",
    "UB_FREE_FORM_NAME",
    "UB_LANGUAGES",
    "UB_SUBJECT",
    "bound_ipm_id",
    "build_heading",
    "decode_raw",
    "descriptor",
    "group_descriptor",
    "human_t61",
    "ia5_field",
    "msg_ids",
    "originator_asks",
    "parse_address_list",
    "parse_date",
    "parse_mailboxes",
    "printable_content_id",
    "truncate_safely",
    "unfold",
]

ID_HEX_LANGUAGES = ID_HEX + ".1"  # X.420 languages heading extension
ID_HEX_AUTO_SUBMITTED = ID_HEX + ".2"  # X.420 auto-submitted heading extension
ID_HEX_INCOMPLETE_COPY = ID_HEX + ".0"  # X.420 incomplete-copy heading extension (NULL)

_IMPORTANCE = reverse({int(k): v for k, v in IMPORTANCE.items()})
_SENSITIVITY = reverse({int(k): v for k, v in SENSITIVITY.items()})
_AUTOSUBMITTED = reverse(AUTOSUBMITTED)
#: RFC 3834 Auto-Submitted keywords -> X.420 AutoSubmitted values
_AUTO_SUBMITTED_3834 = {"no": 0, "auto-generated": 1, "auto-replied": 2}

_T = TypeVar("_T")


def _decoded(name: str, value: str) -> str:
    """The field body with RFC 2047 encoded-words decoded (§3.5), unfolded."""
    raw = unfold(decode_raw(value))
    if "=?" not in raw:  # no encoded-word: the email package would return the text as is
        return raw
    try:
        return str(default_policy.header_factory(name, raw))
    except MemoryError:  # never degrade into a partial result: fail the conversion
        raise
    except Exception:  # the email package's parser is fallible on torture input
        return raw


# ------------------------------------------------------------------------------ the builder


@dataclass
class MtsFields:
    """MIXER header fields that map to the MTS/MTA envelope (§5.1.7, §5.3.6)."""

    priority: Priority | None = None
    content_identifier: str | None = None
    conversion_prohibited: bool = False
    conversion_with_loss_prohibited: bool = False
    deferred_delivery: datetime | None = None
    latest_delivery: datetime | None = None
    originator_return_address: ORAddress | None = None
    dl_history: list[DLExpansion] = field(default_factory=list)  # as in the header order
    original_eits: EncodedInformationTypes | None = None
    security_label: Opaque | None = None        # RFC 7444 SIO-Label (bridge.convert.seclabel)
    security_label_error: str | None = None     # why an SIO-Label's label cannot be used


@dataclass
class HeadingBuilder:
    """Accumulates §5.1.3 heading fields; multiple fields of a kind are merged (H-4)."""

    ctx: Context
    defects: list[Defect]
    nested: bool = False
    this_ipm: IPMIdentifier | None = None
    from_: list[ORDescriptor] = field(default_factory=list)
    sender: list[ORDescriptor] = field(default_factory=list)
    primary: list[RecipientSpecifier] | None = None
    copy: list[RecipientSpecifier] | None = None
    blind: list[RecipientSpecifier] | None = None
    reply_to: list[ORDescriptor] | None = None
    in_reply_to: list[IPMIdentifier] = field(default_factory=list)
    references: list[IPMIdentifier] = field(default_factory=list)
    obsoleted: list[IPMIdentifier] | None = None
    subject: str | None = None
    expiry: datetime | None = None
    reply_time: datetime | None = None
    importance: Importance = Importance.NORMAL
    sensitivity: Sensitivity | None = None
    auto_forwarded: bool = False
    languages: list[str] = field(default_factory=list)
    auto_submitted: int | None = None
    incomplete_copy: bool = False
    rfc822_fields: list[str] = field(default_factory=list)
    #: fields mapped to X.400(88) elements, kept for the App B downgrade body part
    mapped_88: list[str] = field(default_factory=list)
    mts: MtsFields = field(default_factory=MtsFields)
    #: Disposition-Notification-To mailboxes (N-5, policy ipn_as_mdn)
    dnt: list[ORDescriptor] = field(default_factory=list)
    #: RFC 6477 MMHS-* fields: A1 heading-extension OID -> model value (bridge.convert.mmhs);
    #: any entry makes the message P772 (§6)
    mmhs: dict[str, object] = field(default_factory=dict)
    #: the From: / Sender: field bodies as received (RFC 7912 §5 keeps some in rfc-822-field)
    raw_from: list[str] = field(default_factory=list)
    raw_sender: list[str] = field(default_factory=list)

    def extension_field(self, name: str, value: str) -> None:
        self.rfc822_fields.append(ia5_field(name, value, self.defects))

    def addresses(self, value: str) -> list[tuple[str | None, list[ORDescriptor]]]:
        groups = parse_mailboxes(unfold(decode_raw(value)))
        return [(g, [descriptor(m, self.ctx, self.defects) for m in mbs]) for g, mbs in groups]

    def descriptors(self, value: str) -> list[ORDescriptor]:
        out: list[ORDescriptor] = []
        for group, members in self.addresses(value):
            out.extend(members)
            if group is not None:
                out.append(group_descriptor(group, self.ctx, self.defects))
        return out

    def recipients(self, value: str) -> list[RecipientSpecifier]:
        # RecipientSpecifier defaults: reply-request false, notification-requests none (§4.7.1)
        return [RecipientSpecifier(recipient=d) for d in self.descriptors(value)]

    def heading(self) -> Heading:
        """The X.420 heading; extensions per §5.1.2 (the caller decides about App B)."""
        originator: ORDescriptor | None
        authorizing: tuple[ORDescriptor, ...] | None
        if self.mmhs:  # a military message: RFC 7912 §5
            originator, authorizing = mmhs_auth.roles(self, self.raw_sender, self.raw_from)
        elif self.sender:  # §5.1.3 Sender -> originator, From -> authorizing-users
            originator = self.sender[0]
            authorizing = tuple(self.from_) or None
            if len(self.sender) > 1:
                self.defects.append(Defect("header-discarded", "Sender: has more than one "
                                           "mailbox; only the first is the originator",
                                           "RFC 2156 §5.1.3"))
        elif len(self.from_) == 1:
            originator, authorizing = self.from_[0], None
        elif self.from_:  # several authors without Sender: X.420 has one originator
            originator, authorizing = None, tuple(self.from_)
        else:
            originator, authorizing = None, None
        replied_to = None
        related = list(self.references)
        if len(self.in_reply_to) == 1:
            replied_to = self.in_reply_to[0]
        else:
            related = self.in_reply_to + related
        primary, copy, blind = self.primary, self.copy, self.blind
        if self.dnt and originator_asks(self.dnt, self.from_ + self.sender):
            # N-5: a Disposition-Notification-To naming the From address asks every
            # recipient for a receipt and a non-receipt notification
            ask = NotificationRequests.RN | NotificationRequests.NRN
            primary, copy, blind = (
                None if specs is None else [replace(s, notification_requests=ask)
                                            for s in specs]
                for specs in (primary, copy, blind))
        exts: list[IPMSExtension] = []
        if self.incomplete_copy:  # §5.1.7 (H-11) reverses §5.3.4
            exts.append(IPMSExtension(type=ID_HEX_INCOMPLETE_COPY, value=None))
        if self.languages:
            exts.append(IPMSExtension(type=ID_HEX_LANGUAGES,
                                      value=tuple(dict.fromkeys(self.languages))[:UB_LANGUAGES]))
        if self.auto_submitted is not None:
            exts.append(IPMSExtension(type=ID_HEX_AUTO_SUBMITTED, value=self.auto_submitted))
        exts.extend(mmhs.heading_extensions(self.mmhs))  # RFC 6477 §6
        if self.rfc822_fields:
            exts.append(IPMSExtension(type=ID_RFC_822_FIELD_LIST, value=tuple(self.rfc822_fields)))
        return Heading(
            this_ipm=self.this_ipm or IPMIdentifier(local=""),
            originator=originator, authorizing_users=authorizing,
            primary=_tuple(primary), copy=_tuple(copy), blind_copy=_tuple(blind),
            replied_to=replied_to, obsoleted=_tuple(self.obsoleted),
            related=tuple(related) or None, subject=self.subject, expiry_time=self.expiry,
            reply_time=self.reply_time, reply_recipients=_tuple(self.reply_to),
            importance=self.importance, sensitivity=self.sensitivity,
            auto_forwarded=self.auto_forwarded, extensions=tuple(exts) or None)


def originator_asks(dnt: list[ORDescriptor], from_: list[ORDescriptor]) -> bool:
    """N-5: the Disposition-Notification-To names a From (or Sender) address (RFC 8098 §2.1
    / §8.3): ``from_`` are the mailboxes that become the X.420 originator or authorizing
    users, so that the reverse mapping (:mod:`bridge.convert.mdn_request`, which names the
    heading originator) comes back as a request."""
    authors = {d.formal_name for d in from_ if d.formal_name is not None}
    return any(d.formal_name in authors for d in dnt if d.formal_name is not None)


def _tuple(items: list[_T] | None) -> tuple[_T, ...] | None:
    return None if items is None else tuple(items)


# ------------------------------------------------------------------------------ handlers

Handler = Callable[[HeadingBuilder, str, str], None]


def _disposition_notification_to(b: HeadingBuilder, name: str, value: str) -> None:
    """N-5 (policy ``ipn_as_mdn``): remember the mailboxes; the field itself stays in the
    rfc-822-field extension so that it comes back verbatim."""
    b.extension_field(name, value)
    if b.ctx.policy.ipn_as_mdn:
        b.dnt.extend(b.descriptors(value))


def _message_id(b: HeadingBuilder, name: str, value: str) -> None:
    ids = MSG_ID.findall(unfold(value))
    if len(ids) != 1 or not ids[0].isascii() or b.this_ipm is not None:
        raise Invalid("not exactly one msg-id")
    try:
        ident = msgid_to_ipm_id(ids[0])
    except BridgeError as exc:
        raise Invalid(str(exc)) from None
    b.this_ipm = bound_ipm_id(ident, b.ctx, b.defects, "Message-ID")


def _from(b: HeadingBuilder, name: str, value: str) -> None:
    b.from_ += b.descriptors(value)
    b.raw_from.append(value)


def _sender(b: HeadingBuilder, name: str, value: str) -> None:
    b.sender += b.descriptors(value)
    b.raw_sender.append(value)


def _recipients(attr: str) -> Handler:
    def handle(b: HeadingBuilder, name: str, value: str) -> None:
        current = getattr(b, attr) or []
        if attr == "blind" and not value.strip():
            setattr(b, attr, current)  # §5.1.3: an empty Bcc -> a zero-length sequence
            return
        setattr(b, attr, current + b.recipients(value))
    return handle


def _reply_to(b: HeadingBuilder, name: str, value: str) -> None:
    b.reply_to = (b.reply_to or []) + b.descriptors(value)


def _in_reply_to(b: HeadingBuilder, name: str, value: str) -> None:
    b.in_reply_to += [bound_ipm_id(i, b.ctx, b.defects, name) for i in msg_ids(value)]


def _references(b: HeadingBuilder, name: str, value: str) -> None:
    b.references += [bound_ipm_id(i, b.ctx, b.defects, name) for i in msg_ids(value)]


def _supersedes(b: HeadingBuilder, name: str, value: str) -> None:
    b.obsoleted = (b.obsoleted or []) + [bound_ipm_id(i, b.ctx, b.defects, name)
                                         for i in msg_ids(value)]


def _subject(b: HeadingBuilder, name: str, value: str) -> None:
    if b.subject is not None:
        raise Invalid("second Subject field")
    raw = unfold(decode_raw(value)).strip()
    b.subject = human_t61(_decoded(name, value).strip(), raw, "Subject", UB_SUBJECT, b.ctx,
                          b.defects)


def _date_field(attr: str) -> Handler:
    def handle(b: HeadingBuilder, name: str, value: str) -> None:
        setattr(b, attr, parse_date(value))
    return handle


def _keyword(table: dict[str, int], apply: Callable[[HeadingBuilder, int], None]) -> Handler:
    def handle(b: HeadingBuilder, name: str, value: str) -> None:
        word = COMMENT.sub("", unfold(value)).strip().lower()
        if word not in table:
            raise Invalid(f"unknown {name} value")
        apply(b, table[word])
    return handle


def _autoforwarded(b: HeadingBuilder, name: str, value: str) -> None:
    word = unfold(value).strip().upper()
    if word not in ("TRUE", "FALSE"):
        raise Invalid("Autoforwarded is TRUE or FALSE")
    b.auto_forwarded = word == "TRUE"


def _content_language(b: HeadingBuilder, name: str, value: str) -> None:
    """§5.1.3: the first two characters of each value -> languages; with comments or longer
    values a copy of the field goes to the extension as well."""
    text = unfold(value)
    bare = COMMENT.sub("", text)
    values = [v.strip() for v in bare.split(",") if v.strip()]
    if not values or any(len(v) < 2 or not v[:2].isalpha() or not v.isascii() for v in values):
        raise Invalid("not a language list")
    b.languages += [v[:2].lower() for v in values]
    b.mapped_88.append(ia5_field(name, value, b.defects))
    if bare != text or any(len(v) > 2 for v in values):
        b.extension_field(name, value)


def _auto_submitted(b: HeadingBuilder, name: str, value: str) -> None:
    """Autosubmitted (MIXER, §5.3.4) and RFC 3834 Auto-Submitted -> auto-submitted; the RFC
    3834 spelling is also kept as a field (its parameters and name have no X.400 form)."""
    word = COMMENT.sub("", unfold(value)).split(";")[0].strip().lower()
    table = _AUTOSUBMITTED if name.lower() == "autosubmitted" else _AUTO_SUBMITTED_3834
    if word not in table:
        raise Invalid(f"unknown {name} value")
    b.auto_submitted = table[word]
    b.mapped_88.append(ia5_field(name, value, b.defects))
    if name.lower() != "autosubmitted":
        b.extension_field(name, value)


def _incomplete_copy(b: HeadingBuilder, name: str, value: str) -> None:
    """§5.1.7 (H-11, App J): ``Incomplete-Copy:`` (§5.3.4 EBNF: no value) -> the X.420
    incomplete-copy heading extension; one with a value (even a comment) is kept as it is."""
    if unfold(value).strip():
        raise Invalid("Incomplete-Copy has no value")
    if b.incomplete_copy:
        raise Invalid("second Incomplete-Copy field")
    b.incomplete_copy = True
    b.mapped_88.append(ia5_field(name, value, b.defects))


def _ignore(b: HeadingBuilder, name: str, value: str) -> None:
    """Fields handled elsewhere: trace (x400_trace), MIME (RFC 2157, x400_bodies), Date
    (MTS level, §5.1.6)."""


def _date(b: HeadingBuilder, name: str, value: str) -> None:
    """Date: is MTS level (§5.1.6, the first trace element); an unparseable one is kept in
    the extension (§5.1.3 "a Date: field with unparseable syntax")."""
    parse_date(value)


def _discard(b: HeadingBuilder, name: str, value: str) -> None:
    """§5.1.7: MIXER fields that shall not be mapped back."""
    b.defects.append(Defect("header-discarded", f"{name}: not mapped back to X.400",
                            "RFC 2156 §5.1.7", lossy=False))


# Fields the MTS envelope carries: in a nested message (RFC 2157 §6.5, no envelope) they stay
# in the heading extension.
MTS_FIELDS = frozenset({
    "date", "priority", "conversion", "conversion-with-loss", "deferred-delivery",
    "latest-delivery-time", "x400-content-identifier", "content-identifier",
    "originator-return-address", "dl-expansion-history", "received", "x400-received",
    "original-encoded-information-types"})

#: field name (lower case) -> handler (§5.1.3, §5.1.7; RFC 1327 legacy names, L)
HEADER_HANDLERS: dict[str, Handler] = {
    "message-id": _message_id,
    "from": _from,
    "sender": _sender,
    "to": _recipients("primary"),
    "cc": _recipients("copy"),
    "bcc": _recipients("blind"),
    "reply-to": _reply_to,
    "in-reply-to": _in_reply_to,
    "references": _references,
    "supersedes": _supersedes,
    "obsoletes": _supersedes,  # RFC 1327 [L]
    "subject": _subject,
    "expires": _date_field("expiry"),
    "expiry-date": _date_field("expiry"),  # RFC 1327 [L]
    "reply-by": _date_field("reply_time"),
    "importance": _keyword(_IMPORTANCE, lambda b, v: setattr(b, "importance", Importance(v))),
    "sensitivity": _keyword(_SENSITIVITY,
                            lambda b, v: setattr(b, "sensitivity", Sensitivity(v))),
    "autoforwarded": _autoforwarded,
    "content-language": _content_language,
    "language": _content_language,  # RFC 1327 [L]
    "autosubmitted": _auto_submitted,
    "auto-submitted": _auto_submitted,
    "disposition-notification-to": _disposition_notification_to,
    "incomplete-copy": _incomplete_copy,
    # RFC 6477 §3: MMHS-* fields -> STANAG 4406 A1 heading extensions (P772)
    **mmhs.FIELDS,
    # MTS / MTA level (§5.1.5-§5.1.7)
    "date": _date,
    "received": _ignore,
    "x400-received": _ignore,
    # §5.1.7: not mapped
    "discarded-x400-mts-extensions": _discard,
    "discarded-x400-ipms-extensions": _discard,
    "message-type": _discard,
    "x400-content-type": _discard,
    "x400-originator": _discard,
    "x400-recipients": _discard,
    "x400-mts-identifier": _discard,
    # RFC 2157: the body mapping carries these
    "mime-version": _ignore,
    "content-type": _ignore,
    "content-transfer-encoding": _ignore,
}


def build_heading(fields: Sequence[tuple[str, str]], ctx: Context, defects: list[Defect], *,
                  nested: bool = False, extra: dict[str, Handler] | None = None,
                  ) -> HeadingBuilder:
    """Run every header field through :data:`HEADER_HANDLERS` and ``extra`` (the MTS-level
    handlers of ``to_x400``) (§5.1.3).  ``nested``: a message/rfc822 body (RFC 2157 §6.5)
    whose MTS-level fields stay in the extension."""
    b = HeadingBuilder(ctx=ctx, defects=defects, nested=nested)
    for name, value in fields:
        key = name.strip().lower()
        handler = HEADER_HANDLERS.get(key) or (extra or {}).get(key)
        if nested and key in MTS_FIELDS:
            handler = None
        if handler is None:
            b.extension_field(name, value)
            continue
        try:
            handler(b, name, value)
        except Invalid as exc:
            defects.append(Defect("header-invalid", f"{name.strip()}: {exc}; kept in the "
                                  "rfc-822-field extension", "RFC 2156 §5.1.3", lossy=False))
            b.extension_field(name, value)
    return b
