"""RFC 2156 §4.1.2 encoded-pn: ``[given "."] *(initial ".") surname``."""

from __future__ import annotations

import re

from bridge.errors import BridgeError


def parse_encoded_pn(text: str) -> dict[str, str]:
    """Parse encoded-pn into PersonalName keyword arguments.

    ``given`` has at least two characters and no "."; initials are single letters, joined
    (e.g. ``Marshall.M.T.Rose`` -> given Marshall, initials MT, surname Rose).
    """
    parts = text.split(".")
    if not parts or parts[-1] == "" or any(p == "" for p in parts):
        raise BridgeError(f"not an encoded-pn: {text!r}")
    surname = parts[-1]
    rest = parts[:-1]
    out: dict[str, str] = {"surname": surname}
    if rest and len(rest[0]) >= 2:
        out["given_name"] = rest.pop(0)
    if any(not re.fullmatch(r"[A-Za-z]", p) for p in rest):
        raise BridgeError(f"not an encoded-pn: {text!r}")
    if rest:
        out["initials"] = "".join(rest)
    return out
