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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asn1tools.codecs import ber as _ber

Encoder = Callable[[Any, bytearray], None]

_encode_length = _ber.encode_length_definite


class _Missing(Exception):
    """A mandatory SEQUENCE / SET member is absent (asn1tools then says which)."""


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
                raise _Missing(name)
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


def compile_encoder(root: Any) -> Encoder:
    """The closure encoding values of the compiled asn1tools BER type ``root``."""
    built: dict[int, Encoder] = {}

    def build(t: Any) -> Encoder:
        key = id(t)
        found = built.get(key)
        if found is not None:
            return found
        if isinstance(t, _ber.Recursive):
            # the inner type is set once the module is compiled; resolved at first use
            def recursive(data: Any, out: bytearray, t: Any = t) -> None:
                inner = built.get(id(t.inner)) or build(t.inner)
                inner(data, out)
            built[key] = recursive
            return recursive
        # a placeholder first: a type may (through a Recursive) contain itself
        slot: list[Encoder] = []
        built[key] = lambda data, out: slot[0](data, out)
        enc = _make(t, build)
        slot.append(enc)
        built[key] = enc
        return enc

    return build(root)


def _make(t: Any, build: Callable[[Any], Encoder]) -> Encoder:
    cls = type(t)
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
