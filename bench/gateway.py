"""The gateway end to end, both directions, against Postfix: SMTP -> durable queue -> RFC 2156
conversion -> P1, and P1 -> queue -> conversion -> SMTP.

Three measurements in one run (the machine is noisy: compare ratios within a run).  Phases 1
and 2 alternate for ``--rounds`` rounds (default 3) against the same gateway process, and the
goal is judged on the median of the rounds' ratios (Postfix's own rate swings by 2x between runs
here); each round also reports CPU ms per message of the gateway, the remote MTA and smtp-source
(from /proc and getrusage), the figure to compare across changes.

1. Postfix's own durable accept rate (bench/postfix_baseline.py: smtp-source into a private
   Postfix delivering to a Maildir).
2. The gateway as a separate process (``python -m bridge serve --config F``) under the same load
   generator, ``smtp-source -4 -c -m N -s 10 -l SIZE -f a@internet.example -t
   John.Smith@x400.example``, transferring every message over P1 (RFC 1006) to our own responder
   in this process playing the remote MTA.  The rate runs from the first accept (the queue's
   ``created`` stamp of the first message, written in the transaction that makes it durable
   before the "250", RFC 5321 §4.1.1.4) to the last P1 transfer confirmation (the responder's
   store callback, called before it confirms, X.411 §12.2.1.1).  Goal: >= 0.5 x Postfix's rate.
3. Latency SMTP "250" -> P1 transfer confirmed, p50 and p99: a few smtplib clients (threads of
   one child process, so they do not share a GIL with the responder), each on one SMTP session,
   send tagged messages (unique Subject) one after another and note when each "250" to DATA
   came; the responder notes when each tag arrived.  Both stamp with the system clock.
   (smtp-source cannot tell the accept time per message.)  The clients are paced
   (``--latency-rate``, default 200 messages/s in all, below the gateway's saturation here) so
   that the figure is the path's latency, not the wait behind a backlog; ``0`` sends flat out.
4. X.400 -> SMTP (bench/_gateway_inbound.py): N P1 transfers into the gateway, delivered to a
   real Postfix (a Maildir), against Postfix relaying N messages to that same Postfix; each
   round next to phases 1 and 2.  Goal: >= 0.8 x the Postfix relay.

Issue 15 adds the queue on PostgreSQL (a private cluster, fsync on like SQLite's queue):
``--backend postgresql`` runs phases 2 and 4 also against a gateway on PostgreSQL, in the same
rounds, and prints its rate as a ratio to SQLite's (goal >= 0.7); ``--nodes 2`` adds two
gateways on one PostgreSQL queue sharing the load (smtp-source and the P1 sessions split between
them) and prints their combined rate -- on a 2-core machine that shows the overhead of sharing
a queue, not scaling.  Goals, judged on the medians: SMTP -> X.400 >= 1.0 x Postfix's accept
rate (issue 15; issue 6 asked 0.5), X.400 -> SMTP >= 0.8 x the Postfix relay, PostgreSQL >=
0.7 x SQLite.

Run: ``python bench/gateway.py [--messages N] [--size BYTES] [--rounds N]
[--latency-messages N] [--latency-rate R] [--clients N] [--workers N] [--smtp-processes N]
[--backend sqlite|postgresql] [--nodes 1|2] [--log-level LEVEL] [--profile FILE]`` (root,
Postfix installed: ``.ci/install-peers``; PostgreSQL for ``--backend postgresql``:
``.ci/install-postgres``).  Every process it starts (Postfix, PostgreSQL, the gateways,
smtp-source) is stopped before it returns.  Exit status 1 when a goal is not met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import re
import resource
import signal
import smtplib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._gateway_inbound import make_apdus, p1_rate, postfix_relay_rate  # noqa: E402
from bench._gateway_rig import (  # noqa: E402
    DOMAIN,
    GatewayProcess,
    RemoteMTA,
    first_accept,
    remote_responder,
    tree_cpu_seconds,
    write_config,
)
from bench.postfix_baseline import SESSIONS, postfix_accept_rate  # noqa: E402
from bridge.codec import decode_apdu  # noqa: E402
from bridge.config import DEFAULT_WORKERS  # noqa: E402
from bridge.model.apdu import Message  # noqa: E402
from tests.pgserver import PgCluster, unavailable_reason  # noqa: E402
from tests.postfix import Postfix, free_port, instance_root, postfix_unavailable  # noqa: E402

SENDER = "a@internet.example"
RECIPIENT = f"John.Smith@{DOMAIN}"
GOAL_RATIO = 1.0                     # issue 15: SMTP -> X.400 >= 1.0 x Postfix's durable accept
GOAL_TO_SMTP = 0.8                   # issue 15: X.400 -> SMTP >= 0.8 x a Postfix relay hop
GOAL_PG = 0.7                        # issue 15: PostgreSQL >= 0.7 x SQLite (one node)
TAG = re.compile(rb"x400bridge-lat-(\d{6})")
TIMEOUT_PER_MESSAGE = 0.03           # s: 33 msg/s, far below the goal (~215 msg/s here)
MIN_TIMEOUT = 60.0
SMTP_TIMEOUT = 30.0                  # s per SMTP command of a latency client


@dataclass(frozen=True, slots=True, kw_only=True)
class Setup:
    """Gateways measured together: one on SQLite, one on PostgreSQL, or nodes sharing one
    PostgreSQL queue (the load is split between them)."""

    label: str
    gateways: tuple[GatewayProcess, ...]
    queue: Path | str                # the SQLite file or the PostgreSQL DSN (first_accept)


@dataclass(frozen=True, slots=True, kw_only=True)
class Round:
    """One round: the two Postfix yardsticks, then each setup in both directions."""

    postfix_accept: float            # msgs/s, phase 1
    postfix_relay: float             # msgs/s, phase 4's yardstick
    to_x400: dict[str, Throughput]   # setup label -> phase 2
    to_smtp: dict[str, float]        # setup label -> msgs/s, phase 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Throughput:
    """Phase 2: N messages from smtp-source through the gateway to the remote MTA."""

    messages: int
    first_accept: float              # time.time() of the first durable accept
    intake_done: float               # time.time() smtp-source exited (all "250"s received)
    last_confirmed: float            # time.time() of the last P1 transfer confirmation
    source_started: float            # time.time() smtp-source was started
    cpu_gateway: float               # CPU s of the gateway and its children (conversion pool)
    cpu_main: float                  # CPU s of the gateway's own process
    cpu_remote: float                # CPU s of this process (the remote MTA, P1 responder side)
    cpu_source: float                # CPU s of smtp-source

    @property
    def rate(self) -> float:
        return self.messages / (self.last_confirmed - self.first_accept)

    @property
    def rate_from_start(self) -> float:
        """The baseline's clock: from starting smtp-source (a slightly lower figure)."""
        return self.messages / (self.last_confirmed - self.source_started)

    @property
    def intake_rate(self) -> float:
        return self.messages / (self.intake_done - self.source_started)


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency:
    """Phase 3: seconds from each "250" to its P1 transfer confirmation, sorted."""

    samples: tuple[float, ...]
    clients: int
    wall: float

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile (0 < p <= 100)."""
        rank = max(1, -(-len(self.samples) * p // 100))
        return self.samples[int(rank) - 1]


def _abort_reason(gateways: Sequence[GatewayProcess],
                  sources: Sequence[asyncio.subprocess.Process] = (),
                  source_log: Path | None = None) -> str | None:
    for gateway in gateways:
        if not gateway.alive():
            return f"the gateway exited\n--- gateway log (tail) ---\n{gateway.log_tail()}"
    for source in sources:
        if source.returncode not in (None, 0):
            text = source_log.read_text(errors="replace") if source_log else ""
            return f"smtp-source exited {source.returncode}: {text[-2000:]}"
    return None


def _cpu_of(gateways: Sequence[GatewayProcess], *, descendants: bool = True) -> float:
    return sum(tree_cpu_seconds(g.proc.pid, descendants=descendants)
               for g in gateways if g.proc is not None)


async def throughput(setup: Setup, remote: RemoteMTA, work: Path, *, n: int,
                     size: int) -> Throughput:
    """Run smtp-source against the setup's gateways (the messages and the ``SESSIONS``
    sessions split between them) until the remote MTA has confirmed all ``n``."""
    base = remote.count
    gateways = setup.gateways
    cpu_gateway, cpu_main = _cpu_of(gateways), _cpu_of(gateways, descendants=False)
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    source_log = work / "smtp-source.log"
    k = len(gateways)
    intake_done: list[float] = []
    sources = []
    with source_log.open("wb") as err:
        started = time.time()
        for i, gateway in enumerate(gateways):
            argv = ["smtp-source", "-4", "-c", "-m", str(n // k + (i < n % k)), "-s",
                    str(max(1, SESSIONS // k)), "-l", str(size), "-f", SENDER, "-t",
                    RECIPIENT, f"127.0.0.1:{gateway.smtp_port}"]
            sources.append(await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=err))

    async def watch() -> None:
        await asyncio.gather(*(source.wait() for source in sources))
        intake_done.append(time.time())
        remote.changed.set()                # let the waiter look at the exit status now

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        await remote.wait(lambda: remote.count >= base + n,
                          max(MIN_TIMEOUT, n * TIMEOUT_PER_MESSAGE),
                          lambda: _abort_reason(gateways, sources, source_log))
        await asyncio.wait_for(watcher, MIN_TIMEOUT)
    except TimeoutError as exc:
        raise RuntimeError(f"gateway throughput: {exc}\n--- gateway log (tail) ---\n"
                           f"{gateways[0].log_tail()}") from exc
    finally:
        for source in sources:
            if source.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    source.kill()
                await source.wait()
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    failed = [source.returncode for source in sources if source.returncode != 0]
    if failed:
        raise RuntimeError(f"smtp-source exited {failed[0]}: "
                           f"{source_log.read_text(errors='replace')[-2000:]}")
    cpu_gateway = _cpu_of(gateways) - cpu_gateway
    cpu_main = _cpu_of(gateways, descendants=False) - cpu_main
    own_end, kids_end = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    first = first_accept(setup.queue, since=started)
    if first is None:
        raise RuntimeError("no to-x400 message in the gateway's queue")
    return Throughput(messages=n, first_accept=first, intake_done=intake_done[0],
                      last_confirmed=max(remote.confirmed[base:base + n]),
                      source_started=started, cpu_gateway=cpu_gateway, cpu_main=cpu_main,
                      cpu_remote=_cpu(own_end) - _cpu(own), cpu_source=_cpu(kids_end) - _cpu(kids))


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _tagged_message(tag: str, size: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = RECIPIENT
    msg["Subject"] = f"latency probe {tag}"
    msg["Message-ID"] = f"<{tag}@internet.example>"
    line = "The quick brown fox jumps over the lazy dog, 0123456789.\n"
    msg.set_content(line * max(1, size // len(line)))
    return msg.as_bytes(policy=SMTP_POLICY)


def _client(port: int, tags: list[str], size: int, interval: float) -> dict[str, float]:
    """One SMTP session sending one message per tag, one every ``interval`` seconds at most
    (0: as fast as the "250"s come); the time.time() of each "250"."""
    accepted: dict[str, float] = {}
    messages = {tag: _tagged_message(f"x400bridge-lat-{tag}", size) for tag in tags}
    with smtplib.SMTP("127.0.0.1", port, timeout=SMTP_TIMEOUT) as smtp:
        due = time.monotonic()
        for tag in tags:
            due += interval
            refused = smtp.sendmail(SENDER, [RECIPIENT], messages[tag])
            accepted[tag] = time.time()       # sendmail returns on the "250" to DATA
            if refused:
                raise RuntimeError(f"the gateway refused {RECIPIENT}: {refused}")
            time.sleep(max(0.0, due - time.monotonic()))   # pacing, not synchronisation
    return accepted


def _clients(port: int, shares: list[list[str]], size: int,
             interval: float) -> dict[str, float]:
    """Run in a child process: one thread (and SMTP session) per share."""
    n = len(shares)
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="smtp-client") as pool:
        parts = list(pool.map(_client, [port] * n, shares, [size] * n, [interval] * n))
    return {tag: at for part in parts for tag, at in part.items()}


async def latency(gateway: GatewayProcess, remote: RemoteMTA, *, n: int, size: int,
                  clients: int, rate: float) -> Latency:
    """``n`` tagged messages from ``clients`` concurrent smtplib sessions, ``rate`` messages/s
    in all (0: as fast as the gateway answers)."""
    tags = [f"{i:06d}" for i in range(n)]
    shares = [tags[i::clients] for i in range(clients)]
    shares = [share for share in shares if share]
    loop = asyncio.get_running_loop()
    # the clients run in a child process so that they and the responder do not take turns
    # at one GIL (which skews both time stamps); both sides stamp with the system clock
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        accepted = await asyncio.wait_for(
            loop.run_in_executor(pool, _clients, gateway.smtp_port, shares, size,
                                 len(shares) / rate if rate > 0 else 0.0),
            max(MIN_TIMEOUT, n * TIMEOUT_PER_MESSAGE))
    try:
        await remote.wait(lambda: all(tag in remote.tagged for tag in tags),
                          max(MIN_TIMEOUT, n * TIMEOUT_PER_MESSAGE),
                          lambda: _abort_reason([gateway]))
    except TimeoutError as exc:
        missing = sum(1 for tag in tags if tag not in remote.tagged)
        raise RuntimeError(f"latency: {missing} of {n} tagged messages never arrived ({exc})\n"
                           f"--- gateway log (tail) ---\n{gateway.log_tail()}") from exc
    wall = max(remote.tagged[tag] for tag in tags) - min(accepted.values())
    if remote.duplicates:
        raise RuntimeError(f"latency: {remote.duplicates} tagged messages arrived twice")
    return Latency(samples=tuple(sorted(remote.tagged[t] - accepted[t] for t in tags)),
                   clients=clients, wall=wall)


def _check_sample(apdu: bytes | None) -> None:
    """What the remote MTA got is a converted P1 message for the mapped recipient."""
    if apdu is None:
        raise RuntimeError("the remote MTA received nothing")
    message = decode_apdu(apdu)
    if not isinstance(message, Message):
        raise RuntimeError(f"the remote MTA received a {type(message).__name__}, not a message")
    names = [str(r.name.address).lower() for r in message.envelope.recipients]
    if not any("acme" in name for name in names):
        raise RuntimeError(f"unexpected P1 recipients {names}")


@contextlib.asynccontextmanager
async def profiler(gateway: GatewayProcess, out: Path | None) -> AsyncIterator[None]:
    """With ``out``: py-spy samples the gateway and its children (on CPU) while the block runs,
    raw folded stacks of the threads holding the GIL to ``out`` (py-spy from PyPI)."""
    if out is None:
        yield
        return
    assert gateway.proc is not None
    spy = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses", "--gil",
        "-r", "250", "-f", "raw", "-o", str(out), "-p", str(gateway.proc.pid),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        await asyncio.wait_for(spy.wait(), MIN_TIMEOUT)


def _setups(args: argparse.Namespace, work: Path, *, remote_port: int, smarthost_port: int,
            cluster: PgCluster | None) -> list[Setup]:
    """SQLite; with a cluster also one node on PostgreSQL, and ``args.nodes`` nodes sharing
    another PostgreSQL queue when more than one."""
    def gateway(name: str, dsn: str | None = None, node_id: str | None = None
                ) -> GatewayProcess:
        folder = work / name
        folder.mkdir()
        config = write_config(folder, remote_port=remote_port, smarthost_port=smarthost_port,
                              workers=args.workers, log_level=args.log_level,
                              smtp_processes=args.smtp_processes, dsn=dsn, node_id=node_id)
        return GatewayProcess(config, folder / "gateway.log")

    setups = [Setup(label="SQLite", gateways=(gateway("sqlite"),),
                    queue=work / "sqlite" / "var" / "queue.sqlite")]
    if cluster is not None:
        dsn = cluster.create_database()
        setups.append(Setup(label="PostgreSQL", gateways=(gateway("pg", dsn),), queue=dsn))
        if args.nodes > 1:
            dsn = cluster.create_database()
            nodes = tuple(gateway(f"pg-node-{i}", dsn, f"node-{i}") for i in range(args.nodes))
            setups.append(Setup(label=f"{args.nodes} nodes on PostgreSQL", gateways=nodes,
                                queue=dsn))
    return setups


async def _round(args: argparse.Namespace, setups: Sequence[Setup], remote: RemoteMTA,
                 work: Path, *, maildir: Path, relay_port: int,
                 profile: Path | None) -> Round:
    """Phase 1 and Postfix's relay, then phases 2 and 4 for every setup."""
    n, size = args.messages, args.size
    accept = await asyncio.to_thread(postfix_accept_rate, n, size)
    relay = await postfix_relay_rate(relay_port, maildir, n, size)
    apdus = await asyncio.to_thread(make_apdus, setups[0].gateways[0].config, n, size)
    to_x400: dict[str, Throughput] = {}
    to_smtp: dict[str, float] = {}
    for j, setup in enumerate(setups):
        async with profiler(setup.gateways[0], profile if j == 0 else None):
            to_x400[setup.label] = await throughput(setup, remote, work, n=n, size=size)
        inbound = profile.with_suffix(".inbound" + profile.suffix) if profile else None
        async with profiler(setup.gateways[0], inbound if j == 0 else None):
            to_smtp[setup.label] = await p1_rate([g.p1_port for g in setup.gateways], apdus,
                                                 maildir, functools.partial(_abort_reason,
                                                                            setup.gateways))
    return Round(postfix_accept=accept, postfix_relay=relay, to_x400=to_x400, to_smtp=to_smtp)


