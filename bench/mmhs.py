"""P772 (RFC 6477) conversion cost against P22 conversion of the same message (issue 14).

The message: a typical memo (8 heading fields, a 4 KiB text body) plus the 14 RFC 6477 §3
example fields.  As P772 they are MMHS-* fields (military heading extensions); as P22 the same
fields are named ``X-MMHS-*`` (RFC 2156 §5.1.2: carried in the rfc-822-field extension), so
both runs carry the same header text.  Measured both ways, MIME -> X.400 (incl. BER encode)
and X.400 -> MIME (incl. BER decode); goal: P772 / P22 <= 1.2.
Run: ``python bench/mmhs.py [--rounds N] [--number N]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
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


def message(military: bool) -> bytes:
    fields = MMHS if military else ["X-" + f for f in MMHS]
    head = ["From: Jo Bloggs <Jo.Bloggs@cs.ucl.AC.UK>", "To: c@Widget.COM",
            "Cc: Bob <bob@example.org>", "Subject: Weekly report",
            "Date: Mon, 09 Aug 2010 15:27:40 +0100", "Message-ID: <20100809.1527@cs.ucl.AC.UK>",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=200)
    args = parser.parse_args()
    ctx = context()
    print(f"{'direction':<16} {'P22 ms':>8} {'P772 ms':>8} {'P772/P22':>9}")
    fns: list[Callable[[], object]] = []
    for military in (False, True):
        data = message(military)
        res = mime_to_x400(data, "<Jo.Bloggs@cs.ucl.AC.UK>", ["c@Widget.COM"], ctx)
        apdu = encode_apdu(res.apdu)
        wire = decode_apdu(apdu)
        assert isinstance(wire, Message)
        assert (wire.envelope.content_type == "1.3.26.0.4406.0.4.1") == military
        fns += [lambda d=data: encode_apdu(mime_to_x400(  # type: ignore[misc]
                    d, "<Jo.Bloggs@cs.ucl.AC.UK>", ["c@Widget.COM"], ctx).apdu),
                lambda a=apdu: x400_to_mime(_message(a), ctx)]  # type: ignore[misc]
    times = best(fns, args.rounds, args.number)
    for i, name in enumerate(("MIME -> X.400", "X.400 -> MIME")):
        p22, p772 = times[i], times[2 + i]
        print(f"{name:<16} {p22 * 1e3:8.3f} {p772 * 1e3:8.3f} {p772 / p22:9.2f}")


if __name__ == "__main__":
    main()
