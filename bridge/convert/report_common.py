"""Text forms shared by the report conversions (RFC 2156 §5.1.8, §5.3.8, §5.3.9; RFC 3464).

Used by :mod:`bridge.convert.dsn_from_report` (X.400 report -> DSN),
:mod:`bridge.convert.report_from_dsn` (DSN -> X.400 report) and the probe answer in
:mod:`bridge.convert.reports`: US-ASCII text, derived X.411 local identifiers, the
PrintableString supplementary information.
"""

from __future__ import annotations

import hashlib
import re

from bridge.convert.result import Defect

UB_LOCAL_ID = 32  # X.411 ub-local-id
UB_SUPPLEMENTARY_INFO = 256  # X.411 ub-supplementary-info-length
NOT_PRINTABLE = re.compile(r"[^A-Za-z0-9 '()+,\-./:=?]")  # X.680 PrintableString complement


def ascii_only(text: str, defects: list[Defect], what: str, rule: str = "RFC 3464 §2.1.2") -> str:
    """DSN fields (RFC 3464 §2.1.2) and IA5 text are US-ASCII; anything else becomes ``?``
    (a defect)."""
    out = "".join(c if " " <= c < "\x7f" or c in "\t\r\n" else "?" for c in text)
    if out != text:
        defects.append(Defect("charset", f"{what}: non-ASCII characters replaced", rule))
    return out


def digest(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()


def local_id(text: str) -> str:
    """A local identifier (X.411 IA5String, at most 32) derived from ``text``."""
    text = "".join(c for c in text if " " < c < "\x7f") or "dsn"
    return text if len(text) <= UB_LOCAL_ID else text[:23] + "." + digest(text)[:8]
