"""P1 over RFC 1006 speed: MTS-APDUs of ~10 KB over one association on loopback TCP.

Our initiator (:class:`bridge.x400.shell.Association`) sends N messages to our responder
(:class:`bridge.x400.shell.Responder`, storing into memory) over one association: each is one
RTSE activity confirmed end to end before the next starts (X.228 §7.4).  Prints messages/s
(goal >= 500 on a 2-core machine) and the share of the wall time each layer's engine used,
both sides together; the rest is asyncio, sockets and the kernel.

Run: ``python bench/p1.py [--messages N] [--size BYTES] [--mode normal|x410]
[--checkpoint KIB]``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.codec import encode_apdu, encode_content  # noqa: E402
from bridge.model import IA5TextBodyPart, Message  # noqa: E402
from bridge.x400.peers import LocalMTA, Peer, PeerTable  # noqa: E402
from bridge.x400.shell import Association, Responder  # noqa: E402
from bridge.x400.stack import LAYERS  # noqa: E402


def _bench_codec() -> object:
    spec = importlib.util.spec_from_file_location("bench_codec", ROOT / "bench" / "codec.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def message(size: int) -> bytes:
    """A typical IPM in a full MTS-APDU, padded with an IA5 body part to ``size`` octets."""
    from dataclasses import replace

    bc = _bench_codec()
    ipm = bc.typical_ipm()  # type: ignore[attr-defined]
    envelope = bc.typical_envelope()  # type: ignore[attr-defined]
    base = len(encode_apdu(Message(envelope=envelope, content=encode_content(ipm))))
    pad = max(0, size - base - 8)
    if pad:
        ipm = replace(ipm, body=(*ipm.body, IA5TextBodyPart(text="x" * pad)))
    return encode_apdu(Message(envelope=envelope, content=encode_content(ipm)))


async def run(n: int, apdu: bytes, mode: str, checkpoint: int) -> tuple[float, dict[str, float]]:
    timings: dict[str, float] = {}
    got = 0

    async def store(data: bytes, peer: Peer) -> None:
        nonlocal got
        got += 1

    table = PeerTable(local=LocalMTA(name="responder", password="r"), peers={
        "ini": Peer(key="ini", mta_name="initiator", password="i", mode=mode)})  # type: ignore[arg-type]
    responder = Responder(table, store, timings=timings)
    await responder.start("127.0.0.1", 0)
    peer = Peer(key="res", mta_name="responder", password="r", host="127.0.0.1",
                port=responder.port, mode=mode, checkpoint_size=checkpoint)  # type: ignore[arg-type]
    assoc = await Association.open(peer, LocalMTA(name="initiator", password="i"),
                                   timings=timings)
    for _ in range(20):                                    # warm up
        await assoc.transfer(apdu)
    timings.clear()
    start = time.perf_counter()
    for _ in range(n):
        await assoc.transfer(apdu)
    wall = time.perf_counter() - start
    await assoc.release()
    await responder.close()
    assert got == n + 20
    return wall, timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--size", type=int, default=10 * 1024)
    ap.add_argument("--mode", choices=["normal", "x410"], default="normal")
    ap.add_argument("--checkpoint", type=int, default=0, help="checkpoint size in KiB")
    args = ap.parse_args()
    apdu = message(args.size)
    wall, timings = asyncio.run(run(args.messages, apdu, args.mode, args.checkpoint))
    rate = args.messages / wall
    print(f"P1 over RFC 1006, {args.mode} mode, one association, loopback TCP")
    print(f"  {args.messages} MTS-APDUs of {len(apdu)} octets: {rate:,.0f} msgs/s "
          f"({len(apdu) * rate / 1e6:.1f} MB/s)   goal >= 500 msgs/s: "
          f"{'met' if rate >= 500 else 'NOT met'}")
    print("  share of wall time per layer (initiator + responder engines):")
    for layer in LAYERS:
        share = timings.get(layer, 0.0) / wall
        print(f"    {layer:<14} {share:6.1%}")
    rest = 1 - sum(timings.values()) / wall
    print(f"    {'asyncio+kernel':<14} {rest:6.1%}")


if __name__ == "__main__":
    main()
