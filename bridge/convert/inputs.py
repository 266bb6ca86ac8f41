"""Finding the messages in what an archivist hands ``x400bridge convert``: ``.eml`` files,
mbox files, Maildir folders, BER files (``.p1``, ``.ber``, ``.p22``) and folders of them --
and where under ``--out`` each one's output goes (docs/convert.md, "Output layout").

Everything streams: an mbox is split by scanning for its ``From `` separator lines (RFC 4155)
and each message is read only when it is converted, so memory does not grow with the archive
(only with the largest folder listing).  Each message gets

* an ``id``: where it is (``path``, or ``path#n`` for the n-th message of an mbox), for people;
* a ``name``: its output path under ``--out`` without the suffix, relative and unique in a run
  (``2019/inbox.mbox/3``), which is also its key in the journal for ``--resume``.

Names mirror the tree of the input argument they came from: a folder argument's contents go to
the top of ``--out``, a file argument by its own name.  A message file keeps its name without
its suffix (``a.eml`` -> ``a``) unless another file of the same folder has the same stem (then
both keep their full names); an mbox file or a Maildir becomes a folder of its messages
numbered from 1 (a Maildir: ``cur/`` then ``new/``, each in name order).  When several
arguments are given and the top-level names of two could clash, each argument concerned goes
under a folder named by its position on the command line (``1/``, ``2/``, ...).
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bridge.errors import DecodeError
from bridge.fileio import MAX_APDU_FILE

BER_SUFFIXES = frozenset({".p1", ".ber", ".p22", ".x400"})
EML_SUFFIXES = frozenset({".eml", ".msg", ".mime", ".txt"})
MBOX_SUFFIXES = frozenset({".mbox", ".mbx"})
MESSAGE_SUFFIXES = BER_SUFFIXES | EML_SUFFIXES | MBOX_SUFFIXES
#: the largest message read: the P1 APDU limit of this gateway (bridge.fileio) -- a bigger one
#: could not be transferred anyway, and a worker must not read a 10 GB file into memory
MAX_MESSAGE = MAX_APDU_FILE
#: the folders of a Maildir that hold messages, in the order they are numbered (a Maildir's
#: tmp/ holds deliveries in progress: not messages yet)
MAILDIR_MESSAGES = ("cur", "new")
MAILDIR_PARTS = frozenset({"cur", "new", "tmp"})


@dataclass(frozen=True, slots=True)
class Item:
    """One message: where it is, what kind (``"eml"`` or ``"ber"``) and its output name."""

    id: str
    kind: str
    path: str
    start: int = 0
    end: int = -1  # -1: to the end of the file
    mbox: bool = False  # a byte range of an mbox file (separator line and >From quoting)
    error: str = ""  # set: not a message that can be read (reported as failed, not read)
    name: str = ""  # output path under --out, "/"-separated, without suffix ("" = from id)
    size: int = 0  # octets, as found by the walk (for the progress bar)

    def read(self) -> bytes:
        """The message's octets (an mbox message without its separator, unquoted);
        :class:`DecodeError` when it is larger than :data:`MAX_MESSAGE`."""
        with open(self.path, "rb") as f:
            if self.start:
                f.seek(self.start)
            # what there is, up to one octet more than the limit (not a 64 MiB buffer each);
            # a whole file is read to its end (one octet more than its size: it may grow)
            if self.end < 0:
                data = f.read(min(os.fstat(f.fileno()).st_size, MAX_MESSAGE) + 1)
            else:
                data = f.read(min(self.end - self.start, MAX_MESSAGE + 1))
        if len(data) > MAX_MESSAGE:
            raise DecodeError(f"larger than {MAX_MESSAGE} octets: not read (the largest "
                              f"MTS-APDU this gateway takes)")
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
    return classify(path) == "mbox"


def is_maildir(path: Path) -> bool:
    try:
        return path.is_dir() and all((path / d).is_dir() for d in MAILDIR_MESSAGES)
    except OSError:                # e.g. no permission: not a Maildir we can read
        return False


def classify(path: Path, size: int = -1) -> str | None:
    """"ber", "eml", "mbox" or None (not a message file): by suffix, else by content -- an
    mbox starts with a ``From `` line; a file without a message suffix (an MH folder's
    ``1``, ``2``, ..., a corpus's ``email.01``) is a message when it starts with a header
    field and its header has one every message has, or BER when it is one whole
    MTS-APDU or P22 content (its outer length is the file's size)."""
    suffix = path.suffix.lower()
    if suffix in BER_SUFFIXES:
        return "ber"
    if suffix in MBOX_SUFFIXES:
        return "mbox"
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF)
    except OSError:
        head = b""
    if head.startswith(b"From "):
        return "mbox"
    if suffix in EML_SUFFIXES:
        return "eml"
    if path.name.startswith("."):          # .mh_sequences, .DS_Store, ...: not messages
        return None
    if looks_like_message(head):
        return "eml"
    if looks_like_ber(head, size if size >= 0 else _size(path)):
        return "ber"
    return None


#: octets read to tell what a file is
_SNIFF = 4096
#: the first line of a header: a field name (RFC 5322 §3.6.8, printable ASCII but ":"),
#: optional white space (the obsolete syntax, §4.5.3) and ":"
_FIRST_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
#: fields a message has (one of them at least, in its first 4 KiB)
_MESSAGE_FIELD = re.compile(
    rb"(?im)^(from|date|subject|to|cc|sender|message-id|received|return-path|mime-version|"
    rb"content-type|delivered-to|x-original-to|envelope-to|reply-to|in-reply-to|"
    rb"references)[ \t]*:")


def looks_like_message(head: bytes) -> bool:
    """Whether the first octets of a file are an RFC 5322 header."""
    if b"\0" in head or not _FIRST_FIELD.match(head):
        return False
    end = re.search(rb"\r?\n\r?\n", head)
    return bool(_MESSAGE_FIELD.search(head[: end.start() if end else len(head)]))


def looks_like_ber(head: bytes, size: int) -> bool:
    """Whether a file is one BER value tagged [0], [1] or [2] (an MTS-APDU's message, probe
    or report, X.419; P22 content's ipm or ipn, X.420) whose length is the file's."""
    if len(head) < 2 or head[0] not in (0xA0, 0xA1, 0xA2):
        return False
    first = head[1]
    if first == 0x80:                      # indefinite length: ends with end-of-contents
        return True
    if first < 0x80:
        return 2 + first == size
    count = first & 0x7F
    if count > 4 or len(head) < 2 + count:
        return False
    return 2 + count + int.from_bytes(head[2 : 2 + count], "big") == size


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


# ------------------------------------------------------------------------------ mbox

#: how much of an mbox is scanned at a time for separator lines
_BLOCK = 1 << 20
_SEPARATOR = b"\nFrom "


def mbox_items(path: Path, folder: str | None = None) -> Iterator[Item]:
    """Messages of an mbox file by byte range: ``From `` lines at the start of the file or
    after a blank line separate messages (RFC 4155).  Their names are ``folder/1``,
    ``folder/2``, ... (``folder`` defaults to the file's name)."""
    folder = path.name if folder is None else folder
    start: int | None = None
    n = 0
    with open(path, "rb") as f:
        for sep in _separators(f):
            if start is not None:
                n += 1
                yield _mbox_item(path, folder, n, start, sep)
            start = sep
        end = f.seek(0, os.SEEK_END)
    if start is not None:
        n += 1
        yield _mbox_item(path, folder, n, start, end)


def _mbox_item(path: Path, folder: str, n: int, start: int, end: int) -> Item:
    return Item(id=f"{path}#{n}", kind="eml", path=str(path), start=start, end=end, mbox=True,
                name=_join(folder, str(n)), size=end - start)


def _separators(f: BinaryIO) -> Iterator[int]:
    """Offsets of the separator lines of an open mbox file, found block by block with
    ``bytes.find`` (a line-by-line loop costs more than the conversions it feeds)."""
    if f.read(5) == b"From ":
        yield 0
    f.seek(0)
    carry = b""
    base = 0                       # file offset of the block read next
    while block := f.read(_BLOCK):
        buf = carry + block
        off = base - len(carry)    # file offset of buf[0]
        # a hit that ends inside the carry was complete in the previous buffer and judged
        # there (with its context); one that ends in the new block is new
        i = buf.find(_SEPARATOR, max(0, len(carry) - len(_SEPARATOR) + 1))
        while i >= 0:
            if _blank_line_before(buf, i, off):
                yield off + i + 1
            i = buf.find(_SEPARATOR, i + 1)
        base += len(block)
        carry = buf[-8:]


def _blank_line_before(buf: bytes, i: int, off: int) -> bool:
    """Whether the line ended by the newline at ``buf[i]`` (file offset ``off + i``) is
    empty: ``\\n`` alone or ``\\r\\n`` alone (the start of the file counts as a line end)."""
    at = off + i
    if at == 0 or buf[i - 1] == 0x0A:           # "\n" alone
        return True
    return buf[i - 1] == 0x0D and (at == 1 or buf[i - 2] == 0x0A)   # "\r\n" alone


# ------------------------------------------------------------------------------ names


def stem(name: str) -> str:
    """A file's name without its message suffix (``a.eml`` -> ``a``); other names whole."""
    base, dot, ext = name.rpartition(".")
    if dot and base and f".{ext}".lower() in MESSAGE_SUFFIXES:
        return base
    return name


_NUMBERED = re.compile(r"(.+)\.[0-9]+")


def output_bases(names: Iterable[str]) -> dict[str, str]:
    """The output name (without suffix) of each file of one folder: its stem, or its full
    name when another file there has the same stem, or when one's stem is another's plus
    ``.N`` -- the name of the N-th output a message may add (a DSN gives a report and
    ``name.2``): ``c`` and ``c.2.eml`` would both write ``c.2.p1``."""
    names = list(names)
    stems = [stem(n) for n in names]
    seen: dict[str, int] = {}
    for s in stems:
        seen[s] = seen.get(s, 0) + 1
    clash = {s for s, count in seen.items() if count > 1}
    for s in seen:
        if (m := _NUMBERED.fullmatch(s)) and m.group(1) in seen:
            clash.update((s, m.group(1)))
    return {n: (n if s in clash else s) for n, s in zip(names, stems, strict=True)}


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _tokens(name: str) -> set[str]:
    """What a top-level name of an argument could clash on: its full name and stem, the stem
    an extra output extends, and any number (Maildir messages and position folders)."""
    found = {name, stem(name)}
    if m := _NUMBERED.fullmatch(stem(name)):
        found.add(m.group(1))
    return {"#n" if t.isdigit() else t for t in found}


def _top_names(path: Path) -> set[str]:
    if not _is_dir(path):
        return _tokens(path.name)
    try:
        entries = os.listdir(path)
    except OSError:
        return set()                 # reported by the walk
    names: set[str] = set()
    if is_maildir(path):
        names.add("#n")
        entries = [e for e in entries if e not in MAILDIR_PARTS]
    for entry in entries:
        names |= _tokens(entry)
    return names


def prefixes(paths: list[Path]) -> list[str]:
    """Per argument, the folder its outputs go under: ``""`` (the top of ``--out``) or its
    1-based position when its top-level names could clash with another argument's."""
    if len(paths) < 2:
        return [""] * len(paths)
    owners: dict[str, list[int]] = {}
    tops = [_top_names(p) for p in paths]
    for i, names in enumerate(tops):
        for name in names:
            owners.setdefault(name, []).append(i)
    moved = {i for ids in owners.values() if len(ids) > 1 for i in ids}
    if moved:                        # the position folders are numbers: "#n" clashes too
        moved |= {i for i, names in enumerate(tops) if "#n" in names}
    return [str(i + 1) if i in moved else "" for i in range(len(paths))]


# ------------------------------------------------------------------------------ the walk


def iter_items(paths: list[Path], *, exclude: Path | None = None,
               split_mbox: bool = True) -> Iterator[Item]:
    """Every message under ``paths``, in a stable order (per folder: its files by name, then
    its subfolders by name, depth first), each with its output ``name``.  What cannot be read
    -- a folder without permission, a FIFO, a device, a link to a folder -- comes as an
    :class:`Item` with ``error`` set, so the run reports it and goes on.

    ``exclude``: a folder not to walk (the output folder, when it is inside an input).
    ``split_mbox=False``: an mbox is one item of its whole size (counting for the progress
    bar without reading the archive twice).
    """
    walk = _Walk(exclude, split_mbox)
    for path, prefix in zip(paths, prefixes(paths), strict=True):
        if _is_dir(path):
            yield from walk.tree(path, prefix)
        else:
            yield from walk.file(path, prefix, _join(prefix, stem(path.name)), explicit=True)


class _Walk:
    def __init__(self, exclude: Path | None, split_mbox: bool) -> None:
        self.split_mbox = split_mbox
        self.exclude: tuple[int, int] | None = None
        if exclude is not None:
            try:
                st = os.stat(exclude)
                self.exclude = (st.st_dev, st.st_ino)
            except OSError:
                pass

    def tree(self, root: Path, rel: str) -> Iterator[Item]:
        stack = [(root, rel)]
        while stack:
            here, rel = stack.pop()
            try:
                with os.scandir(here) as it:
                    entries = sorted((e.name, e.is_dir()) for e in it)
            except OSError as exc:
                yield _unreadable(here, rel + "/", f"cannot list: {exc.strerror or exc}")
                continue
            dirs = [name for name, is_dir in entries if is_dir]
            files = [name for name, is_dir in entries if not is_dir]
            if all(d in dirs for d in MAILDIR_MESSAGES):
                yield from self.maildir(here, rel)
                dirs = [d for d in dirs if d not in MAILDIR_PARTS]
                files = []           # dovecot-uidlist, maildirfolder, ...: not messages
            bases = output_bases(files)
            for name in files:
                yield from self.file(here / name, rel, _join(rel, bases[name]),
                                     explicit=False)
            below: list[tuple[Path, str]] = []
            for name in dirs:
                sub = here / name
                if os.path.islink(sub):
                    yield _unreadable(sub, _join(rel, name) + "/", "a link to a folder: not "
                                      "followed (give the folder itself as an input)")
                elif not self._excluded(sub):
                    below.append((sub, _join(rel, name)))
            stack.extend(reversed(below))

    def _excluded(self, path: Path) -> bool:
        if self.exclude is None:
            return False
        try:
            st = os.stat(path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self.exclude

    def maildir(self, path: Path, rel: str) -> Iterator[Item]:
        n = 0
        for sub in MAILDIR_MESSAGES:
            try:
                names = sorted(os.listdir(path / sub))
            except OSError as exc:
                yield _unreadable(path / sub, _join(rel, sub) + "/",
                                  f"cannot list: {exc.strerror or exc}")
                continue
            for name in names:
                p = path / sub / name
                if _is_dir(p):
                    continue
                n += 1
                why, size = _regular(p)
                yield Item(id=str(p), kind="eml", path=str(p), error=why,
                           name=_join(rel, str(n)), size=size)

    def file(self, path: Path, rel: str, name: str, *, explicit: bool) -> Iterator[Item]:
        """The message(s) of one file; ``rel``: its folder's output name, ``name``: its own
        (without suffix)."""
        why, size = _regular(path)
        if why:
            yield _unreadable(path, name, why)
            return
        kind = classify(path, size)
        if kind == "mbox":
            folder = _join(rel, path.name)
            if not self.split_mbox:
                yield Item(id=str(path), kind="eml", path=str(path), name=folder, size=size)
            elif path.suffix.lower() in MBOX_SUFFIXES:
                yield from mbox_items(path, folder)
            else:                          # a message with a "From " line, or several
                yield from _one_or_folder(mbox_items(path, folder), name)
        elif kind is not None:
            yield Item(id=str(path), kind=kind, path=str(path), name=name, size=size)
        elif explicit:  # named on the command line: sniff BER vs text
            try:
                with open(path, "rb") as f:
                    first = f.read(1)
            except OSError as exc:
                yield _unreadable(path, name, f"cannot read: {exc.strerror or exc}")
                return
            yield Item(id=str(path), kind="ber" if first and first[0] in (0xA0, 0xA1, 0xA2)
                       else "eml", path=str(path), name=name, size=size)


def _one_or_folder(items: Iterator[Item], name: str) -> Iterator[Item]:
    """The messages of a file in mbox format that is not named as one: a folder of them
    when there are several, else the one named as the file."""
    first = next(items, None)
    second = next(items, None)
    if first is not None and second is None:
        yield dataclasses.replace(first, name=name)
        return
    for item in (first, second):
        if item is not None:
            yield item
    yield from items


def _unreadable(path: Path, name: str, why: str) -> Item:
    return Item(id=str(path), kind="eml", path=str(path), error=why, name=name)


def _regular(path: Path) -> tuple[str, int]:
    """("", size) for a regular file (symbolic links followed), else why it is not read: a
    FIFO, device or socket would block or never end (issue 12: a FIFO hung the run)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}", 0
    if stat.S_ISREG(st.st_mode):
        return "", st.st_size
    if stat.S_ISDIR(st.st_mode):
        return "a folder that is neither a Maildir nor readable", 0
    return "not a regular file (FIFO, device or socket): not read", 0


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False
