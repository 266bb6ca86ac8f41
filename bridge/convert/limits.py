"""Limits on the shape of an Internet message, checked before any parser sees it.

The stdlib ``email`` parser under ``policy.default`` is quadratic in the RFC 2047 encoded-words
of one header field (measured: 2,000 words 56 MB, 12,000 words 1.5 GB, 50,000 words over
20 GB -- issue 12's "poison message").  So before parsing, one linear pass over the octets
checks what makes parsing expensive: the size of the header block, the number of header
fields, and the encoded-words in any one field (a logical line with its continuation lines:
RFC 5322 §2.2.3 unfolding, in the top-level header and in the headers of every body part).
A message over a limit is refused whole (:class:`MessageTooComplex`: 552 5.3.4 at DATA, a
non-delivery with content-too-long later) -- never parsed, never half converted.

The defaults let every message of the real corpus through (its largest: a 210 KB header with
3,302 encoded-words in its Subject, flanker's long-header.eml): a header block of 1 MiB,
10,000 fields, 5,000 encoded-words in a field (the parser needs about 270 MB and 0.25 s for
that many; the conversion processes run under a 1 GiB RLIMIT_AS besides).  Configurable
(docs/security.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bridge.errors import BridgeError, SMTPReply, X400Diagnostic

_HEADER_END = re.compile(rb"\r?\n\r?\n")
#: the start of an RFC 2047 encoded-word ("=?" charset "?"): counted, not validated
_EW = b"=?"
#: a field line: not a continuation (RFC 5322 §2.2.3) and not the end of the header
_FIELD_START = re.compile(rb"(?:^|\n)[^ \t\r\n]")
#: a logical line with its continuation lines
_LOGICAL_LINE = re.compile(rb"[^\n]*(?:\n[ \t][^\n]*)*")


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageLimits:
    """What a message may hold before it is parsed (0 = no limit)."""

    header_octets: int = 1024 * 1024
    header_fields: int = 10_000
    encoded_words: int = 5000


DEFAULT_LIMITS = MessageLimits()


class MessageTooComplex(BridgeError):
    """A message over a :class:`MessageLimits` limit: refused before parsing."""

    smtp = SMTPReply(code=552, enhanced="5.3.4", text="Message header too large or complex")
    x400 = X400Diagnostic(reason=1, diagnostic=7)  # unable-to-transfer, content-too-long


def check_limits(data: bytes, limits: MessageLimits = DEFAULT_LIMITS) -> None:
    """Raise :class:`MessageTooComplex` if ``data`` is over ``limits``; linear in ``data``
    and allocation-free for the common message (few encoded-words in all)."""
    end = _HEADER_END.search(data)
    header = data[:end.start() + 1] if end else data
    if limits.header_octets and len(header) > limits.header_octets:
        raise MessageTooComplex(f"header of {len(header)} octets, more than the limit of "
                                f"{limits.header_octets}")
    if limits.header_fields:
        fields = len(_FIELD_START.findall(header))
        if fields > limits.header_fields:
            raise MessageTooComplex(f"{fields} header fields, more than the limit of "
                                    f"{limits.header_fields}")
    if limits.encoded_words and data.count(_EW) > limits.encoded_words:
        # only now look field by field (top level and body parts alike)
        for match in _LOGICAL_LINE.finditer(data):
            line = match.group()
            if line.count(_EW) > limits.encoded_words:
                name = line.split(b":", 1)[0][:40].decode("ascii", "replace")
                raise MessageTooComplex(
                    f"{line.count(_EW)} encoded-words in one field ({name!r}), more than "
                    f"the limit of {limits.encoded_words} (RFC 2047)")
