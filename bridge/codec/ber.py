"""A small, fast, schema-less BER reader: TLV headers, stream framing and length normalisation.

Why this exists
---------------
asn1tools (our production codec, see ``/work/shared/ASN1-NOTES.md``) has two limits that matter
for inbound X.400 traffic:

* it rejects the *indefinite* length form (X.690 §8.1.3.6) inside open types (``ANY``) with
  "Expected definite length" -- and legacy MTAs do send indefinite lengths there;
* it is lenient about what follows a value (trailing bytes are ignored) and it must never be
  handed unbounded input.

:func:`normalise` therefore runs on every inbound PDU before asn1tools sees it: it checks the
TLV structure of the whole PDU (identifier octets X.690 §8.1.2, length octets §8.1.3,
end-of-contents octets §8.1.5) and re-encodes it with definite lengths everywhere.  Primitive
contents are copied byte for byte; constructed strings stay constructed (asn1tools handles
those).  If the input already uses only definite lengths -- the common case -- the *same object*
is returned after a header-only walk that skips primitive contents (a few tens of µs for a
9 KB PDU).

:func:`pdu_length` frames a byte stream (like asn1tools' ``decode_length``) and also understands
indefinite lengths.  :func:`read_tlv` and :func:`iter_children` are the header parser and child
iterator the rest of the package can use to look into open types without a schema.

Bounds
------
* Nesting: at most ``max_depth`` (default 64) constructed encodings may be open at once; the
  walk uses an explicit stack, never Python recursion, so any input depth is safe.
* Lengths: a declared length (and the actual contents length of an indefinite-length encoding)
  above ``max_length`` (default 64 MiB) is rejected; at most 4 length octets (lengths < 2**32)
  and at most 4 subsequent identifier octets (tag numbers < 2**28) are accepted.
* Work is linear in the input: every octet is looked at a bounded number of times.

Every problem raises :class:`bridge.errors.DecodeError` with ``offset`` set to the byte offset of
the offending octet (for a truncation: the offset of the first missing octet, i.e. the end of
the data or of the enclosing definite-length contents).  No other exception escapes
:func:`normalise` or :func:`pdu_length` for any input.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bridge.errors import DecodeError

__all__ = [
    "CLASS_APPLICATION",
    "CLASS_CONTEXT",
    "CLASS_PRIVATE",
    "CLASS_UNIVERSAL",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "TLV",
    "encode_length",
    "iter_children",
    "normalise",
    "pdu_length",
    "read_tlv",
    "string_contents",
]

Buffer = bytes | bytearray | memoryview

#: Tag classes, X.690 §8.1.2.2 Table 1 (bits 8 and 7 of the first identifier octet).
CLASS_UNIVERSAL = 0
CLASS_APPLICATION = 1
CLASS_CONTEXT = 2
CLASS_PRIVATE = 3

#: Default bound on simultaneously open constructed encodings.
MAX_DEPTH = 64
#: Default bound on any declared (or, for the indefinite form, actual) contents length.
MAX_LENGTH = 64 * 1024 * 1024
#: Most subsequent identifier octets accepted in the high-tag-number form (X.690 §8.1.2.4).
_MAX_TAG_OCTETS = 4
#: Most subsequent length octets accepted in the long form (X.690 §8.1.3.5).
_MAX_LENGTH_OCTETS = 4

_SHORT_LENGTHS = [bytes((n,)) for n in range(0x80)]


@dataclass(frozen=True, slots=True)
class TLV:
    """The header of one BER encoding (X.690 §8.1.1: identifier, length, contents octets).

    ``tag_class`` is one of the ``CLASS_*`` constants, ``constructed`` the P/C bit (§8.1.2.5),
    ``tag`` the tag number (§8.1.2.2-§8.1.2.4), ``offset`` the offset of the first identifier
    octet, ``header_length`` the number of identifier plus length octets and ``length`` the
    contents length, or -1 for the indefinite form (§8.1.3.6), whose contents end with the
    end-of-contents octets (§8.1.5) not counted here.
    """

    tag_class: int
    constructed: bool
    tag: int
    offset: int
    header_length: int
    length: int

    @property
    def content_offset(self) -> int:
        """Offset of the first contents octet."""
        return self.offset + self.header_length

    @property
    def end(self) -> int:
        """Offset just past the contents (definite form only; ValueError for indefinite)."""
        if self.length < 0:
            raise ValueError("an indefinite-length TLV has no end known from its header")
        return self.offset + self.header_length + self.length


class _Truncated(Exception):
    """Internal: the header runs past the available data; ``offset`` = first missing octet."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


