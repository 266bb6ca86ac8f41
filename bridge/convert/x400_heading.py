"""RFC 822 header -> X.420 IPM heading (RFC 2156 §5.1.1-§5.1.3, §4.7, App B) and the
MIXER-defined MTS header fields (§5.1.7, App J).

The header fields are dispatched through :data:`HEADER_HANDLERS` (field name -> handler), a
registry as data in the way of ``email.headerregistry``.  A handler raises :class:`Invalid`
when the field body does not conform; the field then goes, unfolded, to the ``rfc-822-field``
heading extension (§5.1.3 "Other Fields": "the same treatment is applied to RFC 822 fields
where the content of the field does not conform").  Fields without a handler go there too
(§5.1.2, H-1).  Trace fields (Received, X400-Received) belong to :mod:`x400_trace`; MIME
fields to :mod:`x400_bodies` (RFC 2157).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import _header_value_parser as hvp
from email import utils as email_utils
from email.errors import HeaderParseError, ObsoleteHeaderDefect
from email.header import Header
from email.policy import default as default_policy
from typing import NamedTuple, Protocol, TypeVar

from bridge.codec.p22ext import ID_HEX, ID_RFC_822_FIELD_LIST
from bridge.convert.context import Context
from bridge.convert.result import Defect
from bridge.convert.vocab import AUTOSUBMITTED, IMPORTANCE, SENSITIVITY, reverse
from bridge.errors import BridgeError, SMTPReply, X400Diagnostic
from bridge.mapping.address import Role
from bridge.mapping.msgid import msgid_to_ipm_id, truncate_local
from bridge.mapping.psencode import ps_encode
from bridge.model.charsets import t61_can_encode, t61_encode
from bridge.model.common import EncodedInformationTypes, Priority
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
from bridge.model.oraddress import ORAddress, ORName

# X.420 upper bounds (Annex? "Upper bounds") and X.411 ones used by §5.1.3 / §5.1.5
UB_SUBJECT = 128  # ub-subject-field
UB_FREE_FORM_NAME = 64  # ub-free-form-name
UB_CONTENT_ID = 16  # X.411 ub-content-id-length
UB_CONTENT_CORRELATOR = 512  # X.411 ub-content-correlator-length
UB_LANGUAGES = 64  # ub-languages

ID_HEX_LANGUAGES = ID_HEX + ".1"  # X.420 languages heading extension
ID_HEX_AUTO_SUBMITTED = ID_HEX + ".2"  # X.420 auto-submitted heading extension
ID_HEX_INCOMPLETE_COPY = ID_HEX + ".0"  # X.420 incomplete-copy heading extension (NULL)

_IMPORTANCE = reverse({int(k): v for k, v in IMPORTANCE.items()})
_SENSITIVITY = reverse({int(k): v for k, v in SENSITIVITY.items()})
_AUTOSUBMITTED = reverse(AUTOSUBMITTED)
#: RFC 3834 Auto-Submitted keywords -> X.420 AutoSubmitted values
_AUTO_SUBMITTED_3834 = {"no": 0, "auto-generated": 1, "auto-replied": 2}

_T = TypeVar("_T")
_MSG_ID = re.compile(r"<[^<>]*>")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")


class Invalid(Exception):
    """A field body that does not conform (§5.1.3): it goes to the rfc-822-field extension."""


class BoundsError(BridgeError):
    """A value over an X.400 upper bound under a policy that forbids truncation (§5.1.3)."""

    smtp = SMTPReply(code=554, enhanced="5.6.0", text="Header value exceeds an X.400 bound")
    x400 = X400Diagnostic(reason=1, diagnostic=7)  # unable-to-transfer, content-too-long


# ------------------------------------------------------------------------------ text helpers


def unfold(value: str) -> str:
    """RFC 5322 §2.2.3 unfolding (CRLF before WSP removed), trailing CRLF dropped."""
    return _FOLD.sub("", value).rstrip("\r\n")


def decode_raw(value: str) -> str:
    """A raw header value as read by BytesParser (8-bit octets as surrogates) -> text:
    UTF-8 when the octets are UTF-8, else Latin-1."""
    if not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    data = value.encode("ascii", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def ia5_field(name: str, value: str, defects: list[Defect]) -> str:
    """§5.1.2 RFC822Field: ``Name: value`` unfolded, no space before the colon, IA5.  8-bit
    text (not allowed in RFC 5322) is carried as RFC 2047 encoded-words."""
    text = unfold(value).strip()
    if not text.isascii():
        text = decode_raw(text)
        encoded = Header(text, "utf-8", maxlinelen=10_000).encode()
        defects.append(Defect("charset", f"8-bit {name}: field carried as RFC 2047 "
                              "encoded-words", "RFC 2156 §5.1.2", lossy=False))
        text = unfold(encoded).replace("\n", "")
    return f"{name.strip()}: {text}"


def _decoded(name: str, value: str) -> str:
    """The field body with RFC 2047 encoded-words decoded (§3.5), unfolded."""
    raw = unfold(decode_raw(value))
    if "=?" not in raw:  # no encoded-word: the email package would return the text as is
        return raw
    try:
        return str(default_policy.header_factory(name, raw))
    except Exception:  # the email package's parser is fallible on torture input
        return raw


def human_t61(text: str, raw: str, what: str, bound: int, ctx: Context,
              defects: list[Defect], *, comments: bool = False) -> str:
    """§3.3.4 / §3.5 human-oriented mapping to a T.61 string, within ``bound`` (§5.1.3).

    The decoded text when T.61 has it; else the RFC 2047 encoded form (readable by an MIME
    UA after the reverse mapping, B-4); else characters replaced by "?".  Over the bound the
    value is truncated (``comments``: without breaking a comment or an encoded-word, H-3).
    """
    if not t61_can_encode(text):
        if raw != text and t61_can_encode(raw):
            defects.append(Defect("charset", f"{what} kept as RFC 2047 encoded-words (not in "
                                  "the T.61 repertoire)", "RFC 2156 §3.5", lossy=False))
            text = raw
        else:
            text = "".join(c if t61_can_encode(c) else "?" for c in text)
            defects.append(Defect("charset", f"{what}: characters outside T.61 replaced by "
                                  "'?'", "RFC 2156 §3.3.4"))
    # the bound is applied to the T.61 octets: a letter with a diacritic takes two, and
    # strict decoders (Wireshark) check the octet count of a TeletexString
    size = len(t61_encode(text))
    if size > bound:
        if not ctx.policy.truncate_to_bounds:
            raise BoundsError(f"{what} is {size} T.61 octets, over the X.400 bound {bound}")
        limit = bound
        while True:
            cut = truncate_safely(text, limit) if comments else text[:limit]
            if len(t61_encode(cut)) <= bound or limit == 0:
                break
            limit -= 1
        text = cut
        defects.append(Defect("truncated", f"{what} truncated to {bound} T.61 octets",
                              "RFC 2156 §5.1.3"))
    return text


def truncate_safely(text: str, bound: int) -> str:
    """H-3: cut ``text`` to ``bound`` characters without breaking an RFC 822 comment or an
    RFC 2047 encoded-word: cut before the construct the bound falls into."""
    cut = bound
    for pattern in (COMMENT, re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")):
        for m in pattern.finditer(text):
            if m.start() < cut < m.end():
                cut = m.start()
    out = text[:cut].rstrip()
    if not out:  # one construct longer than the bound: nothing better than a hard cut
        out = text[:bound]
    depth = 0
    for c in out:  # an unbalanced "(" left by a nested comment: drop from there
        depth += {"(": 1, ")": -1}.get(c, 0)
    if depth > 0:
        out = out[: out.rfind("(")].rstrip() or out
    return out


def printable_content_id(subject: str) -> str:
    """§5.1.5 content-identifier: a PrintableString form of Subject (§3.4 ps-encoding); over
    16 characters -> 13 characters and "..." (without cutting a "(xxx)" escape)."""
    text = ps_encode("".join(c if c.isascii() and c.isprintable() else "?" for c in subject))
    if len(text) <= UB_CONTENT_ID:
        return text
    head = text[:13]
    if "(" in head and ")" not in head[head.rfind("("):]:
        head = head[: head.rfind("(")]
    return head + "..."


# ------------------------------------------------------------------------------ addresses


class MailboxLike(Protocol):
    """What :func:`descriptor` reads of a mailbox: ``email``'s ``Mailbox`` token or a
    :class:`SimpleMailbox`."""

    @property
    def display_name(self) -> str | None: ...

    @property
    def comments(self) -> list[str]: ...

    @property
    def addr_spec(self) -> str: ...


class SimpleMailbox(NamedTuple):
    """A mailbox read by the fast path of :func:`parse_mailboxes`: the values the ``email``
    package's parser gives for the same text."""

    display_name: str | None
    comments: list[str]
    addr_spec: str


