"""A faster way through asn1tools' BER encoder: one closure per compiled type, same octets.

asn1tools encodes by walking its compiled type objects, and at every SEQUENCE / SET member it
asks the member (present or not) whether the value is its DEFAULT, whether it is an ``ANY
DEFINED BY``, which ``encode_content`` to dispatch to -- for the X.411 envelope and the X.420
heading (many OPTIONAL members, nested ORNames) that walk was two fifths of converting an
Internet message to X.400 (the conversion process's profile in bench/gateway.py).  Here each
compiled type is turned once into a closure that knows its tag octets, its members and their
closures, and does only what the value calls for:

* SEQUENCE / SET without extension additions (X.680 §25): the members in asn1tools' order
  (for a SET the tag order of X.690 §8.11 that :mod:`bridge.codec.asn1` patch 1 sorts), a
  member present unless its value is its DEFAULT -- asn1tools' ``is_default``: the DEFAULT
  value, or ``None`` for a member that has none (NULL excepted) -- and a missing mandatory
  member an error;
* CHOICE ``(name, value)``, explicit tags, SEQUENCE OF / SET OF (an :class:`~bridge.codec.
  asn1.Encoded` value written as it is, patch 6), the character strings, OCTET STRING,
  OBJECT IDENTIFIER (patch 5's memo), ANY (the value is the complete element);
* INTEGER 0..127 (most of P1's and P22's: one contents octet);
* everything else -- other INTEGERs, BOOLEAN, BIT STRING, ENUMERATED, NULL, the time types, ANY
  DEFINED BY, types with extension additions -- through the type's own (patched) ``encode``.

The definite length forms are X.690 §8.1.3.4 / §8.1.3.5, written as asn1tools writes them.
A value the closures cannot take raises whatever Python raises; :func:`bridge.codec.asn1.
encode` then runs asn1tools' own encoder on it, which encodes it or names the component at
fault -- so an error reads as before, and a value either gives the same octets both ways or
is encoded by asn1tools alone (tests/test_codec_fastber.py compares the two on every value
the codec tests make).

Decoding goes the same way (:func:`compile_decoder`): closures for the common forms --
definite lengths (:func:`bridge.codec.ber.normalise` has made every length definite),
primitive strings, SEQUENCE / SET read member by member in asn1tools' own passes, CHOICE by
tag, explicit tags that hold exactly one element, NULL without contents -- reading strings,
INTEGERs, OIDs, BIT STRINGs through the types' own (patched, lenient) readers.  Anything
else (constructed strings, an element no member takes, a member without a tag of its own,
an extensible CHOICE as a member, a missing mandatory member) makes them give up, and
:func:`bridge.codec.asn1.decode` runs asn1tools' decoder, whose value or error stands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from asn1tools.codecs import ber as _ber

Encoder = Callable[[Any, bytearray], None]

_encode_length = _ber.encode_length_definite


class _Unusual(Exception):
    """What the closures leave to asn1tools (which then encodes or decodes it, or names the
    error): a missing mandatory member; when decoding, also indefinite or overlong lengths,
    constructed strings, unknown or repeated elements, a tag that does not match."""


def _plain_default(member: Any) -> bool:
    """True when ``member.is_default(value)`` is ``value == None``: no DEFAULT, and not a
    type (NULL, BIT STRING) with its own rule -- looked for through explicit tags, whose
    ``is_default`` is their inner type's."""
    inner = member
    while type(inner) is _ber.ExplicitTag:
        inner = inner.inner
    return not member.has_default() and type(inner).is_default is _ber.Type.is_default


def _members(t: Any, build: Callable[[Any], Encoder]) -> Encoder:
    tag = bytes(t.tag)
    members = tuple((m.name, build(m), not m.optional and not m.has_default(),
                     None if _plain_default(m) else m.is_default) for m in t.root_members)

    def encode(data: Any, out: bytearray) -> None:
        contents = bytearray()
        for name, enc, mandatory, skip in members:
            if name in data:
                value = data[name]
                if skip is None:
                    if value is not None:
                        enc(value, contents)
                elif not skip(value):
                    enc(value, contents)
            elif mandatory:
                raise _Unusual(f"member {name} missing")
        n = len(contents)
        out += tag + (bytes((n,)) if n < 128 else bytes(_encode_length(n)))
        out += contents
    return encode


def _choice(t: Any, build: Callable[[Any], Encoder]) -> Encoder:
    alternatives = {m.name: build(m) for m in t.members}

    def encode(data: Any, out: bytearray) -> None:
        name, value = data
        alternatives[name](value, out)
    return encode


