"""Hostile input, generated: the P1 responder, the X.400 decoder/converter and the MIME
converter only ever raise the errors they document (tests/fuzzing.py; issue 12).

A bounded number of inputs per target in CI; ``python bench/fuzz.py`` runs a long campaign
with a time and memory limit per input (docs/security.md).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzzing import TARGETS


@pytest.mark.parametrize("target", sorted(TARGETS))
@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_seeds_only_raise_documented_errors(target: str, seed: int) -> None:
    seeds_of, mutate, run = TARGETS[target]
    seeds = _seeds(target, seeds_of)
    rng = random.Random(seed)
    data = seeds[rng.randrange(len(seeds))]
    for _ in range(rng.randint(1, 3)):
        data = mutate(data, rng)
    run(data)


_CACHE: dict[str, list[object]] = {}


def _seeds(target: str, seeds_of: object) -> list[object]:
    if target not in _CACHE:
        _CACHE[target] = seeds_of()  # type: ignore[operator]
    return _CACHE[target]


def test_the_seeds_themselves_pass() -> None:
    for _name, (seeds_of, _, run) in TARGETS.items():
        for seed in seeds_of():
            run(seed)


#: inputs bench/fuzz.py found (named TARGET-SEED-N), replayed here for ever
FINDINGS = sorted((Path(__file__).parent / "data" / "fuzz").glob("*-*-*.*"))


@pytest.mark.parametrize("path", FINDINGS, ids=lambda p: p.name)
def test_what_the_long_campaign_found_stays_fixed(path: Path) -> None:
    """mime-7-2551/3040: a DSN whose delivery-status part is not ASCII (UnicodeEncodeError);
    mime-7-1087: a DSN with no per-recipient fields (AssertionError) -- now an IPM;
    mime-11-34537: a DSN whose embedded message cannot be written as text;
    mime-11-104452: a charset name with a NUL (ValueError from the codec registry);
    mime-11-8245 and 103237: address lists on which the stdlib header parser fails with
    AttributeError -- now the field is kept as rfc-822-field like any unparseable one;
    ber-0-*: 8-bit octets in an O/R attribute (repaired as ISO 8859-1) made the std-or text
    of a To:/Sender: address non-ASCII (UnicodeEncodeError) -- now the teletex form or "?"."""
    _, _, run = TARGETS[path.name.split("-", 1)[0]]
    run(path.read_bytes())
