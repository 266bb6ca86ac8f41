"""``[queue]`` backend settings (bridge/queue/settings.py) and ``open_queue`` picking the
backend: strict keys and values, the password never in the settings, errors or logs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge.errors import ConfigError
from bridge.queue import Queue, QueueError
from bridge.queue.api import open_queue
from bridge.queue.pg import PgQueue, redact
from bridge.queue.schema import SCHEMA_VERSION
from bridge.queue.settings import BackendSettings, backend_settings
from tests.pgserver import require_postgres, shared_cluster

DSN = "postgresql://x400bridge@db.example:5432/queue"


def test_default_is_sqlite(tmp_path: Path) -> None:
    assert backend_settings({}, base=tmp_path) == BackendSettings()
    assert backend_settings({"path": "q.sqlite", "workers": 4}, base=tmp_path).backend == "sqlite"


def test_postgresql_settings(tmp_path: Path) -> None:
    s = backend_settings({"backend": "postgresql", "dsn": DSN, "password-file": "pw"},
                         base=tmp_path)
    assert (s.backend, s.dsn, s.password_file) == ("postgresql", DSN, tmp_path / "pw")
    (tmp_path / "pw").write_text("s3cret\n")
    assert s.read_password() == "s3cret"
    assert "s3cret" not in repr(s)
    assert backend_settings({"backend": "postgresql", "dsn": DSN}, base=tmp_path) \
        .read_password() is None                          # then PGPASSWORD / ~/.pgpass


@pytest.mark.parametrize(("table", "message"), [
    ({"backend": "mysql"}, "queue.backend: expected \"sqlite\" or \"postgresql\", got 'mysql'"),
    ({"backend": 1}, "queue.backend: expected"),
    ({"dsn": DSN}, "queue.dsn: only for backend = \"postgresql\""),
    ({"password-file": "pw"}, "queue.password-file: only for"),
    ({"backend": "postgresql"}, "queue.dsn: required"),
    ({"backend": "postgresql", "dsn": "mysql://db/q"}, "queue.dsn: expected a postgresql://"),
    ({"backend": "postgresql", "dsn": "postgresql://db.example:5432"}, "names no database"),
    ({"backend": "postgresql", "dsn": "postgresql://db.example:99999/q"}, "not a valid"),
    ({"backend": "postgresql", "dsn": ""}, "queue.dsn: expected a non-empty string"),
    ({"backend": "postgresql", "dsn": DSN, "password-file": 3}, "queue.password-file"),
])
def test_bad_settings(tmp_path: Path, table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        backend_settings(table, base=tmp_path)


@pytest.mark.parametrize("dsn", ["postgresql://u:hunter2@db/q",
                                 "postgresql://u@db/q?password=hunter2"])
def test_a_password_in_the_dsn_is_refused_without_repeating_it(tmp_path: Path,
                                                               dsn: str) -> None:
    with pytest.raises(ConfigError, match="must not contain the password") as err:
        backend_settings({"backend": "postgresql", "dsn": dsn}, base=tmp_path)
    assert "hunter2" not in str(err.value)


def test_password_file_problems(tmp_path: Path) -> None:
    s = backend_settings({"backend": "postgresql", "dsn": DSN, "password-file": "missing"},
                         base=tmp_path)
    with pytest.raises(ConfigError, match="queue.password-file: cannot read"):
        s.read_password()
    (tmp_path / "missing").write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        s.read_password()


def test_redact() -> None:
    assert redact("postgresql://u:pw@h:5/d") == "postgresql://u@h:5/d"
    assert redact(DSN) == DSN


def test_open_queue_picks_the_backend(tmp_path: Path) -> None:
    q = open_queue(BackendSettings(), path=tmp_path / "q.sqlite")
    assert isinstance(q, Queue)
    q.close()
    with pytest.raises(ValueError, match="path"):
        open_queue(BackendSettings())
    with pytest.raises(QueueError, match="no queue"):
        open_queue(BackendSettings(), path=tmp_path / "nope.sqlite", create=False)
    require_postgres()
    (tmp_path / "pw").write_text("any\n")                 # trust authentication ignores it
    dsn = shared_cluster().create_database()
    q = open_queue(BackendSettings(backend="postgresql", dsn=dsn,
                                   password_file=tmp_path / "pw"))
    assert isinstance(q, PgQueue) and q.schema_version() == SCHEMA_VERSION
    q.close()


# -- [queue] lease (bridge/config.py) ----------------------------------------------------------


def test_lease_setting(tmp_path: Path) -> None:
    """``[queue] lease``: the lease a worker takes, the take-over time after a node dies
    (docs/queue.md "Nodes"); a duration of at least 5 s, shown by ``config show``."""
    from bridge.config import parse_config, render_config

    assert parse_config({}, base=tmp_path).queue.lease == 600
    config = parse_config({"queue": {"lease": "90s"}}, base=tmp_path)
    assert config.queue.lease == 90
    assert 'lease = "90s"' in render_config(config).splitlines()
    assert parse_config({"queue": {"lease": 5}}, base=tmp_path).queue.lease == 5
    with pytest.raises(ConfigError, match=r"^queue\.lease: must be at least 5s"):
        parse_config({"queue": {"lease": "4s"}}, base=tmp_path)
    with pytest.raises(ConfigError, match=r"^queue\.lease: "):
        parse_config({"queue": {"lease": "soon"}}, base=tmp_path)
