"""Locate the data folders (``asn1/``, ``mappings/``) in a checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder ``name`` (``"asn1"`` or ``"mappings"``).

    An installed wheel carries it as ``bridge/_data/<name>`` (see ``setup.py``); a source
    checkout or an editable install uses the top-level folder beside the package.
    """
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"data folder {name!r} not found beside {_PKG}")
