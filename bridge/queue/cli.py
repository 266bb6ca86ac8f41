"""``x400bridge queue list|show|retry|drop|stats``: the operator's view of the queue.

A thin shell over :class:`bridge.queue.store.Queue` (STYLE.md §12).  Every subcommand takes
``--queue PATH`` (default ``var/queue.sqlite``) and opens the file without creating it; it is
safe while ``x400bridge serve`` runs (SQLite locking, see docs/queue.md).  Exit status: 0 done,
1 no such message or an unusable queue.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bridge.cliargs import bounded_int
from bridge.errors import BridgeError
from bridge.queue.api import MessageQueue, open_queue
from bridge.queue.store import Queue
from bridge.queue.types import STATES, MessageInfo, MessageSummary, QueueStats

DEFAULT_QUEUE = Path("var/queue.sqlite")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``queue`` and its subcommands on the ``x400bridge`` subparsers."""
    parser = sub.add_parser("queue", help="inspect and operate the message queue")
    _add_commands(parser)


def _add_commands(parser: argparse.ArgumentParser) -> None:
    cmds = parser.add_subparsers(dest="queue_command", required=True, metavar="SUBCOMMAND")
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_mutually_exclusive_group()
    where.add_argument("--queue", type=Path, default=DEFAULT_QUEUE, metavar="PATH",
                       help=f"the SQLite queue file (default {DEFAULT_QUEUE})")
    where.add_argument("--config", type=Path, metavar="FILE",
                       help="the gateway's configuration: its [queue] (SQLite or PostgreSQL)")

    p = cmds.add_parser("list", parents=[common], help="list queued messages, oldest first")
    p.add_argument("--state", choices=STATES, help="only messages with a recipient in STATE")
    p.add_argument("--direction", choices=["to-x400", "to-smtp"])
    p.add_argument("--limit", type=bounded_int(1, 1_000_000), default=100, metavar="N")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(func=_list)

    p = cmds.add_parser("show", parents=[common], help="one message: recipients and history")
    p.add_argument("message_id", metavar="ID")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.add_argument("--data", action="store_true",
                   help="the message octets (raw to stdout; base64 in --json)")
    p.set_defaults(func=_show)

    p = cmds.add_parser("retry", parents=[common],
                        help="make dead/deferred/failed/expired recipients due now")
    p.add_argument("message_id", metavar="ID")
    p.set_defaults(func=_retry)

    p = cmds.add_parser("drop", parents=[common], help="delete a message for good")
    p.add_argument("message_id", metavar="ID")
    p.set_defaults(func=_drop)

    p = cmds.add_parser("migrate", parents=[common],
                        help="bring the queue's schema up to date (PostgreSQL: needed after an "
                             "upgrade; run once, from one node)")
    p.set_defaults(func=_migrate)

    p = cmds.add_parser("stats", parents=[common], help="counts by state and direction")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(func=_stats)


def run(argv: Sequence[str]) -> int:
    """``x400bridge queue ARGS`` on its own (for tests and embedding)."""
    parser = argparse.ArgumentParser(prog="x400bridge queue")
    _add_commands(parser)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BridgeError as exc:
        print(f"x400bridge queue: {exc}", file=sys.stderr)
        return 1


def _open(args: argparse.Namespace, *, migrate: bool = False) -> MessageQueue:
    """The queue named by ``--queue`` (an SQLite file) or by the ``[queue]`` of ``--config``
    (either backend, bridge.queue.api.open_queue)."""
    if getattr(args, "config", None) is None:
        return Queue(args.queue, create=False)
    from bridge.config import load_config

    config = load_config(args.config)
    return open_queue(config.queue.backend, path=config.queue.path, create=False,
                      migrate=migrate)


def _migrate(args: argparse.Namespace) -> int:
    with _open(args, migrate=True) as q:
        applied = q.migrate()
        version = q.schema_version()
    print(f"schema version {version}" + (f" (applied {', '.join(map(str, applied))})"
                                         if applied else " (up to date)"))
    return 0


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _states(counts: Any) -> str:
    return " ".join(f"{s}:{counts[s]}" for s in STATES if counts.get(s))


