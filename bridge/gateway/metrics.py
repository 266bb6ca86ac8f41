"""Prometheus metrics of the gateway (prometheus-client, a registry of our own, no globals).

* ``x400bridge_messages_accepted_total{node,direction,origin}`` -- submissions into the queue;
* ``x400bridge_deliveries_total{node,direction,outcome}`` -- per-recipient outcomes;
* ``x400bridge_delivery_seconds{node,direction}`` -- one delivery attempt (conversion +
  transfer);
* ``x400bridge_queue_depth{node,direction,state}`` -- recipients per queue state (refreshed by
  the gateway every few seconds from ``Queue.stats``; on a shared queue every node reports the
  same depth);
* ``x400bridge_leases{node,holder}`` -- recipients under a live lease per node holding it, as
  this node sees the queue (a dead node's leases stay until they run out).

``node`` is ``[gateway] node-id`` on every metric: several nodes' metrics stay apart when
one Prometheus (or a federation) collects them under the same job.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import MetricsHandler


class Metrics:
    """The gateway's instruments in one registry, each labelled with this ``node``."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.registry = CollectorRegistry(auto_describe=True)
        self._accepted = Counter("x400bridge_messages_accepted", "Messages queued",
                                 ["node", "direction", "origin"], registry=self.registry)
        self._outcomes = Counter("x400bridge_deliveries", "Per-recipient delivery outcomes",
                                 ["node", "direction", "outcome"], registry=self.registry)
        self._latency = Histogram("x400bridge_delivery_seconds", "One delivery attempt",
                                  ["node", "direction"], registry=self.registry,
                                  buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
        self._depth = Gauge("x400bridge_queue_depth", "Recipients per queue state",
                            ["node", "direction", "state"], registry=self.registry)
        self._leases = Gauge("x400bridge_leases", "Recipients under a live lease per holder",
                             ["node", "holder"], registry=self.registry)
        self._holders: set[str] = set()
        self._server: ThreadingHTTPServer | None = None

    def accepted(self, direction: str, origin: str) -> None:
        self._accepted.labels(self.node, direction, origin.split(":", 1)[0]).inc()

    def outcome(self, direction: str, kind: str, seconds: float) -> None:
        self._outcomes.labels(self.node, direction, kind).inc()
        self._latency.labels(self.node, direction).observe(seconds)

    def depth(self, counts: Mapping[tuple[str, str], int]) -> None:
        for (direction, state), n in counts.items():
            self._depth.labels(self.node, direction, state).set(n)

    def leases(self, by_node: Mapping[str, int]) -> None:
        """Leases per holder now; a holder no longer listed is set to 0 (its leases ended)."""
        self._holders |= set(by_node)
        for holder in self._holders:
            self._leases.labels(self.node, holder).set(by_node.get(holder, 0))

    def serve(self, host: str, port: int) -> int:
        """Start the HTTP endpoint (a daemon thread); returns the port it listens on.

        Only ``/metrics`` (and ``/``, where Prometheus' own examples scrape) answers with
        the metrics; any other path is 404 (prometheus-client's server answers 200 for
        every path, issue 12 item 11)."""
        base = MetricsHandler.factory(self.registry)

        class Handler(base):  # type: ignore[misc,valid-type]
            def do_GET(self) -> None:
                if urlsplit(self.path).path not in ("/metrics", "/"):
                    self.send_error(404, "Not Found: the metrics are at /metrics")
                    return
                super().do_GET()

            def log_message(self, format: str, *args: Any) -> None:
                return                         # no request log on stderr

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="x400bridge-metrics",
                         daemon=True).start()
        self._server = server
        bound: int = server.server_port
        return bound

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
