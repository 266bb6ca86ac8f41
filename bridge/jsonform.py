"""A JSON-ready view of model objects (for ``--json`` output and reports).

Generic over the frozen dataclasses: class name under ``"type"``, fields that hold their
default omitted, bytes as hex, datetimes as ISO 8601, flags as lists of names, O/R addresses
with their RFC 2156 std-or text alongside the attributes.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum, Flag
from typing import Any

from bridge.model.common import Opaque
from bridge.model.oraddress import ORAddress


def enum_name(member: Enum) -> str:
    """An enum member as text: lower case, ``-`` for ``_`` (``NON_URGENT`` -> ``non-urgent``)."""
    return (member.name or str(member.value)).lower().replace("_", "-")


def to_json(obj: Any) -> Any:
    """Convert a model value (dataclass, tuple, enum, bytes, ...) to JSON-ready data."""
    if isinstance(obj, Flag):
        return [enum_name(m) for m in type(obj) if m.value and m in obj
                and (m.value & (m.value - 1)) == 0] if obj.value else []
    if isinstance(obj, Enum):
        return enum_name(obj)
    if isinstance(obj, bool | int | float | str) or obj is None:
        return obj
    if isinstance(obj, bytes | bytearray):
        return {"hex": bytes(obj).hex()}
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, Opaque):
        return {"ber": obj.ber.hex()}
    if isinstance(obj, tuple | list | frozenset | set):
        items = sorted(obj) if isinstance(obj, frozenset | set) else obj
        return [to_json(x) for x in items]
    if dataclasses.is_dataclass(obj):
        out: dict[str, Any] = {"type": type(obj).__name__}
        if isinstance(obj, ORAddress):
            out["std-or"] = str(obj)
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else object())
            if value == default and not isinstance(value, bool | int) or value is None:
                continue
            out[f.name.replace("_", "-")] = to_json(value)
        return out
    raise TypeError(f"no JSON form for {type(obj).__name__}")
