"""Repairs made while decoding what real MTAs send -- recorded, never silent (STYLE §8).

Real MTAs put octets outside a string type's alphabet into IA5String and PrintableString
fields and write UTCTimes with a three-digit year (PP 6.0, x400-samples/pp).  The decoder
accepts such values (X.400 practice: be liberal in what you accept) and notes each repair
here; whoever decoded collects the notes with :func:`collecting` and turns them into defects
(:mod:`bridge.convert`) or shows them (``x400bridge dump``).  What we *generate* is still
validated strictly by the encoder.

The collector is a :mod:`contextvars` variable, so concurrent decodes in threads or tasks do
not mix their notes; a decode outside :func:`collecting` drops its notes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: bound on notes kept per decode: a hostile PDU with a million bad strings gets a summary
MAX_NOTES = 50

_notes: ContextVar[list[str] | None] = ContextVar("x400bridge_decode_repairs", default=None)


@contextmanager
def collecting() -> Iterator[list[str]]:
    """Collect the repairs of the decodes inside the ``with`` block into the yielded list.

    Collectors nest: what an inner one collected is also passed to the outer one.
    """
    notes: list[str] = []
    token = _notes.set(notes)
    try:
        yield notes
    finally:
        _notes.reset(token)
        for detail in notes:
            note(detail)


#: repairs noted in this process so far (duplicates too), for :func:`noted`
_count = 0


def noted() -> int:
    """How many repairs this process has noted so far: a decode that changes it repaired
    something (even a repair its collector already had, which it does not list twice)."""
    return _count


def note(detail: str) -> None:
    """Record one repair (duplicates once; at most :data:`MAX_NOTES`, then a summary)."""
    global _count
    _count += 1
    notes = _notes.get()
    if notes is None or detail in notes:
        return
    if len(notes) < MAX_NOTES:
        notes.append(detail)
    elif len(notes) == MAX_NOTES:
        notes.append("further repairs not listed")


def lenient_text(raw: bytes | bytearray, type_name: str) -> str:
    """The text of a 7-bit string type (IA5String, PrintableString, VisibleString,
    NumericString: X.680 §41) whose octets may not all be in its alphabet.

    ASCII is taken as it is.  Otherwise the octets are read in the charset they most likely
    are -- UTF-8 when they are valid UTF-8 (the chance of 8-bit ISO 8859 text also being
    valid UTF-8 is small), else ISO 8859-1, the charset of the 8-bit X.400 user agents these
    come from -- and the repair is noted.
    """
    data = bytes(raw)
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        pass
    try:
        text, charset = data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        text, charset = data.decode("latin-1"), "ISO 8859-1"
    shown = data if len(data) <= 64 else data[:64] + b"..."
    note(f"{type_name} {shown!r} has octets outside its alphabet (X.680 §41); read as "
         f"{charset}")
    return text
