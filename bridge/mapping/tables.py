"""The four MIXER mapping tables as one immutable lookup object (RFC 2156 App F, RFC 2163 §3).

Theory of operation
-------------------
A tables directory holds up to four files named after RFC 2163 §3: ``table1`` (O/R -> domain
MCGAMs), ``table2`` (domain -> O/R MCGAMs), ``gate1`` and ``gate2`` (preferred gateways); an
absent file is an empty table.  Their syntax is App F (see :mod:`bridge.mapping.tablefile`).

:meth:`MappingTables.load` parses all four into a :class:`MappingTables`, which implements
:class:`~bridge.mapping.source.MappingSource`.  Each table is indexed by a dict keyed by the
normalised key (App F §4: "Matches are always case independent"), so a lookup is a few dict
probes: ``lookup_domain`` tries the domain, then each parent (``I.J.K.L``, ``J.K.L``, ``K.L``,
``L``: App F §4 longest match); ``lookup_or`` tries the O/R prefix, then each shorter prefix
(the same as :meth:`ORPrefix.prefixes`, but slicing one normalised key).  On this machine a
1,000-entry table answers about 500,000 domain and 300,000 O/R lookups a second
(``bench/tables.py``).  When a key occurs
twice the *first* line wins, as a sequential reader of the file would have it; :func:`check`
reports the shadowed line.

Loading is strict by default: every bad line of every file is collected and one
:class:`TableError` lists them all (``file:line: message``).  ``strict=False`` loads the good
lines and keeps the problems in :attr:`MappingTables.problems`, like the email parser's
defects; :func:`check` reports them with the lint findings.

Objects never change; :meth:`with_entry` and :meth:`without` return new ones.  On disk, every
write goes to a temporary file in the same directory which is fsync'd and renamed over the old
one (readers see the old or the new file, never a mix), under an exclusive ``flock`` on
``<dir>/.lock`` so that concurrent editors serialise their read-modify-write cycles.
:func:`add_entry` and :func:`remove_entry` edit single lines and keep every comment;
:meth:`MappingTables.save` and :func:`edit` regenerate a file from its entries and keep only its
leading comment header.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from bridge.mapping.orprefix import ORPrefix
from bridge.mapping.source import ChainedSource, Entry, MappingSource, Table
from bridge.mapping.tablefile import (
    Finding,
    Level,
    LineSyntaxError,
    TableError,
    domain_key,
    entry_key,
    export_lines,
    parse_line,
    parse_or,
    parse_text,
    partner,
)

__all__ = ["Finding", "Level", "MappingTables", "TableError", "add_entry", "check", "edit",
           "remove_entry"]

LOCK_NAME = ".lock"

_ORKey = tuple[tuple[str, str | None], ...]


@lru_cache(maxsize=8192)
def _norm_value(value: str) -> str:
    return " ".join(value.split()).upper()


def _or_key(prefix: ORPrefix) -> _ORKey:
    """:meth:`ORPrefix.key` (App F §4 case-independent key), with the value normalisation
    memoised: the key is most of the cost of an O/R lookup."""
    return tuple([(k.upper(), None if v is None else _norm_value(v)) for k, v in prefix.parts])


class MappingTables:
    """All four App F tables, immutable, with case-independent longest-match lookups."""

    __slots__ = ("_entries", "_headers", "_domains", "_ors", "_maxlen", "problems")

    def __init__(self, entries: Iterable[Entry] = (), *,
                 headers: Mapping[Table, Sequence[str]] | None = None,
                 problems: Sequence[Finding] = ()) -> None:
        by_table: dict[Table, list[Entry]] = {t: [] for t in Table}
        for entry in entries:
            by_table[entry.table].append(entry)
        self._entries: dict[Table, tuple[Entry, ...]] = {
            t: tuple(v) for t, v in by_table.items()}
        self._headers: dict[Table, tuple[str, ...]] = {
            t: tuple((headers or {}).get(t, ())) for t in Table}
        #: Load findings: errors for lines not loaded (``load(..., strict=False)``), warnings
        #: for lines loaded with a repair (a skipped level read as ``@``) or never matched.
        self.problems: tuple[Finding, ...] = tuple(problems)
        self._domains: dict[Table, dict[str, Entry]] = {}
        self._ors: dict[Table, dict[_ORKey, Entry]] = {}
        self._maxlen: dict[Table, int] = {}
        for table in Table:
            if table.keyed_by_domain:
                dindex: dict[str, Entry] = {}
                for e in self._entries[table]:
                    dindex.setdefault(domain_key(e.domain), e)
                self._domains[table] = dindex
            else:
                oindex: dict[_ORKey, Entry] = {}
                for e in self._entries[table]:
                    oindex.setdefault(_or_key(e.prefix), e)
                self._ors[table] = oindex
                self._maxlen[table] = max((len(k) for k in oindex), default=0)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, directory: Path, *, strict: bool = True) -> MappingTables:
        """Read ``table1``, ``table2``, ``gate1``, ``gate2`` from ``directory`` (App F §5-§8).

        A missing file is an empty table.  With ``strict`` (the default) any bad line raises
        one :class:`TableError` listing the problems of all four files; otherwise the bad lines
        are skipped and listed in :attr:`problems` (which also holds repair warnings).
        """
        entries: list[Entry] = []
        headers: dict[Table, tuple[str, ...]] = {}
        problems: list[Finding] = []
        for table in Table:
            path = Path(directory) / table.value
            try:
                text = path.read_bytes().decode("utf-8", errors="replace")
            except FileNotFoundError:
                continue
            parsed = parse_text(text, table, str(path))
            entries.extend(e for _, e in parsed.entries)
            headers[table] = parsed.header
            problems.extend(parsed.problems)
        if strict and any(p.level is Level.ERROR for p in problems):
            raise TableError(problems)
        return cls(entries, headers=headers, problems=problems)

    # ------------------------------------------------------------------ MappingSource

    def lookup_domain(self, table: Table, domain: str) -> Entry | None:
        """Longest match of ``domain`` or a parent domain in ``table`` (App F §4): with keys
        ``K.L`` and ``J.K.L``, ``I.J.K.L`` finds ``J.K.L`` and ``A.B.C`` finds nothing."""
        try:
            index = self._domains[table]
        except KeyError:
            raise ValueError(f"{table.value} is keyed by O/R address, not domain") from None
        key = domain.lower()
        if key.endswith("."):
            key = key[:-1]
        while True:
            hit = index.get(key)
            if hit is not None:
                return hit
            dot = key.find(".")
            if dot < 0:
                return None
            key = key[dot + 1 :]

    def lookup_or(self, table: Table, prefix: ORPrefix) -> Entry | None:
        """Longest match of ``prefix`` or a shorter prefix of it in ``table`` (App F §4, §6:
        the O/R address, most significant first, is the key; matching is case independent)."""
        try:
            index = self._ors[table]
        except KeyError:
            raise ValueError(f"{table.value} is keyed by domain, not O/R address") from None
        if not index:
            return None
        key = _or_key(prefix)
        for n in range(min(len(key), self._maxlen[table]), 0, -1):
            hit = index.get(key[:n])
            if hit is not None:
                return hit
        return None

    # ------------------------------------------------------------------ contents

    def entries(self, table: Table) -> tuple[Entry, ...]:
        """The entries of ``table`` in file order (duplicates included)."""
        return self._entries[table]

    def header(self, table: Table) -> tuple[str, ...]:
        """The comment lines before the first entry of ``table``'s file (kept on save)."""
        return self._headers[table]

    def __iter__(self) -> Iterator[Entry]:
        for table in Table:
            yield from self._entries[table]

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())

    def __repr__(self) -> str:
        sizes = ", ".join(f"{t.value}={len(self._entries[t])}" for t in Table)
        return f"<MappingTables {sizes}>"

    def _replace(self, table: Table, entries: Iterable[Entry]) -> MappingTables:
        rest = [e for t in Table if t is not table for e in self._entries[t]]
        return MappingTables([*rest, *entries], headers=self._headers, problems=self.problems)

    def with_entry(self, entry: Entry) -> MappingTables:
        """A new object with ``entry`` added; an entry with the same normalised key (and every
        duplicate of it) is replaced in place, otherwise ``entry`` goes last."""
        key = entry_key(entry)
        out: list[Entry] = []
        placed = False
        for e in self._entries[entry.table]:
            if entry_key(e) == key:
                if not placed:
                    out.append(entry)
                    placed = True
            else:
                out.append(e)
        if not placed:
            out.append(entry)
        return self._replace(entry.table, out)

    def without(self, table: Table, key: str | ORPrefix) -> MappingTables:
        """A new object without the entries of ``table`` whose key is ``key`` (a domain for
        table2/gate2; an :class:`ORPrefix` or its App F text for table1/gate1).  Raises
        :class:`TableError` when there is none."""
        norm = _normalise_key(table, key)
        kept = [e for e in self._entries[table] if entry_key(e) != norm]
        if len(kept) == len(self._entries[table]):
            raise TableError([Finding(Level.ERROR, table.value, f"no entry with key {key}")])
        return self._replace(table, kept)

    def export_lines(self, table: Table, format: str = "mixer", *,
                     header: bool = True) -> str:
        """``table`` as text in ``format`` (App F for ``"mixer"``), with its comment header."""
        return export_lines(self._entries[table], format,
                            self._headers[table] if header else ())

    # ------------------------------------------------------------------ writing

    def save(self, directory: Path) -> None:
        """Write every table that has entries, a header or an existing file, atomically and
        under the directory lock (entries regenerated; only the comment header is kept)."""
        directory = Path(directory)
        with _locked(directory):
            for table in Table:
                path = directory / table.value
                if self._entries[table] or self._headers[table] or path.exists():
                    _write_atomic(path, self.export_lines(table))


