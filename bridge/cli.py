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
    from bridge.gateway.app import serve
    from bridge.gateway.logs import setup_logging

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


CONVERT_EPILOG = """\
inputs:
  .eml .msg .mime .txt files (RFC 5322), mbox files (any name; "From " lines, RFC 4155),
  Maildir folders (cur/ and new/), BER files (.p1 .ber .p22 .x400: an MTS-APDU or bare
  P22 content), and folders of any of them, walked in name order.  A file named on the
  command line is read whatever its name.

output layout (under --out):
  Each message is written to a path that mirrors the input tree, relative to the INPUT it
  came from: a folder's contents go to the top of --out, a file by its own name.  A file
  keeps its name with its suffix replaced (a.eml -> a.p1, x/b.p1 -> x/b.eml); when two
  files of one folder share that name (a.eml, a.txt) both keep their full names
  (a.eml.p1, a.txt.p1).  An mbox file or a Maildir becomes a folder of its messages
  numbered from 1 (inbox.mbox/1.p1, inbox.mbox/2.p1; a Maildir: cur/ then new/, by name).
  A DSN that also yields an IPM adds NAME.2.p1.  When two INPUTs could write the same
  path, each of them goes under a folder named by its position (1/, 2/, ...).

resuming:
  Outputs are written to a temporary file and renamed into place; the journal
  DIR/.x400bridge-convert.jsonl records each finished message.  After an interruption
  (Ctrl-C, kill -9, a crash) run the same command with --resume: what was converted is
  skipped, the rest (and what failed) is converted again, to the same names -- no output
  is missing or doubled.  Without --resume a run starts again from the beginning.

exit status: 0 every message converted (with or without loss), 1 some failed (the others
are converted), 2 usage error.  The report's format: docs/convert.md.

examples:
  # an mbox and a Maildir to X.400 with 4 processes, and a report
  x400bridge convert --to x400 --jobs 4 --out x400/ --report report.json inbox.mbox ~/Maildir
  # go on after an interruption: the same command with --resume
  x400bridge convert --to x400 --jobs 4 --out x400/ --report report.json --resume \\
      inbox.mbox ~/Maildir
  # X.400 files (e.g. from a message store) to MIME, notifications as RFC 8098 MDNs
  x400bridge convert --to mime --ipn-as-mdn --out mime/ store/
  # the failed messages and why, from the report
  jq -r '.messages[] | select(.status == "failed") | "\\(.input): \\(.error)"' report.json
"""


def _add_convert(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from bridge.convert.policy import PRESETS
    from bridge.mapcli import DEFAULT_GATEWAY_DOMAIN, DEFAULT_GATEWAY_OR

    # an archive converts with loss where the gateway refuses (issue 13): the archival preset
    default_policy = "archive" if "archive" in PRESETS else "rfc2156"
    p = sub.add_parser(
        "convert", help="convert archived messages (MIME <-> X.400) in bulk",
        description="Convert archived messages between Internet mail (MIME) and X.400\n"
                    "(RFC 2156), one output per message, in parallel and resumably.  A\n"
                    "message that cannot be converted is reported and the others go on;\n"
                    "what a conversion loses is recorded as defects in the report.",
        epilog=CONVERT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help=".eml files, mbox files, Maildir folders, BER files, or folders of "
                        "them (see 'inputs' below)")
    p.add_argument("--to", required=True, choices=["x400", "mime"], dest="direction",
                   help="x400: Internet messages to BER MTS-APDUs (.p1); mime: X.400 "
                        "messages, reports and notifications to RFC 5322 messages (.eml)")
    p.add_argument("--out", type=Path, default=Path("out"), metavar="DIR",
                   help="where the outputs, mirroring the inputs, and the journal go "
                        "(default: ./out)")
    p.add_argument("--jobs", type=bounded_int(1, 1024), default=1, metavar="N",
                   help="convert in N worker processes (default 1; more than the number "
                        "of cores does not help)")
    p.add_argument("--report", type=Path, metavar="FILE",
                   help="write a JSON report: totals, failures by reason, and per message "
                        "its input, status, outputs, lossy flag, defects and error")
    p.add_argument("--resume", action="store_true",
                   help="go on with an interrupted run into the same --out: skip what it "
                        "converted, convert the rest (same --to and INPUTs)")
    p.add_argument("--policy", choices=sorted(PRESETS), default=default_policy,
                   help=f"mapping policy preset: what to do with what cannot be mapped "
                        f"exactly (default: {default_policy}, which converts with loss and "
                        f"records a defect where the gateway's rfc2156 refuses; see "
                        f"docs/mapping.md)")
    p.add_argument("--ipn-as-mdn", action="store_true",
                   help="notifications as RFC 8098 MDNs (and MDNs back to IPNs)")
    p.add_argument("--octet-stream-as", choices=["ftbp", "bp14"], default=None,
                   help="application/octet-stream with a file name: FTBP or BP14")
    p.add_argument("--tables", type=Path, default=None, metavar="DIR",
                   help="address mapping tables (default: the bundled mappings/)")
    p.add_argument("--gateway-domain", default=DEFAULT_GATEWAY_DOMAIN, metavar="DOMAIN",
                   help=f"this gateway's Internet domain (default: {DEFAULT_GATEWAY_DOMAIN})")
    p.add_argument("--gateway-or", default=DEFAULT_GATEWAY_OR, metavar="ORADDRESS",
                   help=f"this gateway's O/R address (default: {DEFAULT_GATEWAY_OR})")
    p.add_argument("--postmaster", default=None, metavar="ADDRESS",
                   help="the gateway administrator's address (default: "
                        "postmaster@DOMAIN)")
    p.add_argument("--owner", default=None, metavar="ADDRESS",
                   help="--to x400: the archive's owner, the envelope recipient of a message "
                        "whose headers name none (To/Cc/Bcc, then Delivered-To, X-Original-To, "
                        "Envelope-To, Resent-*, Apparently-To); default: the postmaster")
    p.set_defaults(func=_cmd_convert)


def _cmd_convert(args: argparse.Namespace) -> int:
    from bridge.convert.batch import ResumeMismatch, Settings, progress_stream, run, summary
    from bridge.resources import data_dir

    missing = [str(p) for p in args.inputs if not p.exists() and not p.is_symlink()]
    why = f"no such input: {', '.join(missing)}" if missing else ""
    if not why and args.out.exists() and any(p.is_dir() and p.samefile(args.out)
                                             for p in args.inputs):
        why = f"--out {args.out} is an input: the outputs would be read as inputs"
    if not why and args.report is not None and not args.report.absolute().parent.is_dir():
        why = f"--report {args.report}: no such folder {args.report.absolute().parent}"
    if why:
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
        policy_options=tuple(options), owner=args.owner)
    try:
        totals = run(list(args.inputs), settings, jobs=args.jobs, resume=args.resume,
                     report=args.report, progress=progress_stream())
    except ResumeMismatch as exc:
        print(f"x400bridge convert: {exc}", file=sys.stderr)
        return 2
    print(summary(totals))
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