def _list(args: argparse.Namespace) -> int:
    with _open(args) as q:
        rows = q.list(state=args.state, direction=args.direction, limit=args.limit)
    if args.json:
        print(json.dumps([_summary_json(m) for m in rows], indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("queue is empty" if not (args.state or args.direction) else "no such messages")
        return 0
    print(f"{'ID':26} {'DIRECTION':9} {'QUEUED':20} {'SIZE':>9}  RECIPIENTS  SENDER")
    for m in rows:
        dead = f"  [dead: {m.shunt_reason}]" if m.shunt_reason else ""
        print(f"{m.message_id:26} {m.direction:9} {_when(m.created):20} {m.size:>9}  "
              f"{_states(m.states)}  <{m.sender}>{dead}")
    return 0


def _summary_json(m: MessageSummary) -> dict[str, Any]:
    out = asdict(m)
    out["states"] = dict(m.states)
    return out


def _show(args: argparse.Namespace) -> int:
    with _open(args) as q:
        info = q.get(args.message_id)
    if info is None:
        print(f"x400bridge queue: no message {args.message_id!r}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(_info_json(info, with_data=args.data), indent=2, ensure_ascii=False))
    elif args.data:
        sys.stdout.flush()
        sys.stdout.buffer.write(info.data)
        sys.stdout.buffer.flush()
    else:
        print(_info_text(info))
    return 0


def _info_json(info: MessageInfo, *, with_data: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "message_id": info.message_id, "direction": info.direction, "origin": info.origin,
        "sender": info.sender, "created": info.created, "size": len(info.data),
        "meta": dict(info.meta), "shunt_reason": info.shunt_reason,
        "recipients": [], "history": [asdict(h) for h in info.history],
    }
    for r in info.recipients:
        item = asdict(r)
        item["recipient"] = {"address": r.recipient.address, "route": r.recipient.route,
                             "notify": list(r.recipient.notify), "orcpt": r.recipient.orcpt,
                             "extra": dict(r.recipient.extra)}
        out["recipients"].append(item)
    if with_data:
        out["data_base64"] = base64.b64encode(info.data).decode("ascii")
    return out


def _info_text(info: MessageInfo) -> str:
    lines = [
        f"message    {info.message_id}",
        f"direction  {info.direction} (from {info.origin})",
        f"sender     <{info.sender}>",
        f"queued     {_when(info.created)}",
        f"size       {len(info.data)} octets",
    ]
    if info.meta:
        lines.append(f"meta       {json.dumps(dict(info.meta), ensure_ascii=False)}")
    if info.shunt_reason:
        lines.append(f"DEAD       {info.shunt_reason}  (x400bridge queue retry|drop)")
    lines.append("recipients")
    for r in info.recipients:
        notify = f" NOTIFY={','.join(r.recipient.notify)}" if r.recipient.notify else ""
        lines.append(f"  {r.recipient.address} via {r.recipient.route or '-'}{notify}: "
                     f"{r.state}, {r.attempts} attempt(s)")
        if r.state in ("pending", "deferred"):
            lease = f", leased until {_when(r.leased_until)}" if r.leased_until else ""
            if r.leased_until and r.node is not None:
                lease += f" by node {r.node or '(unnamed)'}"
            lines.append(f"    next attempt {_when(r.next_attempt)}{lease}")
        if r.last is not None:
            text = " ".join(x for x in (r.last.status, r.last.diagnostic, r.last.detail) if x)
            lines.append(f"    last: {r.last.kind} at {_when(r.last.at)} {text}".rstrip())
        if r.reported:
            lines.append(f"    reported: {', '.join(r.reported)}")
    lines.append("history")
    for h in info.history:
        lines.append(f"  {_when(h.at)} {h.event}"
                     + (f" {h.address}" if h.address else "")
                     + (f": {h.detail}" if h.detail else ""))
    return "\n".join(lines)


def _retry(args: argparse.Namespace) -> int:
    with _open(args) as q:
        n = q.retry(args.message_id)
    print(f"{args.message_id}: {n} recipient(s) pending again")
    return 0


def _drop(args: argparse.Namespace) -> int:
    with _open(args) as q:
        dropped = q.drop(args.message_id)
    if not dropped:
        print(f"x400bridge queue: no message {args.message_id!r}", file=sys.stderr)
        return 1
    print(f"{args.message_id}: dropped")
    return 0


def _stats(args: argparse.Namespace) -> int:
    with _open(args) as q:
        st = q.stats()
    if args.json:
        print(json.dumps(_stats_json(st), indent=2))
        return 0
    age = "-" if st.oldest_pending_age is None else f"{st.oldest_pending_age:.0f}s"
    print(f"messages {st.messages}, depth {st.depth}, in flight {st.in_flight}, "
          f"dead {st.dead}, oldest pending {age}")
    print(f"{'STATE':10} {'to-x400':>8} {'to-smtp':>8} {'total':>8}")
    for s in STATES:
        print(f"{s:10} {st.by_direction['to-x400'][s]:>8} {st.by_direction['to-smtp'][s]:>8} "
              f"{st.recipients[s]:>8}")
    if st.routes_backing_off:
        print("backing off: " + ", ".join(st.routes_backing_off))
    if st.leases_by_node:
        print(f"{'NODE':20} {'LEASED':>8}")
        for node, n in st.leases_by_node.items():
            print(f"{node or '(unnamed)':20} {n:>8}")
    return 0


def _stats_json(st: QueueStats) -> dict[str, Any]:
    return {"messages": st.messages, "recipients": dict(st.recipients),
            "by_direction": {d: dict(v) for d, v in st.by_direction.items()},
            "depth": st.depth, "in_flight": st.in_flight, "dead": st.dead,
            "oldest_pending_age": st.oldest_pending_age,
            "routes_backing_off": list(st.routes_backing_off),
            "leases_by_node": dict(st.leases_by_node)}
