"""RFC 6758: the ``MT-Priority`` header field, which carries an RFC 6710 message transfer
priority through MTAs that do not support the MT-PRIORITY SMTP extension.

* Receiving (§3.1 rule 4a): a message that came without ``MT-PRIORITY=`` on MAIL FROM but
  with exactly one syntactically valid ``MT-Priority`` field has that priority --
  :func:`header_priority`.  The caller applies RFC 6710 §4.1's trust rule to it as to the
  parameter (§7: no raised priority from an untrusted sender).
* Relaying to a server that does not offer MT-PRIORITY (§3.3 rules 2 and 3): every existing
  ``MT-Priority`` field is removed and, when the message has a priority, one field with that
  value is added -- :func:`retunnel`.

``MT-Priority: [CFWS] priority-value [CFWS]`` (§4), ``priority-value = (["-"] NZDIGIT) /
"0"`` (RFC 6710 §7).  Only the header section is looked at; the body is never touched.
"""

from __future__ import annotations

import re

#: RFC 6758 §4 field name, at the start of a header line (RFC 5322 §2.2: case-insensitive)
_FIELD = re.compile(rb"MT-Priority[ \t]*:", re.IGNORECASE)
#: RFC 6710 §7 priority-value
_VALUE = re.compile(rb"(?:-?[1-9]|0)")
_WSP = b" \t\r\n"


def _header_end(message: bytes) -> int:
    """Offset of the blank line that ends the header section (len when there is none)."""
    if message.startswith(b"\r\n"):
        return 0
    end = message.find(b"\r\n\r\n")
    return len(message) if end < 0 else end + 2


def _fields(message: bytes) -> list[tuple[int, int]]:
    """(start, end) of every ``MT-Priority`` field in the header, continuation lines
    included (RFC 5322 §2.2.3 folding)."""
    head = message[:_header_end(message)]
    spans: list[tuple[int, int]] = []
    pos = 0
    while pos < len(head):
        nl = head.find(b"\r\n", pos)
        line_end = len(head) if nl < 0 else nl + 2
        end = line_end
        while end < len(head) and head[end:end + 1] in (b" ", b"\t"):
            nl = head.find(b"\r\n", end)
            end = len(head) if nl < 0 else nl + 2
        if _FIELD.match(head, pos):
            spans.append((pos, end))
        pos = end
    return spans


def _strip_cfws(value: bytes) -> bytes | None:
    """``value`` without RFC 5322 §3.2.2 comments and white space; None if a comment is not
    closed."""
    out = bytearray()
    depth = 0
    i = 0
    while i < len(value):
        c = value[i:i + 1]
        if depth and c == b"\\":
            i += 2                           # quoted-pair inside a comment
            continue
        if c == b"(":
            depth += 1
        elif c == b")" and depth:
            depth -= 1
        elif not depth and c not in (b" ", b"\t", b"\r", b"\n"):
            out += c
        i += 1
    return None if depth else bytes(out)


def header_priority(message: bytes) -> int | None:
    """The priority of the single valid ``MT-Priority`` field of ``message`` (§3.1 rule
    4a), or None: no field, more than one, or one whose value is not a priority-value."""
    spans = _fields(message)
    if len(spans) != 1:
        return None
    start, end = spans[0]
    match = _FIELD.match(message, start)
    assert match is not None
    value = _strip_cfws(message[match.end():end])
    if value is None or not _VALUE.fullmatch(value):
        return None
    return int(value)


def retunnel(message: bytes, priority: int | None) -> bytes:
    """``message`` for a next hop without MT-PRIORITY (§3.3): its ``MT-Priority`` fields
    removed, and one ``MT-Priority: <priority>`` first in the header when ``priority`` is
    not None."""
    spans = _fields(message)
    if spans:
        parts: list[bytes] = []
        pos = 0
        for start, end in spans:
            parts.append(message[pos:start])
            pos = end
        parts.append(message[pos:])
        message = b"".join(parts)
    if priority is None:
        return message
    return b"MT-Priority: %d\r\n" % priority + message
