"""Finding the messages in what an archivist hands ``x400bridge convert``: ``.eml`` files,
mbox files, Maildir folders, BER files (``.p1``, ``.ber``, ``.p22``) and folders of them.

Everything streams: an mbox is split by scanning for its ``From `` separator lines (RFC 4155)
and each message is read only when it is converted, so memory does not grow with the archive.
Each message gets a stable id (``path`` or ``path#n``) used for output names and ``--resume``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BER_SUFFIXES = frozenset({".p1", ".ber", ".p22", ".x400"})
EML_SUFFIXES = frozenset({".eml", ".msg", ".mime", ".txt"})
MBOX_SUFFIXES = frozenset({".mbox", ".mbx"})


@dataclass(frozen=True, slots=True)
class Item:
    """One message: where it is and what kind (``"eml"`` or ``"ber"``)."""

    id: str
    kind: str
    path: str
    start: int = 0
    end: int = -1  # -1: to the end of the file
    mbox: bool = False  # a byte range of an mbox file (separator line and >From quoting)
    error: str = ""  # set: not a message that can be read (reported as failed, not read)

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            if self.start:
                f.seek(self.start)
            data = f.read() if self.end < 0 else f.read(self.end - self.start)
        if self.mbox:
            return _from_mbox(data)
        return data


def _from_mbox(data: bytes) -> bytes:
    """Drop the ``From `` separator line and undo mboxrd ``>From`` quoting (RFC 4155)."""
    nl = data.find(b"\n")
    body = data[nl + 1 :] if data.startswith(b"From ") and nl >= 0 else data
    lines = body.split(b"\n")
    out = [ln[1:] if ln.startswith(b">") and ln.lstrip(b">").startswith(b"From ") else ln
           for ln in lines]
    text = b"\n".join(out)
    return text[:-1] if text.endswith(b"\n\n") else text


def is_mbox(path: Path) -> bool:
    if path.suffix.lower() in MBOX_SUFFIXES:
        return True
    try:
        with open(path, "rb") as f:
            return f.read(5) == b"From "
    except OSError:
        return False


def is_maildir(path: Path) -> bool:
    try:
        return path.is_dir() and all((path / d).is_dir() for d in ("cur", "new"))
    except OSError:                # e.g. no permission: not a Maildir we can read
        return False


def _unreadable(path: Path, why: str) -> Item:
    return Item(id=str(path), kind="eml", path=str(path), error=why)


def _regular(path: Path) -> str:
    """"" for a regular file (symbolic links followed), else why it is not read: a FIFO,
    device or socket would block or never end (issue 12: a FIFO hung the run)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "a folder that is neither a Maildir nor readable"
    return "not a regular file (FIFO, device or socket): not read"


def mbox_items(path: Path) -> Iterator[Item]:
    """Messages of an mbox file by byte range (``From `` lines after a blank line, or at the
    start of the file, separate messages)."""
    start: int | None = None
    n = 0
    pos = 0
    previous_blank = True
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b"From ") and previous_blank:
                if start is not None:
                    n += 1
                    yield Item(id=f"{path}#{n}", kind="eml", path=str(path), start=start, end=pos,
                               mbox=True)
                start = pos
            previous_blank = line in (b"\n", b"\r\n")
            pos += len(line)
    if start is not None:
        n += 1
        yield Item(id=f"{path}#{n}", kind="eml", path=str(path), start=start, end=pos,
                               mbox=True)


def classify(path: Path) -> str | None:
    """"ber", "eml", "mbox" or None (not a message file)."""
    suffix = path.suffix.lower()
    if suffix in BER_SUFFIXES:
        return "ber"
    if is_mbox(path):
        return "mbox"
    if suffix in EML_SUFFIXES:
        return "eml"
    return None


def iter_items(paths: list[Path]) -> Iterator[Item]:
    """Every message under ``paths``, in a stable order (sorted names).  What cannot be read
    -- a folder without permission, a FIFO, a device -- comes as an :class:`Item` with
    ``error`` set, so the run reports it and goes on."""
    for path in paths:
        if is_maildir(path):
            for sub in ("cur", "new"):
                try:
                    names = sorted(os.listdir(path / sub))
                except OSError as exc:
                    yield _unreadable(path / sub, f"cannot list: {exc.strerror or exc}")
                    continue
                for name in names:
                    p = path / sub / name
                    if p.is_file():
                        yield Item(id=str(p), kind="eml", path=str(p))
        elif _is_dir(path):
            problems: list[OSError] = []
            for root, dirs, files in os.walk(path, onerror=problems.append):
                for problem in problems:
                    yield _unreadable(Path(problem.filename or root),
                                      f"cannot list: {problem.strerror or problem}")
                problems.clear()
                dirs.sort()
                here = Path(root)
                for d in list(dirs):
                    if is_maildir(here / d):
                        dirs.remove(d)
                        yield from iter_items([here / d])
                for name in sorted(files):
                    yield from _file_items(here / name, explicit=False)
            for problem in problems:
                yield _unreadable(Path(problem.filename or path),
                                  f"cannot list: {problem.strerror or problem}")
        else:
            yield from _file_items(path, explicit=True)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _file_items(path: Path, *, explicit: bool) -> Iterator[Item]:
    why = _regular(path)
    if why:
        yield _unreadable(path, why)
        return
    kind = classify(path)
    if kind == "mbox":
        yield from mbox_items(path)
    elif kind is not None:
        yield Item(id=str(path), kind=kind, path=str(path))
    elif explicit:  # named on the command line: sniff BER vs text
        with open(path, "rb") as f:
            first = f.read(1)
        yield Item(id=str(path), kind="ber" if first and first[0] in (0xA0, 0xA1, 0xA2)
                   else "eml", path=str(path))