def mapping_source(directory: Path, dns: tuple[str, int] | None = None) -> MappingSource:
    """The App F tables in ``directory``, then -- when ``dns`` (server, port) is given -- the
    RFC 2163 PX records from that DNS server (RFC 2156 App F / RFC 2163 §4: tables first)."""
    tables = MappingTables.load(directory)
    if dns is None:
        return tables
    from bridge.mapping.dns import DNSConfig, DNSSource

    return ChainedSource(tables, DNSSource(DNSConfig(nameservers=(dns[0],), port=dns[1])))


def _normalise_key(table: Table, key: str | ORPrefix) -> str | _ORKey:
    if table.keyed_by_domain:
        if not isinstance(key, str):
            raise TypeError(f"{table.value} is keyed by domain")
        return domain_key(key)
    if isinstance(key, str):
        try:
            key = parse_or(key, table)
        except LineSyntaxError as exc:
            raise TableError([Finding(Level.ERROR, table.value, str(exc))]) from None
    return key.key()


# --------------------------------------------------------------------------- files


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Exclusive ``flock`` on ``<directory>/.lock`` for a read-modify-write cycle."""
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _write_atomic(path: Path, text: str) -> None:
    """Write-then-rename: temp file in the same directory, fsync, ``os.replace``, fsync dir."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _conflicts(tables: MappingTables, entry: Entry) -> list[Finding]:
    """App F §7/§8: a key may not be both in an MCGAM table and in its gateway table."""
    other = {Table.TABLE1: Table.GATE1, Table.GATE1: Table.TABLE1,
             Table.TABLE2: Table.GATE2, Table.GATE2: Table.TABLE2}[entry.table]
    key = entry_key(entry)
    for e in tables.entries(other):
        if entry_key(e) == key:
            return [Finding(Level.ERROR, entry.origin or entry.table.value,
                            f"key {_show_key(entry)} is also in {other.value} at {e.origin} "
                            f"(App F §{7 if entry.table.keyed_by_domain else 8})")]
    return []