def _explicit(t: Any, build: Callable[[Any], Encoder]) -> Encoder:
    tag, inner = bytes(t.tag), build(t.inner)

    def encode(data: Any, out: bytearray) -> None:
        contents = bytearray()
        inner(data, contents)
        n = len(contents)
        out += tag + (bytes((n,)) if n < 128 else bytes(_encode_length(n)))
        out += contents
    return encode


def _array(t: Any, build: Callable[[Any], Encoder]) -> Encoder:
    from bridge.codec.asn1 import Encoded

    tag, element = bytes(t.tag), build(t.element_type)

    def encode(data: Any, out: bytearray) -> None:
        if type(data) is Encoded:
            contents: bytes | bytearray = data
        else:
            contents = bytearray()
            for entry in data:
                element(entry, contents)
        n = len(contents)
        out += tag + (bytes((n,)) if n < 128 else bytes(_encode_length(n)))
        out += contents
    return encode


def _string(t: Any) -> Encoder:
    tag, encoding = bytes(t.tag), t.ENCODING

    def encode(data: Any, out: bytearray) -> None:
        contents = data.encode(encoding)
        n = len(contents)
        out += tag + (bytes((n,)) if n < 128 else bytes(_encode_length(n)))
        out += contents
    return encode


def _octets(t: Any) -> Encoder:
    tag = bytes(t.tag)

    def encode(data: Any, out: bytearray) -> None:
        if not isinstance(data, bytes | bytearray):
            raise TypeError("OCTET STRING value is not bytes")
        n = len(data)
        out += tag + (bytes((n,)) if n < 128 else bytes(_encode_length(n)))
        out += data
    return encode


def _oid(t: Any) -> Encoder:
    tag, octets = bytes(t.tag), t.encode_content       # patch 5: remembered per value

    def encode(data: Any, out: bytearray) -> None:
        contents = octets(data)
        n = len(contents)
        out += tag + (bytes((n,)) if n < 128 else bytes(_encode_length(n)))
        out += contents
    return encode


def _integer(t: Any) -> Encoder:
    """INTEGER: one contents octet for 0..127 (X.690 §8.3, as asn1tools writes them --
    most INTEGERs of P1 and P22 are small); anything else through asn1tools."""
    head, own = bytes(t.tag) + b"\x01", t.encode

    def encode(data: Any, out: bytearray) -> None:
        if type(data) is int and 0 <= data < 128:
            out += head
            out.append(data)
        else:
            own(data, out)
    return encode


def _any(data: Any, out: bytearray) -> None:
    if not isinstance(data, bytes | bytearray):
        raise TypeError("ANY value is not bytes")
    out += data


F = TypeVar("F", bound=Callable[..., Any])


def _compiled(root: Any, make: Callable[[Any, Callable[[Any], F]], F]) -> F:
    """The closure ``make(t, build)`` makes for ``root``, ``build`` giving those of the types
    inside it -- each made once, by identity; a placeholder stands for a type while it is
    being made (it may, through a Recursive, contain itself)."""
    built: dict[int, F] = {}

    def build(t: Any) -> F:
        found = built.get(id(t))
        if found is None:
            slot: list[F] = []
            built[id(t)] = cast(F, lambda *args: slot[0](*args))
            slot.append(make(t, build))
            found = built[id(t)] = slot[0]
        return found

    return build(root)


def compile_encoder(root: Any) -> Encoder:
    """The closure encoding values of the compiled asn1tools BER type ``root``."""
    return _compiled(root, _make)


def _make(t: Any, build: Callable[[Any], Encoder]) -> Encoder:
    cls = type(t)
    if isinstance(t, _ber.Recursive):
        # the inner type is set once the module is compiled: looked up at first use
        def recursive(data: Any, out: bytearray) -> None:
            build(t.inner)(data, out)
        return recursive
    if cls in (_ber.Sequence, _ber.Set) and not t.additions and t.tag is not None and \
            not any(isinstance(m, _ber.AnyDefinedBy) for m in t.root_members):
        return _members(t, build)
    if cls is _ber.Choice:
        return _choice(t, build)
    if cls is _ber.ExplicitTag and t.tag is not None:
        return _explicit(t, build)
    if cls in (_ber.SequenceOf, _ber.SetOf) and t.tag is not None:
        return _array(t, build)
    if issubclass(cls, _ber.StringType) and t.tag is not None and \
            cls.encode is _ber.StringType.encode:
        return _string(t)
    if cls is _ber.OctetString and t.tag is not None:
        return _octets(t)
    if cls is _ber.ObjectIdentifier and t.tag is not None:
        return _oid(t)
    if cls is _ber.Integer and t.tag is not None:
        return _integer(t)
    if cls is _ber.Any:
        return _any
    own = t.encode                                   # asn1tools' own (patched) encoder
    return lambda data, out: own(data, out)


