"""RFC 2156 §4.1.2 encoded-pn: ``[given "."] *(initial ".") surname``."""

from __future__ import annotations

import re

from bridge.errors import BridgeError

_ALPHA = re.compile(r"[A-Za-z]")


class EncodedPNError(BridgeError):
    """Text that is not an encoded-pn."""


def parse_encoded_pn(text: str) -> dict[str, str]:
    """Parse encoded-pn into PersonalName keyword arguments.

    ``given`` has at least two characters and no "."; initials are single letters, joined
    without full stops; the surname is the rest (it may contain "." after its first two
    characters, §4.1.2 rule 4).  ``Marshall.M.T.Rose`` -> given Marshall, initials MT,
    surname Rose.
    """
    tokens = text.split(".")
    if not text or any(t == "" for t in tokens[:-1]) or tokens[-1] == "":
        raise EncodedPNError(f"not an encoded-pn: {text!r}")
    out: dict[str, str] = {}
    i = 0
    if len(tokens) > 1 and len(tokens[0]) >= 2:
        out["given_name"] = tokens[0]
        i = 1
    initials = []
    while i < len(tokens) - 1 and _ALPHA.fullmatch(tokens[i]):
        initials.append(tokens[i])
        i += 1
    if initials:
        out["initials"] = "".join(initials)
    surname = ".".join(tokens[i:])
    if "." in surname[:2]:
        raise EncodedPNError(f"not an encoded-pn: {text!r}")
    out["surname"] = surname
    return out


def format_encoded_pn(surname: str, given_name: str | None = None,
                      initials: str | None = None) -> str | None:
    """The encoded-pn of a personal name, or None when §4.1.2's restrictions do not hold
    (then the mapping would not be reversible and std-or must be used instead)."""
    parts = []
    if given_name is not None:
        parts.append(given_name)
    if initials is not None:
        if not initials or not all(_ALPHA.fullmatch(c) for c in initials):
            return None
        parts.extend(initials)
    parts.append(surname)
    text = ".".join(parts)
    try:
        back = parse_encoded_pn(text)
    except EncodedPNError:
        return None
    expected = {"surname": surname}
    if given_name is not None:
        expected["given_name"] = given_name
    if initials is not None:
        expected["initials"] = initials
    return text if back == expected else None
