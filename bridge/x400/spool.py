"""The file-spool transport: directories of BER ``MTS-APDU`` files (X.419 §B, no OSI stack).

Layout under the spool root::

    in/     APDUs waiting for the gateway (written by a peer MTA or an operator)
    out/    APDUs the gateway produced for a peer that collects files
    tmp/    files being written; never read by a consumer
    work/   work/in, work/out: files claimed by a consumer and not yet done
    bad/    bad/in, bad/out: files that could not be handled, each with <name>.reason

Rules (the Maildir / Mailman switchboard discipline, STYLE.md §10):

* **Atomic publish.**  :meth:`Spool.put` writes ``tmp/<unique>``, flushes and fsyncs it, then moves
  it into ``in/`` or ``out/`` in one ``rename`` (or ``link`` when the caller chose the name, so an
  existing file is never replaced) and fsyncs the directory.  A reader sees a whole file or none.
* **Claimed exactly once.**  :meth:`Spool.claim` moves each ``*.ber`` file into ``work/`` with
  ``os.rename``; when several processes race, exactly one rename succeeds and the others skip it.
* **Never dropped.**  A file that fails validation goes to ``bad/`` with a ``.reason`` file naming
  the error, where an operator can see it and move it back.  A file whose consumer crashed stays in
  ``work/`` until :meth:`Spool.recover` moves it back (delivery is at least once: the consumer calls
  :meth:`Spool.done` only after it made the APDU durable, so a crash in between repeats it).
"""

from __future__ import annotations

import itertools
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bridge.errors import BridgeError

__all__ = ["Claimed", "Direction", "Spool", "sanitise_name"]

Direction = Literal["in", "out"]
_DIRECTIONS: tuple[Direction, ...] = ("in", "out")
SUFFIX = ".ber"
REASON_SUFFIX = ".reason"
_MAX_NAME = 200  # leaves room for suffixes within the common 255-octet file name limit
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def sanitise_name(name: str) -> str:
    """A file stem safe in one directory: no separators, no leading dot, no ``.ber`` suffix.

    Characters outside ``[A-Za-z0-9._-]`` become ``_``; an empty result is a ``ValueError``.
    """
    if name.endswith(SUFFIX):
        name = name[: -len(SUFFIX)]
    safe = _UNSAFE.sub("_", name)[:_MAX_NAME]
    if safe.startswith("."):  # hidden files and "..": not ours to publish
        safe = "_" + safe[1:]
    if not safe:
        raise ValueError("empty spool file name")
    return safe


