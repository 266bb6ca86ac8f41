"""A long fuzzing campaign against the P1 responder and the converters (issue 12).

The same seeds, mutations and targets as ``tests/test_fuzz.py`` (``tests/fuzzing.py``), but as
many inputs as asked, each under a time limit (SIGALRM) and the whole run under a memory limit
(RLIMIT_AS): an uncaught exception, a hang or a MemoryError is a finding.  Findings are written
to ``--findings DIR`` (the input and the traceback) so each can be replayed.

Run: ``python bench/fuzz.py [--inputs N] [--targets p1,ber,mime] [--seed S]
[--time-limit SECONDS] [--memory MiB] [--findings DIR]``.  10^6 inputs take hours on a 2-core
machine (p1 ≈ 2,000/s, ber ≈ 600/s, mime ≈ 400/s); the figures of the last long run are in
docs/security.md.
"""

from __future__ import annotations

import argparse
import pickle
import random
import resource
import signal
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzzing import TARGETS  # noqa: E402


class Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=30_000, help="inputs in all (default 30000)")
    ap.add_argument("--targets", default=",".join(sorted(TARGETS)))
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--time-limit", type=int, default=10, help="seconds per input")
    ap.add_argument("--memory", type=int, default=2048, help="MiB for the whole process")
    ap.add_argument("--findings", type=Path, default=Path("fuzz-findings"))
    args = ap.parse_args()
    resource.setrlimit(resource.RLIMIT_AS, (args.memory << 20, args.memory << 20))
    signal.signal(signal.SIGALRM, _alarm)
    targets = args.targets.split(",")
    seeds = {t: TARGETS[t][0]() for t in targets}
    rng = random.Random(args.seed)
    counts = dict.fromkeys(targets, 0)
    findings = 0
    started = time.monotonic()
    for n in range(args.inputs):
        target = targets[n % len(targets)]
        _, mutate, run = TARGETS[target]
        data = seeds[target][rng.randrange(len(seeds[target]))]
        for _ in range(rng.randint(1, 3)):
            data = mutate(data, rng)
        signal.alarm(args.time_limit)
        try:
            run(data)
        except BaseException as exc:  # noqa: BLE001 - every escape is a finding
            if isinstance(exc, KeyboardInterrupt):
                raise
            findings += 1
            args.findings.mkdir(parents=True, exist_ok=True)
            stem = args.findings / f"{target}-{args.seed}-{n}"
            stem.with_suffix(".input").write_bytes(pickle.dumps(data))
            stem.with_suffix(".txt").write_text(
                "hang\n" if isinstance(exc, Hang) else traceback.format_exc())
        finally:
            signal.alarm(0)
        counts[target] += 1
        if (n + 1) % 5000 == 0:
            rate = (n + 1) / (time.monotonic() - started)
            print(f"{n + 1} inputs ({rate:.0f}/s), {findings} finding(s)", flush=True)
    took = time.monotonic() - started
    print(f"seed {args.seed}: {sum(counts.values())} inputs in {took:.0f} s "
          f"({', '.join(f'{t} {c}' for t, c in counts.items())}), {findings} finding(s)"
          + (f" in {args.findings}/" if findings else ""))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
