"""Text forms of the four MIXER mapping tables: parse, format, import, export (RFC 2156 App F).

Pure functions, no I/O; :mod:`bridge.mapping.tables` reads and writes the files.

The native form is App F (RFC 2156 App F §5 to §8, table names from RFC 2163 §3)::

    # comment                                  (App F §5: "Lines starting with "#" are comments")
    AC.UK#PRMD$UK\\.AC.ADMD$GOLD 400.C$GB#       table2, gate2: domain-syntax "#" dmn-or-address "#"
    PRMD$UK\\.AC.ADMD$GOLD 400.C$GB#AC.UK#       table1, gate1: dmn-or-address "#" domain-syntax "#"

The trailing ``#`` is required: a value may end in blanks (``ADMD$ ``) and the ``#`` keeps them
(App F §5).  ``#`` is not a ps-char (RFC 2156 §3.3.3), so it can only be a delimiter.  Blank
lines are ignored as well; blanks after the closing ``#`` and a CR before the newline are
tolerated.  Checks made on every line (App F §3, RFC 2156 §4.2):

* a domain is ``domain-syntax`` labels (letters, digits, inner hyphens) joined by ``.``;
* a ``dmn-part`` is ``attribute "$" value``; the attribute is a key-string (letters, digits,
  hyphens) or ``~`` and a DDA type; the value is ``@`` (omitted level) or ps-chars plus
  ``{ } *`` with ``\\.`` for a dot;
* table1/table2 (MCGAM tables) allow only C, ADMD, PRMD, O, OU (up to four) in that order with
  no level skipped (App F §3 a, b) -- a level skipped between two present ones is read as
  ``@`` with a warning, see :func:`parse_or`; gate1/gate2 allow any attribute and DDAs (App F
  §7), but a gate1 *key* is looked up like a table1 key (App F §8: "the same format"), so a
  skipped level is repaired and warned about the same way, and a gate1 key that is not
  C, ADMD, PRMD, O, OU in order draws a warning: no O/R lookup (§4.3.5 B3) can match it.

Formats for :func:`import_lines` / :func:`export_lines`, with the sources they follow:

``"mixer"``
    App F as above; the caller names the table (a line does not say whether it is an MCGAM or a
    gateway entry).
``"exchange"``
    Microsoft Exchange 5.5 SP3 ``Mcgam.in.txt`` / ``Local.in.txt`` in the MTA run directory
    (KB Q238507 "XCON: Exchange Server MTA MIXER Mapping Tables", KB Q241037): the App F line
    syntax, *both directions in one file* (``microsoft.com#prmd$microsoft.admd$gold 400.c$uk#``
    and ``prmd$microsoft.admd$gold 400.c$uk#microsoft.com#``), lower-case keywords; being
    Windows text files they are read and written with CRLF line ends.  The direction of
    each line is read from which side holds the O/R address; the table family (MCGAM by
    default, or gate) is the caller's.  A missing closing ``#`` is accepted.
``"pp"``
    The ISODE PP MTA tables ``or2rfc`` (table1), ``rfc2or`` (table2) and ``rfc1148gate``
    (gate2): ``key:value`` lines, ``#`` comments, leading blanks skipped, ``\\:`` for a colon in
    the key, blanks after the ``:`` skipped, the value runs to the end of the line (PP 6.0
    ``Lib/table/tb_k2val.c`` ``tab_fetch``); keys and values are App F dmn forms (PP
    ``Lib/or/or_or2dmn.c``, ``or_dmn2or.c``, ``or_rbits2or.c``, ``or_or2rbits.c``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bridge.errors import BridgeError
from bridge.mapping.orprefix import HIERARCHY, ORPrefix, ORPrefixSyntaxError, split_escaped
from bridge.mapping.source import Entry, Table

#: Formats understood by :func:`import_lines` and :func:`export_lines`.
FORMATS = ("mixer", "exchange", "pp")

#: PP table names (ISODE PP ``Lib/static.c``) -> our tables.
PP_TABLE_NAMES = {"or2rfc": Table.TABLE1, "rfc2or": Table.TABLE2, "rfc1148gate": Table.GATE2}

# RFC 2156 §4.2 domain-syntax = alphanum [ *alphanumhyphen alphanum ], joined by "."
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                     r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")
# RFC 2156 §4.1.3 key-string: the standard-type keywords are letters, digits and hyphens
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
# App F §3 dmn-char: "{", "}", "*" and any ps-char (RFC 2156 §3.3.3) except "."
_DMN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                       " '()+,-/:=?{}*")


class Level(StrEnum):
    """How bad a :class:`Finding` is."""

    ERROR = "error"  # the table is wrong: a line was not loaded, or App F forbids it
    WARNING = "warning"  # legal but probably not what was meant (an entry never used)
    INFO = "info"  # worth knowing (a one-way MCGAM)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a table; ``origin`` is ``"<file>:<line>"``."""

    level: Level
    origin: str
    message: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.level}: {self.message}"


