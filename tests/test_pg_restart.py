"""PostgreSQL restarted under load (issue 15): two gateway nodes on one queue keep their word.

While messages flow both ways through both nodes, the database server stops
(``pg_ctl stop -m fast``, or ``-m immediate`` like a crash: every session is cut).  While
it is down:

* SMTP: a message is answered with a 4xx reply (RFC 5321 §4.2.1: "try again later"), never a
  5xx, and within a bound (no hang) -- the client keeps it and retries;
* P1: a transfer is not confirmed (X.411 §12.2.1.1: the sending MTA keeps responsibility).

Then the server starts again on the same port, and with no restart of the gateways:

* each node accepts SMTP and P1 again by itself (within a bound);
* everything that was accepted, before, during or after the outage, is delivered with its own
  body (SHA-256); nothing is delivered that was never sent; the duplicates are counted and
  bounded by the transfers in flight at the outage (one per worker per node per direction).

The cluster is a private one (tests/pgserver.py), not the session's shared cluster: this test
stops it.
"""

from __future__ import annotations

import functools
import signal
import smtplib
import time
from pathlib import Path

import pytest

from tests.gateway_proc import RemoteMTA, make_message, sent_fingerprint, wait_until
from tests.nodes import (
    FarEnd,
    Nodes,
    QueueView,
    Traffic,
    check_deliveries,
    internet_side,
    p1_transfer,
    smtp_reply,
    wait_delivered,
    x400_apdu,
    x400_inbox,
)
from tests.pgserver import PgCluster, require_postgres

WORKERS = 2
SEED = 20261208
#: seconds a node may take to answer SMTP DATA while the database is down: the queue's
#: connect timeout (10 s) plus room for a loaded machine -- a bound against hangs
ANSWER_WITHIN = 30.0
#: seconds the database stays down at least
OUTAGE = 3.0
#: seconds for a node to take mail again once the database is back
RESUME_WITHIN = 60.0


def _takes_smtp(port: int, token: str) -> bool:
    """A message accepted ("250" to DATA)?"""
    try:
        return smtp_reply(port, make_message(token))[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_nodes_refuse_while_postgresql_is_down_and_resume_by_themselves(
        tmp_path: Path, mode: str) -> None:
    """``mode``: pg_ctl's shutdown mode -- "fast" ends the sessions cleanly, "immediate"
    like a crash (the server recovers from its WAL at the next start)."""
    require_postgres()
    cluster = PgCluster.start()
    try:
        dsn = cluster.create_database()
        view = QueueView(dsn)
        with RemoteMTA() as remote, internet_side() as internet, \
                Nodes(tmp_path, dsn=dsn, remote_port=remote.port,
                      smarthost_port=internet.port, workers=WORKERS) as nodes:
            ctx = nodes.context()
            traffic = Traffic(nodes, SEED)
            for name, ports in nodes.start_all().items():
                traffic.up(name, ports)
            traffic.start()
            probes: dict[str, dict[str, str]] = {"to-x400": {}, "to-smtp": {}}
            try:
                traffic.more(3, what="traffic before the outage")
                cluster.halt(mode)
                halted = time.monotonic()
                for name, ports in nodes.ports.items():
                    started = time.monotonic()
                    code, text = smtp_reply(ports.smtp, make_message(f"down-{name}"),
                                            timeout=ANSWER_WITHIN)
                    took = time.monotonic() - started
                    assert 400 <= code < 500, (name, code, text, nodes.logs())
                    assert took < ANSWER_WITHIN, (name, took)
                    print(f"\nnode {name}, database down: SMTP {code} {text} ({took:.1f} s)")
                    assert not p1_transfer(ports.p1, x400_apdu(ctx, f"down-p1-{name}")), \
                        f"node {name} confirmed a transfer with the queue down"
                # the outage outlasts the workers' scans (1 s) and refuses the loads too
                traffic.refused(2, what="attempts refused while the queue is down")
                wait_until(lambda: time.monotonic() - halted > OUTAGE, timeout=OUTAGE + 1,
                           what="the outage to last")
                cluster.resume()

                def takes_p1(port: int, token: str) -> bool:
                    return p1_transfer(port, x400_apdu(ctx, token))
                for name, ports in nodes.ports.items():
                    for direction, port, send in (("to-x400", ports.smtp, _takes_smtp),
                                                  ("to-smtp", ports.p1, takes_p1)):
                        token = f"after-{direction}-{name}"
                        wait_until(functools.partial(send, port, token),
                                   timeout=RESUME_WITHIN, interval=0.5,
                                   what=f"node {name} to take {direction} again")
                        probes[direction][token] = sent_fingerprint(token)
                traffic.more(3, what="traffic after the outage")
            finally:
                traffic.stop()
            inboxes: dict[str, FarEnd] = {"to-x400": x400_inbox(remote), "to-smtp": internet}
            accepted = {d: traffic.accepted(d) | probes[d] for d in inboxes}
            wait_delivered(inboxes, {d: set(a) for d, a in accepted.items()}, view,
                           timeout=90, logs=nodes.logs)
            for name in nodes.names:
                nodes.procs[name].send_signal(signal.SIGTERM)
            for name in nodes.names:
                assert nodes.procs[name].wait(60) == 0, nodes.logs()
            # the probes refused while the queue was down are not "uncertain": delivering one
            # would be delivering a message whose sender was told to send it again
            verdicts = {d: check_deliveries(accepted[d], traffic.uncertain(d),
                                            inbox.delivered()) for d, inbox in inboxes.items()}
    finally:
        cluster.stop()
    for direction, verdict in verdicts.items():
        assert verdict.duplicates <= len(nodes.names) * WORKERS, (direction, verdict)
        print(f"\n{direction}: {verdict}")
