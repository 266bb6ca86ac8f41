"""The gateway: SMTP endpoint and X.400 endpoint meeting only through the queue (DESIGN.md).

Intake (each ends in ``Queue.submit`` -- durable before the peer hears "accepted"):

* SMTP RCPT asks :meth:`Gateway.check_recipient` (RFC 2156 §4.3.4 Stage I -> X.400, Stage II
  -> Internet relay); DATA submits the RFC 5322 message (direction to-x400 or to-smtp).
* A P1 transfer (or a file in the spool's ``in/``) calls :meth:`Gateway.on_apdu`: a message is
  queued to-smtp with its recipients mapped by RFC 2156 §4.3.5 (a recipient that does not map
  gets an X.400 non-delivery report at once); a report becomes a DSN (§5.3.8); a probe is
  answered by the gateway (§5.3.9).

Delivery: one worker loop per direction claims jobs, converts (RFC 2156 §5.1 / §5.3), sends
(P1 association per peer, the spool, or SMTP to the MX / smarthost) and records one outcome
per recipient.  A report loop turns final outcomes into DSNs (RFC 3464, for mail that came by
SMTP) or X.400 reports (X.411, for mail that came by P1) and queues them like any message.

Waking: a worker scans the queue when woken -- by this process (a submission, an outcome that
needs a report), by the queue's notifications (:class:`bridge.gateway.wakeup.Doorbell`: on
PostgreSQL a NOTIFY from any node) -- and at the latest every ``rescan`` seconds, for what
comes due without a notification: a deferred recipient's next attempt, a lease of a dead node
that ran out.  Every claim names this node (``[gateway] node-id``) as the lease holder.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from bridge.codec import decode_apdu, encode_apdu
from bridge.convert.context import Context
from bridge.convert.gateway_reports import RecipientFate, message_report
from bridge.convert.notary import NotaryError, SmtpEnvelope, SmtpRecipient
from bridge.convert.priority import from_x400
from bridge.errors import AssociationError, BridgeError, DecodeError
from bridge.gateway.commit import CLAIM, WORK, QueueWriter
from bridge.gateway.convertpool import (
    Arrival,
    Converter,
    MimeOut,
    Refusal,
    inspect_arrival,
    to_mime,
    to_x400,
)
from bridge.gateway.dsn import DSNRecipient, make_dsn, wanted
from bridge.gateway.metrics import Metrics
from bridge.gateway.routing import SPOOL, Router, rcpt_decision
from bridge.mapping.source import LookupDeferred
from bridge.model.apdu import Message, Probe
from bridge.model.common import Priority
from bridge.model.oraddress import ORName
from bridge.model.report import Report
from bridge.queue.api import MessageQueue
from bridge.queue.model import (
    Deferred,
    Delivered,
    Direction,
    Failed,
    Outcome,
    Recipient,
    Submission,
)
from bridge.queue.types import Job, ReportTask
from bridge.smtp.client import OutboundSettings
from bridge.smtp.server import RcptDecision
from bridge.throttle import LogLimiter
from bridge.x400.peers import Peer, PeerTable
from bridge.x400.profile import reencode_for
from bridge.x400.shell import Association, Timeouts
from bridge.x400.spool import Spool

log = logging.getLogger("x400bridge.gateway")

_IDLE_ASSOCIATION = 30.0      # seconds an unused outbound association stays bound
#: seconds between queue scans when nobody woke the worker, unless the gateway says otherwise
#: (App: the SQLite queue is scanned this often -- it has no notifications between processes)
POLL = 1.0
#: claims a worker takes at once: their conversions run while the first is transferred
_BATCH = 8

#: what a conversion started by :meth:`Gateway._convert_ahead` gives: the BER MTS-APDUs to
#: transfer (to X.400), the message for SMTP, or why it cannot be converted
Converted = list[bytes] | MimeOut | Refusal


class DeliverSMTP(Protocol):
    """The SMTP client's one delivery attempt (:func:`bridge.smtp.client.deliver`; tests
    inject their own): an outcome per recipient address."""

    async def __call__(self, *, sender: str, recipients: Sequence[Recipient], data: bytes,
                       settings: OutboundSettings, envid: str | None = None,
                       ret: str | None = None,
                       mt_priority: int | None = None) -> dict[str, Outcome]: ...


class Gateway:
    """Routing, conversion and delivery between the queue and both endpoints."""

    def __init__(self, *, queue: MessageQueue, router: Router, context: Context,
                 peers: PeerTable, spool: Spool, smtp_out: OutboundSettings,
                 deliver_smtp: DeliverSMTP, reporting_mta: str, metrics: Metrics | None = None,
                 timeouts: Timeouts | None = None, converter: Converter | None = None,
                 node: str = "", lease: float = 600.0, rescan: float = POLL) -> None:
        """``node`` names this gateway as the holder of its claims' leases (``[gateway]
        node-id``); ``lease`` is how long a claim stays this node's (``[queue] lease``);
        ``rescan`` bounds the time between two scans of the queue when nothing woke it."""
        self.queue = queue
        self.router = router
        self.context = context
        self.peers = peers
        self.spool = spool
        self.smtp_out = smtp_out
        self.deliver_smtp = deliver_smtp
        self.reporting_mta = reporting_mta
        self.metrics = metrics
        self.timeouts = timeouts or Timeouts()
        self.converter = converter or Converter(None, context, processes=0)
        self.node = node
        self.lease = lease
        self.rescan = rescan
        self.wake: dict[str, asyncio.Event] = {
            "to-x400": _Bell(), "to-smtp": _Bell(), "reports": asyncio.Event(),
            "spool": asyncio.Event()}
        # per direction, the claim a worker has in the queue writer right now (see _claim)
        self._claiming: dict[str, _Claim] = {}
        self.wake_stop = asyncio.Event()
        self._locks: dict[str, asyncio.Lock] = {}
        self.writer = QueueWriter(queue, log)      # every queue write of the hot paths (lanes)
        self._associations: dict[str, tuple[Association, float]] = {}
        self.stopping = False
        # outcomes that could not be recorded (disk full, database locked): recorded as soon
        # as the queue takes writes again, before any worker claims more work
        self._unrecorded: list[tuple[Job, Mapping[str, Outcome], float]] = []
        self._recording = asyncio.Lock()
        self._log_limit = LogLimiter(interval=60.0)

    # ================================================================== helpers

    def ctx(self) -> Context:
        """The conversion context at this moment."""
        return dataclasses.replace(self.context, now=datetime.now(UTC))

    async def submit(self, sub: Submission) -> str:
        """The one gate into the queue: durable when it returns (STYLE.md §10).

        Group commit: the queue writer (:mod:`bridge.gateway.commit`) commits the writes that
        arrive while it is busy together, so concurrent SMTP sessions and P1 associations do
        not queue up behind one fsync each.
        """
        message_id = await self.writer.submit(sub)                # logs "queued ..."
        if self.metrics is not None:
            self.metrics.accepted(sub.direction, sub.origin)
        self.wake[sub.direction].set()
        return message_id

    # ================================================================== intake: SMTP

    async def check_recipient(self, address: str) -> RcptDecision:
        """RCPT TO: where the recipient goes, or the refusal (RFC 5321 §4.1.1.3)."""
        return await rcpt_decision(self.router, address)

    # ================================================================== intake: X.400

    async def on_apdu(self, apdu: bytes, peer: Peer) -> None:
        """A P1 transfer (or spool file): queue it durably, or raise to refuse it.  A message
        is decoded and its recipients mapped in a conversion process (:func:`inspect_arrival`:
        most of the CPU a transfer costs); a report or a probe here."""
        origin = f"p1:{peer.key}"
        arrival = await self.converter.run(inspect_arrival, apdu)
        if isinstance(arrival, Arrival):
            await self._message_in(arrival, apdu, origin, peer)
            return
        if arrival.deferred:     # not known yet -- refuse the transfer, the MTA retries
            raise LookupDeferred(arrival.reason)
        if arrival.reason:
            raise DecodeError(arrival.reason)   # the peer keeps it
        obj = decode_apdu(apdu)
        if isinstance(obj, Report):
            await self._report_in(obj, origin)
        elif isinstance(obj, Probe):
            from bridge.convert.reports import answer_probe

            ctx = self.ctx()
            report = answer_probe(obj, ctx, self._deliverable)
            await self._queue_x400_report(report, origin, peer.key)

    def _deliverable(self, name: ORName) -> bool:
        try:
            self.context.mapper.to_rfc822(name)
        except BridgeError:
            return False
        return True

    async def _message_in(self, arrival: Arrival, apdu: bytes, origin: str,
                          peer: Peer) -> None:
        recipients = tuple(
            Recipient(address=address, route=address.rpartition("@")[2].lower(),
                      extra={"number": number, "report": "delivery"} if report
                      else {"number": number})    # X.411 §12.2.1.1.1.16, RFC 2156 §4.6.2.3
            for number, address, report in arrival.recipients)
        priority = from_x400(arrival.priority)      # RFC 6710 App B
        if recipients:
            # converted once, by the delivery worker: a message that does not convert fails
            # there and is reported like any other failure (X.400 NDR)
            await self.submit(Submission(direction="to-smtp", origin=origin,
                                         priority=priority, sender=arrival.sender,
                                         recipients=recipients, data=apdu,
                                         meta={"format": "apdu", "peer": peer.key,
                                               "mts_id": arrival.mts_id}))
        if arrival.report is not None:           # RFC 6710 §4.6: the message's priority
            await self._queue_x400_report(arrival.report, origin, peer.key, priority)

    async def _report_in(self, report: Report, origin: str) -> None:
        from bridge.convert.reports import report_to_dsn

        res = report_to_dsn(report, self.ctx())
        rcpts = tuple(Recipient(address=a, route=a.rpartition("@")[2].lower())
                      for a in res.rcpt_to)
        if rcpts:
            await self.submit(Submission(direction="to-smtp", origin=origin, sender="",
                                         recipients=rcpts, data=res.message,
                                         meta={"format": "mime"}))

    async def _queue_x400_report(self, report: Report, origin: str, route: str | None,
                                 priority: int = 0) -> None:
        """Queue an X.400 report; ``priority``: the queue priority (RFC 6710 §4.6: that of
        the message it reports on, when the gateway makes it)."""
        dest = report.destination.address
        await self.submit(Submission(
            direction="to-x400", origin=origin, sender="", priority=priority,
            recipients=(Recipient(address=str(dest), route=route or
                                  self.router.x400_route(dest)),),
            data=encode_apdu(report), meta={"format": "apdu"}))

    # ================================================================== delivery: to X.400

    async def run(self, direction: Direction, slot: int = 0) -> None:
        """A worker loop for one direction until :meth:`stop`.  Each to-x400 worker (``slot``)
        has its own association to a peer, so N workers keep N transfers going at once.

        The conversions of a claimed batch all start at once (in the conversion processes),
        so the next message is converted while this one is being transferred; transfers and
        records stay one job at a time, in order."""
        bell = self.wake[direction]
        asked = time.monotonic()                  # what the next claim must have seen
        while not self.stopping:
            try:
                if self._unrecorded:
                    await self._record_unrecorded()
                jobs = await self._claim(direction, asked)
            except BridgeError as exc:            # the queue takes no writes (disk full...)
                self._log_queue_trouble(exc)
                await self.sleep(direction)
                asked = time.monotonic()
                continue
            ahead = [self._convert_ahead(job) for job in jobs]
            try:
                for job, conversion in zip(jobs, ahead, strict=True):
                    if self.stopping:
                        await self.writer.call(self.queue.release, job, lane=WORK)
                        continue
                    await self._attempt(job, conversion, slot)
            finally:
                pending = [c for c in ahead if c is not None and not c.done()]
                for conversion in pending:
                    conversion.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            if not jobs:
                await self._close_idle()
                slept = time.monotonic()
                await self.sleep(direction)
                # woken by a ring: the work it announced was committed before the ring; by
                # the rescan: what came due by now
                rung = bell.rung if isinstance(bell, _Bell) else slept
                asked = rung if rung >= slept else time.monotonic()
            else:
                asked = time.monotonic()

    async def _claim(self, direction: Direction, asked: float) -> list[Job]:
        """Claim up to :data:`_BATCH` jobs for a worker that needs a look at the queue taken
        after ``asked`` (monotonic).

        Every ring wakes every sleeping worker of a direction (on PostgreSQL every NOTIFY of
        any node, for either direction), and each used to claim: per message submitted up to
        eight claims that found nothing, each a statement the writer's lane ran in turn
        (bench/gateway.py on PostgreSQL: 1,578 empty claims of 2,085).  Now a worker whose
        look another worker's claim in flight already covers -- begun at or after ``asked``,
        so its statement's snapshot is later than the commit behind the ring -- waits for
        that claim instead, and when it came back with less than a full batch claims nothing:
        that claim took what it found due and free, the work is in hand.  (Only messages with
        many recipients on one route can make a batch smaller while more is due; the next
        claim of the worker that holds it finds the rest.)  After a full batch there may be
        more: it claims its own, as before.  Leases are untouched: every job is still one
        claim's, of one worker.  Only where a claim is a round trip (``concurrent_writes``:
        PostgreSQL): on SQLite a claim is a call in the writer's one thread, and waiting for
        another worker's would only delay this one."""
        flight = self._claiming.get(direction)
        if flight is not None and flight.started >= asked and self.queue.concurrent_writes:
            if await asyncio.shield(flight.found) < _BATCH:
                return []
        flight = _Claim(time.monotonic())
        self._claiming[direction] = flight
        found = _BATCH                            # unknown (failed): others claim their own
        try:
            jobs = await self.writer.call(functools.partial(
                self.queue.claim, direction, limit=_BATCH, lease=self.lease,
                node=self.node), lane=CLAIM)
            found = len(jobs)
            return jobs
        finally:
            if self._claiming.get(direction) is flight:
                del self._claiming[direction]
            flight.found.set_result(found)

    def _convert_ahead(self, job: Job) -> asyncio.Future[Converted] | None:
        """The conversion ``job`` needs before it is sent, started now; None if none."""
        run: Coroutine[Any, Any, Converted]
        if job.direction == "to-x400" and job.meta.get("format") != "apdu":
            peer = self.peers.peers.get(job.route) if job.route != SPOOL else None
            target = (peer.profile, self.peers.local.name) if peer is not None else None
            run = self.converter.run(to_x400, job.data, job.sender,
                                     [r.address for r in job.recipients], _smtp_envelope(job),
                                     target, key=job.message_id)
        elif job.direction == "to-smtp" and job.meta.get("format") == "apdu":
            run = self.converter.run(to_mime, job.data, key=job.message_id)
        else:
            return None
        task: asyncio.Future[Converted] = asyncio.ensure_future(run)
        task.add_done_callback(_retrieved)        # a batch cut short never awaits it
        return task

    async def _attempt(self, job: Job, conversion: asyncio.Future[Converted] | None,
                       slot: int) -> None:
        """Deliver one job and record its outcomes at once: what a crash can make us send
        twice is at most the one job per worker between the next hop's "yes" and this
        commit."""
        started = time.monotonic()
        try:
            converted = None if conversion is None else await conversion
            if job.direction == "to-x400":
                assert not isinstance(converted, MimeOut)       # to_x400 made it
                outcomes = await self._deliver_x400(job, slot, converted)
            else:
                assert not isinstance(converted, list)          # to_mime made it
                outcomes = await self._deliver_to_smtp(job, converted)
        except BridgeError as exc:                # anything unforeseen: keep it, retry later
            log.exception("delivery of %s failed unexpectedly", job.message_id)
            # the detail is in the log; a DSN or NDR made from this outcome later (expiry)
            # shows the sender the error's own reply text, never Python internals
            outcomes = {r.address: Deferred(status=exc.smtp.enhanced or "4.3.0",
                                            diagnostic=exc.smtp.text)
                        for r in job.recipients}
        try:
            # durable when this returns (the writer's batch committed): only then the next job
            await self.writer.call(self.queue.record, job, outcomes, lane=WORK)
        except BridgeError as exc:                # e.g. the disk is full: kept here and
            self._unrecorded.append((job, outcomes, started))     # recorded once it can be
            self._log_queue_trouble(exc)
            return
        self._recorded(job, outcomes, started)

    def _recorded(self, job: Job, outcomes: Mapping[str, Outcome], started: float) -> None:
        self._log_outcomes(job, outcomes, time.monotonic() - started)
        if _reportable(job, outcomes):
            self.wake["reports"].set()            # else the report loop's own scan suffices

    async def _record_unrecorded(self) -> None:
        """Record the outcomes kept by :meth:`_attempt`, oldest first; raises the queue's
        error while it still takes no writes.  (Until then no worker claims: the duplicates
        a crash can cause stay bounded by one job per worker.)"""
        async with self._recording:
            if not self._unrecorded:
                return                          # another worker recorded them meanwhile
            while self._unrecorded:
                job, outcomes, started = self._unrecorded[0]
                await self.writer.call(self.queue.record, job, outcomes, lane=WORK)
                self._unrecorded.pop(0)
                self._recorded(job, outcomes, started)
            log.info("the queue takes writes again: every outcome is recorded")

    def _log_queue_trouble(self, exc: BridgeError) -> None:
        self._log_limit.log(log, logging.ERROR, "queue", time.monotonic(),
                            "queue: %s (%d outcome(s) waiting to be recorded)", exc,
                            len(self._unrecorded))

    async def sleep(self, key: str, interval: float | None = None) -> None:
        """Wait until ``wake[key]`` is set (by this process or the queue's doorbell) or
        ``interval`` seconds (default :attr:`rescan`) passed: the bounded rescan finds what
        comes due without a notification."""
        event = self.wake[key]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), self.rescan if interval is None else interval)
        event.clear()

    def _log_outcomes(self, job: Job, outcomes: Mapping[str, Outcome], took: float) -> None:
        for address, outcome in outcomes.items():
            kind = type(outcome).__name__.lower()
            diagnostic = "" if isinstance(outcome, Delivered) else outcome.diagnostic
            log.info("%s %s to %s via %s: %s %s", job.message_id, job.direction, address,
                     job.route, kind, diagnostic)
            if self.metrics is not None:
                self.metrics.outcome(job.direction, kind, took)

    async def _deliver_x400(self, job: Job, slot: int,
                            converted: list[bytes] | Refusal | None) -> dict[str, Outcome]:
        """``converted``: what :meth:`_convert_ahead` made of the job (None: a ready APDU)."""
        ready = converted is None                 # an APDU of ours (a report): as stored
        if isinstance(converted, Refusal):
            return {r.address: _refused(converted) for r in job.recipients}
        apdus = [job.data] if converted is None else converted
        if job.route == SPOOL:
            for apdu in apdus:
                await asyncio.to_thread(self.spool.put, "out", apdu)
            return {r.address: Delivered(detail="spool") for r in job.recipients}
        try:
            peer = self.peers.get(job.route)
        except BridgeError as exc:
            return {r.address: Deferred(status="4.3.5", diagnostic=str(exc))
                    for r in job.recipients}
        if ready:
            try:                                  # the peer's profile (bridge.x400.profile)
                apdus = [self._for_peer(apdu, peer) for apdu in apdus]
            except BridgeError as exc:
                return {r.address: Failed(status=exc.smtp.enhanced, diagnostic=str(exc))
                        for r in job.recipients}
        key = f"{peer.key}#{slot}"
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:                      # one transfer at a time per association
                assoc = await self._association(peer, key)
                for apdu in apdus:
                    await assoc.transfer(apdu)
        except AssociationError as exc:
            self._associations.pop(key, None)
            return {r.address: Deferred(status="4.4.1", diagnostic=str(exc))
                    for r in job.recipients}
        return {r.address: Delivered(detail=f"p1 {peer.mta_name}") for r in job.recipients}

    def _for_peer(self, apdu: bytes, peer: Peer) -> bytes:
        """A stored APDU (a report we made) as ``peer``'s profile wants it."""
        data, notes = reencode_for(apdu, peer.profile, mta_name=self.peers.local.name,
                                   now=datetime.now(UTC))
        for note in notes:
            log.debug("to %s: %s", peer.mta_name, note)
        return data

    async def _association(self, peer: Peer, key: str) -> Association:
        held = self._associations.get(key)
        if held is not None:
            self._associations[key] = (held[0], time.monotonic())
            return held[0]
        timeouts = dataclasses.replace(self.timeouts, connect=peer.timeout, bind=peer.timeout,
                                       transfer=max(peer.timeout, 60.0))
        assoc = await Association.open(peer, self.peers.local, timeouts=timeouts)
        self._associations[key] = (assoc, time.monotonic())
        return assoc

    async def _close_idle(self, *, everything: bool = False) -> None:
        now = time.monotonic()
        for key, (assoc, used) in list(self._associations.items()):
            lock = self._locks.get(key)
            if lock is not None and lock.locked():
                continue                          # in use by another worker right now
            if everything or now - used > _IDLE_ASSOCIATION:
                del self._associations[key]
                try:
                    await assoc.release()
                except AssociationError as exc:
                    log.info("release of %s: %s", key, exc)

    # ================================================================== delivery: to SMTP

    async def _deliver_to_smtp(self, job: Job, out: MimeOut | Refusal | None
                               ) -> dict[str, Outcome]:
        """``out``: what :meth:`_convert_ahead` made of the job (None: relayed SMTP mail or a
        DSN of ours, already MIME)."""
        if out is None:
            data, sender = job.data, job.sender
            envid, ret = job.meta.get("envid"), job.meta.get("ret")
        else:
            if isinstance(out, Refusal):
                return {r.address: _refused(out) for r in job.recipients}
            data, sender, envid, ret = out.message, out.mail_from, out.envid, out.ret
        # RFC 6710 §4.2/§4.5: the priority received by SMTP, or that of the X.400 message --
        # whose 0 (normal) is the SMTP default, so it is not sent (nor tunnelled in an
        # MT-Priority field to every server without MT-PRIORITY, RFC 6758 §3.3)
        mt_priority = job.meta.get("mt_priority") if out is None else from_x400(
            Priority(out.priority), out.precedence,
            "STANAG4406" if self.smtp_out.mt_priority_policy == "STANAG4406" else "MIXER"
        ) or None
        return await self.deliver_smtp(
            sender=sender, recipients=job.recipients, data=data, settings=self.smtp_out,
            envid=envid, ret=ret, mt_priority=mt_priority)

    # ================================================================== reports

    async def run_reports(self) -> None:
        """Turn final outcomes into DSNs / X.400 reports until :meth:`stop`."""
        while not self.stopping:
            tasks = await asyncio.to_thread(self.queue.reports_due)
            for task in tasks:
                try:
                    await self._report(task)
                except BridgeError:
                    log.exception("report for %s failed; shunted", task.message_id)
                    await asyncio.to_thread(self.queue.shunt, task.message_id,
                                            "report generation failed")
            if not tasks:
                await self.sleep("reports")

    async def _report(self, task: ReportTask) -> None:
        if task.direction == "to-x400":
            await self._dsn_for(task)
        else:
            await self._x400_report_for(task)

    async def _dsn_for(self, task: ReportTask) -> None:
        """Mail that came by SMTP: a DSN to its MAIL FROM (RFC 3461 §6)."""
        blocks = []
        for item in task.items:
            r, last = item.recipient, item.last
            action = _ACTION[item.kind]
            if task.sender and wanted(action, r.notify):
                blocks.append(DSNRecipient(
                    address=r.address, action=action,
                    status=(last.status if last and last.status else
                            ("2.0.0" if item.kind == "delivery" else "4.0.0"
                             if item.kind == "delay" else "5.0.0")),
                    diagnostic=last.diagnostic if last else "", orcpt=r.orcpt))
        if blocks and task.meta.get("format") != "apdu":
            dsn = make_dsn(original=task.data, sender=task.sender, recipients=blocks,
                           reporting_mta=self.reporting_mta,
                           postmaster=self.context.postmaster, envid=task.meta.get("envid"),
                           ret=task.meta.get("ret"))
            # RFC 6710 §4.6: a DSN goes with the priority of the message it reports on
            mt_priority = task.meta.get("mt_priority")
            await self.submit(Submission(
                direction="to-smtp", origin="report", sender="",
                priority=mt_priority if isinstance(mt_priority, int) else 0,
                recipients=(Recipient(address=task.sender,
                                      route=task.sender.rpartition("@")[2].lower()),),
                data=dsn, meta={"format": "mime", "about": task.message_id,
                                **({"mt_priority": mt_priority}
                                   if isinstance(mt_priority, int) else {})}))
        await self._mark(task)

    async def _mark(self, task: ReportTask) -> None:
        by_kind: dict[str, list[str]] = {}
        for item in task.items:
            by_kind.setdefault(item.kind, []).append(item.recipient.address)
        for kind, addresses in by_kind.items():
            await asyncio.to_thread(self.queue.mark_reported, task.message_id, addresses, kind)

    async def _x400_report_for(self, task: ReportTask) -> None:
        """Mail that came by P1: an X.400 (non-)delivery report to its originator."""
        if task.meta.get("format") == "apdu":
            message = decode_apdu(task.data)
            if isinstance(message, Message):
                fates = {}
                for item in task.items:
                    number = item.recipient.extra.get("number")
                    if number is None or item.kind == "delay":
                        continue
                    last = item.last
                    fates[int(number)] = RecipientFate(
                        status=None if item.kind == "delivery" else
                        (last.status if last and last.status else "5.0.0"),
                        diagnostic=last.diagnostic if last else "")
                report = message_report(message, fates, self.ctx())
                if report is not None:       # RFC 6710 §4.6: the message's priority
                    await self._queue_x400_report(report, "report", task.meta.get("peer"),
                                                  from_x400(message.envelope.priority))
        await self._mark(task)

    # ================================================================== lifecycle

    async def stop(self) -> None:
        """Stop the loops after the jobs in hand; release outbound associations."""
        self.stopping = True
        self.wake_stop.set()
        for event in self.wake.values():
            event.set()
        await self._close_idle(everything=True)


