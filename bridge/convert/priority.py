"""RFC 6710 MT-PRIORITY <-> X.400 priority and STANAG 4406 precedence, as data.

RFC 6710 §3 gives a message an SMTP priority from -9 to 9 (higher is more urgent); a
Priority Assignment Policy (§9.2) says which values are in use and what they mean:

* ``MIXER`` (RFC 6710 App B, Table 2): -4 / 0 / 4 <-> X.411 §12.2.1.1.1.6 priority
  non-urgent / normal / urgent (RFC 2156 §5.3.6 ``Priority:``);
* ``STANAG4406`` (RFC 6710 App A, Table 1): -4 / -2 / 0 / 2 / 4 / 6 <-> the STANAG 4406 A1.8
  primary precedence deferred / routine / priority / immediate / flash / override.

Values between the levels of a policy: RFC 6710 §5 -- an implementation with fewer than 19
levels "will internally round up a syntactically valid priority value that isn't supported
to the next higher supported number (or to the highest supported priority, if the value is
higher than any supported priority)".  -2 under MIXER is normal, 5 under STANAG4406 is
override, 9 is urgent / override and -9 non-urgent / deferred.  (This is not an upgrade of
the sender's request: positive values from untrusted clients were lowered to 0 before, §4.1.)

X.400 priority of a military message: ACP 123 practice, flash and override urgent,
immediate and priority normal, routine and deferred non-urgent (:data:`PRECEDENCE_PRIORITY`).
A precedence outside the six NATO levels (6..15 NATO reserved, 16..31 national) has no
MT-PRIORITY value: the X.400 priority stands in for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from bridge.model.common import Priority
from bridge.model.mmhs import Precedence

PolicyName = Literal["MIXER", "STANAG4406"]
#: RFC 6710 §9.2 policy names this gateway knows (the EHLO parameter, §7 priority-profile)
POLICIES: tuple[PolicyName, ...] = ("MIXER", "STANAG4406")
DEFAULT_POLICY: PolicyName = "MIXER"

#: RFC 6710 §3 item 5, §7 priority-value: -9 to 9 inclusive
MT_PRIORITY_MIN = -9
MT_PRIORITY_MAX = 9

#: RFC 6710 App B Table 2 (MIXER)
MIXER: Mapping[int, Priority] = MappingProxyType({
    -4: Priority.NON_URGENT,
    0: Priority.NORMAL,
    4: Priority.URGENT,
})

#: RFC 6710 App A Table 1 (STANAG4406)
STANAG4406: Mapping[int, Precedence] = MappingProxyType({
    -4: Precedence.DEFERRED,
    -2: Precedence.ROUTINE,
    0: Precedence.PRIORITY,
    2: Precedence.IMMEDIATE,
    4: Precedence.FLASH,
    6: Precedence.OVERRIDE,
})

#: X.400 priority of each military precedence (ACP 123 practice; see the module doc)
PRECEDENCE_PRIORITY: Mapping[Precedence, Priority] = MappingProxyType({
    Precedence.DEFERRED: Priority.NON_URGENT,
    Precedence.ROUTINE: Priority.NON_URGENT,
    Precedence.PRIORITY: Priority.NORMAL,
    Precedence.IMMEDIATE: Priority.NORMAL,
    Precedence.FLASH: Priority.URGENT,
    Precedence.OVERRIDE: Priority.URGENT,
})

#: STANAG4406 policy, a message without a precedence: the MT-PRIORITY of its X.400 priority
#: (the lowest precedence of PRECEDENCE_PRIORITY with that priority, never an upgrade)
_STANAG_PRIORITY: Mapping[Priority, int] = MappingProxyType({
    Priority.NON_URGENT: -4,
    Priority.NORMAL: 0,
    Priority.URGENT: 4,
})


def check_mt_priority(value: int) -> int:
    """``value`` if it is an RFC 6710 priority (-9..9), else ValueError."""
    if not MT_PRIORITY_MIN <= value <= MT_PRIORITY_MAX:
        raise ValueError(f"MT-PRIORITY {value}: -9 to 9 (RFC 6710 §3)")
    return value


def _level(value: int, levels: Mapping[int, object]) -> int:
    """RFC 6710 §5: the lowest level of ``levels`` not below ``value`` (the highest for
    values above every level)."""
    check_mt_priority(value)
    above = [k for k in levels if k >= value]
    return min(above) if above else max(levels)


def to_x400_priority(value: int, policy: PolicyName = DEFAULT_POLICY) -> Priority:
    """The X.411 envelope priority for MT-PRIORITY ``value`` under ``policy``."""
    if policy == "STANAG4406":
        return PRECEDENCE_PRIORITY[to_precedence(value)]
    return MIXER[_level(value, MIXER)]


def to_precedence(value: int) -> Precedence:
    """The A1.8 primary precedence for MT-PRIORITY ``value`` (STANAG4406 policy)."""
    return STANAG4406[_level(value, STANAG4406)]


def from_x400(priority: Priority, precedence: int | None = None,
              policy: PolicyName = DEFAULT_POLICY) -> int:
    """The MT-PRIORITY an SMTP client sends for a message with this X.400 ``priority`` and
    (P772) primary ``precedence`` level: under STANAG4406 the precedence when it is one of
    the six of Table 1, else the priority; under MIXER the priority (Table 2)."""
    if policy == "STANAG4406":
        if precedence is not None and precedence in Precedence._value2member_map_:
            return _reverse(STANAG4406)[Precedence(precedence)]
        return _STANAG_PRIORITY[Priority(priority)]
    return _reverse(MIXER)[Priority(priority)]


#: RFC 6477 §4 the MMHS-Primary-Precedence field as this gateway writes it (a label or number)
_PRECEDENCE_FIELD = re.compile(rb"^MMHS-Primary-Precedence:[ \t]*([A-Za-z]+|[0-9]+)",
                               re.IGNORECASE | re.MULTILINE)


def header_precedence(message: bytes) -> int | None:
    """The primary precedence level of the ``MMHS-Primary-Precedence`` field in the header of
    ``message`` (as :mod:`bridge.convert.mmhs` writes it for P772), or None."""
    end = message.find(b"\r\n\r\n")
    m = _PRECEDENCE_FIELD.search(message[:end] if end >= 0 else message)
    if m is None:
        return None
    word = m.group(1).decode("ascii")
    if word.isdigit():
        return int(word)
    found = Precedence.__members__.get(word.upper())
    return int(found) if found is not None else None


def _reverse(table: Mapping[int, object]) -> dict[object, int]:
    return {v: k for k, v in table.items()}
