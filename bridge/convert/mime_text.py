"""RFC 822 lexical forms for the X.400 -> 822 direction (RFC 2156 §3.3, §3.5, §5.3.3-§5.3.7;
RFC 2047; RFC 5322 §2.2.3).

Encoded-words (§3.5, B-4), ``word`` / ``dot-atom``, the basic types (§3.3.5 date-time,
§3.3.6 labelled-integer, §5.3.3.1 encoded-info, §5.3.6 mts-content-type and extension
names), and the output: :func:`fold` and :func:`render`.  Values are built as unfolded ASCII
strings (``\\r\\n `` marks a forced fold point) and folded by :func:`fold`.
"""

from __future__ import annotations

import email.policy
import email.quoprimime
import email.utils
import re
from collections.abc import Iterable
from datetime import datetime

from bridge.convert.vocab import CONTENT_TYPES, EIT_NAMES
from bridge.errors import BridgeError, SMTPReply, X400Diagnostic
from bridge.model.common import (
    BuiltInEIT,
    ContentType,
    EncodedInformationTypes,
    Extension,
)

Header = tuple[str, str]
MAX_LINE = 78  # RFC 5322 §2.1.1 SHOULD limit (without CRLF)

_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")


def encoded_words(text: str) -> str:
    """RFC 2047 Q encoded-words (UTF-8) for ``text``, each at most 75 characters and never
    splitting a character (§2, §5(3) "phrase" alphabet, so usable in phrases and comments)."""
    words: list[str] = []
    chunk = ""
    for ch in text:
        if chunk and len(email.quoprimime.header_encode((chunk + ch).encode(), "utf-8")) > 75:
            words.append(email.quoprimime.header_encode(chunk.encode(), "utf-8"))
            chunk = ch
        else:
            chunk += ch
    words.append(email.quoprimime.header_encode(chunk.encode(), "utf-8"))
    return " ".join(words)


def word(text: str) -> str:
    """822.word: an atom, else a quoted-string (§5.3.7 EBNF.mta)."""
    if _ATOM.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot_atom(text: str) -> str:
    """RFC 5322 dot-atom (a domain-like name), else a quoted-string."""
    if all(_ATOM.fullmatch(p) for p in text.split(".")):
        return text
    return word(text)


# ---------------------------------------------------------------------------- basic types


def date(dt: datetime) -> str:
    """§3.3.5: 822.date-time with a numeric zone, the zone preserved (not normalised)."""
    return email.utils.format_datetime(dt)


def eits(value: EncodedInformationTypes) -> str:
    """§5.3.3.1 (X-3) encoded-info; non-basic parameters are ignored."""
    names = [_eit_name(b) for b in sorted(value.builtin)]
    return ", ".join([*names, *value.extended]) or EIT_NAMES[BuiltInEIT.UNDEFINED]


def _eit_name(bit: int) -> str:
    try:
        return EIT_NAMES[BuiltInEIT(bit)]
    except ValueError:
        return str(bit)


def labelled(label: str, number: int) -> str:
    """§3.3.6 labelled-integer."""
    return f"{label} ({number})"


def content_type(ct: ContentType) -> str:
    """§5.3.6 mts-content-type: labelled-integer or object-identifier ("P2" never alone)."""
    if isinstance(ct, int):
        return labelled(CONTENT_TYPES.get(ct, ""), ct).lstrip()
    return ct


def extension_name(ext: Extension) -> str:
    """Discarded-X400-MTS-Extensions item: labelled-integer or object-identifier."""
    std = ext.standard
    if std is not None:
        return labelled(std.name.lower().replace("_", "-"), int(std))
    return str(ext.type)


# ---------------------------------------------------------------------------- output


def fold(name: str, value: str, limit: int = MAX_LINE) -> str:
    """``Name: value`` folded at white space outside quoted-strings (RFC 5322 §2.2.3) so that
    lines stay within ``limit`` where possible; ``\\r\\n `` in ``value`` is kept as a fold."""
    lines: list[str] = []
    for seg in ((f"{name}: {value}" if value else f"{name}:").split("\r\n")):
        start, last, quoted, escaped = 0, -1, False, False
        for i, ch in enumerate(seg):
            if quoted:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    quoted = False
            elif ch == '"':
                quoted = True
            elif ch in " \t" and i > start and seg[i - 1] not in " \t":
                if i - start > limit and last > start:
                    lines.append(seg[start:last])
                    start = last
                last = i
        if len(seg) - start > limit and last > start:
            lines.append(seg[start:last])
            start = last
        lines.append(seg[start:])
    return "\r\n".join(lines) + "\r\n"


class HeaderNotAscii(BridgeError):
    """A header field that came out of the X.400 -> MIME conversion not ASCII (a bug of the
    converter for some odd input): the message is not converted (X.411
    conversion-not-performed) rather than sent with a broken header."""

    smtp = SMTPReply(code=554, enhanced="5.6.0", text="Message cannot be converted")
    x400 = X400Diagnostic(reason=2, diagnostic=None)


def render(headers: Iterable[Header]) -> bytes:
    """The header section as octets.  Every field is ASCII by construction (encoded-words,
    ps- and teletex-encoded addresses); one that is not is a converter bug, refused cleanly
    (a conversion error, X.411 content-syntax-error) instead of escaping as an exception."""
    text = "".join(fold(n, v) for n, v in headers)
    try:
        return text.encode("ascii")
    except UnicodeEncodeError as exc:
        name = text[:exc.start].rpartition("\r\n")[2].partition(":")[0]
        raise HeaderNotAscii(f"header field {name!r} is not ASCII after conversion "
                              f"(character {text[exc.start]!r})") from None