# The common shapes of an address-list element, ``local@domain`` and ``Some Name
# <local@domain>``: dot-atoms (RFC 5322 §3.2.3) and a phrase of atoms separated by single
# spaces, no comments, quotes, routes, groups or literals.  For these the email package's
# parser yields exactly the display name and addr-spec matched here, without defects (values
# with RFC 2047 encoded-words, which it decodes even in an addr-spec, take the general path).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATEXT}(?:\.{_ATEXT})*"
_SIMPLE_MAILBOX = re.compile(
    rf"[ \t]*(?:({_ATEXT}(?: {_ATEXT})*)[ \t]*<({_DOT_ATOM}@{_DOT_ATOM})>"
    rf"|({_DOT_ATOM}@{_DOT_ATOM}))[ \t]*(?:,|$)")


def _simple_mailboxes(value: str) -> list[SimpleMailbox] | None:
    """The mailboxes of ``value`` when it is a list of simple mailboxes only (see
    ``_SIMPLE_MAILBOX``), else None."""
    if "=?" in value:
        return None  # encoded-words: the email package decodes them
    out: list[SimpleMailbox] = []
    pos, end = 0, len(value)
    match = _SIMPLE_MAILBOX.match
    while pos < end:
        m = match(value, pos)
        if m is None or m.end() == pos:
            return None
        name, routed, bare = m.groups()
        out.append(SimpleMailbox(name, [], routed) if routed is not None
                   else SimpleMailbox(None, [], bare))
        pos = m.end()
        if value[pos - 1] == "," and pos == end:
            return None  # a trailing comma: the general parser decides
    return out or None


