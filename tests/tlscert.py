"""Throw-away self-signed certificates for the TLS tests (openssl; skipped without it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def self_signed(directory: Path, *, common_name: str, alt_names: str) -> tuple[Path, Path]:
    """(certificate, key) in ``directory``: EC P-256, valid two days, ``alt_names`` in the
    openssl subjectAltName syntax (``DNS:host,IP:127.0.0.1``)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", f"/CN={common_name}", "-addext", f"subjectAltName={alt_names}"],
        check=True, capture_output=True, timeout=60)
    return cert, key
