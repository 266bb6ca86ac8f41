"""A point in the O/R address tree, as the MCGAM tables and DNS hold it (RFC 2156 App F §3,
RFC 2163 §4.2).

An :class:`ORPrefix` is a sequence of ``(key, value)`` pairs **most significant first**: keys are
RFC 2156 §4.1.1 standard types (``C``, ``ADMD``, ``PRMD``, ``O``, ``OU`` ...; ``~TYPE`` for a
domain-defined attribute); a value ``None`` is an *omitted* level (App F ``@``), which is
distinct from an empty value (a null attribute, RFC 2156 §4.2).  MCGAM tables (table1/table2)
use only C, ADMD, PRMD, O and up to four OUs, in that order; gateway tables (gate1/gate2) may
hold any attributes.

Text form: App F ``dmn-or-address`` (most significant on the *right*, ``$`` between key and
value, ``\\.`` for a dot in a value): ``PRMD$UK\\.AC.ADMD$GOLD 400.C$GB``,
``O$@.PRMD$GMD.ADMD$DBP.C$DE``.  The DNS form of RFC 2163 §4.2 (``PRMD-net2.ADMD-p400.C-it``,
with its own label escapes) lives in :mod:`bridge.mapping.dns`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bridge.errors import BridgeError

#: The MCGAM hierarchy, most significant first (RFC 2156 §4.2, App F §3 a).
HIERARCHY = ("C", "ADMD", "PRMD", "O", "OU", "OU", "OU", "OU")


class ORPrefixSyntaxError(BridgeError):
    """Text that is not a dmn-or-address / x400-in-domain-syntax value."""


def _escape(value: str) -> str:
    """App F §3 dmn-pair: a dot inside a value or DDA type is written ``\\.``."""
    return value.replace(".", "\\.")


@dataclass(frozen=True, slots=True)
class ORPrefix:
    """O/R attributes, most significant first; value ``None`` = omitted level (``@``)."""

    parts: tuple[tuple[str, str | None], ...]

    def __post_init__(self) -> None:
        for key, value in self.parts:
            if not key:
                raise ORPrefixSyntaxError("empty attribute key")
            if value is not None and not isinstance(value, str):
                raise ORPrefixSyntaxError(f"bad value for {key}: {value!r}")

    # ------------------------------------------------------------------ text forms

    @classmethod
    def from_dmn(cls, text: str) -> ORPrefix:
        """Parse App F ``dmn-or-address`` (most significant on the right)."""
        return cls._parse(text, "$")

    @classmethod
    def _parse(cls, text: str, kv: str) -> ORPrefix:
        if not text:
            raise ORPrefixSyntaxError("empty O/R address")
        pairs: list[tuple[str, str | None]] = []
        for raw in reversed(split_escaped(text)):
            key, sep, value = raw.partition(kv)
            if not sep or not key:
                raise ORPrefixSyntaxError(f"not attribute{kv}value: {raw!r}")
            value = _unescape(value)
            key = _unescape(key)
            pairs.append((key.upper() if not key.startswith("~") else key,
                          None if value == "@" else value))
        return cls(tuple(pairs))

    def to_dmn(self) -> str:
        """App F ``dmn-or-address``: least significant first, joined by ``.``."""
        return ".".join(f"{_escape(k)}${'@' if v is None else _escape(v)}"
                        for k, v in reversed(self.parts))

    def __str__(self) -> str:
        return self.to_dmn()

    # ------------------------------------------------------------------ lookups

    def key(self) -> tuple[tuple[str, str | None], ...]:
        """Case-independent lookup key (App F §4: matches are case independent)."""
        return tuple((k.upper(), None if v is None else " ".join(v.split()).upper())
                     for k, v in self.parts)

    def prefixes(self) -> Iterator[ORPrefix]:
        """This prefix and every shorter one, longest first (for longest-match lookups)."""
        for n in range(len(self.parts), 0, -1):
            yield ORPrefix(self.parts[:n])

    def __len__(self) -> int:
        return len(self.parts)

    def is_mcgam_form(self) -> bool:
        """App F §3 a/b: only C, ADMD, PRMD, O, OU1..OU4, in that order, none skipped."""
        return len(self.parts) <= len(HIERARCHY) and all(
            k == HIERARCHY[i] for i, (k, _) in enumerate(self.parts))


def split_escaped(text: str, sep: str = ".") -> list[str]:
    """Split at ``sep`` not preceded by a backslash escape (escapes are kept, for
    :func:`_unescape`); App F §3 ``dmn-pair``."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if text[i] == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(text[i])
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)