def parse_mailboxes(value: str) -> list[tuple[str | None, list[MailboxLike]]]:
    """:func:`parse_address_list`, with a fast path for the common simple mailboxes (the
    general parser costs most of a typical conversion's header mapping)."""
    simple = _simple_mailboxes(value)
    if simple is not None:
        return [(None, [m]) for m in simple]
    return [(g, list(mbs)) for g, mbs in parse_address_list(value)]


def parse_address_list(value: str) -> list[tuple[str | None, list[hvp.Mailbox]]]:
    """822 address-list -> [(group display name or None, mailboxes)]; Invalid if any part
    of it does not parse (§5.1.3: the whole field then goes to the extension)."""
    try:
        tokens, rest = hvp.get_address_list(value)
    except (HeaderParseError, IndexError, ValueError):  # the stdlib parser's own failures
        raise Invalid("not an RFC 5322 address-list") from None
    if rest.strip() or any(not isinstance(d, ObsoleteHeaderDefect) for d in tokens.all_defects):
        raise Invalid("not an RFC 5322 address-list")
    out: list[tuple[str | None, list[hvp.Mailbox]]] = []
    for address in tokens.addresses:
        first = address[0]
        if isinstance(first, hvp.Group):
            out.append((first.display_name or "", list(first.mailboxes)))
        elif isinstance(first, hvp.Mailbox):
            out.append((None, [first]))
        else:
            raise Invalid("invalid mailbox")
    return out


