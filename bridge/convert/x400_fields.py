"""RFC 822 field values on their way into the X.420 heading (RFC 2156 §3.3.4, §3.5, §4.7.3,
§5.1.2, §5.1.3, §5.1.5).

Unfolding and raw 8-bit text, the ``rfc-822-field`` form of a field (§5.1.2: ``Name: value``
in IA5, 8-bit text as RFC 2047 encoded-words), the X.420 / X.411 upper bounds with the
human-oriented T.61 mapping that keeps within them (§5.1.3, H-3), message identifiers
(§4.7.3) and dates.  A field body that does not conform raises :class:`Invalid` (the caller
then keeps the field in the ``rfc-822-field`` extension); a value over a bound under a policy
that forbids truncation raises :class:`BoundsError`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import utils as email_utils
from email.header import Header

from bridge.convert.context import Context
from bridge.convert.result import Defect
from bridge.errors import BridgeError, SMTPReply, X400Diagnostic
from bridge.mapping.msgid import msgid_to_ipm_id, truncate_local
from bridge.mapping.psencode import ps_encode
from bridge.model.charsets import t61_can_encode, t61_encode
from bridge.model.ipm import IPMIdentifier

# X.420 upper bounds (Annex? "Upper bounds") and X.411 ones used by §5.1.3 / §5.1.5
UB_SUBJECT = 128  # ub-subject-field
UB_FREE_FORM_NAME = 64  # ub-free-form-name
UB_CONTENT_ID = 16  # X.411 ub-content-id-length
UB_CONTENT_CORRELATOR = 512  # X.411 ub-content-correlator-length
UB_LANGUAGES = 64  # ub-languages

MSG_ID = re.compile(r"<[^<>]*>")
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


# ------------------------------------------------------------------ identifiers and dates


def msg_ids(value: str) -> list[IPMIdentifier]:
    """Message-ID lists (§4.7.3.3) with the §4.7.3.5 phrase form: the text outside the
    msg-ids (comments removed) is one phrase."""
    text = unfold(value)
    ids = MSG_ID.findall(text)
    phrase = " ".join(COMMENT.sub(" ", MSG_ID.sub(" ", text)).split())
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
