"""Test helpers shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bridge.codec import asn1


@contextmanager
def recorded_open_types() -> Iterator[list[tuple[str, bytes]]]:
    """Record every (ASN.1 type, BER) our codec decodes while inside the block: the top-level
    value and each open type the registries dispatch (extension attributes, extensions, ...)."""
    calls: list[tuple[str, bytes]] = []
    original = asn1.decode

    def spy(type_name: str, data: bytes, *, strict: bool = False) -> Any:
        value = original(type_name, data, strict=strict)
        calls.append((type_name, bytes(data)))  # only what decoded successfully
        return value

    asn1.decode = spy  # type: ignore[assignment]
    try:
        yield calls
    finally:
        asn1.decode = original  # type: ignore[assignment]
