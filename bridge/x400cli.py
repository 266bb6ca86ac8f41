"""``x400bridge x400 send|listen``: the operator's and the tests' handle on the X.400 endpoint.

* ``x400bridge x400 send FILE... --peer NAME [--peers TABLE]`` -- bind to the peer MTA, transfer
  each BER ``MTS-APDU`` file (checked by decoding it first), release.  Exit 0 when every file
  was confirmed by the peer, 1 otherwise.
* ``x400bridge x400 listen [--peers TABLE] [--listen HOST:PORT] [--spool DIR] [--count N]`` --
  accept associations from the peers in the table and store every received APDU durably in
  ``DIR/in/`` (the file spool) before confirming it.  ``--count`` stops after N APDUs (tests);
  SIGINT/SIGTERM stop it cleanly.

Without ``--peers`` the table is empty except for ``[local]`` defaults: nobody can bind (no
anonymous binds unless configured), which is the safe default.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from bridge.cliargs import bounded_int
from bridge.configschema import parse_endpoint
from bridge.errors import BridgeError, ConfigError
from bridge.x400.peers import Peer, PeerTable, read_peer_table


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("x400", help="the X.400 endpoint: P1 over RFC 1006")
    cmds = parser.add_subparsers(dest="x400_command", required=True, metavar="SUBCOMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--peers", type=Path, metavar="TABLE",
                        help="peer table (TOML, see docs/x400-endpoint.md)")

    p = cmds.add_parser("send", parents=[common], help="transfer BER MTS-APDU files to a peer")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--peer", required=True, help="peer nickname or MTA name in the table")
    p.add_argument("--host", help="override the peer's host")
    p.add_argument("--port", type=bounded_int(1, 65535), help="override the peer's port")
    p.add_argument("--as-is", action="store_true",
                   help="send the files' octets unchanged instead of applying the peer's "
                        "profile (x411-edition, envelope-extensions, same-domain)")
    p.set_defaults(func=_send)

    p = cmds.add_parser("listen", parents=[common], help="accept and store incoming APDUs")
    p.add_argument("--listen", metavar="HOST:PORT", help="override [local] listen")
    p.add_argument("--spool", type=Path, default=Path("var/spool"), metavar="DIR",
                   help="file spool; received APDUs go to DIR/in (default var/spool)")
    p.add_argument("--count", type=bounded_int(0, 1_000_000_000), default=0, metavar="N",
                   help="exit after storing N APDUs (0: run until interrupted)")
    p.set_defaults(func=_listen)


def _table(args: argparse.Namespace) -> PeerTable:
    return read_peer_table(args.peers) if args.peers else PeerTable()


def _send(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from datetime import UTC, datetime

    from bridge.codec import decode_apdu
    from bridge.fileio import read_bounded
    from bridge.x400.profile import encode_for

    table = _table(args)
    peer = table.get(args.peer)
    if args.host or args.port:
        peer = replace(peer, host=args.host or peer.host, port=args.port or peer.port)
    apdus: list[tuple[Path, bytes]] = []
    for path in args.files:
        try:
            data = read_bounded(path)
        except OSError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        apdu = decode_apdu(data)                # refuse to send what is not an MTS-APDU
        if not args.as_is:                      # what the peer takes (bridge.x400.profile)
            data, notes = encode_for(apdu, peer.profile, mta_name=table.local.name,
                                     now=datetime.now(UTC))
            for note in notes:
                print(f"{path}: {note}", file=sys.stderr)
        apdus.append((path, data))
    return asyncio.run(_send_all(table, peer, apdus))


async def _send_all(table: PeerTable, peer: Peer, apdus: list[tuple[Path, bytes]]) -> int:
    from bridge.x400.shell import Association, Timeouts

    timeouts = Timeouts(connect=peer.timeout, bind=peer.timeout, transfer=peer.timeout,
                        release=peer.timeout)
    assoc = await Association.open(peer, table.local, timeouts=timeouts)
    try:
        for path, data in apdus:
            try:
                await assoc.transfer(data)
                print(f"{path}: transferred to {peer.mta_name}")
            except BridgeError as exc:
                print(f"{path}: {exc}", file=sys.stderr)
                break                      # the association is gone: the rest stay unsent
    finally:
        if assoc.transferred < len(apdus):
            await assoc.abort()
        else:
            await assoc.release()
    return 1 if assoc.transferred < len(apdus) else 0


def _listen(args: argparse.Namespace) -> int:
    table = _table(args)
    host, port = table.local.listen_host, table.local.listen_port
    if args.listen:
        listen = parse_endpoint(args.listen, "--listen", any_port=True)
        host, port = listen.host, listen.port
    return asyncio.run(_listen_async(table, host, port, args.spool, args.count))


async def _listen_async(table: PeerTable, host: str, port: int, spool_dir: Path,
                        count: int) -> int:
    from bridge.codec import decode_apdu
    from bridge.x400.shell import Responder
    from bridge.x400.spool import Spool

    spool = Spool(spool_dir)
    done = asyncio.Event()
    stored = 0

    async def store(apdu: bytes, peer: Peer) -> None:
        nonlocal stored
        decode_apdu(apdu)              # a DecodeError aborts the association: nothing stored
        path = await asyncio.to_thread(spool.put, "in", apdu)
        stored += 1
        print(f"{path}: received from {peer.mta_name or 'anonymous'}", flush=True)
        if count and stored >= count:
            done.set()

    responder = Responder(table, store)
    await responder.start(host, port)
    print(f"listening on {host}:{responder.port}", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    try:
        await done.wait()
    finally:
        await responder.close()
    return 0
