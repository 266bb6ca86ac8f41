"""``x400bridge x400 send`` / ``listen`` as operators run them: two processes over loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLES = sorted((Path(__file__).parent / "data" / "samples").glob("*.p1.ber"))
ROOT = Path(__file__).resolve().parents[1]

LISTENER = """
[local]
name = "guinevere"
password = "merlin"
listen = "127.0.0.1:0"

[peers.percival]
mta-name = "percival"
password = "excalibur"
allowed-addresses = ["127.0.0.0/8"]
"""

SENDER = """
[local]
name = "percival"
password = "{password}"

[peers.guinevere]
mta-name = "guinevere"
password = "merlin"
host = "127.0.0.1"
timeout = 20
"""


def run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=120, check=False, **kw)  # type: ignore[call-overload]


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    table = tmp_path / "listener.toml"
    table.write_text(LISTENER)
    spool = tmp_path / "spool"
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "x400", "listen", "--peers",
                             str(table), "--spool", str(spool), "--count", str(len(SAMPLES))],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on "), line
        port = int(line.rsplit(":", 1)[1])
        yield proc, port, spool
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=30)


def test_send_and_listen(tmp_path: Path,
                         listener: tuple[subprocess.Popen[str], int, Path]) -> None:
    proc, port, spool = listener
    table = tmp_path / "sender.toml"
    table.write_text(SENDER.format(password="excalibur"))
    result = run("x400", "send", "--as-is", "--peers", str(table), "--peer", "guinevere",
                 "--port", str(port), *map(str, SAMPLES))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("transferred to guinevere") == len(SAMPLES)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    stored = sorted(p.read_bytes() for p in (spool / "in").glob("*.ber"))
    assert stored == sorted(p.read_bytes() for p in SAMPLES)


def test_wrong_password_is_refused(tmp_path: Path,
                                   listener: tuple[subprocess.Popen[str], int, Path]) -> None:
    _, port, spool = listener
    table = tmp_path / "sender.toml"
    table.write_text(SENDER.format(password="not-excalibur"))
    result = run("x400", "send", "--peers", str(table), "--peer", "guinevere", "--port",
                 str(port), str(SAMPLES[0]))
    assert result.returncode == 1
    assert "refused the bind" in result.stderr
    assert not list((spool / "in").glob("*.ber"))


def test_send_refuses_a_file_that_is_not_an_apdu(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ber"
    junk.write_bytes(b"\x30\x03\x02\x01")
    table = tmp_path / "sender.toml"
    table.write_text(SENDER.format(password="x"))
    result = run("x400", "send", "--peers", str(table), "--peer", "guinevere", "--port", "9",
                 str(junk))
    assert result.returncode == 1 and "x400bridge:" in result.stderr


def test_unknown_key_in_the_peer_table(tmp_path: Path) -> None:
    table = tmp_path / "bad.toml"
    table.write_text('[peers.x]\nmta-name = "x"\npasword = "typo"\n')
    result = run("x400", "listen", "--peers", str(table))
    assert result.returncode == 1 and "peers.x.pasword: unknown key" in result.stderr
