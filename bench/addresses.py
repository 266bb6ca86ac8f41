"""Address mapping speed with 1,000-entry MCGAM tables (RFC 2156 App F), both directions.

Prints table lookups/s (longest match, domain -> O/R and O/R -> domain) and complete address
mappings/s (§4.3.4 822 -> X.400 and §4.3.5 X.400 -> 822).  Goal: >= 50k lookups/s.
Run: ``python bench/addresses.py [--seconds N]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.mapping.address import AddressMapper, GatewayIdentity, Role  # noqa: E402
from bridge.mapping.orprefix import ORPrefix  # noqa: E402
from bridge.mapping.source import Entry, Table  # noqa: E402
from bridge.mapping.tables import MappingTables  # noqa: E402
from bridge.model import ORAddress, PersonalName  # noqa: E402


def build(n: int = 1000) -> tuple[MappingTables, list[str], list[ORAddress]]:
    rng = random.Random(7)
    entries: list[Entry] = []
    domains: list[str] = []
    addresses: list[ORAddress] = []
    for i in range(n):
        country = rng.choice(["GB", "DE", "FR", "IT", "US", "CH", "NL", "SE"])
        admd = rng.choice(["GOLD 400", "DBP", "ATLAS", "PTT", " "])
        prmd = f"prmd{i}"
        domain = f"org{i}.{country.lower()}"
        prefix = ORPrefix((("C", country), ("ADMD", admd), ("PRMD", prmd)))
        entries.append(Entry(Table.TABLE2, domain, prefix))
        entries.append(Entry(Table.TABLE1, domain, prefix))
        domains.append(f"dept{i % 7}.{domain}")
        addresses.append(ORAddress(
            country=country, admd=admd, prmd=prmd, organization=f"dept{i % 7}",
            personal_name=PersonalName(surname="Smith", given_name="John")))
    return MappingTables(entries), domains, addresses


def rate(fn: Callable[[int], object], n: int, seconds: float) -> float:
    count, start, i = 0, time.perf_counter(), 0
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            fn(i % n)
            i += 1
        count += 200
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    tables, domains, addresses = build()
    keys = [ORPrefix((("C", a.country or ""), ("ADMD", a.admd or ""), ("PRMD", a.prmd or ""),
                      ("O", a.organization or ""))) for a in addresses]
    gateway = GatewayIdentity(domain="gw.example.org",
                              or_address=ORAddress.parse("/O=gw/PRMD=x/ADMD= /C=GB/"))
    mapper = AddressMapper(tables, gateway, cache_size=0)  # every mapping computed
    cached = AddressMapper(tables, gateway)  # the gateway's memoised mapper
    rfc822 = [f"John.Smith@{d}" for d in domains]
    n = len(domains)
    results = {
        "table2 lookup (domain -> O/R)": rate(
            lambda i: tables.lookup_domain(Table.TABLE2, domains[i]), n, args.seconds),
        "table1 lookup (O/R -> domain)": rate(
            lambda i: tables.lookup_or(Table.TABLE1, keys[i]), n, args.seconds),
        "822 -> X.400 address mapping": rate(
            lambda i: mapper.to_x400(rfc822[i], Role.HEADER), n, args.seconds),
        "X.400 -> 822 address mapping": rate(
            lambda i: mapper.to_rfc822(addresses[i]), n, args.seconds),
        "822 -> X.400, memoised (1k addresses)": rate(
            lambda i: cached.to_x400(rfc822[i], Role.HEADER), n, args.seconds),
    }
    print(f"tables: {len(tables.entries(Table.TABLE1))} + {len(tables.entries(Table.TABLE2))} "
          "entries")
    for label, value in results.items():
        print(f"{label:34s} {value:10.0f} /s")
    print("goal: >= 50,000 lookups/s")


if __name__ == "__main__":
    main()