class TableError(BridgeError):
    """A table (file, import text or edit) is not valid App F; lists *every* problem found.

    ``findings`` holds them in order; ``str()`` gives one ``file:line: message`` per line.
    """

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__("\n".join(f"{f.origin}: {f.message}" for f in self.findings))


class LineSyntaxError(BridgeError):
    """One line or field is not valid App F (raised by :func:`parse_line`, :func:`parse_or`,
    :func:`parse_domain`; a whole-table parse turns each into a :class:`Finding`)."""


# --------------------------------------------------------------------------- keys


def domain_key(domain: str) -> str:
    """Lookup key of a domain: case-folded, without a final root dot (App F §4)."""
    return domain.lower().removesuffix(".")


def entry_key(entry: Entry) -> str | tuple[tuple[str, str | None], ...]:
    """The normalised key of ``entry`` in its table: its domain for table2/gate2, its O/R prefix
    for table1/gate1 (App F §5 to §8)."""
    if entry.table.keyed_by_domain:
        return domain_key(entry.domain)
    return entry.prefix.key()


# --------------------------------------------------------------------------- one field


def parse_domain(text: str) -> str:
    """Check ``text`` is EBNF.domain-syntax labels joined by ``.`` (RFC 2156 §4.2) and return
    it unchanged; raises :class:`LineSyntaxError`."""
    if not _DOMAIN.fullmatch(text):
        raise LineSyntaxError(f"not a domain-syntax domain: {text!r}")
    return text