async def gateway_run(args: argparse.Namespace
                      ) -> tuple[list[Round], Latency, list[int | None]]:
    """``args.rounds`` rounds of the Postfix yardsticks then every setup (alternating, so that
    all see the same drift of a noisy machine), then phase 3 against the SQLite gateway;
    everything stopped on the way out."""
    remote = RemoteMTA(TAG)
    responder = await remote_responder(remote)
    cluster: PgCluster | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="x400bridge-bench-gw-") as tmp, \
                instance_root(prefix="x400bridge-bench-gw-pf-") as pf_root:
            work = Path(tmp)
            if args.backend == "postgresql" or args.nodes > 1:
                cluster = await asyncio.to_thread(PgCluster.start, durable=True)
            dst = Postfix(pf_root / "dst", name="dst", smtpd_port=free_port())
            relay = Postfix(pf_root / "relay", name="relay", smtpd_port=free_port(),
                            relay_to=("127.0.0.1", dst.smtpd_port))
            with dst, relay:
                setups = _setups(args, work, remote_port=responder.port,
                                 smarthost_port=dst.smtpd_port, cluster=cluster)
                gateways = [g for setup in setups for g in setup.gateways]
                try:
                    for gateway in gateways:
                        await gateway.start()
                    rounds = [await _round(args, setups, remote, work,
                                           maildir=dst.maildir_base / "catchall",
                                           relay_port=relay.smtpd_port,
                                           profile=args.profile if i == 0 else None)
                              for i in range(args.rounds)]
                    _check_sample(remote.sample)
                    lat = await latency(setups[0].gateways[0], remote,
                                        n=args.latency_messages, size=args.size,
                                        clients=args.clients, rate=args.latency_rate)
                finally:
                    statuses = [await gateway.stop() for gateway in gateways]
    finally:
        if cluster is not None:
            cluster.stop()
        await responder.close(drain=5)
    return rounds, lat, statuses


