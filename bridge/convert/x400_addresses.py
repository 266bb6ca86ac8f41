"""RFC 822 addresses -> X.420 O/R descriptors (RFC 2156 §4.7.1, A-31; §4.3.4).

An address-list is parsed (with a fast path for the common simple mailboxes) and each
mailbox becomes an ``ORDescriptor``: formal-name from the addr-spec by the §4.3.4 mapping,
free-form-name from the phrase and comments, in T.61 within the X.420 bound.
"""

from __future__ import annotations

import re
from email import _header_value_parser as hvp
from email.errors import HeaderParseError, ObsoleteHeaderDefect
from typing import NamedTuple, Protocol

from bridge.convert.context import Context
from bridge.convert.result import Defect
from bridge.convert.x400_fields import UB_FREE_FORM_NAME, Invalid, human_t61
from bridge.errors import BridgeError
from bridge.mapping.address import Role
from bridge.model.ipm import ORDescriptor
from bridge.model.oraddress import ORName


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


# The common shapes of an address-list element, ``local@domain``, ``<local@domain>`` and
# ``Some Name <local@domain>``: dot-atoms (RFC 5322 §3.2.3) and a phrase of atoms separated
# by single spaces, no comments, quotes, routes, groups or literals.  For these the email package's
# parser yields exactly the display name and addr-spec matched here, without defects (values
# with RFC 2047 encoded-words, which it decodes even in an addr-spec, take the general path).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATEXT}(?:\.{_ATEXT})*"
_SIMPLE_MAILBOX = re.compile(
    rf"[ \t]*(?:(?:({_ATEXT}(?: {_ATEXT})*)[ \t]*)?<({_DOT_ATOM}@{_DOT_ATOM})>"
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
        if rest.strip() or any(not isinstance(d, ObsoleteHeaderDefect)
                               for d in tokens.all_defects):
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
        for _, mailboxes in out:       # what descriptor() reads must be readable
            for m in mailboxes:
                (m.display_name, m.comments, m.addr_spec)  # noqa: B018 - probed for errors
    except (HeaderParseError, IndexError, ValueError, AttributeError, TypeError):
        # the stdlib parser's own failures on damaged input (found by bench/fuzz.py: a
        # defect without all_defects, a str where a token was expected)
        raise Invalid("not an RFC 5322 address-list") from None
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
