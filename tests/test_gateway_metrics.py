"""The metrics endpoint answers the metrics at /metrics and 404 elsewhere (issue 12 item 11);
every metric names the node (issue 15)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from bridge.gateway.metrics import Metrics


def test_metrics_only_at_their_path() -> None:
    metrics = Metrics("gw-1")
    port = metrics.serve("127.0.0.1", 0)
    try:
        metrics.accepted("to-x400", "smtp:127.0.0.1")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            body = r.read().decode()
        assert r.status == 200
        assert ('x400bridge_messages_accepted_total{direction="to-x400",node="gw-1",'
                'origin="smtp"} 1.0') in body
        for path in ("/nope", "/metrics/../etc", "/admin"):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
            assert info.value.code == 404
            info.value.close()
    finally:
        metrics.close()
