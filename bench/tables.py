"""Mapping-table lookup speed: a 1,000-entry table2 and table1 (RFC 2156 App F), longest-match
lookups of domains and O/R prefixes two levels below an entry, plus misses.  Prints
lookups/s (goal: >= 200,000/s for each kind).  Nothing here is asserted by the test suite.

Run: ``python bench/tables.py [--seconds N] [--entries N]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.mapping.orprefix import ORPrefix  # noqa: E402
from bridge.mapping.source import Entry, Table  # noqa: E402
from bridge.mapping.tables import MappingTables  # noqa: E402


def build(n: int) -> MappingTables:
    entries: list[Entry] = []
    for i in range(n):
        prefix = ORPrefix((("C", "GB"), ("ADMD", "GOLD 400"), ("PRMD", f"Site{i % 50}"),
                           ("O", f"Org{i}")))
        domain = f"org{i}.site{i % 50}.ac.uk"
        entries += [Entry(Table.TABLE2, domain, prefix), Entry(Table.TABLE1, domain, prefix)]
    return MappingTables(entries)


def rate(fn: Callable[[], object], seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(1000):
            fn()
        count += 1000
    return count / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--entries", type=int, default=1000)
    args = ap.parse_args()
    tables = build(args.entries)
    domains = [f"host.dept.org{i}.site{i % 50}.ac.uk" for i in range(0, args.entries, 7)]
    domains += ["www.example.com", "a.b.c"]
    ors = [ORPrefix((("C", "gb"), ("ADMD", "gold 400"), ("PRMD", f"site{i % 50}"),
                     ("O", f"org{i}"), ("OU", "dept"), ("OU", "host")))
           for i in range(0, args.entries, 7)]
    ors += [ORPrefix((("C", "US"), ("ADMD", "ATT"), ("PRMD", None), ("O", "x")))]
    assert tables.lookup_domain(Table.TABLE2, domains[0]) is not None
    assert tables.lookup_or(Table.TABLE1, ors[0]) is not None
    di = iter(range(1 << 62))
    oi = iter(range(1 << 62))
    d_rate = rate(lambda: tables.lookup_domain(Table.TABLE2, domains[next(di) % len(domains)]),
                  args.seconds)
    o_rate = rate(lambda: tables.lookup_or(Table.TABLE1, ors[next(oi) % len(ors)]),
                  args.seconds)
    print(f"{args.entries}-entry tables: lookup_domain {d_rate:,.0f}/s, "
          f"lookup_or {o_rate:,.0f}/s (goal >= 200,000/s)")


if __name__ == "__main__":
    main()
