"""Start-up and command-line errors are one line naming the key or argument, and a non-zero
exit -- never a traceback (issue 12 item 8)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120, check=False)


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("x400bridge")]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _config(tmp: Path, **sections: str) -> Path:
    text = f'[gateway]\nstate-dir = "{tmp / "var"}"\n' + "".join(
        f"\n[{name.replace('__', '.')}]\n{body}\n" for name, body in sections.items())
    path = tmp / "gw.toml"
    path.write_text(text)
    return path


def test_serve_on_a_port_in_use(tmp_path: Path, taken_port: int) -> None:
    config = _config(tmp_path, smtp__in=f'listen = "127.0.0.1:{taken_port}"',
                     x400='listen = "127.0.0.1:0"', metrics='listen = ""')
    one_line_error(run("serve", "--config", str(config)), "smtp.in.listen",
                   f"127.0.0.1:{taken_port}")


def test_serve_p1_on_a_port_in_use(tmp_path: Path, taken_port: int) -> None:
    config = _config(tmp_path, smtp__in='listen = "127.0.0.1:0"',
                     x400=f'listen = "127.0.0.1:{taken_port}"', metrics='listen = ""')
    one_line_error(run("serve", "--config", str(config)), "x400.listen")


def test_serve_with_a_state_dir_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    config = tmp_path / "gw.toml"
    config.write_text(f'[gateway]\nstate-dir = "{tmp_path / "file" / "var"}"\n'
                      '[smtp.in]\nlisten = "127.0.0.1:0"\n[x400]\nlisten = "127.0.0.1:0"\n'
                      '[metrics]\nlisten = ""\n')
    one_line_error(run("serve", "--config", str(config)), "state-dir")


def test_x400_listen_on_a_port_in_use(tmp_path: Path, taken_port: int) -> None:
    one_line_error(run("x400", "listen", "--listen", f"127.0.0.1:{taken_port}", "--spool",
                       str(tmp_path / "spool"), "--count", "1"), str(taken_port))


@pytest.mark.parametrize("args", [
    ("convert", "--to", "mime", "--out", "/proc/nope", "tests/data/samples/report.p1.ber"),
    ("map", "import", "/nonexistent"),
])
def test_files_that_are_not_there(args: tuple[str, ...]) -> None:
    one_line_error(run(*args), args[-2] if args[0] == "convert" else args[-1])


def test_numbers_out_of_range_are_usage_errors(tmp_path: Path) -> None:
    result = run("queue", "list", "--limit", "99999999999999999999")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--limit" in result.stderr