def encode_length(n: int) -> bytes:
    """Encode a definite length in the shortest form (X.690 §8.1.3.3 / §8.1.3.4 / §8.1.3.5).

    0..127 use the short form (one octet); larger values the long form: an initial octet
    ``0x80 | k`` followed by ``k`` big-endian octets with no leading zero octet.
    """
    if n < 0x80:
        if n < 0:
            raise ValueError(f"negative length {n}")
        return _SHORT_LENGTHS[n]
    k = (n.bit_length() + 7) // 8
    if k > 126:  # §8.1.3.5 c: 0xFF is reserved, so at most 126 subsequent octets
        raise ValueError(f"length {n} does not fit in 126 length octets")
    return bytes((0x80 | k,)) + n.to_bytes(k, "big")


def _header(
    data: Buffer, i: int, bound: int, max_length: int
) -> tuple[int, bool, int, int, int, int]:
    """Parse identifier and length octets at ``i``; no octet at or after ``bound`` is read.

    Returns ``(tag_class, constructed, tag, length_offset, length, content_offset)`` with
    ``length == -1`` for the indefinite form.  Raises :class:`_Truncated` when the header does
    not fit before ``bound`` and :class:`DecodeError` when it is invalid.  It does not check
    that the contents fit, nor reject ``[UNIVERSAL 0]`` (the callers do).
    """
    start = i
    if i >= bound:
        raise _Truncated(i)
    # X.690 §8.1.2: identifier octets.
    b = data[i]
    i += 1
    tag_class = b >> 6
    constructed = bool(b & 0x20)
    tag = b & 0x1F
    if tag == 0x1F:
        # §8.1.2.4: high-tag-number form, base-128 with bit 8 set on all but the last octet.
        if i >= bound:
            raise _Truncated(i)
        if data[i] == 0x80:
            raise DecodeError(
                "high tag number with a leading 0x80 octet (X.690 §8.1.2.4.2 c)", offset=i
            )
        tag = 0
        count = 0
        while True:
            if count == _MAX_TAG_OCTETS:
                raise DecodeError(
                    f"tag number longer than {_MAX_TAG_OCTETS} octets (X.690 §8.1.2.4)",
                    offset=i,
                )
            if i >= bound:
                raise _Truncated(i)
            c = data[i]
            i += 1
            count += 1
            tag = (tag << 7) | (c & 0x7F)
            if not c & 0x80:
                break
        if tag < 31:
            raise DecodeError(
                f"tag number {tag} in the high-tag-number form (X.690 §8.1.2.2)",
                offset=start + 1,
            )
    # X.690 §8.1.3: length octets.
    if i >= bound:
        raise _Truncated(i)
    length_offset = i
    length = data[i]
    i += 1
    if length & 0x80:
        count = length & 0x7F
        if count == 0:
            # §8.1.3.6: indefinite form; §8.1.3.2 a: only for constructed encodings.
            if not constructed:
                raise DecodeError(
                    "indefinite length on a primitive encoding (X.690 §8.1.3.2 a)",
                    offset=length_offset,
                )
            return tag_class, constructed, tag, length_offset, -1, i
        if count == 0x7F:
            raise DecodeError("reserved length octet 0xFF (X.690 §8.1.3.5 c)", offset=length_offset)
        if count > _MAX_LENGTH_OCTETS:
            raise DecodeError(
                f"{count} length octets, at most {_MAX_LENGTH_OCTETS} accepted (X.690 §8.1.3.5)",
                offset=length_offset,
            )
        if i + count > bound:
            raise _Truncated(bound)
        length = int.from_bytes(data[i : i + count], "big")
        i += count
    if length > max_length:
        raise DecodeError(
            f"declared length {length} exceeds the limit of {max_length}", offset=length_offset
        )
    return tag_class, constructed, tag, length_offset, length, i


def _truncated(exc: _Truncated, bound: int, n: int) -> DecodeError:
    if bound < n:
        return DecodeError(
            "TLV header crosses the end of the enclosing contents", offset=exc.offset
        )
    return DecodeError("truncated TLV header", offset=exc.offset)


def _reserved_tag(offset: int) -> DecodeError:
    return DecodeError(
        "[UNIVERSAL 0] outside indefinite-length contents (reserved for end-of-contents, "
        "X.690 §8.1.5)",
        offset=offset,
    )


