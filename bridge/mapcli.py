"""``x400bridge map ...``: look up, edit, import, export and check the mapping tables
(RFC 2156 App F; docs/addressing.md).  A thin shell over :mod:`bridge.mapping`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from bridge.errors import BridgeError
from bridge.mapping.address import (
    AddressMapper,
    GatewayIdentity,
    RFC822Result,
    Role,
    ou_order_steps,
)
from bridge.mapping.source import Entry, MappingSource, Table
from bridge.mapping.tablefile import (
    FORMATS,
    Finding,
    Level,
    export_lines,
    import_lines,
    parse_line,
)
from bridge.mapping.tables import MappingTables, add_entry, check, mapping_source, remove_entry
from bridge.model.ortext import parse_or_address, parse_or_text
from bridge.resources import data_dir

# Until the gateway configuration exists (docs/config.md), the gateway's identity defaults to
# these placeholders; every command takes --gateway-domain / --gateway-or.
DEFAULT_GATEWAY_DOMAIN = "x400-gateway.invalid"
DEFAULT_GATEWAY_OR = "/O=x400bridge/ADMD= /C=ZZ/"
TABLE_NAMES = [t.value for t in Table]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tables", type=Path, default=None, metavar="DIR",
                        help="tables directory (default: the bundled mappings/)")
    common.add_argument("--gateway-domain", default=DEFAULT_GATEWAY_DOMAIN, metavar="DOMAIN")
    common.add_argument("--gateway-or", default=DEFAULT_GATEWAY_OR, metavar="ORADDRESS")
    common.add_argument("--dns", metavar="SERVER[:PORT]",
                        help="also look up RFC 2163 PX records at this DNS server")
    parser = sub.add_parser("map", help="RFC 2156 address mapping and its tables")
    cmds = parser.add_subparsers(dest="map_command", required=True, metavar="SUBCOMMAND")

    p = cmds.add_parser("lookup", parents=[common], help="map an address (either direction)")
    p.add_argument("address")
    p.add_argument("--explain", action="store_true", help="show each step and table entry")
    p.add_argument("--json", action="store_true")
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.HEADER.value,
                   help="822 -> X.400 only: where the address is used (Stage II)")
    p.set_defaults(func=_lookup)

    p = cmds.add_parser("add", parents=[common], help="add an entry: TABLE LINE or TABLE KEY VALUE")
    p.add_argument("table", choices=TABLE_NAMES)
    p.add_argument("fields", nargs="+", metavar="LINE|KEY VALUE")
    p.add_argument("--replace", action="store_true", help="replace an entry with the same key")
    p.set_defaults(func=_add)

    p = cmds.add_parser("remove", parents=[common], help="remove the entry with KEY")
    p.add_argument("table", choices=TABLE_NAMES)
    p.add_argument("key")
    p.set_defaults(func=_remove)

    p = cmds.add_parser("list", parents=[common], help="list the entries")
    p.add_argument("table", nargs="?", choices=TABLE_NAMES)
    p.set_defaults(func=_list)

    p = cmds.add_parser("import", parents=[common], help="add the entries of a table file")
    p.add_argument("file", type=Path)
    p.add_argument("--table", choices=TABLE_NAMES)
    p.add_argument("--format", choices=FORMATS)
    p.set_defaults(func=_import)

    p = cmds.add_parser("export", parents=[common], help="print the tables")
    p.add_argument("table", nargs="?", choices=TABLE_NAMES)
    p.add_argument("--format", choices=FORMATS, default="mixer")
    p.set_defaults(func=_export)

    p = cmds.add_parser("check", parents=[common], help="lint the tables")
    p.set_defaults(func=_check)


def _dir(args: argparse.Namespace) -> Path:
    return args.tables if args.tables is not None else data_dir("mappings")


def _source(args: argparse.Namespace) -> MappingSource:
    if not args.dns:
        return mapping_source(_dir(args))
    host, _, port = args.dns.partition(":")
    return mapping_source(_dir(args), (host, int(port or 53)))


def _mapper(args: argparse.Namespace) -> AddressMapper:
    gateway = GatewayIdentity(domain=args.gateway_domain,
                              or_address=parse_or_address(args.gateway_or))
    return AddressMapper(_source(args), gateway)


def _lookup(args: argparse.Namespace) -> int:
    from bridge.mapping.lookup import as_json, error_json, lookup, render

    try:
        result = lookup(_mapper(args), args.address, Role(args.role))
        if isinstance(result, RFC822Result):  # an O/R address text: how its OUs were read
            result = replace(result, steps=ou_order_steps(parse_or_text(args.address))
                             + result.steps)
    except BridgeError as exc:
        if args.json:
            print(json.dumps(error_json(args.address, exc), ensure_ascii=False, indent=2))
        print(f"{args.address}: {exc} (SMTP {exc.smtp}; X.400 reason {exc.x400.reason}"
              f"{'' if exc.x400.diagnostic is None else f', diagnostic {exc.x400.diagnostic}'})",
              file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(as_json(args.address, result), ensure_ascii=False, indent=2))
    else:
        print(render(result, explain=args.explain))
    return 0


def _entry(table: Table, fields: list[str]) -> Entry:
    if len(fields) == 1:
        return parse_line(fields[0], table)
    if len(fields) == 2:
        key, value = fields
        line = f"{key}#{value}#" if table.keyed_by_domain else f"{key}#{value}#"
        return parse_line(line, table)
    raise BridgeError("give one App F line, or a key and a value")


def _add(args: argparse.Namespace) -> int:
    table = Table(args.table)
    entry = _entry(table, args.fields)
    add_entry(_dir(args), entry, replace=args.replace)
    print(f"added to {table.value}: {entry.line()}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    table = Table(args.table)
    key: str | object = args.key
    if not table.keyed_by_domain:
        from bridge.mapping.orprefix import ORPrefix

        key = ORPrefix.from_dmn(args.key)
    remove_entry(_dir(args), table, key)  # type: ignore[arg-type]
    print(f"removed from {table.value}: {args.key}")
    return 0


def _list(args: argparse.Namespace) -> int:
    tables = MappingTables.load(_dir(args))
    for table in [Table(args.table)] if args.table else list(Table):
        for entry in tables.entries(table):
            print(f"{table.value}\t{entry.line()}\t{entry.origin}")
    return 0


def _import(args: argparse.Namespace) -> int:
    table = Table(args.table) if args.table else None
    text = args.file.read_text(encoding="utf-8", errors="replace")
    warnings: list[Finding] = []
    entries = import_lines(text, args.format, table=table, source=str(args.file),
                           warnings=warnings)
    for entry in entries:
        add_entry(_dir(args), entry, replace=True)
    for w in warnings:  # lines imported with a repair (a level skipped without '@', App F §3 b)
        print(f"{w.origin}: {w.level.value}: {w.message}", file=sys.stderr)
    print(f"imported {len(entries)} entries from {args.file}")
    return 0


def _export(args: argparse.Namespace) -> int:
    tables = MappingTables.load(_dir(args))
    chosen = [Table(args.table)] if args.table else list(Table)
    if args.format == "mixer":
        for table in chosen:
            sys.stdout.write(tables.export_lines(table))
    else:
        entries = [e for t in chosen for e in tables.entries(t)]
        sys.stdout.write(export_lines(entries, args.format))
    return 0


def _check(args: argparse.Namespace) -> int:
    tables = MappingTables.load(_dir(args), strict=False)
    findings = check(tables)
    for f in findings:
        print(f"{f.origin}: {f.level.value}: {f.message}")
    errors = sum(1 for f in findings if f.level is Level.ERROR)
    print(f"{len(findings)} finding(s), {errors} error(s)", file=sys.stderr)
    return 1 if errors else 0
