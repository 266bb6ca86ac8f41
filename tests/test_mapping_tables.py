"""RFC 2156 App F mapping tables: syntax, longest-match lookups, safe editing, import/export and
lint (bridge/mapping/tables.py, tablefile.py).  Every App F example is a case here (D-6)."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import BridgeError
from bridge.mapping.orprefix import ORPrefix
from bridge.mapping.source import Entry, MappingSource, Table
from bridge.mapping.tablefile import (
    Finding,
    Level,
    LineSyntaxError,
    detect_format,
    export_lines,
    import_lines,
    parse_line,
    parse_or,
)
from bridge.mapping.tables import (
    MappingTables,
    TableError,
    add_entry,
    check,
    edit,
    remove_entry,
)
from bridge.resources import data_dir

DATA = Path(__file__).parent / "data" / "mappings"
DDA_EXAMPLE = "~ROLE$Big\\.Chief.ADMD$ATT.C$US"
OMITTED_ADMD = "PRMD$DEC.ADMD$@.C$US"


def dmn(text: str) -> ORPrefix:
    return ORPrefix.from_dmn(text)


def tables_from(tmp_path: Path, **files: str) -> MappingTables:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return MappingTables.load(tmp_path)


def bare(entries: object) -> list[tuple[Table, str, ORPrefix]]:
    return [(e.table, e.domain, e.prefix) for e in entries]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- App F §3 syntax


def test_dda_and_escaped_dot_example() -> None:
    """App F §3: ``~ROLE$Big\\.Chief.ADMD$ATT.C$US`` quotes a "." and has a domain defined
    attribute; most significant on the right.  DDAs are for gateway tables only."""  # D-6
    prefix = parse_or(DDA_EXAMPLE, Table.GATE2)
    assert prefix.parts == (("C", "US"), ("ADMD", "ATT"), ("~ROLE", "Big.Chief"))
    assert prefix.to_dmn() == DDA_EXAMPLE
    with pytest.raises(LineSyntaxError, match="domain defined attribute"):
        parse_or(DDA_EXAMPLE, Table.TABLE2)


def test_omitted_level_example() -> None:
    """App F §3: ``PRMD$DEC.ADMD$@.C$US`` omits the ADMD level ("@"), which is distinct from an
    empty value."""  # D-6
    prefix = parse_or(OMITTED_ADMD, Table.TABLE1)
    assert prefix.parts == (("C", "US"), ("ADMD", None), ("PRMD", "DEC"))
    assert parse_or("PRMD$DEC.ADMD$.C$US", Table.TABLE1).parts[1] == ("ADMD", "")
    assert prefix.to_dmn() == OMITTED_ADMD


@pytest.mark.parametrize("text, message", [
    ("S$Jones.O$X.C$GB", "MCGAM O/R address"),  # App F §3 a: S not allowed
    ("PRMD$x.C$GB.ADMD$y", "MCGAM O/R address"),  # out of order
    ("ADMD$x", "MCGAM O/R address"),  # no C
    ("OU$a.OU$b.OU$c.OU$d.OU$e.O$x.PRMD$p.ADMD$a.C$GB", "MCGAM O/R address"),  # five OUs
    ("O.PRMD$ninp.C$it", "without '[$]'"),  # the RFC 2163 §4.3 typo
    ("O$a#b.C$GB", "not allowed"),
    ("O$a\\b.C$GB", r"only \\\. may be escaped"),
    ("O$a$b.C$GB", "not allowed"),
    ("", "empty"),
])
def test_mcgam_restrictions(text: str, message: str) -> None:
    """App F §3 a/b: only C, ADMD, PRMD, O and up to four OUs, in order; values are
    dmn-printablestring."""  # D-6
    with pytest.raises(LineSyntaxError, match=message):
        parse_or(text, Table.TABLE1)


def test_skipped_level_is_read_as_omitted_with_a_warning(tmp_path: Path) -> None:
    """App F §5's ``XEROX.COM#O$Xerox.ADMD$ATT.C$US#`` skips the PRMD although App F §3 b asks
    for ``@``: loaded as ``PRMD$@`` with a warning."""  # D-6
    t = tables_from(tmp_path, table2="XEROX.COM#O$Xerox.ADMD$ATT.C$US#\n")
    (entry,) = t.entries(Table.TABLE2)
    assert entry.prefix == dmn("O$Xerox.PRMD$@.ADMD$ATT.C$US")
    assert [(f.level, f.origin) for f in t.problems] == [
        (Level.WARNING, f"{tmp_path / 'table2'}:1")]
    assert check(t)[0].level is Level.WARNING


def test_table1_key_skipping_a_level_warns_that_pp_never_matches_it(tmp_path: Path) -> None:
    """App F §3 b / §6: the key of an O/R lookup has every level, omitted ones as ``@``; a
    table1 key ``O$Widget.ADMD$BTT.C$TC`` is matched here (read as ``PRMD$@``) but never by
    PP, so the warning (with file:line) says to write it in full (issue 11, item 8)."""
    t = tables_from(tmp_path, table1="ADMD$ATT.C$US#att.com#\nO$Widget.ADMD$BTT.C$TC#w.com#\n")
    [warning] = t.problems
    assert (warning.level, warning.origin) == (Level.WARNING, f"{tmp_path / 'table1'}:2")
    assert "skips level PRMD without '@'" in warning.message and "PP" in warning.message
    assert "O$Widget.PRMD$@.ADMD$BTT.C$TC" in warning.message
    hit = t.lookup_or(Table.TABLE1, dmn("OU$x.O$widget.PRMD$@.ADMD$BTT.C$TC"))
    assert hit is not None and hit.domain == "w.com"


def test_gate1_key_skipping_a_level_is_repaired_and_matched(tmp_path: Path) -> None:
    """App F §8: gate1 has table1's format, so a skipped level is read as ``@`` with the same
    warning; before, the key kept three levels and the §4.3.5 B3 lookup (C, ADMD, PRMD, O,
    ...) never reached it."""
    t = tables_from(tmp_path, gate1="O$Sprocket.ADMD$BTT.C$TC#gw.tc#\n")
    [entry] = t.entries(Table.GATE1)
    assert entry.prefix == dmn("O$Sprocket.PRMD$@.ADMD$BTT.C$TC")
    assert [f.level for f in t.problems] == [Level.WARNING]
    hit = t.lookup_or(Table.GATE1, dmn("O$sprocket.PRMD$@.ADMD$btt.C$tc"))
    assert hit is not None and hit.domain == "gw.tc"


def test_gate1_key_outside_the_hierarchy_is_loaded_with_a_warning(tmp_path: Path) -> None:
    """A gate1 key with a DDA (App F §3's own ``~ROLE$Big\\.Chief.ADMD$ATT.C$US``) loads, but
    an O/R address is looked up by C, ADMD, PRMD, O, OU only (§4.3.5 B3): never matched."""
    t = tables_from(tmp_path, gate1=f"{DDA_EXAMPLE}#gw.example#\n")
    [warning] = t.problems
    assert warning.level is Level.WARNING and "never matches" in warning.message
    assert t.entries(Table.GATE1)[0].prefix == dmn(DDA_EXAMPLE)


def test_import_lists_repaired_lines_as_warnings() -> None:
    """``import_lines(..., warnings=[])`` reports the lines it repaired, in every format."""
    warnings: list[Finding] = []
    [entry] = import_lines("o$xerox.admd$att.c$us:xerox.com\n", "pp", source="or2rfc",
                           warnings=warnings)
    assert entry.prefix == dmn("O$xerox.PRMD$@.ADMD$att.C$us")
    assert [(w.level, w.origin) for w in warnings] == [(Level.WARNING, "or2rfc:1")]
    warnings.clear()
    import_lines("XEROX.COM#O$Xerox.ADMD$ATT.C$US#\n", "mixer", table=Table.TABLE2,
                 source="t2", warnings=warnings)
    assert [(w.level, w.origin) for w in warnings] == [(Level.WARNING, "t2:1")]


# --------------------------------------------------------------------------- App F §4 lookups


def test_longest_match_example(tmp_path: Path) -> None:
    """App F §4: keys K.L and J.K.L; "A.B.C" matches nothing, "I.J.K.L" matches J.K.L; case
    independent."""  # D-6
    t = tables_from(tmp_path, table2="K.L#PRMD$k.ADMD$ .C$GB#\nJ.K.L#PRMD$j.ADMD$ .C$GB#\n")
    assert t.lookup_domain(Table.TABLE2, "A.B.C") is None
    hit = t.lookup_domain(Table.TABLE2, "I.J.K.L")
    assert hit is not None and hit.domain == "J.K.L"
    assert t.lookup_domain(Table.TABLE2, "i.j.k.l.") == hit
    other = t.lookup_domain(Table.TABLE2, "x.k.l")
    assert other is not None and other.domain == "K.L"
    assert t.lookup_domain(Table.TABLE2, "l") is None


def test_or_lookup_is_longest_prefix_and_case_independent(tmp_path: Path) -> None:
    """App F §4, §6: the O/R key, most significant first; the longest prefix wins."""  # D-6
    t = tables_from(tmp_path, table1="ADMD$GOLD 400.C$GB#gold.gb#\n"
                                     "PRMD$UK\\.AC.ADMD$GOLD 400.C$GB#AC.UK#\n")
    deep = dmn("OU$R-D.O$Salford.PRMD$uk\\.ac.ADMD$gold  400.C$gb")
    hit = t.lookup_or(Table.TABLE1, deep)
    assert hit is not None and hit.domain == "AC.UK"
    short = t.lookup_or(Table.TABLE1, dmn("PRMD$other.ADMD$Gold 400.C$GB"))
    assert short is not None and short.domain == "gold.gb"
    assert t.lookup_or(Table.TABLE1, dmn("C$US")) is None
    assert t.lookup_or(Table.GATE1, deep) is None


def test_wrong_kind_of_lookup_is_refused() -> None:
    t = MappingTables()
    with pytest.raises(ValueError):
        t.lookup_domain(Table.TABLE1, "ac.uk")
    with pytest.raises(ValueError):
        t.lookup_or(Table.TABLE2, dmn("C$GB"))


def test_tables_are_a_mapping_source() -> None:
    source: MappingSource = MappingTables()
    assert source.lookup_domain(Table.GATE2, "x.y") is None


# --------------------------------------------------------------------------- App F §5 to §8


@pytest.mark.parametrize("line, domain, prefix", [
    ("AC.UK#PRMD$UK\\.AC.ADMD$GOLD 400.C$GB#", "AC.UK",
     (("C", "GB"), ("ADMD", "GOLD 400"), ("PRMD", "UK.AC"))),
    ("XEROX.COM#O$Xerox.ADMD$ATT.C$US#", "XEROX.COM",
     (("C", "US"), ("ADMD", "ATT"), ("PRMD", None), ("O", "Xerox"))),
    ("GMD.DE#O$@.PRMD$GMD.ADMD$DBP.C$DE#", "GMD.DE",
     (("C", "DE"), ("ADMD", "DBP"), ("PRMD", "GMD"), ("O", None))),
])
def test_domain_to_or_examples(line: str, domain: str, prefix: object) -> None:
    """App F §5: ``domain-syntax "#" dmn-or-address "#"`` with the section's three
    examples."""  # D-6
    entry = parse_line(line, Table.TABLE2)
    assert (entry.domain, entry.prefix.parts) == (domain, prefix)


def test_or_to_domain_example_with_its_comment_header(tmp_path: Path) -> None:
    """App F §6: ``PRMD$UK\\.AC.ADMD$GOLD 400.C$GB#AC.UK#`` after a ``#`` comment block, which
    is kept as the file's header."""  # D-6
    text = "#\n# Mapping table\n#\nPRMD$UK\\.AC.ADMD$GOLD 400.C$GB#AC.UK#\n"
    t = tables_from(tmp_path, table1=text)
    (entry,) = t.entries(Table.TABLE1)
    assert entry.domain == "AC.UK" and entry.origin == f"{tmp_path / 'table1'}:4"
    assert t.header(Table.TABLE1) == ("#", "# Mapping table", "#")
    assert t.export_lines(Table.TABLE1) == text


def test_trailing_blanks_kept_by_closing_hash() -> None:
    """App F §5: the trailing "#" is there because values may end in blanks."""  # D-6
    entry = parse_line("bd.it#PRMD$uk\\.bd.ADMD$ .C$it#", Table.TABLE2)
    assert entry.prefix.parts[1] == ("ADMD", " ")
    assert entry.line() == "bd.it#PRMD$uk\\.bd.ADMD$ .C$it#"


def test_gate_tables_take_any_attribute(tmp_path: Path) -> None:
    """App F §7/§8: same formats as the MCGAM tables without the C/ADMD/PRMD/O/OU
    restriction."""  # D-6
    t = MappingTables.load(DATA / "rfc2163")
    hit = t.lookup_domain(Table.GATE2, "x.relay.example")
    assert hit is not None and hit.prefix.parts[-1] == ("~RFC-822", "gw")
    gate = t.lookup_or(Table.GATE1, dmn("O$x.PRMD$Super Inc.ADMD$ .C$IT"))
    assert gate is not None and gate.domain == "GlobalGw.it"
    assert {f.level for f in check(t)} == {Level.INFO}  # RFC 2163's MCGAMs are one-way


def test_bundled_tables_load_clean() -> None:
    """The shipped mappings/ tables hold App F §5/§6 examples as symmetric MCGAM pairs."""
    t = MappingTables.load(data_dir("mappings"))
    assert len(t.entries(Table.TABLE1)) == len(t.entries(Table.TABLE2)) == 3
    assert check(t) == []
    hit = t.lookup_domain(Table.TABLE2, "R-D.Salford.AC.UK")
    assert hit is not None and hit.prefix == dmn("PRMD$UK\\.AC.ADMD$GOLD 400.C$GB")


def test_absent_files_are_empty_tables(tmp_path: Path) -> None:
    t = MappingTables.load(tmp_path)
    assert len(t) == 0 and all(t.entries(table) == () for table in Table)


# --------------------------------------------------------------------------- errors


def test_bad_lines_are_all_reported_with_file_and_line() -> None:
    """Every bad line of every file is reported as ``file:line: message`` in one error."""
    with pytest.raises(TableError) as info:
        MappingTables.load(DATA / "bad")
    err = info.value
    assert isinstance(err, BridgeError)
    t2, g1 = DATA / "bad" / "table2", DATA / "bad" / "gate1"
    assert [f.origin for f in err.findings] == [
        f"{t2}:3", f"{t2}:4", f"{t2}:5", f"{t2}:6", f"{t2}:7", f"{g1}:2"]
    lines = str(err).splitlines()
    assert lines[0] == f"{t2}:3: dmn-part without '$': 'O'"
    assert lines[1].startswith(f"{t2}:4: not a domain-syntax domain")
    assert lines[2].startswith(f"{t2}:5: expected two fields")
    assert lines[5].startswith(f"{g1}:2: expected two fields")


def test_non_strict_load_keeps_good_lines_and_the_problems() -> None:
    t = MappingTables.load(DATA / "bad", strict=False)
    assert [e.domain for e in t.entries(Table.TABLE2)] == ["AC.UK"]
    assert [e.domain for e in t.entries(Table.GATE1)] == ["dec.com"]
    assert len(t.problems) == 6
    assert [f.level for f in check(t)[:6]] == [Level.ERROR] * 6


def test_text_after_closing_hash_and_blank_lines(tmp_path: Path) -> None:
    text = "\nAC.UK#PRMD$x.ADMD$ .C$GB#  \r\n   \n# c\nB.UK#PRMD$y.ADMD$ .C$GB#x\n"
    (tmp_path / "table2").write_text(text)
    t = MappingTables.load(tmp_path, strict=False)
    assert [e.domain for e in t.entries(Table.TABLE2)] == ["AC.UK"]
    assert [f.origin.rsplit(":", 1)[1] for f in t.problems] == ["5"]


# --------------------------------------------------------------------------- immutability


def test_with_entry_and_without_return_new_objects() -> None:
    t = MappingTables()
    e1 = Entry(Table.TABLE2, "ac.uk", dmn("PRMD$UK\\.AC.ADMD$GOLD 400.C$GB"))
    t1 = t.with_entry(e1)
    assert len(t) == 0 and t1.entries(Table.TABLE2) == (e1,)
    e2 = Entry(Table.TABLE2, "AC.UK", dmn("PRMD$other.ADMD$GOLD 400.C$GB"))
    t2 = t1.with_entry(e2)  # same normalised key: replaced
    assert t2.entries(Table.TABLE2) == (e2,) and t1.entries(Table.TABLE2) == (e1,)
    assert t2.lookup_domain(Table.TABLE2, "x.ac.uk") == e2
    t3 = t2.without(Table.TABLE2, "Ac.Uk")
    assert t3.lookup_domain(Table.TABLE2, "x.ac.uk") is None
    with pytest.raises(TableError):
        t3.without(Table.TABLE2, "ac.uk")
    g = t.with_entry(Entry(Table.TABLE1, "ac.uk", dmn(OMITTED_ADMD)))
    assert len(g.without(Table.TABLE1, "prmd$dec.admd$@.c$us")) == 0


def test_first_of_duplicate_keys_wins(tmp_path: Path) -> None:
    t = tables_from(tmp_path, table2="a.b#PRMD$one.ADMD$ .C$GB#\nA.B#PRMD$two.ADMD$ .C$GB#\n")
    hit = t.lookup_domain(Table.TABLE2, "a.b")
    assert hit is not None and hit.prefix.parts[-1] == ("PRMD", "one")


# --------------------------------------------------------------------------- writing


def test_round_trip_load_save_load(tmp_path: Path) -> None:
    """load -> export -> load gives the same entries and headers."""  # D-6
    t = MappingTables.load(DATA / "rfc2163")
    t.save(tmp_path)
    again = MappingTables.load(tmp_path)
    for table in Table:
        assert bare(again.entries(table)) == bare(t.entries(table))
        assert again.header(table) == t.header(table)
        assert (tmp_path / table.value).read_text() == (
            DATA / "rfc2163" / table.value).read_text()
    assert not list(tmp_path.glob(".*.tmp"))


def test_add_and_remove_keep_comments(tmp_path: Path) -> None:
    text = "# header\nAC.UK#PRMD$UK\\.AC.ADMD$GOLD 400.C$GB#\n# middle comment\n"
    (tmp_path / "table2").write_text(text)
    e = Entry(Table.TABLE2, "GMD.DE", dmn("O$@.PRMD$GMD.ADMD$DBP.C$DE"))
    t = add_entry(tmp_path, e)
    assert t.lookup_domain(Table.TABLE2, "x.gmd.de") is not None
    assert (tmp_path / "table2").read_text() == text + "GMD.DE#O$@.PRMD$GMD.ADMD$DBP.C$DE#\n"
    with pytest.raises(TableError, match="already has key"):
        add_entry(tmp_path, e)
    replaced = Entry(Table.TABLE2, "ac.uk", dmn("PRMD$x.ADMD$ .C$GB"))
    add_entry(tmp_path, replaced, replace=True)
    assert (tmp_path / "table2").read_text().splitlines()[1] == "ac.uk#PRMD$x.ADMD$ .C$GB#"
    t = remove_entry(tmp_path, Table.TABLE2, "AC.UK")
    assert (tmp_path / "table2").read_text() == (
        "# header\n# middle comment\nGMD.DE#O$@.PRMD$GMD.ADMD$DBP.C$DE#\n")
    with pytest.raises(TableError, match="no entry"):
        remove_entry(tmp_path, Table.TABLE2, "AC.UK")
    assert bare(t.entries(Table.TABLE2)) == [(Table.TABLE2, "GMD.DE", e.prefix)]


def test_add_entry_refuses_mcgam_and_gate_for_one_key(tmp_path: Path) -> None:
    """App F §7: "A domain cannot appear in this table and in the domain to OR Address
    table"; App F §8 likewise for O/R addresses."""  # D-6
    add_entry(tmp_path, Entry(Table.TABLE2, "ac.uk", dmn("PRMD$UK\\.AC.ADMD$GOLD 400.C$GB")))
    with pytest.raises(TableError, match="also in table2"):
        add_entry(tmp_path, Entry(Table.GATE2, "AC.UK", dmn("O$gw.ADMD$ .C$GB")))
    add_entry(tmp_path, Entry(Table.GATE1, "gw.example", dmn(OMITTED_ADMD)))
    with pytest.raises(TableError, match="also in gate1"):
        add_entry(tmp_path, Entry(Table.TABLE1, "dec.com", dmn("prmd$dec.admd$@.c$us")))
    with pytest.raises(TableError, match="MCGAM"):
        add_entry(tmp_path, Entry(Table.TABLE2, "x.uk", dmn(DDA_EXAMPLE)))


def test_edit_rewrites_changed_tables_under_the_lock(tmp_path: Path) -> None:
    (tmp_path / "table1").write_text("# keep me\nPRMD$UK\\.AC.ADMD$GOLD 400.C$GB#AC.UK#\n")
    new = Entry(Table.TABLE1, "GMD.DE", dmn("O$@.PRMD$GMD.ADMD$DBP.C$DE"))
    t = edit(tmp_path, lambda old: old.with_entry(new))
    assert [e.domain for e in t.entries(Table.TABLE1)] == ["AC.UK", "GMD.DE"]
    assert (tmp_path / "table1").read_text().startswith("# keep me\n")
    assert not (tmp_path / "table2").exists()  # unchanged tables are not written
    assert (tmp_path / ".lock").exists()


def _add_many(directory: str, worker: int, start: EventType) -> None:
    start.wait()
    for i in range(50):
        add_entry(Path(directory), Entry(Table.TABLE2, f"h{i}.w{worker}.example",
                                         dmn(f"O$h{i}.PRMD$w{worker}.ADMD$ .C$GB")))


def test_concurrent_editors_lose_nothing(tmp_path: Path) -> None:
    """Two processes add 50 entries each at the same time: the lock serialises the
    read-modify-write cycles and the atomic rename keeps the file whole."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_add_many, args=(str(tmp_path), w, start)) for w in (1, 2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    t = MappingTables.load(tmp_path)
    domains = {e.domain for e in t.entries(Table.TABLE2)}
    assert domains == {f"h{i}.w{w}.example" for i in range(50) for w in (1, 2)}
    assert [f for f in check(t) if f.level is not Level.INFO] == []  # one-way MCGAMs only
    assert not list(tmp_path.glob(".*.tmp"))


# --------------------------------------------------------------------------- import / export


def test_import_exchange_mcgam_file() -> None:
    """Exchange 5.5 Mcgam.in.txt (KB Q238507): App F lines, both directions in one file,
    lower-case keywords, CRLF."""
    text = (DATA / "exchange" / "Mcgam.in.txt").read_bytes().decode()
    assert detect_format(text) == "exchange"
    entries = import_lines(text)
    assert [e.table for e in entries] == [Table.TABLE2, Table.TABLE1] * 2
    assert entries[0].prefix == dmn("PRMD$microsoft.ADMD$gold 400.C$uk")
    assert entries[0].prefix == entries[1].prefix and entries[1].domain == "microsoft.com"
    t = MappingTables(entries)
    assert [f for f in check(t) if f.level is not Level.INFO] == []
    assert import_lines((DATA / "exchange" / "Local.in.txt").read_text(), "exchange") == []
    gates = import_lines(text, "exchange", table=Table.GATE2)
    assert {e.table for e in gates} == {Table.GATE1, Table.GATE2}
    out = export_lines(entries, "exchange")
    assert out.count("\r\n") == 4
    assert bare(import_lines(out, "exchange")) == bare(entries)


def test_import_exchange_is_lenient_about_the_closing_hash() -> None:
    (entry,) = import_lines("  ac.uk#prmd$uk\\.ac.admd$gold 400.c$gb\r\n", "exchange")
    assert entry.prefix.parts[-1] == ("PRMD", "uk.ac")


@pytest.mark.parametrize("name, table", [
    ("or2rfc", Table.TABLE1), ("rfc2or", Table.TABLE2), ("rfc1148gate", Table.GATE2)])
def test_import_pp_tables(name: str, table: Table) -> None:
    """ISODE PP tables: ``key:value`` (PP Lib/table/tb_k2val.c), App F dmn forms."""
    text = (DATA / "pp" / name).read_text()
    assert detect_format(text) == "pp"
    family = Table.GATE2 if table is Table.GATE2 else None
    entries = import_lines(text, table=family)
    assert entries and {e.table for e in entries} == {table}
    assert bare(import_lines(export_lines(entries, "pp"), "pp", table=family)) == bare(entries)


def test_pp_colon_escape_and_blanks() -> None:
    or2rfc = import_lines((DATA / "pp" / "or2rfc").read_text(), "pp")
    assert or2rfc[2].prefix.parts[-1] == ("O", "a:b") and or2rfc[2].domain == "ab.example"
    assert "o$a\\:b" in export_lines(or2rfc, "pp").lower()
    rfc2or = import_lines((DATA / "pp" / "rfc2or").read_text(), "pp")
    assert rfc2or[1].domain == "xerox.com" and rfc2or[1].prefix.parts[0] == ("C", "us")
    with pytest.raises(TableError, match="missing ':'"):
        import_lines("ac.uk\n", "pp")


def test_mixer_import_needs_the_table_and_reports_lines() -> None:
    with pytest.raises(ValueError):
        import_lines("AC.UK#PRMD$x.ADMD$ .C$GB#\n", "mixer")
    with pytest.raises(ValueError):
        import_lines("", "csv")
    with pytest.raises(TableError, match=r"<import>:2: "):
        import_lines("AC.UK#PRMD$x.ADMD$ .C$GB#\nbad#\n", "mixer", table=Table.TABLE2)


@pytest.mark.parametrize("text, fmt", [
    ("", "mixer"),
    ("# only a comment\n", "mixer"),
    ("AC.UK#PRMD$UK\\.AC.ADMD$GOLD 400.C$GB#\n", "mixer"),
    ("AC.UK#PRMD$x.C$GB#\r\n", "exchange"),
    ("a.b#C$GB#\nC$GB#a.b#\n", "exchange"),
    ("ac.uk:prmd$uk\\.ac.admd$gold 400.c$gb\n", "pp"),
])
def test_detect_format(text: str, fmt: str) -> None:
    assert detect_format(text) == fmt


# --------------------------------------------------------------------------- lint


def test_check_findings(tmp_path: Path) -> None:
    """Duplicates, MCGAM/gate conflicts (App F §7/§8), shadowed gate entries and one-way
    MCGAMs (RFC 2156 §4.2)."""  # D-6
    t = tables_from(
        tmp_path,
        table2="ac.uk#PRMD$UK\\.AC.ADMD$GOLD 400.C$GB#\nAC.UK#PRMD$x.ADMD$ .C$GB#\n"
               "ac.uk#PRMD$UK\\.AC.ADMD$gold 400.C$GB#\n",
        table1="PRMD$UK\\.AC.ADMD$GOLD 400.C$GB#ac.uk#\nADMD$ATT.C$US#att.com#\n",
        gate2="AC.UK#O$gw.ADMD$ .C$GB#\nsub.ac.uk#O$gw.ADMD$ .C$GB#\nfree.org#O$gw.ADMD$ .C$GB#\n",
        gate1="O$x.ADMD$ATT.C$US#gw.example#\n")
    found = [(f.level, Path(f.origin).name, f.message.split(":")[0]) for f in check(t)]
    assert found == [
        # the load finding first: the gate1 key skips the PRMD (App F §3 b, §8)
        (Level.WARNING, "gate1:1", "key skips level PRMD without '@' (App F §3 b, §6)"),
        (Level.ERROR, "table2:2", "duplicate key AC.UK in table2, unreachable"),
        (Level.WARNING, "table2:3", "duplicate key ac.uk in table2, unreachable"),
        (Level.ERROR, "gate2:1", f"key AC.UK is also in table2 at {tmp_path / 'table2'}"),
        (Level.WARNING, "gate2:2", "gate2 entry sub.ac.uk is never used"),
        (Level.WARNING, "gate1:1", "gate1 entry O$x.PRMD$@.ADMD$ATT.C$US is never used"),
        (Level.INFO, "table1:2", "one-way MCGAM"),
    ]


def test_check_reports_pairs_that_map_elsewhere(tmp_path: Path) -> None:
    t = tables_from(tmp_path, table2="ac.uk#PRMD$UK\\.AC.ADMD$GOLD 400.C$GB#\n",
                    table1="PRMD$UK\\.AC.ADMD$GOLD 400.C$GB#other.uk#\n")
    msgs = [f.message for f in check(t)]
    assert all(f.level is Level.INFO for f in check(t))
    assert msgs[0].startswith("not an MCGAM pair: table1 maps PRMD$UK\\.AC")
    assert msgs[1] == "one-way MCGAM: no table2 entry for other.uk (RFC 2156 §4.2)"
    assert len(msgs) == 2


# --------------------------------------------------------------------------- properties

_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
_DOMAIN = st.lists(_LABEL, min_size=1, max_size=4).map(".".join)
_VALUE = st.text(alphabet="ABCabcxyz019 '()+,-./:=?{}*", max_size=8)
_LEVEL = st.one_of(st.none(), _VALUE)


@st.composite
def _mcgam_prefix(draw: st.DrawFn) -> ORPrefix:
    keys = ("C", "ADMD", "PRMD", "O", "OU", "OU", "OU", "OU")
    n = draw(st.integers(1, len(keys)))
    return ORPrefix(tuple((k, draw(_LEVEL)) for k in keys[:n]))


@st.composite
def _gate_prefix(draw: st.DrawFn) -> ORPrefix:
    key = st.one_of(st.sampled_from(["C", "ADMD", "PRMD", "O", "OU", "S", "G", "CN", "X121"]),
                    st.text(alphabet="ABCxyz-019 .", min_size=1, max_size=6).map("~{}".format))
    return ORPrefix(tuple(draw(st.lists(st.tuples(key, _LEVEL), min_size=1, max_size=6))))


@st.composite
def _entries(draw: st.DrawFn) -> tuple[Table, list[Entry]]:
    table = draw(st.sampled_from(list(Table)))
    prefix = _mcgam_prefix() if table in (Table.TABLE1, Table.TABLE2) else _gate_prefix()
    entries = draw(st.lists(st.builds(Entry, st.just(table), _DOMAIN, prefix), max_size=6))
    return table, entries


@settings(max_examples=150, deadline=None)
@given(_entries(), st.sampled_from(["mixer", "exchange", "pp"]))
def test_export_then_import_gives_the_same_entries(
        drawn: tuple[Table, list[Entry]], fmt: str) -> None:
    """Random valid entries -> export -> import: the same entries, in every format."""  # D-6
    table, entries = drawn
    text = export_lines(entries, fmt)
    assert bare(import_lines(text, fmt, table=table)) == bare(entries)
    if entries:
        assert detect_format(text) == fmt


# --------------------------------------------------------------------------- orprefix issues


def test_dda_type_with_a_dot_round_trips() -> None:  # D-6
    """App F §3: dmn-attribute = "~" dmn-printablestring, so a DDA type may hold "\\."."""
    prefix = ORPrefix((("C", "GB"), ("~X.400", "v")))
    assert ORPrefix.from_dmn(prefix.to_dmn()) == prefix