def _beyond(length_offset: int, bound: int, n: int) -> DecodeError:
    if bound < n:
        return DecodeError("length exceeds the enclosing contents", offset=length_offset)
    return DecodeError("length beyond the end of the data", offset=length_offset)


def read_tlv(data: Buffer, offset: int = 0, *, max_length: int = MAX_LENGTH) -> TLV:
    """Parse the TLV header at ``offset`` (X.690 §8.1.2 identifier, §8.1.3 length octets).

    A definite length must fit in ``data``; the indefinite form (constructed only,
    §8.1.3.2 a) gives ``length == -1``.  An end-of-contents marker (``00 00``, §8.1.5) parses as
    ``TLV(0, False, 0, offset, 2, 0)``; rejecting it where it does not belong is the caller's
    business.  Raises :class:`DecodeError` for a truncated or invalid header.
    """
    n = len(data)
    if not 0 <= offset <= n:
        raise ValueError(f"offset {offset} outside the data (0..{n})")
    try:
        tag_class, constructed, tag, lo, length, co = _header(data, offset, n, max_length)
    except _Truncated as exc:
        raise _truncated(exc, n, n) from None
    if length >= 0 and co + length > n:
        raise _beyond(lo, n, n)
    return TLV(tag_class, constructed, tag, offset, co - offset, length)


def _skip_indefinite(
    data: Buffer,
    i: int,
    bound: int,
    depth: int,
    max_depth: int,
    max_length: int,
    partial: bool,
) -> int | None:
    """From the first contents octet ``i`` of an indefinite-length encoding, find its end.

    Returns the offset just past its end-of-contents octets (X.690 §8.1.5), walking nested
    indefinite-length encodings and skipping definite-length ones whole.  ``depth`` is the
    number of constructed encodings open at ``i`` (including this one).  With ``partial`` true,
    running out of data returns None (more bytes needed) instead of raising.
    """
    n = len(data)
    start_depth = depth - 1
    while True:
        if i >= bound:
            if partial:
                return None
            raise DecodeError("missing end-of-contents octets (X.690 §8.1.5)", offset=bound)
        if data[i] == 0:
            if i + 1 >= bound:
                if partial:
                    return None
                raise DecodeError("truncated end-of-contents octets", offset=bound)
            if data[i + 1] != 0:
                raise DecodeError(
                    "end-of-contents with a non-zero length octet (X.690 §8.1.5)", offset=i + 1
                )
            i += 2
            depth -= 1
            if depth == start_depth:
                return i
            continue
        try:
            tag_class, constructed, tag, lo, length, co = _header(data, i, bound, max_length)
        except _Truncated as exc:
            if partial:
                return None
            raise _truncated(exc, bound, n) from None
        if tag == 0 and tag_class == CLASS_UNIVERSAL:
            raise _reserved_tag(i)
        if length < 0:
            if depth >= max_depth:
                raise DecodeError(f"nesting deeper than {max_depth}", offset=i)
            depth += 1
            i = co
        else:
            i = co + length
            if i > bound:
                if partial:
                    return None
                raise _beyond(lo, bound, n)


def iter_children(data: Buffer, tlv: TLV, *, max_depth: int = MAX_DEPTH) -> Iterator[TLV]:
    """Yield the headers of the TLVs in the contents of the constructed encoding ``tlv``.

    X.690 §8.1.1/§8.1.3: for the definite form the children must exactly fill the contents;
    for the indefinite form (§8.1.3.6) they run up to the end-of-contents octets (§8.1.5).  A
    child in the indefinite form is yielded with ``length == -1`` and skipped by scanning its
    nested headers (at most ``max_depth`` levels).  Children's contents are not validated.
    """
    if not tlv.constructed:
        raise ValueError("iter_children() needs a constructed TLV")
    n = len(data)
    i = tlv.content_offset
    indefinite = tlv.length < 0
    end = n if indefinite else i + tlv.length
    if end > n:
        raise DecodeError("length beyond the end of the data", offset=tlv.offset)
    while True:
        if indefinite:
            if i < end and data[i] == 0:
                if i + 1 >= end:
                    raise DecodeError("truncated end-of-contents octets", offset=end)
                if data[i + 1] != 0:
                    raise DecodeError(
                        "end-of-contents with a non-zero length octet (X.690 §8.1.5)",
                        offset=i + 1,
                    )
                return
            if i >= end:
                raise DecodeError("missing end-of-contents octets (X.690 §8.1.5)", offset=end)
        elif i >= end:
            return
        try:
            tag_class, constructed, tag, lo, length, co = _header(data, i, end, MAX_LENGTH)
        except _Truncated as exc:
            raise _truncated(exc, end, n) from None
        if tag == 0 and tag_class == CLASS_UNIVERSAL:
            raise _reserved_tag(i)
        if length >= 0 and co + length > end:
            raise _beyond(lo, end, n)
        yield TLV(tag_class, constructed, tag, i, co - i, length)
        if length < 0:
            nxt = _skip_indefinite(data, co, end, 1, max_depth, MAX_LENGTH, False)
            assert nxt is not None
            i = nxt
        else:
            i = co + length