def add_entry(directory: Path, entry: Entry, *, replace: bool = False) -> MappingTables:
    """Add ``entry`` to its table file in ``directory``, keeping every other line and comment.

    Under the directory lock: reload all tables (strict), refuse a key that is already in the
    table (unless ``replace``: its line is rewritten in place) or in the partner MCGAM/gateway
    table (App F §7/§8), append the App F line, write atomically.  Returns the new tables.
    """
    directory = Path(directory)
    with _locked(directory):
        tables = MappingTables.load(directory)
        try:
            line = parse_line(entry.line(), entry.table).line()  # validates the entry
        except LineSyntaxError as exc:
            raise TableError([Finding(Level.ERROR, entry.origin or entry.table.value,
                                      str(exc))]) from None
        problems = _conflicts(tables, entry)
        key = entry_key(entry)
        same = [e for e in tables.entries(entry.table) if entry_key(e) == key]
        if same and not replace:
            problems.append(Finding(Level.ERROR, same[0].origin,
                                    f"{entry.table.value} already has key {_show_key(entry)}"))
        if problems:
            raise TableError(problems)
        path = directory / entry.table.value
        lines = _file_lines(path)
        if same:
            drop = {_line_no(e) for e in same}
            first = min(drop)
            lines = [line if n == first else ln
                     for n, ln in enumerate(lines, 1) if n == first or n not in drop]
        else:
            lines.append(line)
        _write_atomic(path, "".join(ln + "\n" for ln in lines))
        return MappingTables.load(directory)


