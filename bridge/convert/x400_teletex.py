"""MIME ``text/plain; charset=Teletex`` -> X.420 TeletexBodyPart (RFC 2157 §6.7, App C).

"From RFC-822 to X.400, the conversion shall split the content at each occurrence of the FF
character (0x0C), delete the character and construct the Teletex body part as a SEQUENCE OF
TeletexString" (§6.7).  The reverse (``mime_bodies._teletex``) adds an FF to each page that
does not end in one, so a final FF ends the last page rather than starting an empty one, and
pages -> MIME -> pages gives the same pages.  The octets are the Teletex character set of
App C (T.61: G0 ISO-IR 102, ISO-IR 103 as G2 in GR, escapes honoured); they are kept as they
are -- no line-ending normalisation, since "CR FF" and "CR LF LF" are meaningful in Teletex
(§6.7, last paragraph).  The TeletexParameters carry number-of-pages ("may, but need not").
"""

from __future__ import annotations

from bridge.convert.x400_heading import Invalid
from bridge.model.charsets import CharsetError, t61_decode, t61_encode
from bridge.model.ipm import TeletexBodyPart

#: RFC 2157 §6.7 / App C: the charset name registered for TeletexString data (compared in
#: lower case, as MIME charset names are case-insensitive, RFC 2045 §5.1)
TELETEX_CHARSET = "teletex"
#: X.420 §7.3.5 page separator
FF = "\x0c"


def teletex_pages(text: str) -> tuple[str, ...]:
    """§6.7: split at each FF and delete it; an FF at the very end closes the last page."""
    pages = text.split(FF)
    if len(pages) > 1 and pages[-1] == "":
        pages.pop()
    return tuple(pages)


def teletex_body(data: bytes) -> TeletexBodyPart:
    """§6.7: the decoded body octets of a ``charset=Teletex`` text/plain as a Teletex body
    part.  Invalid when the octets are not T.61 or a page cannot be written back as a
    TeletexString (the caller then encapsulates the part)."""
    try:
        text = t61_decode(data)
    except CharsetError as exc:
        raise Invalid(f"text is not Teletex: {exc}") from None
    pages = teletex_pages(text)
    for page in pages:
        try:
            t61_encode(page)
        except CharsetError as exc:
            raise Invalid(f"Teletex page not representable as a TeletexString: {exc}"
                          ) from None
    return TeletexBodyPart(pages=pages, number_of_pages=len(pages))
