"""`x400bridge map ...`: lookup (both directions, --explain, --json), add/remove/list,
import/export, check — the operator's view of RFC 2156 App F tables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bridge.cli import main

RFC2156 = Path(__file__).parent / "data" / "mappings" / "rfc2156"
GW = ["--gateway-domain", "gw.example.ac.uk", "--gateway-or", "/O=mr/PRMD=uk.ac/ADMD= /C=gb/"]


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    d = tmp_path / "tables"
    shutil.copytree(RFC2156, d)
    return d


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_lookup_822_to_x400_with_explanation(capsys: pytest.CaptureFixture[str],
                                             tables: Path) -> None:
    code, out, _ = run(capsys, "map", "lookup", "J.Linnimouth@Marketing.Widget.COM",
                       "--explain", "--tables", str(tables), *GW)
    assert code == 0
    first, *steps = out.splitlines()
    assert first == "/I=J/S=Linnimouth/OU=Marketing/O=Widget/ADMD=BTT/C=TC/"
    assert any("§4.3.4 I.8" in s and "Widget.COM#O$Widget.PRMD$@.ADMD$BTT.C$TC#" in s
               and f"{tables}/table2:2" in s for s in steps)


def test_lookup_x400_to_822_json(capsys: pytest.CaptureFixture[str], tables: Path) -> None:
    code, out, _ = run(capsys, "map", "lookup", "G=Andy; S=Wharol; O=MMNY; A=ATT; C=us",
                       "--json", "--tables", str(tables), *GW)
    assert code == 0
    data = json.loads(out)
    assert data["direction"] == "x400-to-rfc822" and data["mapping"] == "B"
    assert data["result"] == "/G=Andy/S=Wharol/O=MMNY/@attmail.com"
    assert any(s.get("entry") == "ADMD$ATT.C$us#attmail.com#" for s in data["steps"])


def test_lookup_unmappable_reports_smtp_reply_and_x400_diagnostic(
        capsys: pytest.CaptureFixture[str], tables: Path) -> None:
    code, out, err = run(capsys, "map", "lookup", "x" * 600 + "@example.com", "--role",
                         "smtp-recipient", "--tables", str(tables), *GW)
    assert code == 1 and out == ""
    assert "553 5.1.3" in err and "X.400 reason 1, diagnostic 11" in err


def test_add_list_remove_export(capsys: pytest.CaptureFixture[str], tables: Path) -> None:
    code, out, _ = run(capsys, "map", "add", "table2", "example.org",
                       "PRMD$EXAMPLE.ADMD$ .C$GB", "--tables", str(tables))
    assert code == 0 and "example.org#PRMD$EXAMPLE.ADMD$ .C$GB#" in out
    assert "example.org#PRMD$EXAMPLE.ADMD$ .C$GB#" in (tables / "table2").read_text()
    code, out, _ = run(capsys, "map", "lookup", "Jo.Bloggs@sales.example.org", "--tables",
                       str(tables), *GW)
    assert out.strip() == "/G=Jo/S=Bloggs/O=sales/PRMD=EXAMPLE/ADMD= /C=GB/"
    code, _, err = run(capsys, "map", "add", "table2", "example.org#C$FR#", "--tables",
                       str(tables))
    assert code == 1 and "already has key" in err
    code, out, _ = run(capsys, "map", "list", "table2", "--tables", str(tables))
    assert "example.org#PRMD$EXAMPLE.ADMD$ .C$GB#" in out
    code, _, _ = run(capsys, "map", "remove", "table2", "EXAMPLE.ORG", "--tables", str(tables))
    assert code == 0 and "example.org" not in (tables / "table2").read_text()
    code, out, _ = run(capsys, "map", "export", "table1", "--tables", str(tables))
    assert "PRMD$UK\\.AC.ADMD$GOLD 400.C$GB#AC.UK#" in out


def test_import_exchange_and_check(capsys: pytest.CaptureFixture[str], tables: Path,
                                   tmp_path: Path) -> None:
    mcgam = tmp_path / "Mcgam.in.txt"
    mcgam.write_bytes(b"# exchange style\r\nprmd$uni-x.admd$ .c$de#uni-x.de#\r\n"
                      b"uni-x.de#prmd$uni-x.admd$ .c$de#\r\n")
    code, out, _ = run(capsys, "map", "import", str(mcgam), "--tables", str(tables))
    assert code == 0 and "imported 2 entries" in out
    code, out, _ = run(capsys, "map", "lookup", "/S=Meier/PRMD=uni-x/ADMD= /C=de/",
                       "--tables", str(tables), *GW)
    assert out.strip() == "Meier@uni-x.de"
    code, _, _ = run(capsys, "map", "check", "--tables", str(tables))
    assert code == 0
    (tables / "gate2").write_text((tables / "gate2").read_text() + "AC.UK#C$GB#\n")
    code, out, _ = run(capsys, "map", "check", "--tables", str(tables))
    assert code == 1 and "error" in out and "table2" in out


def test_bad_table_line_is_reported_with_file_and_line(
        capsys: pytest.CaptureFixture[str], tables: Path) -> None:
    (tables / "table1").write_text("PRMD$X.ADMD$Y.C$GB#ok.example#\nthis is not a table line\n")
    code, _, err = run(capsys, "map", "lookup", "a@b.example", "--tables", str(tables), *GW)
    assert code == 1 and f"{tables}/table1:2" in err


def test_lookup_explains_a_pp_c_first_std_or(capsys: pytest.CaptureFixture[str],
                                             tables: Path) -> None:
    """RFC 2156 §4.3.4.1 (issue 11 item 8): PP's ``/C=TC/ADMD=BTT/O=Widget/OU=A/OU=B/S=x/``
    is read most significant first (OU1 = A), and ``--explain`` says so."""
    code, out, _ = run(capsys, "map", "lookup", "/C=TC/ADMD=BTT/O=Widget/OU=A/OU=B/S=x/",
                       "--explain", "--tables", str(tables), *GW)
    assert code == 0
    first, *steps = out.splitlines()
    assert first == "x@B.A.Widget.COM"
    assert steps[0].strip().startswith("§4.3.4.1:") and "OU1=A, OU2=B" in steps[0]
    code, out, _ = run(capsys, "map", "lookup", "/S=x/OU=B/OU=A/O=Widget/ADMD=BTT/C=TC/",
                       "--json", "--tables", str(tables), *GW)
    data = json.loads(out)
    assert data["result"] == "x@B.A.Widget.COM"
    assert not any(s["rule"] == "§4.3.4.1" for s in data["steps"])


def test_check_warns_about_keys_that_skip_a_level(capsys: pytest.CaptureFixture[str],
                                                  tables: Path) -> None:
    """RFC 2156 App F §3 b: an O/R key omitting a level must write it ``@``
    (``O$Widget.PRMD$@.ADMD$BTT.C$TC``); PP never matches ``O$Widget.ADMD$BTT.C$TC``.
    ``map check`` warns with file:line (a warning, not an error: exit 0); a key with the
    levels out of order is an error."""
    with (tables / "table1").open("a") as f:
        f.write("O$Gadget.ADMD$BTT.C$TC#Gadget.COM#\n")
    (tables / "gate1").write_text("ADMD$ATT.C$us#attmail.com#\n"
                                  "O$Sprocket.ADMD$BTT.C$TC#gw.tc#\n")
    lines = (tables / "table1").read_text().splitlines()
    code, out, err = run(capsys, "map", "check", "--tables", str(tables))
    assert code == 0
    t1 = f"{tables}/table1:{len(lines)}: warning: key skips level PRMD without '@'"
    g1 = f"{tables}/gate1:2: warning: key skips level PRMD without '@'"
    assert any(line.startswith(t1) and "PP" in line
               and "O$Gadget.PRMD$@.ADMD$BTT.C$TC" in line for line in out.splitlines())
    assert any(line.startswith(g1) for line in out.splitlines())
    # the repaired gate1 key is matched: the address leaves through the preferred gateway
    code, out, _ = run(capsys, "map", "lookup", "/S=x/O=Sprocket/ADMD=BTT/C=TC/",
                       "--tables", str(tables), *GW)
    assert out.strip() == "/S=x/@gw.tc"  # §4.3.5 B5: std-or on the left at a gateway
    # the literal key puts C between ADMD and O: out of order, an error
    (tables / "table1").write_text("ADMD$BTT.C$TC.O$Widget#Widget.COM#\n")
    code, out, _ = run(capsys, "map", "check", "--tables", str(tables))
    assert code == 1
    assert f"{tables}/table1:1: error: MCGAM O/R address must be C, ADMD, PRMD, O, OU" in out


def test_import_reports_repaired_lines(capsys: pytest.CaptureFixture[str], tables: Path,
                                       tmp_path: Path) -> None:
    """A PP ``or2rfc`` line that skips the PRMD is imported as ``PRMD$@`` with a warning
    naming file:line (App F §3 b)."""
    or2rfc = tmp_path / "or2rfc"
    or2rfc.write_text("# PP or2rfc\no$gadget.admd$btt.c$tc:gadget.com\n")
    code, out, err = run(capsys, "map", "import", str(or2rfc), "--format", "pp",
                         "--tables", str(tables))
    assert code == 0 and "imported 1 entries" in out
    assert f"{or2rfc}:2: warning: key skips level PRMD" in err
    assert "O$gadget.PRMD$@.ADMD$btt.C$tc#gadget.com#" in (tables / "table1").read_text()