class _Bell(asyncio.Event):
    """A worker's wake-up event that notes when it was last set (monotonic)."""

    def __init__(self) -> None:
        super().__init__()
        self.rung = float("-inf")

    def set(self) -> None:
        self.rung = time.monotonic()
        super().set()


class _Claim:
    """A claim in flight (:meth:`Gateway._claim`): when it began, how many jobs it found."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.found: asyncio.Future[int] = asyncio.get_running_loop().create_future()


def _retrieved(task: asyncio.Future[Converted]) -> None:
    """Mark a conversion's exception as seen (a cancelled batch never awaits it)."""
    if not task.cancelled():
        task.exception()


def _refused(refusal: Refusal) -> Outcome:
    """A conversion refusal as an outcome: 4.x.x (e.g. a deferred RFC 2163 lookup, A-12) is
    tried again later, 5.x.x is final."""
    if refusal.status.startswith("4"):
        return Deferred(status=refusal.status, diagnostic=refusal.reason)
    return Failed(status=refusal.status, diagnostic=refusal.reason)


def _reportable(job: Job, outcomes: Mapping[str, Outcome]) -> bool:
    """Whether an outcome just recorded needs a report now (a failure, or a delivery the
    sender asked to hear about: NOTIFY=SUCCESS or an X.400 delivery-report request)."""
    for r in job.recipients:
        outcome = outcomes.get(r.address)
        if isinstance(outcome, Failed):
            return True
        if isinstance(outcome, Delivered) and (
                "SUCCESS" in {n.upper() for n in r.notify} or r.extra.get("report")):
            return True
    return False