@dataclass(frozen=True, slots=True, kw_only=True)
class Claimed:
    """One claimed APDU file: ``path`` is its place in ``work/``, ``name`` its stem."""

    path: Path
    name: str
    direction: Direction
    data: bytes


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (POSIX; skipped where a directory cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Spool:
    """A file spool rooted at ``root`` (created with its sub-directories if missing)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        for sub in ("tmp", *_DIRECTIONS):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("work", "bad"):
            for direction in _DIRECTIONS:
                (self.root / sub / direction).mkdir(parents=True, exist_ok=True)

    def folder(self, direction: Direction) -> Path:
        """The folder that holds the files waiting in ``direction``."""
        return self.root / self._check(direction)

    def work_folder(self, direction: Direction) -> Path:
        return self.root / "work" / self._check(direction)

    def bad_folder(self, direction: Direction) -> Path:
        return self.root / "bad" / self._check(direction)

    @staticmethod
    def _check(direction: str) -> Direction:
        if direction not in _DIRECTIONS:
            raise ValueError(f"spool direction must be 'in' or 'out', not {direction!r}")
        return direction

    # -- writing --

    def _write_tmp(self, data: bytes) -> Path:
        tmp = self.tmp / f"{uuid.uuid4().hex}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def put(self, direction: Direction, apdu: bytes, *, name: str | None = None) -> Path:
        """Publish ``apdu`` atomically as ``<direction>/<name>.ber`` and return its path.

        Without ``name`` a unique, time-ordered one is made.  A caller-chosen name that already
        exists raises ``FileExistsError`` (the waiting file is never replaced).
        """
        folder = self.folder(direction)
        tmp = self._write_tmp(apdu)
        try:
            if name is None:
                # nanosecond time first so that names sort oldest first; uuid for uniqueness
                target = folder / f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}{SUFFIX}"
                os.rename(tmp, target)
            else:
                target = folder / f"{sanitise_name(name)}{SUFFIX}"
                os.link(tmp, target)  # fails if target exists: no silent replacement
                tmp.unlink()
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(folder)
        return target

    # -- reading --

    def pending(self, direction: Direction) -> list[Path]:
        """The ``*.ber`` files waiting in ``direction``, oldest first (mtime, then name)."""
        entries = []
        with os.scandir(self.folder(direction)) as it:
            for entry in it:
                if not entry.name.endswith(SUFFIX) or entry.name.startswith("."):
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    mtime = entry.stat(follow_symlinks=False).st_mtime_ns
                except FileNotFoundError:  # claimed by someone else meanwhile
                    continue
                entries.append((mtime, entry.name))
        entries.sort()
        folder = self.folder(direction)
        return [folder / name for _, name in entries]

    def claim(
        self,
        direction: Direction,
        *,
        validate: Callable[[bytes], object] | None = None,
    ) -> Iterator[Claimed]:
        """Claim and yield the files waiting in ``direction``, oldest first.

        Each file is moved into ``work/<direction>/`` first; a file another claimer took is
        skipped.  If ``validate(data)`` raises :class:`~bridge.errors.BridgeError` the file goes to
        ``bad/`` with the error as its reason and is not yielded.  The consumer ends each claim
        with :meth:`done` or :meth:`reject`.
        """
        work = self.work_folder(direction)
        for source in self.pending(direction):
            target = work / source.name
            try:
                os.rename(source, target)
            except FileNotFoundError:  # another claimer won the race
                continue
            claimed = Claimed(
                path=target,
                name=source.name[: -len(SUFFIX)],
                direction=direction,
                data=target.read_bytes(),
            )
            if validate is not None:
                try:
                    validate(claimed.data)
                except BridgeError as exc:
                    self.reject(claimed, f"{type(exc).__name__}: {exc}")
                    continue
            yield claimed

    def done(self, claimed: Claimed) -> None:
        """The consumer made the APDU durable elsewhere: forget the claimed file."""
        claimed.path.unlink(missing_ok=True)

    def reject(self, claimed: Claimed, reason: str) -> Path:
        """Move a claimed file to ``bad/<direction>/`` with ``<name>.reason``; return its path."""
        bad = self.bad_folder(claimed.direction)
        for counter in itertools.count():
            stem = claimed.name if counter == 0 else f"{claimed.name}-{counter}"
            target = bad / f"{stem}{SUFFIX}"
            reason_path = bad / f"{stem}{REASON_SUFFIX}"
            if not target.exists() and not reason_path.exists():
                break
        tmp = self._write_tmp(reason.encode("utf-8", "replace") + b"\n")
        os.rename(tmp, reason_path)
        os.rename(claimed.path, target)
        _fsync_dir(bad)
        return target

    def recover(self) -> int:
        """After a crash: move every file left in ``work/`` back to be claimed again.

        Call it when no other process is claiming from this spool (at start-up).  Returns how
        many files were moved back.
        """
        count = 0
        for direction in _DIRECTIONS:
            work = self.work_folder(direction)
            folder = self.folder(direction)
            for path in sorted(work.iterdir()):
                if not path.name.endswith(SUFFIX):
                    continue
                target = folder / path.name
                if target.exists():  # a new file took the name meanwhile: keep both
                    stem = path.name[: -len(SUFFIX)]
                    target = folder / f"{stem}-{uuid.uuid4().hex[:8]}{SUFFIX}"
                os.rename(path, target)
                count += 1
            _fsync_dir(folder)
        return count
