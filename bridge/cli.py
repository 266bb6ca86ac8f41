"""The ``x400bridge`` command: a thin shell over the library (no logic here)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bridge import __version__
from bridge.cliargs import bounded_int
from bridge.errors import BridgeError, ConfigError


def _cmd_dump(args: argparse.Namespace) -> int:
    from bridge.dump import dump_file
    from bridge.fileio import read_bounded

    status = 0
    for i, path in enumerate(args.files):
        try:
            data = read_bounded(Path(path))
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


def _cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from bridge.config import load_config
    from bridge.gateway.app import serve, setup_logging

    config = load_config(args.config)
    try:
        config.gateway.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"gateway.state-dir: cannot create {config.gateway.state_dir}: "
                          f"{exc.strerror or exc}") from exc
    setup_logging(config)
    return asyncio.run(serve(config))


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
    _add_convert(sub)
    from bridge.x400cli import add_parser as add_x400

    add_x400(sub)
    from bridge.config import add_parser as add_config

    add_config(sub)
    from bridge.queue.cli import add_parser as add_queue

    add_queue(sub)
    serve = sub.add_parser("serve", help="run the gateway (SMTP <-> X.400)")
    serve.add_argument("--config", type=Path, metavar="FILE",
                       help="configuration file (TOML; default: the embedded defaults)")
    serve.set_defaults(func=_cmd_serve)
    return parser


def _add_convert(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from bridge.mapcli import DEFAULT_GATEWAY_DOMAIN, DEFAULT_GATEWAY_OR

    p = sub.add_parser("convert", help="convert archived messages (MIME <-> X.400) in bulk")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help=".eml files, mbox files, Maildir folders, BER files, or folders")
    p.add_argument("--to", required=True, choices=["x400", "mime"], dest="direction")
    p.add_argument("--jobs", type=bounded_int(1, 1024), default=1, metavar="N")
    p.add_argument("--out", type=Path, default=Path("out"), metavar="DIR")
    p.add_argument("--report", type=Path, metavar="FILE", help="JSON report of every message")
    p.add_argument("--resume", action="store_true", help="skip what a previous run finished")
    p.add_argument("--tables", type=Path, default=None, metavar="DIR")
    p.add_argument("--gateway-domain", default=DEFAULT_GATEWAY_DOMAIN, metavar="DOMAIN")
    p.add_argument("--gateway-or", default=DEFAULT_GATEWAY_OR, metavar="ORADDRESS")
    p.add_argument("--postmaster", default=None, metavar="ADDRESS")
    p.add_argument("--policy", choices=["rfc2156", "strict", "lenient"], default="rfc2156")
    p.add_argument("--ipn-as-mdn", action="store_true",
                   help="notifications as RFC 8098 MDNs (and MDNs back to IPNs)")
    p.add_argument("--octet-stream-as", choices=["ftbp", "bp14"], default=None,
                   help="application/octet-stream with a file name: FTBP or BP14")
    p.set_defaults(func=_cmd_convert)


def _cmd_convert(args: argparse.Namespace) -> int:
    from bridge.convert.batch import Settings, progress_stream, run
    from bridge.resources import data_dir

    missing = [str(p) for p in args.inputs if not p.exists()]
    if missing or args.jobs < 1:
        why = f"no such input: {', '.join(missing)}" if missing else "--jobs must be >= 1"
        print(f"x400bridge convert: {why}", file=sys.stderr)
        return 2
    options: list[tuple[str, object]] = []
    if args.ipn_as_mdn:
        options.append(("ipn_as_mdn", True))
    if args.octet_stream_as:
        options.append(("octet_stream_as", args.octet_stream_as))
    settings = Settings(
        direction=args.direction, out_dir=str(args.out),
        tables=str(args.tables or data_dir("mappings")), gateway_domain=args.gateway_domain,
        gateway_or=args.gateway_or,
        postmaster=args.postmaster or f"postmaster@{args.gateway_domain}",
        mta_name=args.gateway_domain[:32], policy=args.policy,
        policy_options=tuple(options))
    totals = run(list(args.inputs), settings, jobs=args.jobs, resume=args.resume,
                 report=args.report, progress=progress_stream())
    print(f"{totals.ok} converted, {totals.failed} failed, {totals.skipped} skipped "
          f"(already done)")
    return 1 if totals.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BridgeError as exc:
        print(f"x400bridge: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:            # a file or folder the command was given: one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"x400bridge: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
