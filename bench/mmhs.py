"""P772 (RFC 6477) conversion cost against P22 conversion of the same message (issue 14).

The message: a typical memo (8 heading fields, a 4 KiB text body) plus the 14 RFC 6477 §3
example fields.  As P772 they are MMHS-* fields (military heading extensions); as P22 the same
fields are named ``X-MMHS-*`` (RFC 2156 §5.1.2: carried in the rfc-822-field extension), so
both runs carry the same header text.  Measured both ways, MIME -> X.400 (incl. BER encode)
and X.400 -> MIME (incl. BER decode); goal: P772 / P22 <= 1.2.

Each call converts another message of a pool of :data:`POOL` (more than the conversion's
caches keep): what is unique to a message in real traffic -- Date, Message-ID, the
authorisation time, the originator reference, the ACP 127 message identifier -- differs from
message to message, while the unit's precedences, SICs, instructions, PLAD and addresses
repeat, as they do in a real stream.  (Converting one message again and again would measure
the caches, not the conversion.)
Run: ``python bench/mmhs.py [--rounds N] [--number N]``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.codec import decode_apdu, encode_apdu  # noqa: E402
from bridge.convert.context import Context  # noqa: E402
from bridge.convert.to_mime import x400_to_mime  # noqa: E402
from bridge.convert.to_x400 import mime_to_x400  # noqa: E402
from bridge.model import Message  # noqa: E402
from tests.helpers import gateway_context  # noqa: E402

LINE = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
MMHS = [  # RFC 6477 §3 examples
    "MMHS-Exempted-Address: UK SHL Duty Officer <duty@AC.UK>",
    "MMHS-Extended-Authorisation-Info: Mon, 09 Aug 2010 15:27:40 +0100",
    "MMHS-Subject-Indicator-Codes: SDM; KKZ ; BRL",
    "MMHS-Handling-Instructions: RXFPA ZOV MINDEF",
    "MMHS-Message-Instructions: MINIMIZE CONSIDERED; NO DISTRIBUTION",
    "MMHS-Codress-Message-Indicator: 23",
    "MMHS-Originator-Reference: IMSCOM-JIC-612-78",
    "MMHS-Primary-Precedence: FLASH",
    "MMHS-Copy-Precedence: 2 (priority)",
    'MMHS-Message-Type: 0(exercise); identifier="CANDLE FISH"',
    "MMHS-Other-Recipients-Indicator-To: UK SHL COS; UK SHL IM",
    "MMHS-Other-Recipients-Indicator-CC: UK SHL LEGAD",
    "MMHS-Acp127-Message-Identifier: RPDLE 1234 0341215",
    "MMHS-Originator-PLAD: SACLANT",
]


def context() -> Context:
    """The RFC 2156 example gateway the conversion tests use (tests/helpers.py)."""
    return gateway_context(datetime(2026, 11, 28, 10, 0, tzinfo=UTC), country="GB")


#: distinct messages per kind, more than bridge.convert.mmhs keeps field texts of (1024)
POOL = 2500

#: the fields unique to each message in real traffic (see the module doc)
_UNIQUE = ("MMHS-Extended-Authorisation-Info", "MMHS-Originator-Reference",
           "MMHS-Acp127-Message-Identifier")


def message(military: bool, n: int = 0) -> bytes:
    """The memo, the ``n``-th of the pool: its date, identifiers and references its own."""
    when = datetime(2010, 8, 9, 15, 27, 40, tzinfo=UTC) + timedelta(seconds=37 * n)
    date = format_datetime(when)
    unique = {"MMHS-Extended-Authorisation-Info": date,
              "MMHS-Originator-Reference": f"IMSCOM-JIC-{612 + n}-78",
              "MMHS-Acp127-Message-Identifier": f"RPDLE {1234 + n % 8000} 0341215"}
    mmhs = [f"{f.split(':')[0]}: {unique[f.split(':')[0]]}" if f.split(":")[0] in _UNIQUE
            else f for f in MMHS]
    fields = mmhs if military else ["X-" + f for f in mmhs]
    head = ["From: Jo Bloggs <Jo.Bloggs@cs.ucl.AC.UK>", "To: c@Widget.COM",
            "Cc: Bob <bob@example.org>", "Subject: Weekly report",
            f"Date: {date}", f"Message-ID: <20100809.{n}@cs.ucl.AC.UK>",
            "Importance: high", *fields, "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=us-ascii"]
    return ("\r\n".join(head) + "\r\n\r\n" + LINE * 52).encode()


def _message(data: bytes) -> Message:
    m = decode_apdu(data)
    assert isinstance(m, Message)
    return m


def best(fns: list[Callable[[], object]], rounds: int, number: int) -> list[float]:
    """Best of ``rounds`` runs of ``number`` calls of each of ``fns``: seconds per call.  The
    runs of the functions take turns, so that a change in the machine's load (a noisy,
    shared machine) falls on all of them alike rather than on the one measured then."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, out in zip(fns, times, strict=True):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            out.append((time.perf_counter() - start) / number)
    return [min(t) for t in times]


#: the directions measured, in the order :func:`measure` gives them
DIRECTIONS = ("MIME -> X.400", "X.400 -> MIME")
#: the goal of issue 14: P772 / P22 at most this, both ways
GOAL = 1.2


def functions(ctx: Context, pool: int = POOL) -> list[Callable[[], object]]:
    """P22 MIME -> X.400, P22 X.400 -> MIME, P772 MIME -> X.400, P772 X.400 -> MIME, each
    call on the next message of its pool (incl. BER encode / decode); checks the content
    types."""
    fns: list[Callable[[], object]] = []
    for military in (False, True):
        messages = [message(military, n) for n in range(pool)]
        apdus = []
        for data in messages:
            apdu = encode_apdu(mime_to_x400(data, "<Jo.Bloggs@cs.ucl.AC.UK>", ["c@Widget.COM"],
                                            ctx).apdu)
            wire = decode_apdu(apdu)
            assert isinstance(wire, Message)
            assert (wire.envelope.content_type == "1.3.26.0.4406.0.4.1") == military
            apdus.append(apdu)
        fns += [_to_x400(itertools.cycle(messages), ctx), _to_mime(itertools.cycle(apdus), ctx)]
    return fns


def _to_x400(messages: Iterator[bytes], ctx: Context) -> Callable[[], object]:
    return lambda: encode_apdu(mime_to_x400(next(messages), "<Jo.Bloggs@cs.ucl.AC.UK>",
                                            ["c@Widget.COM"], ctx).apdu)


def _to_mime(apdus: Iterator[bytes], ctx: Context) -> Callable[[], object]:
    return lambda: x400_to_mime(_message(next(apdus)), ctx)


def measure(rounds: int, number: int, ctx: Context | None = None
            ) -> list[tuple[str, float, float]]:
    """(direction, P22 s, P772 s) per conversion for each of :data:`DIRECTIONS`, measured
    interleaved in one run (:func:`best`)."""
    times = best(functions(ctx or context()), rounds, number)
    return [(name, times[i], times[2 + i]) for i, name in enumerate(DIRECTIONS)]


def report(results: list[tuple[str, float, float]], indent: str = "") -> None:
    print(f"{indent}{'direction':<16} {'P22 ms':>8} {'P772 ms':>8} {'P772/P22':>9}")
    for name, p22, p772 in results:
        print(f"{indent}{name:<16} {p22 * 1e3:8.3f} {p772 * 1e3:8.3f} {p772 / p22:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=200)
    args = parser.parse_args()
    report(measure(args.rounds, args.number))


if __name__ == "__main__":
    main()
