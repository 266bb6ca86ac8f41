"""A plain (non-editable) install carries asn1/ and mappings/ inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_asn1_sources_and_mappings(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("x400bridge-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for asn in (ROOT / "asn1").glob("*.asn"):
        assert f"bridge/_data/asn1/{asn.name}" in names
    assert "bridge/_data/mappings/README.md" in names
    assert "bridge/codec/asn1.py" in names and "bridge/model/charsets.py" in names
    assert not any(n.startswith("tests/") for n in names)
