"""``x400bridge queue list|show|retry|drop|stats`` through the module's own parser."""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

import pytest

from bridge.queue import Deferred, Delivered, Queue, Recipient, Submission
from bridge.queue.cli import add_parser, run

DATA = b"Subject: hello\r\n\r\nbody \xe9\r\n"


@pytest.fixture
def qpath(tmp_path: Path) -> Path:
    path = tmp_path / "queue.sqlite"
    q = Queue(path)
    q.submit(Submission(direction="to-x400", origin="smtp", sender="alice@example.org",
                        recipients=(Recipient(address="bob@x400.example", route="peer",
                                              notify=("SUCCESS",)),
                                    Recipient(address="carol@x400.example", route="peer")),
                        data=DATA, meta={"envid": "E-1"}))
    q.submit(Submission(direction="to-smtp", origin="p1:peer", sender="C=xx;ADMD=;S=Dan",
                        recipients=(Recipient(address="dan@example.org", route="example.org"),),
                        data=b"\x30\x00"))
    (job,) = q.claim("to-x400")
    q.record(job, {"bob@x400.example": Delivered(detail="250 ok"),
                   "carol@x400.example": Deferred(status="4.4.1", diagnostic="peer down")})
    q.close()
    return path


def ids(path: Path) -> list[str]:
    q = Queue(path, create=False)
    try:
        return [m.message_id for m in q.list()]
    finally:
        q.close()


def test_list(qpath: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = ids(qpath)
    assert run(["list", "--queue", str(qpath)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ID")
    assert a in out[1] and "delivered:1" in out[1] and "deferred:1" in out[1]
    assert b in out[2] and "pending:1" in out[2] and "to-smtp" in out[2]
    assert run(["list", "--queue", str(qpath), "--state", "deferred", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [m["message_id"] for m in listed] == [a]
    assert listed[0]["states"] == {"delivered": 1, "deferred": 1}
    assert run(["list", "--queue", str(qpath), "--direction", "to-smtp", "--json"]) == 0
    assert [m["message_id"] for m in json.loads(capsys.readouterr().out)] == [b]


def test_show(qpath: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, _ = ids(qpath)
    assert run(["show", a, "--queue", str(qpath)]) == 0
    text = capsys.readouterr().out
    assert f"message    {a}" in text and "carol@x400.example via peer: deferred, 1 attempt" in text
    assert "4.4.1 peer down" in text and "submitted" in text and "NOTIFY=SUCCESS" in text
    assert run(["show", a, "--queue", str(qpath), "--json", "--data"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert base64.b64decode(shown["data_base64"]) == DATA
    assert shown["meta"] == {"envid": "E-1"}
    assert [r["state"] for r in shown["recipients"]] == ["delivered", "deferred"]
    assert shown["recipients"][0]["recipient"]["notify"] == ["SUCCESS"]


def test_show_raw_data(qpath: Path, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    a, _ = ids(qpath)
    assert run(["show", a, "--queue", str(qpath), "--data"]) == 0
    assert capfdbinary.readouterr().out == DATA


def test_retry_drop_and_unknown(qpath: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = ids(qpath)
    assert run(["retry", a, "--queue", str(qpath)]) == 0
    assert "1 recipient(s) pending again" in capsys.readouterr().out
    assert run(["drop", b, "--queue", str(qpath)]) == 0
    assert ids(qpath) == [a]
    assert run(["drop", b, "--queue", str(qpath)]) == 1
    assert "no message" in capsys.readouterr().err
    assert run(["retry", b, "--queue", str(qpath)]) == 1
    assert "no message" in capsys.readouterr().err
    assert run(["show", b, "--queue", str(qpath)]) == 1


def test_stats(qpath: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["stats", "--queue", str(qpath), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["messages"] == 2 and st["depth"] == 2 and st["dead"] == 0
    assert st["recipients"]["delivered"] == 1 and st["by_direction"]["to-smtp"]["pending"] == 1
    assert st["routes_backing_off"] == []          # bob was delivered: the peer answered
    assert run(["stats", "--queue", str(qpath)]) == 0
    out = capsys.readouterr().out
    assert "messages 2, depth 2" in out and any(
        line.split() == ["deferred", "1", "0", "1"] for line in out.splitlines())


def test_missing_or_garbage_queue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.sqlite"
    assert run(["stats", "--queue", str(missing)]) == 1
    assert "no queue" in capsys.readouterr().err and not missing.exists()
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"\x00garbage" * 1000)
    assert run(["list", "--queue", str(garbage)]) == 1
    assert "not a queue" in capsys.readouterr().err


def test_add_parser_registers_queue(qpath: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="x400bridge")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["queue", "stats", "--queue", str(qpath)])
    assert args.func(args) == 0
    assert "messages 2" in capsys.readouterr().out
    assert parser.parse_args(["queue", "list"]).queue == Path("var/queue.sqlite")
    with pytest.raises(SystemExit):
        parser.parse_args(["queue", "list", "--state", "bogus"])


def test_the_queue_of_a_configuration_on_postgresql(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """``--config FILE`` opens the [queue] the gateway uses -- here PostgreSQL (issue 15) --
    and ``migrate`` says where its schema is."""
    from bridge.queue.api import open_queue
    from bridge.queue.settings import BackendSettings
    from tests.pgserver import require_postgres, shared_cluster

    require_postgres()
    dsn = shared_cluster().create_database()
    config = tmp_path / "gw.toml"
    config.write_text(f'[queue]\nbackend = "postgresql"\ndsn = "{dsn}"\n')
    with open_queue(BackendSettings(backend="postgresql", dsn=dsn)) as q:
        queued = q.submit(Submission(direction="to-x400", origin="smtp", sender="a@b.example",
                                     recipients=(Recipient(address="c@d.example",
                                                           route="spool"),),
                                     data=b"Subject: pg\r\n\r\nx\r\n"))
    assert run(["list", "--config", str(config)]) == 0
    assert queued in capsys.readouterr().out
    assert run(["migrate", "--config", str(config)]) == 0
    assert "(up to date)" in capsys.readouterr().out
    assert run(["migrate", "--queue", str(tmp_path / "q.sqlite")]) == 1   # no such file
