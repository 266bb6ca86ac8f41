"""Reading a file an operator names, with a bound: ``/dev/zero`` or a FIFO must not make a
command read without end (issue 12: ``x400bridge dump /dev/zero``)."""

from __future__ import annotations

from pathlib import Path

from bridge.codec.ber import MAX_LENGTH
from bridge.errors import DecodeError

#: the largest MTS-APDU a command reads: the P1 APDU limit (the BER decoder's MAX_LENGTH)
MAX_APDU_FILE = MAX_LENGTH


def read_bounded(path: Path, limit: int = MAX_APDU_FILE) -> bytes:
    """The octets of ``path``; :class:`DecodeError` when there are more than ``limit``
    (OSError as usual when it cannot be read)."""
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise DecodeError(f"more than {limit} octets: not an MTS-APDU this gateway takes")
    return data