def _check_dmn_string(text: str, what: str) -> None:
    """App F §3 dmn-printablestring: dmn-chars and ``\\.`` pairs."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if text[i + 1 : i + 2] != ".":
                raise LineSyntaxError(f"{what}: only \\. may be escaped: {text!r}")
            i += 2
            continue
        if ch not in _DMN_CHARS:
            raise LineSyntaxError(f"{what}: character {ch!r} is not allowed: {text!r}")
        i += 1


def parse_or(text: str, table: Table, notes: list[str] | None = None) -> ORPrefix:
    """Parse an App F §3 ``dmn-or-address`` for ``table``; raises :class:`LineSyntaxError`.

    Keys are upper-cased (``c$gb`` is ``C$GB``; DDA types keep their case); table1/table2 take
    only the MCGAM hierarchy (App F §3 a/b), DDAs only in gate tables (App F §7).

    App F §3 b says an omitted level is written ``@``, yet App F §5's own example
    ``XEROX.COM#O$Xerox.ADMD$ATT.C$US#`` skips the PRMD.  A level skipped *between* two present
    ones is therefore read as omitted (``PRMD$@``, the same X.400 address) and a note is
    appended to ``notes``; a missing C, keys out of order or more than four OUs stay errors.
    The note is sharper for an O/R *key* (table1, gate1): App F §6 asks to "fill in missing
    components in the hierarchy" of the address looked up, so a gateway that reads the table as
    written -- ISODE PP -- never matches ``O$Widget.ADMD$BTT.C$TC``, only
    ``O$Widget.PRMD$@.ADMD$BTT.C$TC``.  gate1 keys (App F §8: table1's format) get the same
    repair; one that is not C, ADMD, PRMD, O, OU in order is kept with a note that no lookup
    can match it (the §4.3.5 B3 key holds only those levels).
    """
    if not text:
        raise LineSyntaxError("empty O/R address")
    for raw in split_escaped(text, "."):
        key, sep, value = raw.partition("$")
        if not sep:
            raise LineSyntaxError(f"dmn-part without '$': {raw!r}")
        if key.startswith("~"):
            if table in (Table.TABLE1, Table.TABLE2):
                raise LineSyntaxError(f"domain defined attribute {key} in an MCGAM table"
                                 " (App F §3 a: only C, ADMD, PRMD, O, OU)")
            if len(key) == 1:
                raise LineSyntaxError(f"empty domain defined attribute type: {raw!r}")
            _check_dmn_string(key[1:], "DDA type")
        elif not _KEY.fullmatch(key):
            raise LineSyntaxError(f"bad attribute keyword {key!r}")
        if value != "@":
            _check_dmn_string(value, key)
    try:
        prefix = ORPrefix.from_dmn(text)
    except ORPrefixSyntaxError as exc:  # pragma: no cover - the checks above are stricter
        raise LineSyntaxError(str(exc)) from exc
    if prefix.is_mcgam_form() or table is Table.GATE2:
        return prefix
    filled = _fill_skipped(prefix)
    order = ".".join(k for k, _ in reversed(prefix.parts))
    if filled is None and table is Table.GATE1:
        if notes is not None:
            notes.append(f"gate1 key {order} is not C, ADMD, PRMD, O, OU in that order: an O/R "
                         "address is looked up by those levels only (RFC 2156 §4.3.5 B3, App F "
                         "§8), so this entry never matches")
        return prefix
    if filled is None:
        raise LineSyntaxError(f"MCGAM O/R address must be C, ADMD, PRMD, O, OU (up to four), "
                              f"in that order (App F §3 a/b); got {order}")
    if notes is not None:
        skipped = ", ".join(k for k, v in filled.parts if v is None and (k, v) not in prefix.parts)
        if table.keyed_by_domain:
            notes.append(f"level {skipped} skipped without '@' (App F §3 b); read as omitted: "
                         f"{filled.to_dmn()}")
        else:
            notes.append(f"key skips level {skipped} without '@' (App F §3 b, §6): ISODE PP "
                         "and other gateways that fill in omitted levels before the lookup never "
                         f"match it; read here as {filled.to_dmn()} -- write it so")
    return filled


def _fill_skipped(prefix: ORPrefix) -> ORPrefix | None:
    """Insert omitted (``@``) levels where ``prefix`` skips MCGAM levels between present ones;
    ``None`` when it is not an ordered subsequence of the hierarchy starting with C."""
    out: list[tuple[str, str | None]] = []
    pos = 0
    for key, value in prefix.parts:
        while pos < len(HIERARCHY) and HIERARCHY[pos] != key:
            if not out:
                return None  # the most significant level (C) is missing
            out.append((HIERARCHY[pos], None))
            pos += 1
        if pos == len(HIERARCHY):
            return None
        out.append((key, value))
        pos += 1
    return ORPrefix(tuple(out))


# --------------------------------------------------------------------------- one line


def _fields(line: str, *, closing_optional: bool = False) -> tuple[str, str]:
    """Split ``a#b#`` (App F §5/§6); anything but blanks after the closing ``#`` is an error."""
    parts = line.split("#")
    if len(parts) == 2 and closing_optional:
        return parts[0], parts[1].rstrip()
    if len(parts) != 3:
        raise LineSyntaxError(f"expected two fields each closed by '#', got {len(parts) - 1} '#'")
    if parts[2].strip():
        raise LineSyntaxError(f"text after the closing '#': {parts[2]!r}")
    return parts[0], parts[1]


def parse_line(line: str, table: Table, origin: str = "",
               notes: list[str] | None = None) -> Entry:
    """Parse one App F entry line of ``table`` (no comment or blank line); raises
    :class:`LineSyntaxError`; warnings (see :func:`parse_or`) are appended to ``notes``."""
    first, second = _fields(line)
    return _make_entry(table, first, second, origin, notes)


def _make_entry(table: Table, first: str, second: str, origin: str,
                notes: list[str] | None = None) -> Entry:
    if table.keyed_by_domain:
        domain, or_text = first, second
    else:
        or_text, domain = first, second
    return Entry(table, parse_domain(domain), parse_or(or_text, table, notes), origin)


@dataclass(frozen=True, slots=True)
class ParsedText:
    """Result of parsing one table's text: entries (with their line numbers), the comment
    header before the first entry, and the problems: errors for lines that were not loaded,
    warnings for lines loaded with a repair (see :func:`parse_or`)."""

    entries: tuple[tuple[int, Entry], ...]
    header: tuple[str, ...]
    problems: tuple[Finding, ...]


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln.removesuffix("\r") for ln in lines]


def _is_skip(line: str) -> bool:
    return line.startswith("#") or not line.strip()


def parse_text(text: str, table: Table, source: str) -> ParsedText:
    """Parse a whole App F table file; bad lines become :class:`Finding` errors (not raised).

    ``source`` names the file in each entry's ``origin`` (``"<source>:<line>"``).
    """
    entries: list[tuple[int, Entry]] = []
    header: list[str] = []
    problems: list[Finding] = []
    in_header = True
    for lineno, line in enumerate(_lines(text), 1):
        if _is_skip(line):
            if in_header:
                header.append(line)
            continue
        in_header = False
        origin = f"{source}:{lineno}"
        notes: list[str] = []
        try:
            entries.append((lineno, parse_line(line, table, origin, notes)))
        except LineSyntaxError as exc:
            problems.append(Finding(Level.ERROR, origin, str(exc)))
        problems.extend(Finding(Level.WARNING, origin, note) for note in notes)
    return ParsedText(tuple(entries), tuple(header), tuple(problems))


# --------------------------------------------------------------------------- import / export


_PARTNER = {Table.TABLE1: Table.TABLE2, Table.TABLE2: Table.TABLE1,
            Table.GATE1: Table.GATE2, Table.GATE2: Table.GATE1}