def _goal(ratio: float, goal: float) -> str:
    return f"goal >= {goal}: {'met' if ratio >= goal else 'NOT met'}"


def _report(args: argparse.Namespace, rounds: list[Round]) -> bool:
    """Print the rounds and the medians against the goals; True when every goal is met."""
    n = args.messages
    per = 1e3 / n
    labels = list(rounds[0].to_x400)
    for i, r in enumerate(rounds, 1):
        print(f"  round {i}: Postfix durable accept + Maildir delivery "
              f"{r.postfix_accept:,.0f} msgs/s; Postfix relay hop to that Postfix "
              f"{r.postfix_relay:,.0f} msgs/s")
        for label in labels:
            tp, back = r.to_x400[label], r.to_smtp[label]
            print(f"    {label}: SMTP -> X.400 first accept -> last P1 confirmation "
                  f"{tp.rate:,.0f} msgs/s ({tp.last_confirmed - tp.first_accept:.2f} s; intake "
                  f"alone {tp.intake_rate:,.0f}): ratio {tp.rate / r.postfix_accept:.2f}; "
                  f"X.400 -> SMTP {back:,.0f} msgs/s: ratio {back / r.postfix_relay:.2f}")
            print(f"      CPU per message: gateway {tp.cpu_gateway * per:.2f} ms = "
                  f"{tp.cpu_main * per:.2f} its own process(es) + "
                  f"{(tp.cpu_gateway - tp.cpu_main) * per:.2f} others (conversion, intake), "
                  f"remote MTA {tp.cpu_remote * per:.2f} ms, smtp-source "
                  f"{tp.cpu_source * per:.2f} ms")

    def median(ratio: Callable[[Round], float]) -> float:
        return statistics.median(ratio(r) for r in rounds)
    ok = True
    sqlite = labels[0]
    for what, figure, goal in (
            ("SMTP -> X.400 / Postfix accept", median(
                lambda r: r.to_x400[sqlite].rate / r.postfix_accept), GOAL_RATIO),
            ("X.400 -> SMTP / Postfix relay", median(
                lambda r: r.to_smtp[sqlite] / r.postfix_relay), GOAL_TO_SMTP)):
        print(f"  median ratio {what} (SQLite): {figure:.3f}   {_goal(figure, goal)}")
        ok &= figure >= goal
    if len(labels) > 1:
        pg = labels[1]
        for what, figure in (
                ("SMTP -> X.400", median(lambda r: r.to_x400[pg].rate / r.to_x400[sqlite].rate)),
                ("X.400 -> SMTP", median(lambda r: r.to_smtp[pg] / r.to_smtp[sqlite]))):
            print(f"  median ratio PostgreSQL / SQLite, {what}: {figure:.3f}   "
                  f"{_goal(figure, GOAL_PG)}")
            ok &= figure >= GOAL_PG
    if len(labels) > 2:
        label, single = labels[2], labels[1]
        out = statistics.median(r.to_x400[label].rate for r in rounds)
        back = statistics.median(r.to_smtp[label] for r in rounds)
        print(f"  {label} (one queue), combined: SMTP -> X.400 {out:,.0f} msgs/s "
              f"({median(lambda r: r.to_x400[label].rate / r.to_x400[single].rate):.2f} x "
              f"one node), X.400 -> SMTP {back:,.0f} msgs/s "
              f"({median(lambda r: r.to_smtp[label] / r.to_smtp[single]):.2f} x one node); "
              f"no goal: on a {os.cpu_count()}-core machine the nodes share the same cores, "
              "so this shows the overhead of sharing a queue, not scaling")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--latency-messages", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4, help="latency: SMTP sessions")
    parser.add_argument("--latency-rate", type=float, default=200.0,
                        help="latency: messages/s in all, below saturation (0: flat out)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help="the gateway's queue.workers (default: the gateway's default)")
    parser.add_argument("--smtp-processes", type=int, default=1,
                        help="the gateway's smtp.in.processes")
    parser.add_argument("--rounds", type=int, default=3,
                        help="Postfix-then-gateway rounds; the goal is judged on the median")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="py-spy raw stacks of the gateway during the SMTP -> X.400 "
                             "throughput phase (X.400 -> SMTP: FILE with .inbound before "
                             "its suffix)")
    parser.add_argument("--log-level", default="info", help="the gateway's log.level")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                        help="postgresql: also a gateway on PostgreSQL, as a ratio to SQLite")
    parser.add_argument("--nodes", type=int, choices=(1, 2), default=1,
                        help="2: also two gateways sharing one PostgreSQL queue")
    args = parser.parse_args(argv)
    if min(args.messages, args.size, args.latency_messages, args.clients, args.workers,
           args.rounds) < 1:
        parser.error("every number must be positive")
    reason = postfix_unavailable()
    if reason is None and (args.backend == "postgresql" or args.nodes > 1):
        reason = unavailable_reason()
    if reason is not None:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    began = time.monotonic()
    rounds, lat, statuses = asyncio.run(gateway_run(args))
    print("Gateway end to end both ways (durable queue, RFC 2156, P1 over RFC 1006, SMTP), "
          f"loopback, {args.rounds} round(s) of Postfix then the gateway(s)")
    print(f"  {args.messages} x {args.size} B each way, {SESSIONS} SMTP sessions / P1 "
          f"associations; gateway queue.workers={args.workers}, "
          f"smtp.in.processes={args.smtp_processes}, log {args.log_level}")
    ok = _report(args, rounds)
    paced = f"paced at {args.latency_rate:g}/s" if args.latency_rate > 0 else "flat out"
    print(f"  latency SMTP 250 -> P1 transfer confirmed (SQLite), {len(lat.samples)} messages, "
          f"{lat.clients} smtplib sessions {paced} ({len(lat.samples) / lat.wall:,.0f} msgs/s):")
    print(f"    p50 {lat.percentile(50) * 1e3:.1f} ms   p99 {lat.percentile(99) * 1e3:.1f} ms   "
          f"max {lat.samples[-1] * 1e3:.1f} ms   (no goal set)")
    print(f"  gateway exit statuses after SIGTERM: {statuses}; bench wall time "
          f"{time.monotonic() - began:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