def remove_entry(directory: Path, table: Table, key: str | ORPrefix) -> MappingTables:
    """Delete the line(s) of ``table`` whose key is ``key``, keeping all other lines; under the
    directory lock, atomically.  Raises :class:`TableError` when there is no such entry."""
    directory = Path(directory)
    with _locked(directory):
        tables = MappingTables.load(directory)
        norm = _normalise_key(table, key)
        drop = {_line_no(e) for e in tables.entries(table) if entry_key(e) == norm}
        if not drop:
            raise TableError([Finding(Level.ERROR, str(directory / table.value),
                                      f"no entry with key {key}")])
        path = directory / table.value
        lines = [ln for n, ln in enumerate(_file_lines(path), 1) if n not in drop]
        _write_atomic(path, "".join(ln + "\n" for ln in lines))
        return MappingTables.load(directory)


def edit(directory: Path, fn: Callable[[MappingTables], MappingTables]) -> MappingTables:
    """Read-modify-write under the directory lock: ``fn`` gets the freshly loaded tables and
    returns new ones; each table whose entries changed is rewritten (entries regenerated, comment
    header kept; comments between entries are not kept -- use :func:`add_entry` /
    :func:`remove_entry` for that).  Returns the tables as written."""
    directory = Path(directory)
    with _locked(directory):
        old = MappingTables.load(directory)
        new = fn(old)
        for table in Table:
            if _bare(new.entries(table)) != _bare(old.entries(table)):
                _write_atomic(directory / table.value, new.export_lines(table))
        return MappingTables.load(directory)


def _bare(entries: Iterable[Entry]) -> list[tuple[Table, str, ORPrefix]]:
    return [(e.table, e.domain, e.prefix) for e in entries]


def _file_lines(path: Path) -> list[str]:
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln.removesuffix("\r") for ln in lines]


def _line_no(entry: Entry) -> int:
    return int(entry.origin.rsplit(":", 1)[1])


def _show_key(entry: Entry) -> str:
    return entry.domain if entry.table.keyed_by_domain else entry.prefix.to_dmn()


# --------------------------------------------------------------------------- lint


