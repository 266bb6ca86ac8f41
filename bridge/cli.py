"""The ``x400bridge`` command: a thin shell over the library (no logic here)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bridge import __version__
from bridge.errors import BridgeError


def _cmd_dump(args: argparse.Namespace) -> int:
    from bridge.dump import dump_file

    status = 0
    for i, path in enumerate(args.files):
        try:
            data = Path(path).read_bytes()
            text = dump_file(data, as_json_output=args.json)
        except OSError as exc:
            print(f"{path}: {exc.strerror or exc}", file=sys.stderr)
            status = 1
            continue
        except BridgeError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = 1
            continue
        if not args.json and len(args.files) > 1:
            print(("\n" if i else "") + f"== {path}")
        print(text)
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="x400bridge", description="X.400 <-> Internet mail gateway (RFC 2156 MIXER)")
    parser.add_argument("--version", action="version", version=f"x400bridge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dump = sub.add_parser("dump", help="decode BER MTS-APDU or P22 files and show them")
    dump.add_argument("files", nargs="+", metavar="FILE")
    dump.add_argument("--json", action="store_true", help="machine-readable JSON output")
    dump.set_defaults(func=_cmd_dump)
    from bridge.mapcli import add_parser as add_map

    add_map(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BridgeError as exc:
        print(f"x400bridge: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
