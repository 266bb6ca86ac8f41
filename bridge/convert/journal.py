"""The journal of ``x400bridge convert`` (docs/convert.md): ``<out>/.x400bridge-convert.jsonl``,
a header line, then one JSON line per finished message, written only once the outputs it names
are on disk -- what makes ``--resume`` after a ``kill -9`` exact (:mod:`bridge.convert.batch`).
"""

from __future__ import annotations

import bisect
import ctypes
import fcntl
import hashlib
import json
import os
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

from bridge.errors import BridgeError

JOURNAL = ".x400bridge-convert.jsonl"
#: held (fcntl record lock) by the run writing into an output folder
LOCK = ".x400bridge-convert.lock"
#: the journal's header line: {"journal": 1, "direction": ..., "inputs": [...]}
JOURNAL_VERSION = 1


class ResumeMismatch(BridgeError):
    """``--resume`` into an output folder whose journal was made for other inputs or the
    other direction (going on would mix two runs' outputs), or that another run holds."""


def _key(name: str) -> int:
    """64 bits of a message's name: what the set of finished messages holds (1,000,000
    names: 8 MB, and a chance of 3e-8 that two of them share a key)."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8", "surrogateescape"),
                                          digest_size=8).digest(), "big")


def _syncfs(fd: int) -> None:
    """Put everything written on the file system of ``fd`` on disk (Linux syncfs(2); a
    journal line then never names an output a power failure could still lose)."""
    try:
        ctypes.CDLL(None, use_errno=True).syncfs(fd)
    except (OSError, AttributeError):
        os.sync()


class Journal:
    """``<out>/.x400bridge-convert.jsonl``: the header, then one JSON line per finished
    message (ASCII: a name or header that is not UTF-8 arrives as lone surrogates, which only
    \\u escapes carry exactly).  Lines are written once a second (:data:`COMMIT`), after the
    outputs they name are on disk; a line cut by a crash is ignored."""

    COMMIT = 1.0

    def __init__(self, out: Path, header: dict[str, Any], *, resume: bool) -> None:
        self.path = out / JOURNAL
        self.done = array("Q")         # sorted keys of the messages an earlier run finished
        self.earlier = Counter[str]()  # their statuses: "converted" / "converted_with_loss"
        self._lock = open(out / LOCK, "a")  # noqa: SIM115 - held for the whole run
        try:                               # a POSIX record lock: not inherited by workers
            fcntl.lockf(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise ResumeMismatch(f"{out}: another x400bridge convert is writing there") from None
        try:
            if resume and self.path.exists():
                self._resume(header)
            else:
                with self.path.open("w", encoding="ascii") as f:
                    f.write(json.dumps(header, ensure_ascii=True) + "\n")
            self._f = self.path.open("a", encoding="ascii")
        except BaseException:
            self._lock.close()
            raise
        self._dir = os.open(out, os.O_RDONLY | os.O_CLOEXEC)
        self._pending: list[str] = []
        self._last = time.monotonic()

    def _resume(self, header: dict[str, Any]) -> None:
        """Keep the header and the lines of converted messages (failed ones are tried again
        and reported once); remember their keys."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        keys: list[int] = []
        try:
            self._rewrite(tmp, header, keys)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        keys.sort()
        self.done = array("Q", keys)
        os.replace(tmp, self.path)

    def _rewrite(self, tmp: Path, header: dict[str, Any], keys: list[int]) -> None:
        with self.path.open(encoding="ascii", errors="replace") as src, \
                tmp.open("w", encoding="ascii") as dst:
            first = True
            for line in src:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue               # a line cut by a crash: that message is redone
                if first and "journal" in rec:
                    _check_header(rec, header, self.path)
                if first:
                    dst.write(json.dumps(header, ensure_ascii=True) + "\n")
                    first = False
                    if "journal" in rec:
                        continue
                if rec.get("status") == "ok" and isinstance(rec.get("id"), str):
                    dst.write(line if line.endswith("\n") else line + "\n")
                    keys.append(_key(rec["id"]))
                    self.earlier["converted_with_loss" if rec.get("lossy") else "converted"] += 1
            if first:
                dst.write(json.dumps(header, ensure_ascii=True) + "\n")

    def finished(self, name: str) -> bool:
        """Whether an earlier run converted the message named ``name``."""
        key = _key(name)
        i = bisect.bisect_left(self.done, key)
        return i < len(self.done) and self.done[i] == key

    def add(self, record: dict[str, Any]) -> None:
        self._pending.append(json.dumps(record, ensure_ascii=True) + "\n")
        if time.monotonic() - self._last >= self.COMMIT:
            self.commit()

    def commit(self) -> None:
        if self._pending:
            _syncfs(self._dir)
            self._f.write("".join(self._pending))
            self._f.flush()
            self._pending.clear()
        self._last = time.monotonic()

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self._f.close()
            os.close(self._dir)
            self._lock.close()


def _check_header(found: dict[str, Any], want: dict[str, Any], path: Path) -> None:
    for what in ("direction", "inputs"):
        if found.get(what) != want[what]:
            raise ResumeMismatch(
                f"{path} was written by a run with other {what} ({found.get(what)!r}); "
                f"--resume needs the same --to and INPUTs (or run without --resume to start "
                f"again)")