def descriptor(mailbox: MailboxLike, ctx: Context, defects: list[Defect]) -> ORDescriptor:
    """§4.7.1 (A-31): formal-name from the addr-spec (source route removed) by the §4.3.4
    mapping; free-form-name = the phrase and the comments, in order, parentheses kept."""
    parts = [mailbox.display_name] if mailbox.display_name else []
    parts += [f"({c})" for c in mailbox.comments]
    ffn = " ".join(parts)
    free_form = (human_t61(ffn, ffn, "free-form name", UB_FREE_FORM_NAME, ctx, defects,
                           comments=True) if ffn else None)
    addr_spec = mailbox.addr_spec
    try:
        mapped = ctx.to_x400(addr_spec, Role.HEADER)
    except BridgeError as exc:
        defects.append(Defect("address", f"{addr_spec!r} has no X.400 form ({exc}); only a "
                              "free-form name is kept", "RFC 2156 §4.7.1"))
        text = free_form or human_t61(addr_spec, addr_spec, "address", UB_FREE_FORM_NAME,
                                      ctx, defects)
        return ORDescriptor(free_form_name=text)
    if mapped.truncated:
        defects.append(Defect("truncated", f"{addr_spec!r}: RFC-822 DDA truncated",
                              "RFC 2156 §4.3.4 / §5.1.3"))
    return ORDescriptor(formal_name=ORName(address=mapped.address), free_form_name=free_form)


def group_descriptor(name: str, ctx: Context, defects: list[Defect]) -> ORDescriptor:
    """§4.7.1: a descriptor with only the group name as free-form-name."""
    return ORDescriptor(free_form_name=human_t61(name, name, "group name", UB_FREE_FORM_NAME,
                                                 ctx, defects, comments=True))


def msg_ids(value: str) -> list[IPMIdentifier]:
    """Message-ID lists (§4.7.3.3) with the §4.7.3.5 phrase form: the text outside the
    msg-ids (comments removed) is one phrase."""
    text = unfold(value)
    ids = _MSG_ID.findall(text)
    phrase = " ".join(COMMENT.sub(" ", _MSG_ID.sub(" ", text)).split())
    items = ids + ([phrase] if phrase else [])
    out = []
    for item in items:
        if not item.isascii():
            raise Invalid("non-ASCII message identifier")
        try:
            out.append(msgid_to_ipm_id(item))
        except BridgeError as exc:
            raise Invalid(str(exc)) from None
    return out


def bound_ipm_id(ident: IPMIdentifier, ctx: Context, defects: list[Defect],
                 what: str) -> IPMIdentifier:
    local, cut = truncate_local(ident.local)
    if cut:
        if not ctx.policy.truncate_to_bounds:
            raise BoundsError(f"{what} is longer than the X.400 bound of 64 characters")
        defects.append(Defect("truncated", f"{what} truncated to 64 characters",
                              "RFC 2156 §4.7.3.1 / §5.1.3"))
        return IPMIdentifier(user=ident.user, local=local)
    return ident


def parse_date(value: str) -> datetime:
    """RFC 5322 date-time -> aware datetime (-0000 / no zone = UTC); Invalid otherwise."""
    try:
        dt = email_utils.parsedate_to_datetime(unfold(value).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        raise Invalid("not an RFC 5322 date-time") from None
    if dt is None:
        raise Invalid("not an RFC 5322 date-time")
    if not 1950 <= dt.year < 2050:  # UTCTime carries years 1950..2049 (X.680 §47)
        raise Invalid("date outside the UTCTime range")
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


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
        if self.sender:  # §5.1.3 Sender -> originator, From -> authorizing-users
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
    ids = _MSG_ID.findall(unfold(value))
    if len(ids) != 1 or not ids[0].isascii() or b.this_ipm is not None:
        raise Invalid("not exactly one msg-id")
    try:
        ident = msgid_to_ipm_id(ids[0])
    except BridgeError as exc:
        raise Invalid(str(exc)) from None
    b.this_ipm = bound_ipm_id(ident, b.ctx, b.defects, "Message-ID")


def _from(b: HeadingBuilder, name: str, value: str) -> None:
    b.from_ += b.descriptors(value)


def _sender(b: HeadingBuilder, name: str, value: str) -> None:
    b.sender += b.descriptors(value)


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
