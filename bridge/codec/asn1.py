"""The one module that touches asn1tools: compile ``asn1/*.asn`` once, encode and decode BER.

The ASN.1 sources (X.411 §9/§12 MTS and MTA abstract service, X.419 MTS-APDU, X.420 §7/§8
IPMS information objects and extended body parts, RFC 2156 App. L / RFC 2157 App. B) are
compiled lazily on first use into one specification; type names are unique across the modules,
so a type is named without its module (``encode("ORName", v)``).  docs/asn1.md lists every
rewrite of the ITU text and the Python value each ASN.1 type maps to.

Values are asn1tools' plain values -- fine inside the codec layer, never beyond it
(``bridge.codec.*`` converts them to the model):

* SEQUENCE / SET -> ``dict`` keyed by the ITU component names (absent OPTIONAL = key missing);
* CHOICE -> ``(alternative_name, value)``;
* BIT STRING -> ``(bytes, number_of_bits)``;
* ANY -> ``bytes``: the complete inner TLV (tag, length and contents);
* OCTET STRING and every string/time type declared ``[UNIVERSAL n] IMPLICIT OCTET STRING``
  (Teletex, Videotex, Graphic, General, Universal, BMP, UTCTime, GeneralizedTime) -> ``bytes``;
* IA5String / PrintableString / NumericString -> ``str``; OBJECT IDENTIFIER -> dotted ``str``;
  INTEGER -> ``int``; ENUMERATED -> the ``str`` name; BOOLEAN -> ``bool``; NULL -> ``None``.

Four small patches of asn1tools are applied here and nowhere else (see
:func:`_patch_asn1tools`), plus two that only speed up its BER encoder (same octets, see
:func:`_speed_up_encoder`).  A SEQUENCE OF / SET OF value may be given already encoded
(:class:`Encoded`, built with :func:`tlv` and :func:`object_identifier`).

Parsing the sources costs ≈0.7 s, compiling the parse tree ≈0.06 s; the parse tree (plain JSON
data) is cached in the user's cache folder, keyed by a hash of the sources, so a command-line
run does not pay the parse each time.  The cache is an optimisation only: unreadable or
unwritable, it is ignored.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import asn1tools
from asn1tools.codecs import ErrorWithLocation
from asn1tools.codecs import ber as _ber
from asn1tools.codecs import type_checker as _type_checker

from bridge.codec import repairs
from bridge.codec.fastber import Decoder, Encoder, compile_decoder, compile_encoder
from bridge.errors import DecodeError, EncodeError
from bridge.resources import data_dir

__all__ = ["Encoded", "decode", "encode", "object_identifier", "tlv"]

# Exceptions asn1tools lets escape on malformed input or ill-typed values besides its own
# Error hierarchy (it indexes, slices and calls str/bytes methods on whatever it is given).
_RAW_ERRORS = (IndexError, KeyError, TypeError, ValueError, AttributeError, OverflowError,
               RecursionError)


#: OBJECT IDENTIFIERs remembered per direction (patch 5 of the codec patches)
_OID_MEMO = 4096

def _patch_asn1tools() -> None:
    """Apply the patches x400bridge needs; idempotent.

    1. ASN1-NOTES bug 3: a SET member that is an untagged CHOICE (X.411 §12.2.1.1 content-type,
       ReportTransferContent, OtherMessageDeliveryFields, MTASuppliedInformation, the
       UniversalOrBMPString of X.411 §9.1) has no tag of its own, and the compiler's sort of SET
       members by tag (for encoding in tag order, X.690 §8.11) crashes on it
       (``member.tag[0]`` of ``None``).  Such a member is sorted by its smallest alternative
       tag -- the canonical order of X.680 §8.6 that X.690 §10.3 (DER) uses; decoding does not
       depend on the order.
    2. ``ANY`` decodes to a slice of asn1tools' internal ``bytearray``; return immutable
       ``bytes`` like every other octet value, so decoded values can live in frozen model
       objects and be hashed.
    3. ASN1-NOTES bug 7: a SEQUENCE or SET decoder silently skips elements it does not know
       ("extra data is allowed in cases of versioned additions") -- information lost without a
       word.  Only a type with an extension marker (X.680 §25: ``...``) may carry unknown
       elements; anywhere else they are a decoding error at their offset.

    (4-6 below, at their code; 7: a ``SEQUENCE {type OBJECT IDENTIFIER, value ANY
    OPTIONAL}`` -- X.420 IPMSExtension -- is read by hand, :func:`_oid_any`.)
    """
    if getattr(_ber, "_x400bridge_patched", False):
        return
    original_sort_key = _ber.get_tag_no_encoding

    def sort_key(member: Any) -> bytearray:
        if member.tag is None and isinstance(member, _ber.Choice):
            tags = [bytearray([t[0] & ~_ber.Encoding.CONSTRUCTED]) + bytearray(t[1:])
                    for t in member.tag_to_member]
            return min(tags) if tags else bytearray(b"\xff")
        result: bytearray = original_sort_key(member)
        return result

    original_any_decode = _ber.Any.decode

    def any_decode(self: Any, data: bytearray, offset: int,
                   values: Any = None) -> tuple[bytes, int]:
        value, end = original_any_decode(self, data, offset, values)
        return bytes(value), end

    original_members_decode = _ber.MembersType.decode_content

    def members_decode(self: Any, data: bytearray, offset: int,
                       length: int | None) -> tuple[Any, int]:
        if length is None or self.additions is not None:
            result: tuple[Any, int] = original_members_decode(self, data, offset, length)
            return result
        shape = self.__dict__.get("_x400bridge_oid_any")
        if shape is None:
            shape = self._x400bridge_oid_any = _is_oid_any(self)
        if shape:                             # 7. (see _oid_any)
            found = _oid_any(data, offset, offset + length)
            if found is not None:
                return found, offset + length
        # the original's definite-length path, minus its silent skip of what is left
        end = offset + length
        values: dict[str, Any] = {}
        used, _ = self.decode_members(self.root_members, data, values, offset, end)
        if used != end:
            raise _ber.DecodeError(
                f"{self.type_label()} {self.name}: unexpected element with tag "
                f"'{data[used:used + 1].hex()}'", offset=used)
        return values, end

    # 4. Strings of the 7-bit types with octets outside their alphabet, as real MTAs send
    #    them (x400-samples/pp): read leniently and noted (bridge.codec.repairs); asn1tools
    #    would raise a bare UnicodeDecodeError without a path.  Encoding stays strict.
    for cls in (_ber.IA5String, _ber.PrintableString, _ber.VisibleString,
                _ber.NumericString):
        cls.decode_primitive_contents = _lenient_primitive
        cls.decode_constructed_segments = _lenient_segments

    # 5. OBJECT IDENTIFIERs come from a small vocabulary (content types, EITs, extension and
    #    body part types: a P772 heading names 13 of them): their contents octets (X.690
    #    §8.19) are remembered both ways instead of recomputed digit by digit (2-2.5 us each
    #    here).  Bounded: past _OID_MEMO entries the rest are computed as before.
    encode_oid, decode_oid = _ber.encode_object_identifier, _ber.decode_object_identifier
    oid_octets: dict[str, bytes] = {}
    oid_values: dict[bytes, str] = {}

    def oid_encode_content(self: Any, data: str, values: Any = None) -> bytes:
        octets = oid_octets.get(data)
        if octets is None:
            octets = bytes(encode_oid(data))
            if len(oid_octets) < _OID_MEMO:
                oid_octets[data] = octets
        return octets

    def oid_decode_content(self: Any, data: bytearray, offset: int,
                           length: int) -> tuple[str, int]:
        end = offset + length
        key = bytes(data[offset:end])
        value = oid_values.get(key)
        if value is None:
            value = decode_oid(data, offset, end)
            if len(oid_values) < _OID_MEMO:
                oid_values[key] = value
        return value, end

    _ber.ObjectIdentifier.encode_content = oid_encode_content
    _ber.ObjectIdentifier.decode_content = oid_decode_content
    # 6. A SEQUENCE OF / SET OF value given as :class:`Encoded` is its contents octets,
    #    already encoded by the caller: written under the type's own tag and length as they
    #    are (and passed by the type check, which only runs to name a failing component).
    #    Otherwise asn1tools' own loop, inline (no extra call per SEQUENCE OF / SET OF).
    list_check = _type_checker.List.encode

    def encoded_array_content(self: Any, data: Any, values: Any = None) -> Any:
        if type(data) is Encoded:
            return data
        encoded = bytearray()
        element = self.element_type
        for entry in data:
            element.encode(entry, encoded)
        return encoded

    def encoded_list_check(self: Any, data: Any) -> None:
        if type(data) is not Encoded:
            list_check(self, data)

    _ber.ArrayType.encode_content = encoded_array_content
    _type_checker.List.encode = encoded_list_check
    _ber.get_tag_no_encoding = sort_key
    _ber.Any.decode = any_decode
    _ber.MembersType.decode_content = members_decode
    _speed_up_encoder()
    _ber._x400bridge_patched = True


class Encoded(bytes):
    """The contents octets of a SEQUENCE OF or SET OF value (X.690 §8.10.2, §8.12.2: the
    complete encodings of its components, in order) that the caller has encoded itself.

    Given to :func:`encode` in place of the ``list``, they are written as they are under the
    type's own identifier and length (patch 6 of :func:`_patch_asn1tools`); asn1tools' BER
    encoder writes a SET OF in the order given too, so octets that equal what it would write
    give the same encoding.  Decoding is unaffected: it still gives the ``list``.
    """

    __slots__ = ()


def tlv(identifier: int, contents: bytes) -> bytes:
    """One element with a one-octet ``identifier``: the length in the definite form, short
    when it fits (X.690 §8.1.3.4) else long with the fewest octets (§8.1.3.5) -- as asn1tools
    writes it -- then ``contents``."""
    n = len(contents)
    if n < 0x80:
        return bytes((identifier, n)) + contents
    size = (n.bit_length() + 7) // 8
    return bytes((identifier, 0x80 | size)) + n.to_bytes(size, "big") + contents


_OID_ELEMENTS: dict[str, bytes] = {}


def object_identifier(oid: str) -> bytes:
    """The complete BER element of the OBJECT IDENTIFIER ``oid`` (X.690 §8.19: identifier
    ``06``, length, the subidentifiers; the same octets as asn1tools' encoder), remembered
    for the first :data:`_OID_MEMO` values.  Raises :class:`~bridge.errors.EncodeError` for
    what is not a dotted OID."""
    element = _OID_ELEMENTS.get(oid)
    if element is None:
        try:
            element = tlv(0x06, bytes(_ber.encode_object_identifier(oid)))
        except _RAW_ERRORS as exc:
            raise EncodeError(f"cannot encode OBJECT IDENTIFIER {oid!r}: "
                              f"{_reason(exc)}") from exc
        if len(_OID_ELEMENTS) < _OID_MEMO:
            _OID_ELEMENTS[oid] = element
    return element


def _string_type(self: Any) -> str:
    """``ContentIdentifier (PrintableString)``: the ASN.1 type and its string type."""
    kind = type(self).__name__
    return kind if self.type_name == kind else f"{self.type_name} ({kind})"


def _is_oid_any(seq: Any) -> bool:
    """Is ``seq`` a ``SEQUENCE {type OBJECT IDENTIFIER, value ANY OPTIONAL}`` (X.420
    IPMSExtension, and any type of that shape): untagged members, no extension marker."""
    if not isinstance(seq, _ber.Sequence) or len(seq.root_members) != 2:
        return False
    oid, value = seq.root_members
    return (type(oid) is _ber.ObjectIdentifier and oid.name == "type" and not oid.optional
            and oid.default is None and bytes(oid.tag) == b"\x06"
            and type(value) is _ber.Any and value.name == "value" and value.optional)


def _oid_any(data: bytearray, start: int, end: int) -> dict[str, Any] | None:
    """Patch 7: the contents ``data[start:end]`` of a SEQUENCE of :func:`_is_oid_any`'s shape,
    read by hand -- the OID (X.690 §8.19, through the memo of patch 5) and the one complete
    TLV of the value (§8.1.2-8.1.3, definite: the input is normalised) -- giving what
    asn1tools gives (``{"type": oid}`` plus ``"value"``: the value's octets).  None for
    anything else (a long OID length, a second element, a length past the end, a bad OID):
    asn1tools then decodes it, with its errors.  A P772 heading has a dozen of these."""
    try:
        if data[start] != 0x06 or data[start + 1] & 0x80:
            return None
        oid_end = start + 2 + data[start + 1]
        if oid_end > end:
            return None
        oid, _ = _ber.ObjectIdentifier.decode_content(None, data, start + 2, data[start + 1])
        if oid_end == end:
            return {"type": oid}
        q = oid_end + 1
        if data[oid_end] & 0x1F == 0x1F:      # high tag number form (§8.1.2.4)
            while data[q] & 0x80:
                q += 1
            q += 1
        n = data[q]
        q += 1
        if n & 0x80:
            k = n & 0x7F
            if k == 0 or k > 4:
                return None
            n = int.from_bytes(data[q:q + k], "big")
            q += k
        if q + n != end:
            return None
        return {"type": oid, "value": bytes(data[oid_end:end])}
    except (IndexError, ValueError, _ber.DecodeError):
        return None


def _lenient_primitive(self: Any, data: bytearray, offset: int, length: int) -> str:
    return repairs.lenient_text(data[offset:offset + length], _string_type(self))


def _lenient_segments(self: Any, segments: list[bytearray]) -> str:
    return repairs.lenient_text(bytearray().join(segments), _string_type(self))


def _speed_up_encoder() -> None:
    """Make asn1tools' BER encoder cheaper without changing a single output octet.

    1. ``StandardEncodeMixin.encode`` copies the contents twice (``bytearray(...)`` and
       ``tag + length + contents``) at every nesting level; append tag, length and contents
       to the output in place instead.
    2. ``MembersType.encode_content`` calls ``encode_member`` once per SEQUENCE/SET member,
       present or not (X.411/X.420 types have many OPTIONAL members); the same logic runs
       inline, in the same order, with the same errors.
    3. The commonest nodes, character strings and explicit tags, encode their contents
       directly rather than through ``encode_content``.
    """
    encode_length = _ber.encode_length_definite
    any_defined_by = _ber.AnyDefinedBy
    error_with_location = _ber.ErrorWithLocation

    def standard_encode(self: Any, data: Any, encoded: bytearray, values: Any = None) -> None:
        contents = self.encode_content(data, values=values)
        if not isinstance(contents, bytes | bytearray):
            contents = bytearray(contents)
        length = len(contents)
        header = self.tag + (bytes((length,)) if length < 128 else encode_length(length))
        encoded += header
        encoded += contents

    def members_encode_content(self: Any, data: Any, values: Any = None) -> bytearray:
        encoded = bytearray()
        for member in self.root_members:
            name = member.name
            if name in data:
                value = data[name]
                try:
                    if isinstance(member, any_defined_by):
                        member.encode(value, encoded, data)
                    elif not member.is_default(value):
                        member.encode(value, encoded)
                except error_with_location as e:
                    e.add_location(member)
                    raise
            elif not member.optional and not member.has_default():
                raise _ber.EncodeError(f"{self.__class__.__name__} member '{name}' not "
                                       f"found in {data}.")
        if self.additions:
            self.encode_additions(data, encoded)
        return encoded

    def string_encode(self: Any, data: Any, encoded: bytearray, values: Any = None) -> None:
        contents = data.encode(self.ENCODING)
        length = len(contents)
        encoded += self.tag + (bytes((length,)) if length < 128 else encode_length(length))
        encoded += contents

    def explicit_encode(self: Any, data: Any, encoded: bytearray, values: Any = None) -> None:
        contents = bytearray()
        self.inner.encode(data, contents)
        length = len(contents)
        encoded += self.tag + (bytes((length,)) if length < 128 else encode_length(length))
        encoded += contents

    _ber.StandardEncodeMixin.encode = standard_encode
    _ber.StringType.encode = string_encode
    _ber.ExplicitTag.encode = explicit_encode
    _ber.MembersType.encode_content = members_encode_content


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "x400bridge"


# Keys under which asn1tools' parse tree holds tuples (JSON turns them into lists, and the
# constraint checker compares ranges as tuples).
_TUPLE_KEYS = frozenset({"named-bits", "size", "values", "restricted-to"})


def _with_tuples(node: Any, key: str | None = None) -> Any:
    if isinstance(node, dict):
        return {k: _with_tuples(v, k) for k, v in node.items()}
    if isinstance(node, list):
        items = [_with_tuples(v, key) for v in node]
        if key in _TUPLE_KEYS:
            return [tuple(v) if isinstance(v, list) else v for v in items]
        return items
    return node


def _parsed(files: list[Path]) -> dict[str, Any]:
    """asn1tools' parse tree of ``files``, from the JSON cache when the sources are unchanged."""
    digest = hashlib.sha256(asn1tools.__version__.encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    cached = _cache_dir() / f"asn1-{digest.hexdigest()[:32]}.json"
    try:
        result: dict[str, Any] = _with_tuples(json.loads(cached.read_text(encoding="utf-8")))
        return result
    except (OSError, ValueError):
        pass
    parsed: dict[str, Any] = asn1tools.parse_files([str(p) for p in files])
    tmp = None
    try:  # write-then-rename: concurrent processes never see half a file
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(parsed, out)
        os.replace(tmp, cached)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return parsed


@functools.cache
def _spec() -> Any:
    """Compile every ``asn1/*.asn`` once per process into one BER specification."""
    _patch_asn1tools()
    files = sorted(data_dir("asn1").glob("*.asn"))
    if not files:
        raise FileNotFoundError("no ASN.1 sources in the asn1 data folder")
    return asn1tools.compiler.compile_dict(_parsed(files), "ber")


def compile_now() -> None:
    """Compile the specification now (a server calls this at start-up, so that its first
    message does not wait ~0.5 s for it)."""
    _spec()


def _type(type_name: str) -> Any:
    try:
        return _spec().types[type_name]
    except KeyError:
        raise ValueError(f"unknown ASN.1 type {type_name!r}") from None


def _path(type_name: str, exc: BaseException) -> str:
    """The dotted component path of an asn1tools error, outermost type first."""
    names: list[str] = []
    if isinstance(exc, ErrorWithLocation):
        # asn1tools records a tagged member and its inner type under the same name
        # (e.g. "country-name.country-name"): keep one of each consecutive pair.
        for element in reversed(exc.location):
            if element.name and (not names or names[-1] != element.name):
                names.append(element.name)
    path = ".".join(names)
    if not path:
        return type_name
    if path == type_name or path.startswith(type_name + "."):
        return path
    return f"{type_name}.{path}"


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    return str(message if message is not None else exc) or type(exc).__name__


#: the closure encoding each type by name (bridge.codec.fastber), made at its first use
_FAST: dict[str, Encoder] = {}
#: the closure decoding each type by name, likewise
_FAST_DECODE: dict[str, Decoder] = {}

C = TypeVar("C")


def _closure(table: dict[str, C], type_name: str, compile_: Callable[[Any], C]) -> C:
    """The closure of ``type_name`` in ``table``, made by ``compile_`` at its first use."""
    found = table.get(type_name)
    if found is None:
        found = table[type_name] = compile_(_type(type_name)._type)
    return found


def encode(type_name: str, value: Any) -> bytes:
    """Encode ``value`` (asn1tools' plain value, see the module docstring) as BER.

    The encoding uses definite lengths and SET members in tag order (X.690 §8.1.3.2 a,
    §8.11).  Python types are checked only when encoding fails, to name the component at
    fault; a truthy non-``bool`` for a BOOLEAN is accepted.  Constraints (SIZE, value ranges,
    alphabets) are not checked -- the converters enforce X.411's bounds.

    Raises :class:`~bridge.errors.EncodeError` naming the type and component path, and
    :class:`ValueError` for an unknown type name.
    """
    out = bytearray()
    try:
        # Fastest path: the closures of bridge.codec.fastber, the same octets ...
        _closure(_FAST, type_name, compile_encoder)(value, out)
        return bytes(out)
    except Exception:  # noqa: BLE001 -- whatever it was, asn1tools' own encoder tells
        pass
    type_ = _type(type_name)
    try:
        # ... else asn1tools' encoder, with no Python type check (it costs ~20 % of
        # encoding, measured in docs/asn1.md); a wrongly typed value fails in the encoder ...
        return bytes(type_.encode(value))
    except (asn1tools.Error, *_RAW_ERRORS) as exc:
        error: BaseException = exc
    try:
        # ... and is then diagnosed by the type check, which names the component.
        type_.check_types(value)
    except (asn1tools.Error, *_RAW_ERRORS) as exc:
        error = exc
    raise EncodeError(f"cannot encode {_path(type_name, error)}: {_reason(error)}") from error


def decode(type_name: str, data: bytes, *, strict: bool = False) -> Any:
    """Decode the single BER value ``data`` of ``type_name``.

    The input first goes through :func:`bridge.codec.ber.normalise` (indefinite lengths become
    definite -- asn1tools rejects them inside ``ANY``, ASN1-NOTES bug 6 -- with bounded depth
    and length).  Bytes after the value are an error, not ignored (ASN1-NOTES bug 7).  With
    ``strict=True`` the decoded value is also checked against the ASN.1 constraints (SIZE,
    ranges, PrintableString alphabet), as tests do.

    Raises :class:`~bridge.errors.DecodeError` with ``path`` (ASN.1 component names from the
    outermost type inward, e.g. ``MTS-APDU.message.envelope.originator-name``) and ``offset``
    (into the normalised encoding, which equals the input unless it used indefinite lengths),
    and :class:`ValueError` for an unknown type name.
    """
    from bridge.codec.ber import normalise

    type_ = _type(type_name)
    data = normalise(bytes(data))
    try:
        # Fastest path: the closures of bridge.codec.fastber, the same values ...
        read: tuple[Any, int] | None = _closure(_FAST_DECODE, type_name, compile_decoder)(
            bytearray(data), 0, len(data))
    except Exception:  # noqa: BLE001 -- whatever it was, asn1tools' own decoder tells
        read = None
    try:
        # ... else asn1tools' decoder, which reads the unusual forms or names the error
        value, length = read if read is not None else type_.decode_with_length(data)
        if strict:
            type_.check_constraints(value)
    except (asn1tools.Error, *_RAW_ERRORS) as exc:
        offset = getattr(exc, "offset", None)
        raise DecodeError(_reason(exc), path=_path(type_name, exc),
                          offset=offset if isinstance(offset, int) else None) from exc
    if length != len(data):
        raise DecodeError(f"{len(data) - length} trailing byte(s) after the value",
                          path=type_name, offset=length)
    return value
