"""RFC 2156 §3.4: ASCII carried in PrintableString ("ps-encoded").

``@ % ! " _ ( )`` become ``(a) (p) (b) (q) (u) (l) (r)``; any other character outside
PrintableString becomes ``(ddd)`` with its ASCII code in *decimal* (0–127, three digits).
Escapes are recognised case-insensitively on input and generated in lower case.  A ``(`` that
does not start a valid escape is taken literally on input (§3.4 examples: ``(`` -> ``(``).
"""

from __future__ import annotations

import re

from bridge.errors import AddressSyntaxError

# §3.3.3 ps-restricted-char: PrintableString less "(" and ")" (they introduce escapes)
_RESTRICTED = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '+,-./:=?")
_SPECIAL = {"@": "(a)", "%": "(p)", "!": "(b)", '"': "(q)", "_": "(u)", "(": "(l)", ")": "(r)"}
_SPECIAL_BACK = {v[1]: k for k, v in _SPECIAL.items()}
_ESCAPE = re.compile(r"\(([apbqulrAPBQULR]|\d{3})\)")


def ps_encode(text: str) -> str:
    """ASCII -> ps-encoded PrintableString (§3.4).  Non-ASCII is an AddressSyntaxError."""
    out: list[str] = []
    for ch in text:
        if ch in _RESTRICTED:
            out.append(ch)
        elif ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ord(ch) < 128:
            out.append(f"({ord(ch):03d})")
        else:
            raise AddressSyntaxError(f"non-ASCII character {ch!r} cannot be ps-encoded",
                                     address=text)
    return "".join(out)


def ps_decode(text: str) -> str:
    """ps-encoded PrintableString -> ASCII (§3.4); escapes matched case-insensitively.

    A 3-digit code above 127 is not an escape and raises AddressSyntaxError (the string was
    not derived from ASCII; §3.4: "an error shall be given").
    """
    out: list[str] = []
    pos = 0
    for m in _ESCAPE.finditer(text):
        out.append(text[pos : m.start()])
        code = m.group(1)
        if code.isdigit():
            if int(code) > 127:
                raise AddressSyntaxError(f"ps-encoded value ({code}) is not ASCII", address=text)
            out.append(chr(int(code)))
        else:
            out.append(_SPECIAL_BACK[code.lower()])
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)
