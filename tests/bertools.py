"""BER rewriting helpers for robustness tests: produce *other valid encodings* of the same
value, as other MTAs would send them (X.690 allows all of these in BER)."""

from __future__ import annotations

import random

from bridge.codec.ber import TLV, encode_length, iter_children, read_tlv


def _header(data: bytes, tlv: TLV) -> bytes:
    """Identifier octets of ``tlv`` (without length)."""
    ident = data[tlv.offset : tlv.offset + tlv.header_length]
    # strip the length octets: they follow the identifier; identifier length is
    # header_length - length-octets; recompute from the encoding of the length
    return ident[: tlv.header_length - len(encode_length(tlv.length))]


def rewrite(data: bytes, *, indefinite: bool = False, shuffle_sets: random.Random | None = None,
            split_strings: bool = False) -> bytes:
    """Re-encode one definite-length TLV with indefinite lengths on every constructed value,
    SET members (universal tag 17) in a random order, and/or primitive OCTET STRING /
    IA5String values split into constructed segments (X.690 §8.7.3, §8.23.6)."""
    tlv = read_tlv(data, 0)
    return _rewrite(data, tlv, indefinite, shuffle_sets, split_strings)


def _rewrite(data: bytes, tlv: TLV, indefinite: bool, rng: random.Random | None,
             split: bool) -> bytes:
    ident = bytearray(_header(data, tlv))
    start = tlv.offset + tlv.header_length
    body = data[start : start + tlv.length]
    if not tlv.constructed:
        if split and tlv.tag_class == 0 and tlv.tag in (4, 22) and len(body) >= 2:
            half = len(body) // 2
            segs = b"".join(b"\x04" + encode_length(len(p)) + p for p in (body[:half], body[half:]))
            ident[0] |= 0x20
            return bytes(ident) + encode_length(len(segs)) + segs
        return bytes(ident) + encode_length(len(body)) + body
    children = [_rewrite(data, c, indefinite, rng, split) for c in iter_children(data, tlv)]
    kids = list(iter_children(data, tlv))
    tags = {(c.tag_class, c.tag) for c in kids}
    if rng is not None and tlv.tag_class == 0 and tlv.tag == 17 and len(tags) == len(kids):
        # a SET (not a SET OF: its members have distinct tags); X.690 §8.11.2 any order
        rng.shuffle(children)
    content = b"".join(children)
    if indefinite:
        return bytes(ident) + b"\x80" + content + b"\x00\x00"
    return bytes(ident) + encode_length(len(content)) + content


def join_strings(data: bytes) -> bytes:
    """Undo :func:`rewrite`'s string splitting: constructed universal OCTET STRING / IA5String
    values become primitive again (used to compare opaque BER kept by the model)."""
    tlv = read_tlv(data, 0)
    return _join(data, tlv)


def _join(data: bytes, tlv: TLV) -> bytes:
    ident = bytearray(_header(data, tlv))
    start = tlv.offset + tlv.header_length
    body = data[start : start + tlv.length]
    if not tlv.constructed:
        return bytes(ident) + encode_length(len(body)) + body
    kids = list(iter_children(data, tlv))
    if tlv.tag_class == 0 and tlv.tag in (4, 22) and all(not k.constructed for k in kids):
        joined = b"".join(data[k.offset + k.header_length : k.offset + k.header_length + k.length]
                          for k in kids)
        ident[0] &= ~0x20
        return bytes(ident) + encode_length(len(joined)) + joined
    parts = [_join(data, k) for k in kids]
    distinct = len({(k.tag_class, k.tag) for k in kids}) == len(kids)
    if tlv.tag_class == 0 and tlv.tag == 17 and distinct:
        parts.sort()  # a SET: compare members in one canonical order
    content = b"".join(parts)
    return bytes(ident) + encode_length(len(content)) + content


def canonical(obj: object) -> object:
    """A copy of a model value whose Opaque BER is passed through :func:`join_strings`."""
    import dataclasses

    from bridge.model.common import Opaque

    if isinstance(obj, Opaque):
        return Opaque(ber=join_strings(obj.ber))
    if isinstance(obj, tuple):
        return tuple(canonical(x) for x in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: canonical(getattr(obj, f.name))
                                           for f in dataclasses.fields(obj) if f.init})
    return obj