#: RFC 3464 §2.3.3 Action for a report kind of the queue; "relayed" because X.400 gives no
#: further DSN-style notification (RFC 3461 §6.2.2)
_ACTION = {"failure": "failed", "delivery": "relayed", "delay": "delayed"}


def _smtp_envelope(job: Job) -> SmtpEnvelope | None:
    """The RFC 3461 parameters received with a message (RFC 2156 App A §3.1) and its RFC 6710
    MT-PRIORITY (§4.5), or None."""
    if not job.meta.get("envid") and not job.meta.get("ret") and \
            job.meta.get("mt_priority") is None and \
            not any(r.notify or r.orcpt for r in job.recipients):
        return None
    try:
        rcpts = []
        for r in job.recipients:
            orcpt = None
            if r.orcpt and ";" in r.orcpt:
                kind, _, value = r.orcpt.partition(";")
                orcpt = (kind.strip().lower(), value.strip())
            rcpts.append(SmtpRecipient(address=r.address,
                                       notify=frozenset(n.upper() for n in r.notify) or None,
                                       orcpt=orcpt))
        return SmtpEnvelope(mail_from=job.sender, recipients=tuple(rcpts),
                            ret=job.meta.get("ret"), envid=job.meta.get("envid"),
                            mt_priority=job.meta.get("mt_priority"),
                            priority_policy=job.meta.get("mt_priority_policy") or "MIXER")
    except NotaryError:
        return None
