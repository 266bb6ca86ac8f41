"""Hostile-input generation for the P1 responder and the converters (issue 12, "Done when").

Seeds are real traffic and real messages: the associations PP 6.0 opened to us
(x400-samples/pp), an association of our own initiator, the BER samples, and the messages of
the corpus when it is there.  A mutation changes a seed the way broken or hostile peers do:
flipped, inserted, deleted or repeated octets, a truncation, a lying length octet, a
duplicated or dropped segment, other TCP segmentation.

Each *target* feeds one input to one part of the gateway and returns normally or raises the
error that part documents (``ProtocolError`` for the OSI stack, ``BridgeError`` for the
converters); anything else -- an uncaught exception, a hang, unbounded memory -- is a finding.
``tests/test_fuzz.py`` runs a bounded number of inputs in CI; ``bench/fuzz.py`` runs as many as
you like (10^6 takes hours) with a time and memory limit per input.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bridge.codec.rtpdu import MTABind
from bridge.errors import BridgeError, ProtocolError
from bridge.x400.mta import (
    BindAccept,
    BindIndication,
    Release,
    ReleaseConfirm,
    Transfer,
    TransferAccept,
)
from bridge.x400.stack import PRE_BIND_LIMIT, Stack

DATA = Path(__file__).parent / "data"

Segments = list[bytes]


# ---------------------------------------------------------------------------- seeds

def p1_seeds() -> list[Segments]:
    """Initiator-side TCP segments of real associations: PP's (when x400-samples is there)
    and our own initiator's, each a list of segments in order."""
    from tests.capture import PP_SAMPLES, connections

    seeds: list[Segments] = []
    for name in ("pp-to-responder-ndr.pcap", "pp-to-responder-abort-after-ack.pcap"):
        path = PP_SAMPLES / name
        if path.exists():
            seeds += [[p for d, p in c.segments if d == "I"] for c in connections(path)]
    seeds.append(_our_association())
    return [s for s in seeds if s]


def _our_association() -> Segments:
    """What our initiator sends for a bind, one transfer of a sample and a release."""
    from bridge.x400.mta import BindRequest

    ini, res = Stack("initiator", mode="normal"), Stack("responder", mode=None)
    out: Segments = []

    def pump() -> None:
        for _ in range(50):
            a = ini.data_to_send()
            if a:
                out.append(a)
                res.receive_data(a)
            while (ev := res.next_event()) is not None:
                if isinstance(ev, BindIndication):
                    res.send(BindAccept(responder=MTABind(name="r", password="p")))
                elif isinstance(ev, Transfer):
                    res.send(TransferAccept())
                elif isinstance(ev, Release):
                    res.send(ReleaseConfirm())
            b = res.data_to_send()
            if b:
                ini.receive_data(b)
            while ini.next_event() is not None:
                pass
            if not a and not b:
                return

    ini.send(BindRequest(name="i", password="p"))
    pump()
    ini.send(Transfer(apdu=(DATA / "samples" / "message-text.p1.ber").read_bytes()))
    pump()
    ini.send(Release())
    pump()
    return out


def ber_seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted((DATA / "samples").glob("*.ber"))]
    from tests.capture import PP_SAMPLES

    ndr = PP_SAMPLES / "pp-ndr.p1.ber"
    if ndr.exists():
        seeds.append(ndr.read_bytes())
    return seeds


def mime_seeds(limit: int = 400) -> list[bytes]:
    """Messages of the corpus (when present) and a few of our own."""
    seeds = [b"From: a@example.org\r\nTo: b@example.org\r\nSubject: =?utf-8?q?x?=\r\n"
             b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
             b"Content-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"]
    try:
        from tests.test_corpus import corpus_dir, corpus_messages

        root = corpus_dir()
        if root is not None:
            seeds += [m.read() for m in corpus_messages(root)[:limit]]
    except (ImportError, OSError):
        pass
    return seeds


# ---------------------------------------------------------------------------- mutation

