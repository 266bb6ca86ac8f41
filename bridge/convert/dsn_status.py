"""X.400 non-delivery reason/diagnostic <-> DSN status code, as data (STYLE 9).

The two tables of RFC 2156 live in ``mappings/``:

* ``x400-dsn-status.tsv`` -- §5.3.8.2 "Status Code Mappings" (X.400 -> DSN, conformance R-6);
* ``dsn-x400-status.tsv`` -- §5.1.8.4 "Status Value Mappings" (DSN -> X.400, R-9).

:func:`status_tables` loads both once.  This module also owns the two small syntaxes that
carry the codes in a DSN: the RFC 3463 ``status-code`` (RFC 3464 §2.3.4) and MIXER's
``Diagnostic-Code: x400; Reason n (label); Diagnostic m (label)`` (§5.3.8.1 ``dr-diagnostic``,
``labelled-integer-2``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from bridge.errors import ConfigError
from bridge.resources import data_dir

X400_TO_DSN_FILE = "x400-dsn-status.tsv"
DSN_TO_X400_FILE = "dsn-x400-status.tsv"

#: RFC 3463 §2: status-code = class "." subject "." detail; class 2, 4 or 5, subject and
#: detail 1-3 digits.
_STATUS = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})\Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """An RFC 3463 enhanced status code ``class.subject.detail``."""

    klass: int
    subject: int
    detail: int

    @classmethod
    def parse(cls, text: str) -> Status:
        """Parse ``5.1.1`` (surrounding blanks and an RFC 3464 comment are ignored)."""
        m = _STATUS.match(text.split("(", 1)[0].strip())
        if m is None:
            raise ValueError(f"not an RFC 3463 status code: {text!r}")
        return cls(klass=int(m[1]), subject=int(m[2]), detail=int(m[3]))

    def __str__(self) -> str:
        return f"{self.klass}.{self.subject}.{self.detail}"


@dataclass(frozen=True, slots=True, kw_only=True)
class X400Code:
    """A non-delivery reason and optional diagnostic (X.411 §8.3.1.2.1.9/10)."""

    reason: int
    diagnostic: int | None = None

    def __str__(self) -> str:  # the RFC's "1/None" notation
        return f"{self.reason}/{'None' if self.diagnostic is None else self.diagnostic}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardRow:
    """One row of §5.3.8.2: ``reason/diagnostic`` (None = "any") -> status."""

    reason: int
    diagnostic: int | None
    status: Status
    source: str
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReverseRow:
    """One row of §5.1.8.4: ``X.subject.detail`` -> reason/diagnostic (None = positive only)."""

    subject: int
    detail: int
    code: X400Code | None
    meaning: str


#: RFC 3464 App B: fall back to X.0.0 when nothing more precise is known
FALLBACK_STATUS = Status(klass=5, subject=0, detail=0)


class StatusTables:
    """Both directions of the status mapping, immutable once loaded."""

    def __init__(self, forward: tuple[ForwardRow, ...], reverse: tuple[ReverseRow, ...]) -> None:
        self.forward = forward
        self.reverse = reverse
        self._exact: dict[tuple[int, int | None], ForwardRow] = {}
        self._by_diagnostic: dict[int, ForwardRow] = {}
        for row in forward:
            self._exact.setdefault((row.reason, row.diagnostic), row)
            if row.diagnostic is not None:
                self._by_diagnostic.setdefault(row.diagnostic, row)
        self._reverse = {(r.subject, r.detail): r for r in reverse}

    # ------------------------------------------------------------------ X.400 -> DSN

    def to_status(self, reason: int, diagnostic: int | None = None) -> Status:
        """§5.3.8.2: the DSN status for a non-delivery reason and diagnostic.

        Exact row; else the diagnostic's row under any reason (the RFC lists each diagnostic
        with the reason it usually comes with); else the reason's "any" row; else 5.0.0.
        """
        row = self._exact.get((reason, diagnostic))
        if row is None and diagnostic is not None:
            row = self._by_diagnostic.get(diagnostic)
        if row is None:
            row = self._exact.get((reason, None))
        return row.status if row is not None else FALLBACK_STATUS

    def reason_label(self, reason: int) -> str | None:
        row = self._exact.get((reason, None))
        return row.label if row is not None else None

    def diagnostic_label(self, diagnostic: int) -> str | None:
        row = self._by_diagnostic.get(diagnostic)
        return row.label if row is not None else None

    # ------------------------------------------------------------------ DSN -> X.400

    def to_x400(self, status: Status | str, *, unknown: X400Code | None = None) -> X400Code:
        """§5.1.8.4: the reason/diagnostic for a DSN status code.

        A code not in the table, or one the RFC reserves for positive reports, takes X.n.0's
        mapping ("5.2.37" maps as "5.2.0"), or ``unknown`` when the gateway configures one;
        an unknown subject takes X.0.0's.
        """
        st = Status.parse(status) if isinstance(status, str) else status
        row = self._reverse.get((st.subject, st.detail))
        if row is not None and row.code is not None:
            return row.code
        if unknown is not None:
            return unknown
        row = self._reverse.get((st.subject, 0)) or self._reverse[(0, 0)]
        assert row.code is not None  # X.n.0 rows are never "positive" (checked at load)
        return row.code

    def reverse_row(self, subject: int, detail: int) -> ReverseRow | None:
        return self._reverse.get((subject, detail))


def _rows(path: Path, columns: int) -> list[tuple[int, list[str]]]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != columns:
            raise ConfigError(f"{path.name}:{n}: expected {columns} TAB-separated columns")
        out.append((n, cells))
    return out


def load(directory: Path | None = None) -> StatusTables:
    """Read both tables from ``directory`` (default: the shipped ``mappings/``).

    A malformed line is a :class:`~bridge.errors.ConfigError` naming file and line.
    """
    folder = directory if directory is not None else data_dir("mappings")
    forward: list[ForwardRow] = []
    path = folder / X400_TO_DSN_FILE
    for n, (reason, diagnostic, status, source, label) in _rows(path, 5):
        try:
            forward.append(ForwardRow(
                reason=int(reason), diagnostic=None if diagnostic == "*" else int(diagnostic),
                status=Status.parse(status), source=source, label=label))
        except ValueError as exc:
            raise ConfigError(f"{path.name}:{n}: {exc}") from exc
    reverse: list[ReverseRow] = []
    path = folder / DSN_TO_X400_FILE
    for n, (code, reason, diagnostic, meaning) in _rows(path, 4):
        try:
            subject, detail = (int(x) for x in code.split("."))
            x400 = None if reason == "positive" else X400Code(
                reason=int(reason), diagnostic=None if diagnostic == "-" else int(diagnostic))
        except ValueError as exc:
            raise ConfigError(f"{path.name}:{n}: {exc}") from exc
        if x400 is None and detail == 0:
            raise ConfigError(f"{path.name}:{n}: an X.n.0 row needs a non-delivery mapping")
        reverse.append(ReverseRow(subject=subject, detail=detail, code=x400, meaning=meaning))
    if not any(r.subject == 0 and r.detail == 0 for r in reverse):
        raise ConfigError(f"{DSN_TO_X400_FILE}: the X.0.0 row is missing")
    return StatusTables(tuple(forward), tuple(reverse))


@functools.cache
def status_tables() -> StatusTables:
    """The shipped tables, loaded once."""
    return load()


# ---------------------------------------------------------------- Diagnostic-Code: x400; ...

_DIAG = re.compile(
    r"\s*Reason\s+(\d+)\s*(?:\([^()]*\))?\s*(?:;\s*Diagnostic\s+(\d+)\s*(?:\([^()]*\))?)?\s*;?\s*\Z",
    re.I)


def format_x400_diagnostic(code: X400Code, tables: StatusTables | None = None) -> str:
    """§5.3.8.1 ``dr-diagnostic``: ``Reason 1 (Unable-To-Transfer); Diagnostic 0
    (Unrecognised-ORName)`` -- labelled-integer-2, the label omitted when unknown."""
    t = tables or status_tables()

    def li2(n: int, label: str | None) -> str:
        return f"{n} ({label})" if label else str(n)

    text = "Reason " + li2(code.reason, t.reason_label(code.reason))
    if code.diagnostic is not None:
        text += "; Diagnostic " + li2(code.diagnostic, t.diagnostic_label(code.diagnostic))
    return text


def parse_x400_diagnostic(text: str) -> X400Code | None:
    """The reason/diagnostic of a ``dr-diagnostic`` (the part after ``x400;``), or None."""
    m = _DIAG.match(text)
    if m is None:
        return None
    return X400Code(reason=int(m[1]), diagnostic=int(m[2]) if m[2] is not None else None)