def string_contents(data: Buffer, tlv: TLV, *, universal_tag: int = 4,
                    max_depth: int = MAX_DEPTH) -> bytes:
    """The contents of a string type encoding, primitive or constructed (X.690 §8.7.3, §8.21).

    A constructed string is the concatenation of its segments, which must be primitive or
    constructed encodings of the string's universal type ``universal_tag`` (§8.7.3.2: OCTET
    STRING segments of an OCTET STRING, whatever the outer tag is -- implicit tagging replaces
    only the outer one).  Works on definite and indefinite lengths alike; nesting is walked
    with an explicit stack bounded by ``max_depth``.  Raises :class:`DecodeError` for a segment
    of another type.
    """
    if not tlv.constructed:
        return bytes(data[tlv.content_offset:tlv.end])
    parts: list[bytes] = []
    stack = [iter_children(data, tlv, max_depth=max_depth)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        if child.tag_class != CLASS_UNIVERSAL or child.tag != universal_tag:
            raise DecodeError("a segment of a constructed string has another type "
                              "(X.690 §8.7.3.2)", offset=child.offset)
        if child.constructed:
            if len(stack) >= max_depth:
                raise DecodeError(f"more than {max_depth} nested string segments",
                                  offset=child.offset)
            stack.append(iter_children(data, child, max_depth=max_depth))
        else:
            parts.append(bytes(data[child.content_offset:child.end]))
    return b"".join(parts)


def pdu_length(
    data: Buffer, *, max_depth: int = MAX_DEPTH, max_length: int = MAX_LENGTH
) -> int | None:
    """Total length of the first complete TLV in ``data``, or None if more bytes are needed.

    For stream framing, like asn1tools' ``decode_length``.  A definite length (X.690 §8.1.3.4,
    §8.1.3.5) is read from the header alone; for the indefinite form (§8.1.3.6) the nested TLV
    headers are scanned up to the matching end-of-contents octets (§8.1.5), skipping nested
    definite-length encodings whole.  Only the header structure is checked, not the contents
    of definite-length encodings.  Raises :class:`DecodeError` for an invalid header, nesting
    deeper than ``max_depth`` and lengths above ``max_length`` -- including an indefinite-length
    PDU whose contents already exceed ``max_length`` without an end-of-contents.  Scanning is
    linear in ``len(data)``, so feeding a growing buffer is quadratic only for indefinite PDUs.
    """
    n = len(data)
    try:
        tag_class, constructed, tag, lo, length, co = _header(data, 0, n, max_length)
    except _Truncated:
        return None
    if tag == 0 and tag_class == CLASS_UNIVERSAL:
        raise _reserved_tag(0)
    if length >= 0:
        total = co + length
        return total if total <= n else None
    if max_depth < 1:
        raise DecodeError(f"nesting deeper than {max_depth}", offset=0)
    end = _skip_indefinite(data, co, n, 1, max_depth, max_length, True)
    if end is None:
        if n - co > max_length:
            raise DecodeError(
                f"indefinite-length contents exceed the limit of {max_length}", offset=lo
            )
        return None
    if end - co - 2 > max_length:
        raise DecodeError(f"indefinite-length contents exceed the limit of {max_length}", offset=lo)
    return end


#: First identifier octet -> 0: primitive, low tag; 1: constructed, low tag; 2: high-tag-number
#: form (X.690 §8.1.2.4); 3: [UNIVERSAL 0] (0x00 / 0x20), only valid as end-of-contents (§8.1.5).
_KIND = bytes(
    2 if b & 0x1F == 0x1F else 3 if not b & 0xDF else 1 if b & 0x20 else 0 for b in range(256)
)


def _all_definite(data: bytes, max_depth: int, max_length: int) -> bool:
    """Fast path of :func:`normalise`: True if ``data`` is one valid all-definite TLV.

    Walks identifier and length octets only, jumping over every primitive's contents, with the
    common header shapes inlined.  False means "not sure" (an indefinite length, an error, or
    anything unusual): the full walk in :func:`_rebuild` then decides and reports.  It must
    accept only what :func:`_rebuild` accepts without change (a Hypothesis test checks this).
    Requires ``max_length >= 0xFFFF`` (two-octet lengths are not compared with it).
    """
    n = len(data)
    try:
        tag_class, constructed, tag, _, length, i = _header(data, 0, n, max_length)
    except (_Truncated, DecodeError):
        return False
    if length < 0 or i + length != n or (tag == 0 and tag_class == CLASS_UNIVERSAL):
        return False
    if not constructed:
        return True
    if max_depth < 1:
        return False
    end = n  # end of the innermost open constructed encoding
    if i == end:
        return True
    ends: list[int] = []  # ends of the enclosing open constructed encodings
    depth = 1  # open constructed encodings
    kinds = _KIND
    try:
        while True:
            b = data[i]
            kind = kinds[b]
            if kind < 2:
                length = data[i + 1]
                i += 2
            elif kind == 2:  # high-tag-number form, X.690 §8.1.2.4
                c = data[i + 1]
                if c == 0x80:
                    return False
                tag = c & 0x7F
                i += 2
                count = 1
                while c & 0x80:
                    if count == _MAX_TAG_OCTETS:
                        return False
                    c = data[i]
                    i += 1
                    count += 1
                    tag = (tag << 7) | (c & 0x7F)
                if tag < 31:
                    return False
                length = data[i]
                i += 1
                kind = 1 if b & 0x20 else 0
            else:  # [UNIVERSAL 0]
                return False
            if length > 0x7F:  # long form, X.690 §8.1.3.5 (0x80: indefinite, not here)
                if length == 0x81:
                    length = data[i]
                    i += 1
                elif length == 0x82:
                    length = (data[i] << 8) | data[i + 1]
                    i += 2
                else:
                    count = length & 0x7F
                    if not 0 < count <= _MAX_LENGTH_OCTETS or i + count > end:
                        return False
                    length = int.from_bytes(data[i : i + count], "big")
                    i += count
                    if length > max_length:
                        return False
            if kind:
                if i + length > end or depth >= max_depth:
                    return False
                depth += 1
                ends.append(end)
                end = i + length
                if i < end:
                    continue
            else:
                i += length
                if i < end:
                    continue
                if i > end:
                    return False
            while i == end:
                if not ends:
                    return True
                end = ends.pop()
                depth -= 1
    except IndexError:
        return False


def _rebuild(data: bytes, max_depth: int, max_length: int) -> bytes:
    """Full walk of :func:`normalise`: validate everything, re-encode with definite lengths.

    Uses an explicit stack (at most ``max_depth`` frames).  The output is a list of slices of
    the input ("runs" of unchanged octets: primitive TLVs with minimal length octets need no
    copy) interleaved with re-encoded headers of constructed encodings, which are filled in
    when their end is reached.  Returns ``data`` itself if it contains no indefinite length.
    """
    n = len(data)
    view = memoryview(data)
    parts: list[bytes | memoryview] = []
    kinds = _KIND
    short_limit = min(0x80, max_length + 1)  # short-form lengths handled inline
    changed = False
    emitted = 0  # octets in `parts`, counting only headers already filled in
    run = 0  # start of the pending run of unchanged input octets
    i = 0
    # The innermost open constructed encoding (valid while depth > 0); enclosing ones are saved
    # on `stack` as (end, bound, index, ident, start, length_offset).
    depth = 0
    f_end = 0  # end of its contents; -1: indefinite form
    f_bound = 0  # no child may reach past this
    f_index = 0  # slot in `parts` for its re-encoded header
    f_ident = b""  # its identifier octets, copied unchanged
    f_start = 0  # output position of its first contents octet (own header excluded)
    f_lo = 0  # offset of its length octets
    stack: list[tuple[int, int, int, bytes, int, int]] = []
    while True:
        if depth:
            if f_end >= 0:
                bound = f_end
                at_end = i == bound
            else:
                bound = f_bound
                if i >= bound:
                    raise DecodeError("missing end-of-contents octets (X.690 §8.1.5)", offset=bound)
                at_end = data[i] == 0
                if at_end:
                    if i + 1 >= bound:
                        raise DecodeError("truncated end-of-contents octets", offset=bound)
                    if data[i + 1] != 0:
                        raise DecodeError(
                            "end-of-contents with a non-zero length octet (X.690 §8.1.5)",
                            offset=i + 1,
                        )
            if at_end:
                if i > run:
                    parts.append(view[run:i])
                    emitted += i - run
                size = emitted - f_start
                if f_end < 0:
                    if size > max_length:
                        raise DecodeError(
                            f"indefinite-length contents exceed the limit of {max_length}",
                            offset=f_lo,
                        )
                    i += 2  # drop the end-of-contents octets
                run = i
                header = f_ident + encode_length(size)
                parts[f_index] = header
                emitted += len(header)
                depth -= 1
                if depth:
                    f_end, f_bound, f_index, f_ident, f_start, f_lo = stack.pop()
                continue
        elif i:
            if i != n:
                raise DecodeError("trailing bytes after the outermost TLV", offset=i)
            break
        else:
            bound = n
        start = i
        # Common case inline: low tag number, short-form length (X.690 §8.1.2.3, §8.1.3.4).
        if i + 1 < bound and kinds[data[i]] < 2 and data[i + 1] < short_limit:
            constructed = kinds[data[i]] == 1
            lo = i + 1
            length = data[lo]
            co = i + 2
            minimal = True
        else:
            try:
                tag_class, constructed, tag, lo, length, co = _header(data, i, bound, max_length)
            except _Truncated as exc:
                raise _truncated(exc, bound, n) from None
            if tag == 0 and tag_class == CLASS_UNIVERSAL:
                raise _reserved_tag(start)
            minimal = length >= 0 and co - lo == len(encode_length(length))
        if length >= 0 and co + length > bound:
            raise _beyond(lo, bound, n)
        if constructed:
            if depth >= max_depth:
                raise DecodeError(f"nesting deeper than {max_depth}", offset=start)
            if start > run:
                parts.append(view[run:start])
                emitted += start - run
            if depth:
                stack.append((f_end, f_bound, f_index, f_ident, f_start, f_lo))
            depth += 1
            if length < 0:
                changed = True
                f_end = -1
            else:
                f_end = co + length
            f_bound = bound
            f_index = len(parts)
            f_ident = data[start:lo]
            f_start = emitted
            f_lo = lo
            parts.append(b"")
            run = i = co
        else:
            i = co + length
            if not minimal:  # re-encode the length octets in the shortest form
                if start > run:
                    parts.append(view[run:start])
                    emitted += start - run
                header = data[start:lo] + encode_length(length)
                parts.append(header)
                emitted += len(header)
                run = co
    if not changed:
        return data
    return b"".join(parts)


def normalise(data: bytes, *, max_depth: int = MAX_DEPTH, max_length: int = MAX_LENGTH) -> bytes:
    """Return the single BER TLV ``data`` re-encoded with definite lengths everywhere.

    Every indefinite length (X.690 §8.1.3.6) becomes the shortest definite form (§8.1.3.4,
    §8.1.3.5) and its end-of-contents octets (§8.1.5) are dropped; all other lengths of the
    re-encoded TLV are rewritten in the shortest form too.  Identifier octets (§8.1.2) and
    primitive contents are copied unchanged and constructed strings stay constructed.  If
    ``data`` holds no indefinite length it is returned unchanged -- the same object, found by a
    cheap header-only walk -- even if it uses non-minimal length octets (still valid BER).

    Raises :class:`DecodeError` (with ``offset`` of the offending octet) for a truncated header
    or contents, a length beyond the data or the enclosing contents, an indefinite length on a
    primitive (§8.1.3.2 a), a missing end-of-contents or one with a non-zero length octet
    (§8.1.5), ``[UNIVERSAL 0]`` used outside indefinite-length contents, more than
    ``max_depth`` nested constructed encodings, a length above ``max_length``, more than 4 length
    octets or the reserved 0xFF (§8.1.3.5 c), a high tag number with more than 4 octets, a
    leading 0x80 octet (§8.1.2.4.2 c) or a value below 31 (§8.1.2.2), and trailing bytes after
    the outermost TLV.
    """
    if max_length >= 0xFFFF and _all_definite(data, max_depth, max_length):
        return data
    return _rebuild(data, max_depth, max_length)