def _looks_like_or(field: str) -> bool:
    return "$" in field


def detect_format(text: str) -> str:
    """Guess the format of ``text``: ``"pp"`` when most entry lines are ``key:value`` without
    the closing ``#``; ``"exchange"`` for App F lines with CRLF ends or both directions in one
    text (an Exchange ``Mcgam.in.txt``); ``"mixer"`` otherwise (also for an empty text)."""
    mixer = pp = 0
    directions: set[bool] = set()
    for line in _lines(text):
        if _is_skip(line.lstrip()):
            continue
        stripped = line.strip()
        if stripped.endswith("#") and stripped.count("#") == 2:
            mixer += 1
            directions.add(_looks_like_or(stripped.split("#", 1)[0]))
        elif ":" in stripped and "#" not in stripped:
            pp += 1
        elif "#" in stripped:
            mixer += 1
    if pp > mixer:
        return "pp"
    if "\r\n" in text or len(directions) > 1:
        return "exchange"
    return "mixer"


def import_lines(text: str, format: str | None = None, *, table: Table | None = None,
                 source: str = "<import>", warnings: list[Finding] | None = None
                 ) -> list[Entry]:
    """Entries of a table text in ``format`` (one of :data:`FORMATS`; detected by
    :func:`detect_format` when ``None``).  Raises :class:`TableError` listing every bad line;
    lines loaded with a repair (see :func:`parse_or`) are listed in ``warnings``.

    ``table``: required for ``"mixer"``.  For ``"exchange"`` and ``"pp"`` it is optional: each
    line's direction is read from which side holds the O/R address (``$``), and ``table`` only
    chooses the family (a gate table gives gate1/gate2; default table1/table2).
    """
    fmt = format or detect_format(text)
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "mixer":
        if table is None:
            raise ValueError("the 'mixer' format needs the table (App F lines do not say "
                             "whether they are MCGAM or gateway entries)")
        parsed = parse_text(text, table, source)
        if any(p.level is Level.ERROR for p in parsed.problems):
            raise TableError(parsed.problems)
        if warnings is not None:
            warnings.extend(parsed.problems)
        return [e for _, e in parsed.entries]
    gate = table in (Table.GATE1, Table.GATE2)
    entries: list[Entry] = []
    problems: list[Finding] = []
    for lineno, line in enumerate(_lines(text), 1):
        origin = f"{source}:{lineno}"
        stripped = line.lstrip()
        if _is_skip(stripped):
            continue
        try:
            if fmt == "exchange":
                first, second = _fields(stripped, closing_optional=True)
            else:
                first, second = _pp_fields(stripped)
            or_first = _looks_like_or(first)
            if or_first:
                second = second.strip()
            else:
                first = first.strip()
            direction = (Table.GATE1 if gate else Table.TABLE1) if or_first else (
                Table.GATE2 if gate else Table.TABLE2)
            notes: list[str] = []
            entries.append(_make_entry(direction, first, second, origin, notes))
            if warnings is not None:
                warnings.extend(Finding(Level.WARNING, origin, note) for note in notes)
        except LineSyntaxError as exc:
            problems.append(Finding(Level.ERROR, origin, str(exc)))
    if problems:
        raise TableError(problems)
    return entries


def _pp_fields(line: str) -> tuple[str, str]:
    """PP ``tab_fetch``: key up to the first ``:`` not escaped as ``\\:``; blanks after it
    skipped; the value is the rest of the line."""
    key: list[str] = []
    for i, ch in enumerate(line):
        if ch == ":":
            if key and key[-1] == "\\":
                key[-1] = ":"
                continue
            return "".join(key), line[i + 1 :].lstrip(" \t")
        key.append(ch)
    raise LineSyntaxError("no value - missing ':'")


def export_lines(entries: Iterable[Entry], format: str = "mixer",
                 header: Sequence[str] = ()) -> str:
    """Text of ``entries`` in ``format``: App F lines for ``"mixer"``, the same with CRLF for
    ``"exchange"``, ``key:value`` for ``"pp"``.  ``header`` lines (comments) come first."""
    if format not in FORMATS:
        raise ValueError(f"unknown table format {format!r}; use one of {', '.join(FORMATS)}")
    out = list(header)
    for entry in entries:
        if format == "pp":
            first, _, second = entry.line()[:-1].partition("#")
            out.append(f"{first.replace(':', chr(92) + ':')}:{second}")
        else:
            out.append(entry.line())
    if not out:
        return ""
    eol = "\r\n" if format == "exchange" else "\n"
    return eol.join(out) + eol


def partner(table: Table) -> Table:
    """The table of the other direction in the same family (table1 <-> table2, gate1 <-> gate2)."""
    return _PARTNER[table]