# ====================================================================== decoding

Decoder = Callable[[bytearray, int, int], tuple[Any, int]]
"""``decode(data, offset, end)``: the value of the element at ``offset`` (which must end by
``end``) and the offset after it."""


def _tag_end(data: bytearray, offset: int) -> int:
    """The offset after the identifier octets at ``offset`` (X.690 §8.1.2)."""
    if data[offset] & 0x1F != 0x1F:
        return offset + 1
    offset += 1
    while data[offset] & 0x80:
        offset += 1
    return offset + 1


def _length(data: bytearray, offset: int, end: int) -> tuple[int, int]:
    """The definite length at ``offset`` (X.690 §8.1.3) and the offset of the contents; the
    contents must end by ``end``."""
    first = data[offset]
    if first < 0x80:
        start = offset + 1
        length = first
    elif first == 0x80:
        raise _Unusual("indefinite length")
    else:
        start = offset + 1 + (first & 0x7F)
        length = int.from_bytes(data[offset + 1:start], "big")
    if start + length > end:
        raise _Unusual("contents beyond the end")
    return length, start


def _primitive(tag: bytes, contents: Callable[[bytearray, int, int], Any]) -> Decoder:
    """A type with one tag whose value is read from its contents by ``contents(data, start,
    length)`` (asn1tools' own reader)."""
    n = len(tag)
    if n == 1:
        octet = tag[0]

        def decode1(data: bytearray, offset: int, end: int) -> tuple[Any, int]:
            if data[offset] != octet:
                raise _Unusual("tag")
            length = data[offset + 1]
            if length < 0x80 and offset + 2 + length <= end:
                start = offset + 2
            else:
                length, start = _length(data, offset + 1, end)
            return contents(data, start, length), start + length
        return decode1

    def decode(data: bytearray, offset: int, end: int) -> tuple[Any, int]:
        if data[offset:offset + n] != tag:
            raise _Unusual("tag")
        length, start = _length(data, offset + n, end)
        return contents(data, start, length), start + length
    return decode


def _content_reader(t: Any) -> Callable[[bytearray, int, int], Any]:
    """asn1tools' ``decode_content(data, offset, length) -> (value, end)`` as a reader that
    must consume exactly the contents."""
    read = t.decode_content

    def contents(data: bytearray, start: int, length: int) -> Any:
        value, after = read(data, start, length)
        if after != start + length:
            raise _Unusual("contents not consumed")
        return value
    return contents


def _key(tag: bytes) -> int | bytes:
    """A tag as a dictionary key: a one-octet identifier as its int (no slice to read it)."""
    return tag[0] if len(tag) == 1 else tag


def _key_at(data: bytearray, offset: int) -> int | bytes:
    first = data[offset]
    if first & 0x1F != 0x1F:
        return first
    return bytes(data[offset:_tag_end(data, offset)])


def _tags_of(t: Any) -> list[bytes] | None:
    """The identifier octets an element of ``t`` may start with (its primitive form only),
    None when any may (ANY) or they are not known."""
    if isinstance(t, _ber.Recursive):
        return _tags_of(t.inner) if t.inner is not None else None
    if type(t) is _ber.Choice:
        if t.has_extension_marker:            # asn1tools' takes (and skips) any element
            return None
        tags: list[bytes] = []
        for m in t.members:
            inner = _tags_of(m)
            if inner is None:
                return None
            tags += inner
        return tags
    if t.tag is None:
        return None
    if isinstance(t, _ber.PrimitiveOrConstructedType):   # its constructed form too
        return [bytes(t.tag), bytes(t.constructed_tag)]
    return [bytes(t.tag)]


def compile_decoder(root: Any) -> Decoder:
    """The closure decoding elements of the compiled asn1tools BER type ``root``."""
    return _compiled(root, _make_decoder)


def _own_decoder(t: Any) -> Decoder:
    """asn1tools' own decode of the type, a tag mismatch an unusual form."""
    own = t.decode

    def decode(data: bytearray, offset: int, end: int) -> tuple[Any, int]:
        value, after = own(data, offset)
        if value is _ber.TAG_MISMATCH or after > end:
            raise _Unusual("asn1tools' decoder")
        return value, after
    return decode


