"""`x400bridge dump`: readable and JSON views; exit 1 with a one-line error on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli import main
from tests.conftest import sample_file


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_dump_message_shows_envelope_heading_body_and_trace(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "dump", str(sample_file("message-full.p1")))
    assert code == 0 and err == ""
    for expected in (
        "MTS-APDU message",
        "message-identifier: [/PRMD=SIEMENS/ADMD=DBP/C=DE/;PC1000-910530172027-57D8]",
        "originator: /S=Dietrich/O=Siemens/ADMD=DBP/C=DE/",
        "1. /G=Marshall/I=MT/S=Rose/OU=cs/O=ucl/PRMD=UK.AC/ADMD=GOLD 400/C=GB/  "
        "[responsibility, originator-report, originator-non-delivery-report]",
        'internal: mta "mhs-relay.ac.uk" in /PRMD=UK.AC/ADMD=GOLD 400/C=GB/ relayed',
        "subject: Grüße aus München - Übersicht",
        "13. file-transfer: report.pdf, 56 bytes",
        "12. general-text [1, 6, 87]: 8 chars \"日本語のテキスト\"",
        "extension conversion-with-loss-prohibited critical[for-delivery]: true",
    ):
        assert expected in out, expected


def test_dump_report_and_probe(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "dump", str(sample_file("report.p1")), str(sample_file("probe.p1")))
    assert code == 0
    assert "NOT delivered: reason 1, diagnostic 0" in out
    assert "MTS-APDU probe" in out and "content-length: 4711" in out


def test_dump_json_is_machine_readable(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "dump", "--json", str(sample_file("message-text.p1")))
    assert code == 0
    data = json.loads(out)
    assert data["type"] == "Message"
    assert data["envelope"]["originator"]["address"]["std-or"] == \
        "/S=Dietrich/O=Siemens/ADMD=DBP/C=DE/"
    assert data["content-decoded"]["heading"]["subject"] == "Hello from X.400"


def test_dump_bad_input_exits_1_with_one_line(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    bad = tmp_path / "bad.ber"
    bad.write_bytes(sample_file("message-text.p1").read_bytes()[:-7])
    code, out, err = run(capsys, "dump", str(bad))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"{bad}: ")
    assert "offset" in err
    code, _, err = run(capsys, "dump", str(tmp_path / "missing.ber"))
    assert code == 1 and "No such file" in err


def test_dump_continues_after_a_bad_file(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    bad = tmp_path / "bad.ber"
    bad.write_bytes(b"not ber at all")
    code, out, err = run(capsys, "dump", str(bad), str(sample_file("ipn-receipt.p22")))
    assert code == 1
    assert "IPN" in out and "bad.ber" in err


def test_console_script_entry_point() -> None:
    """`python -m bridge` is the same command (the console script calls bridge.cli:main)."""
    cmd = [sys.executable, "-m", "bridge", "dump", str(sample_file("ipm-text.p22"))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "subject: Hello from X.400" in proc.stdout