def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four edits of ``data`` of the kinds broken peers produce."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            out += rng.randbytes(rng.randint(1, 8))
            continue
        i = rng.randrange(len(out))
        kind = rng.randrange(7)
        if kind == 0:                                   # flip bits
            out[i] ^= 1 << rng.randrange(8)
        elif kind == 1:                                 # a random octet
            out[i] = rng.randrange(256)
        elif kind == 2:                                 # insert
            out[i:i] = rng.randbytes(rng.randint(1, 16))
        elif kind == 3:                                 # delete
            del out[i:i + rng.randint(1, 16)]
        elif kind == 4:                                 # truncate
            del out[i:]
        elif kind == 5:                                 # a lying length: 0x80-0x84, 0xff
            out[i] = rng.choice((0x80, 0x81, 0x82, 0x83, 0x84, 0xFF, 0x00, 0x7F))
        else:                                           # repeat a run
            j = min(len(out), i + rng.randint(1, 64))
            out[i:i] = out[i:j] * rng.randint(1, 8)
    return bytes(out)


def mutate_segments(segments: Segments, rng: random.Random) -> Segments:
    """Mutate a segment, drop or repeat one, or cut the stream anew."""
    segs = list(segments)
    kind = rng.randrange(4)
    if kind == 0 or len(segs) < 2:
        i = rng.randrange(len(segs))
        segs[i] = mutate(segs[i], rng)
    elif kind == 1:
        del segs[rng.randrange(len(segs))]
    elif kind == 2:
        i = rng.randrange(len(segs))
        segs.insert(i, segs[i])
    else:                                               # other TCP segmentation
        stream = b"".join(segs)
        cuts = sorted(rng.sample(range(1, len(stream)), min(len(stream) - 1, 8)))
        segs = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    return segs


# ---------------------------------------------------------------------------- targets

def p1_responder(segments: Segments) -> None:
    """Feed an association's octets to a responder Stack that accepts every bind and
    transfer; only ProtocolError may come out, and nothing grows beyond its limit."""
    stack = Stack("responder", mode=None)
    bound = False
    for seg in segments:
        try:
            stack.receive_data(seg)
        except ProtocolError:
            return
        if not bound:
            assert stack.cotp.reassembling <= PRE_BIND_LIMIT
        while (ev := stack.next_event()) is not None:
            try:
                if isinstance(ev, BindIndication):
                    stack.send(BindAccept(responder=MTABind(name="r", password="p")))
                    bound = True
                elif isinstance(ev, Transfer):
                    stack.send(TransferAccept())
                elif isinstance(ev, Release):
                    stack.send(ReleaseConfirm())
            except ProtocolError:
                return
        stack.data_to_send()
        if stack.closed:
            return


def x400_decoder(data: bytes) -> None:
    """Decode an MTS-APDU and convert what decodes (a message to MIME, a report to a DSN);
    only BridgeError may come out."""
    from bridge.codec import decode_any
    from bridge.convert.reports import report_to_dsn
    from bridge.convert.to_mime import x400_to_mime
    from bridge.model.apdu import Message
    from bridge.model.report import Report

    try:
        obj = decode_any(data)
        if isinstance(obj, Message):
            x400_to_mime(obj, _ctx())  # type: ignore[arg-type]
        elif isinstance(obj, Report):
            report_to_dsn(obj, _ctx())  # type: ignore[arg-type]
    except BridgeError:
        return


def mime_converter(data: bytes) -> None:
    """An Internet message towards X.400; only BridgeError may come out."""
    from bridge.convert.reports import internet_to_x400

    try:
        internet_to_x400(data, "a@example.org", ["John.Smith@x400.example"], _ctx())
    except BridgeError:
        return


_CTX = None


def _ctx() -> object:
    global _CTX
    if _CTX is None:
        from tests.helpers import gateway_context

        _CTX = gateway_context(datetime(2026, 12, 7, tzinfo=UTC))  # type: ignore[assignment]
    return _CTX


TARGETS: dict[str, tuple[Callable[[], list[object]], Callable[..., object],
                         Callable[[object], None]]] = {
    "p1": (p1_seeds, mutate_segments, p1_responder),          # type: ignore[dict-item]
    "ber": (ber_seeds, mutate, x400_decoder),                 # type: ignore[dict-item]
    "mime": (mime_seeds, mutate, mime_converter),             # type: ignore[dict-item]
}