def _make_decoder(t: Any, build: Callable[[Any], Decoder]) -> Decoder:
    cls = type(t)
    if isinstance(t, _ber.Recursive):
        def recursive(data: bytearray, offset: int, end: int) -> tuple[Any, int]:
            return build(t.inner)(data, offset, end)
        return recursive
    if cls in (_ber.Sequence, _ber.Set) and not t.additions and t.tag is not None:
        members = _decoded_members(t, build)
        if members is not None:
            return members
    elif cls is _ber.Choice and not t.has_extension_marker:
        alternatives: dict[int | bytes, tuple[str, Decoder]] = {}
        for m in t.members:
            tags = _tags_of(m)
            if tags is None or any(_key(tag) in alternatives for tag in tags):
                return _own_decoder(t)
            for tag in tags:
                alternatives[_key(tag)] = (m.name, build(m))

        def choice(data: bytearray, offset: int, end: int) -> tuple[Any, int]:
            found = alternatives.get(_key_at(data, offset))
            if found is None:
                raise _Unusual("no alternative with this tag")
            value, after = found[1](data, offset, end)
            return (found[0], value), after
        return choice
    elif cls is _ber.ExplicitTag and t.tag is not None:
        tag, inner = bytes(t.tag), build(t.inner)
        n = len(tag)

        def explicit(data: bytearray, offset: int, end: int) -> tuple[Any, int]:
            if data[offset:offset + n] != tag:
                raise _Unusual("tag")
            length, start = _length(data, offset + n, end)
            value, after = inner(data, start, start + length)
            if after != start + length:
                raise _Unusual("more inside an explicit tag")
            return value, after
        return explicit
    elif cls in (_ber.SequenceOf, _ber.SetOf) and t.tag is not None:
        tag, element = bytes(t.tag), build(t.element_type)
        n = len(tag)

        def array(data: bytearray, offset: int, end: int) -> tuple[Any, int]:
            if data[offset:offset + n] != tag:
                raise _Unusual("tag")
            length, start = _length(data, offset + n, end)
            stop = start + length
            values = []
            while start < stop:
                value, start = element(data, start, stop)
                values.append(value)
            return values, stop
        return array
    elif (issubclass(cls, _ber.StringType) or cls in (_ber.OctetString, _ber.BitString)) \
            and t.tag is not None:
        return _primitive(bytes(t.tag), t.decode_primitive_contents)
    elif cls in (_ber.Integer, _ber.Boolean, _ber.ObjectIdentifier, _ber.Enumerated) and \
            t.tag is not None:
        return _primitive(bytes(t.tag), _content_reader(t))
    elif cls is _ber.Null and t.tag is not None:
        def null(data: bytearray, start: int, length: int) -> None:
            if length:
                raise _Unusual("NULL with contents")
        return _primitive(bytes(t.tag), null)
    elif cls is _ber.Any:
        def any_(data: bytearray, offset: int, end: int) -> tuple[bytes, int]:
            length, start = _length(data, _tag_end(data, offset), end)
            return bytes(data[offset:start + length]), start + length
        return any_
    return _own_decoder(t)


def _decoded_members(t: Any, build: Callable[[Any], Decoder]) -> Decoder | None:
    """A SEQUENCE / SET read as asn1tools reads it (X.690 §8.9/§8.11 allow any order in a
    SET; asn1tools takes any order for both): passes over the members not yet read, each
    taking the element at the current offset when its tag is one of the member's, until the
    contents are used up or a pass takes nothing; then the DEFAULT of each absent member that
    has one.  None -- asn1tools' own decoder -- when a member has no tag of its own (ANY)."""
    plan = []
    for m in t.root_members:
        tags = _tags_of(m)
        if tags is None or isinstance(m, _ber.AnyDefinedBy):
            return None
        plan.append((m.name, frozenset(_key(tag) for tag in tags), build(m)))
    members = tuple(plan)
    absent = tuple((m.name, m.optional, m.has_default(), m.get_default)
                   for m in t.root_members)
    count = len(absent)
    tag, n = bytes(t.tag), len(t.tag)

    def decode(data: bytearray, offset: int, end: int) -> tuple[Any, int]:
        if data[offset:offset + n] != tag:
            raise _Unusual("tag")
        length, start = _length(data, offset + n, end)
        stop = start + length
        values: dict[str, Any] = {}
        remaining: tuple[Any, ...] | list[Any] = members
        while start < stop:
            left = []
            first = data[start]
            key = first if first & 0x1F != 0x1F else _key_at(data, start)
            for member in remaining:
                if start < stop and key in member[1]:
                    values[member[0]], start = member[2](data, start, stop)
                    if start < stop:
                        first = data[start]
                        key = first if first & 0x1F != 0x1F else _key_at(data, start)
                else:
                    left.append(member)
            if len(left) == len(remaining):
                raise _Unusual("element not placed")
            remaining = left
        if len(values) < count:
            for name, optional, has_default, default in absent:
                if name in values or optional:
                    continue
                if not has_default:
                    raise _Unusual("mandatory member missing")
                values[name] = default()
        return values, stop
    return decode