def check(tables: MappingTables) -> list[Finding]:
    """Lint the tables; findings in this order:

    1. the load findings: *error* for lines not loaded (``load(..., strict=False)``),
       *warning* for a level skipped without ``@`` (App F §3 b) in an MCGAM table or a gate1
       key -- an O/R key written so is never matched by PP, which fills in omitted levels
       before the lookup (App F §6) -- and for a gate1 key no lookup can match
       (:func:`~bridge.mapping.tablefile.parse_or`);
    2. duplicate keys in one table: the first line wins, later ones are unreachable --
       *error* when they map elsewhere, *warning* when they repeat the same mapping;
    3. *error*: a key in an MCGAM table and in its gateway table (App F §7 for table2/gate2,
       §8 for table1/gate1);
    4. *warning*: a gateway entry under a less specific MCGAM (a parent domain in table2, a
       shorter O/R prefix in table1): the MCGAM lookup always succeeds first for such keys, and
       the gateway table is only consulted when it fails (RFC 2156 §4.3.4 Stage II, §4.3.5
       step 3), so the gateway entry is not used;
    5. *info*: an MCGAM that is not half of a symmetric "MCGAM pair" (RFC 2156 §4.2): no
       reverse entry with the same key in the other direction, or one that maps elsewhere.
    """
    findings = list(tables.problems)
    shadowed: set[int] = set()
    for table in Table:
        first: dict[object, Entry] = {}
        for e in tables.entries(table):
            key = entry_key(e)
            if key not in first:
                first[key] = e
                continue
            f = first[key]
            shadowed.add(id(e))
            same = domain_key(f.domain) == domain_key(e.domain) and f.prefix.key() == e.prefix.key()
            findings.append(Finding(
                Level.WARNING if same else Level.ERROR, e.origin,
                f"duplicate key {_show_key(e)} in {table.value}, unreachable: {f.origin} "
                f"comes first" + ("" if same else f" and maps to {_target(f)}")))
    for mcgam, gate in ((Table.TABLE2, Table.GATE2), (Table.TABLE1, Table.GATE1)):
        live = [e for e in tables.entries(gate) if id(e) not in shadowed]
        for e in live:
            findings.extend(_conflicts(tables, e))
        for e in live:
            hit = _cover(tables, mcgam, e)
            if hit is not None and entry_key(hit) != entry_key(e):
                findings.append(Finding(
                    Level.WARNING, e.origin,
                    f"{gate.value} entry {_show_key(e)} is never used: {mcgam.value} entry "
                    f"{_show_key(hit)} at {hit.origin} covers it and MCGAMs are tried first"))
    for table in (Table.TABLE2, Table.TABLE1):
        other = partner(table)
        reverse: dict[object, Entry] = {}
        for r in tables.entries(other):
            reverse.setdefault(entry_key(r), r)
        for e in tables.entries(table):
            if id(e) in shadowed:
                continue
            back = reverse.get(_reverse_key(e))
            if back is None:
                findings.append(Finding(
                    Level.INFO, e.origin,
                    f"one-way MCGAM: no {other.value} entry for {_target(e)} (RFC 2156 §4.2)"))
            elif _reverse_key(back) != entry_key(e):
                findings.append(Finding(
                    Level.INFO, e.origin,
                    f"not an MCGAM pair: {other.value} maps {_target(e)} to "
                    f"{_target(back)} at {back.origin} (RFC 2156 §4.2)"))
    return findings


def _target(entry: Entry) -> str:
    return entry.prefix.to_dmn() if entry.table.keyed_by_domain else entry.domain


def _reverse_key(entry: Entry) -> str | _ORKey:
    """The key ``entry``'s mapping would have in the other direction."""
    return entry.prefix.key() if entry.table.keyed_by_domain else domain_key(entry.domain)


def _cover(tables: MappingTables, mcgam: Table, entry: Entry) -> Entry | None:
    if mcgam.keyed_by_domain:
        return tables.lookup_domain(mcgam, entry.domain)
    return tables.lookup_or(mcgam, entry.prefix)
