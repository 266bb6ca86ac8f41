"""RFC 5322 messages parsed by the stdlib email package, a single-part body taken whole.

``email.parser.BytesParser`` feeds the whole message through its line buffer, and the body of
a message that is neither ``multipart/*`` nor ``message/*`` is then read back line by line
only to be joined again into the payload (email.feedparser: "the entire rest of the file
contents becomes the payload") -- a tenth of converting a typical message to X.400.
:func:`parse_message` feeds the parser the header section alone; when the header says the body
is a leaf, the payload is the rest of the text as it is, which is what the full parse makes of
it.  In every other case (a multipart or message/* body, a header section the parser would
end elsewhere, a bare CR line ending, no empty line) it is the full parse.  The result is the
same object tree, fields, defects and payloads (tests/test_mimeparse.py checks the corpus and
generated messages against the full parse).
"""

from __future__ import annotations

import re
from email.feedparser import FeedParser
from email.message import Message
from email.parser import BytesParser
from email.policy import Policy

#: a line the email package reads as part of the header section (email.feedparser.headerRE;
#: RFC 5322 §2.2 field names are printable US-ASCII except ":", continuation lines start
#: with WSP, and "From " is the mbox separator line)
_HEADER_LINE = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")

#: a line ending followed by an empty line (RFC 5322 §2.1: the header section ends there)
_SEPARATOR = re.compile(r"\n(\r\n|\n)")

#: body types the parser takes apart (RFC 2046 §5): for those the full parse
_COMPOSITE = ("multipart", "message")


def parse_message(data: bytes, policy: Policy) -> Message:
    """``BytesParser(policy=policy).parsebytes(data)``, with the body of a single-part
    message not split into lines and joined again (module doc)."""
    text = data.decode("ascii", "surrogateescape")      # as BytesParser.parsebytes does
    end = _header_section_end(text)
    if end is not None:
        parser = FeedParser(policy=policy)
        parser.feed(text[:end])
        msg = parser.close()
        if msg.get_content_maintype() not in _COMPOSITE:
            msg.set_payload(text[end:])
            return msg
    return BytesParser(policy=policy).parsebytes(data)


def _header_section_end(text: str) -> int | None:
    """Where the body starts (after the empty line), if the parser would end the header
    section at the first empty line: every line before it a header line and no bare CR in
    it (the parser ends lines at CR as well), no "From " line after the first; else None."""
    m = _SEPARATOR.search(text)
    if m is None:
        return None
    head = text[:m.start() + 1]
    if "\r" in head.replace("\r\n", ""):
        return None
    lines = head.split("\n")
    lines.pop()                                         # after the last line ending
    if not all(_HEADER_LINE.match(line) for line in lines):
        return None
    if any(line.startswith("From ") for line in lines[1:]):
        return None     # the parser may hand such a line back to the body (unixfrom rules)
    return m.end()
