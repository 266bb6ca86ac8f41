"""RFC 6710 App A / App B priority policies (bridge.convert.priority): every value."""

from __future__ import annotations

import pytest

from bridge.convert import priority
from bridge.convert.priority import (
    from_x400,
    header_precedence,
    to_precedence,
    to_x400_priority,
)
from bridge.model.common import Priority
from bridge.model.mmhs import Precedence

N, L, U = Priority.NORMAL, Priority.NON_URGENT, Priority.URGENT
D, R, P, IM, F, OV = (Precedence.DEFERRED, Precedence.ROUTINE, Precedence.PRIORITY,
                     Precedence.IMMEDIATE, Precedence.FLASH, Precedence.OVERRIDE)

#: MT-PRIORITY -9..9 -> MIXER X.400 priority (App B Table 2; between levels: RFC 6710 §5
#: rounds up to the next level, above the highest level the highest)
MIXER_IN = {-9: L, -8: L, -7: L, -6: L, -5: L, -4: L, -3: N, -2: N, -1: N,
            0: N, 1: U, 2: U, 3: U, 4: U, 5: U, 6: U, 7: U, 8: U, 9: U}
#: MT-PRIORITY -9..9 -> STANAG4406 precedence (App A Table 1; §5's example: -3 is -2, from
#: 5 up 6)
STANAG_IN = {-9: D, -8: D, -7: D, -6: D, -5: D, -4: D, -3: R, -2: R, -1: P,
             0: P, 1: IM, 2: IM, 3: F, 4: F, 5: OV, 6: OV, 7: OV, 8: OV, 9: OV}


@pytest.mark.parametrize("value", range(-9, 10))
def test_every_mt_priority_value_both_policies(value: int) -> None:
    assert to_x400_priority(value) == to_x400_priority(value, "MIXER") == MIXER_IN[value]
    assert to_precedence(value) == STANAG_IN[value]
    assert to_x400_priority(value, "STANAG4406") == \
        priority.PRECEDENCE_PRIORITY[STANAG_IN[value]]


@pytest.mark.parametrize("value", [-10, 10, 100])
def test_out_of_range_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match="RFC 6710"):
        to_x400_priority(value)
    with pytest.raises(ValueError):
        to_precedence(value)


def test_tables_are_the_rfcs() -> None:
    assert dict(priority.MIXER) == {-4: L, 0: N, 4: U}
    assert dict(priority.STANAG4406) == {-4: D, -2: R, 0: P, 2: IM, 4: F, 6: OV}
    assert set(priority.PRECEDENCE_PRIORITY) == set(Precedence)
    assert priority.POLICIES == ("MIXER", "STANAG4406")


@pytest.mark.parametrize(("prio", "expected"), [(L, -4), (N, 0), (U, 4)])
def test_x400_priority_to_mt_priority_mixer(prio: Priority, expected: int) -> None:
    assert from_x400(prio) == expected
    assert from_x400(prio, 5) == expected            # MIXER ignores the precedence
    assert to_x400_priority(expected) == prio        # and round-trips


@pytest.mark.parametrize(("level", "expected"), [(D, -4), (R, -2), (P, 0), (IM, 2), (F, 4),
                                                 (OV, 6)])
def test_precedence_to_mt_priority_stanag(level: Precedence, expected: int) -> None:
    assert from_x400(N, int(level), "STANAG4406") == expected
    assert to_precedence(expected) == level          # round trip


@pytest.mark.parametrize(("prio", "expected"), [(L, -4), (N, 0), (U, 4)])
def test_stanag_without_a_known_precedence_uses_the_priority(prio: Priority,
                                                             expected: int) -> None:
    assert from_x400(prio, None, "STANAG4406") == expected
    assert from_x400(prio, 17, "STANAG4406") == expected       # national level: no value


@pytest.mark.parametrize(("message", "expected"), [
    (b"To: a@b\r\nMMHS-Primary-Precedence: flash\r\n\r\nMMHS-Primary-Precedence: 1\r\n", 4),
    (b"mmhs-primary-precedence:  OVERRIDE\r\n\r\n", 5),
    (b"MMHS-Primary-Precedence: 17\r\n\r\n", 17),
    (b"MMHS-Primary-Precedence: urgent\r\n\r\n", None),
    (b"Subject: x\r\n\r\nMMHS-Primary-Precedence: flash\r\n", None),   # in the body
    (b"X-MMHS-Primary-Precedence: flash\r\n\r\n", None),
])
def test_header_precedence(message: bytes, expected: int | None) -> None:
    assert header_precedence(message) == expected
