"""A private PostgreSQL cluster for the tests, on 127.0.0.1 with a free port.

    cluster = PgCluster.start()          # initdb + pg_ctl start (as `postgres` when root)
    dsn = cluster.create_database()      # a fresh database each call
    cluster.stop()                       # pg_ctl stop -m fast, the folder removed

Debian's ``postgresql`` package puts the programs in /usr/lib/postgresql/<version>/bin
(``.ci/install-postgres`` installs it).  The server refuses to run as root: as root the data
folder (a temporary folder outside pytest's root-only tmp) is given to the ``postgres`` user
and initdb / pg_ctl run as that user; its socket and log are inside the data folder
(PEERS.md, "PostgreSQL on loopback").  Authentication is ``trust`` on loopback: nothing but
the tests can reach it.  fsync is off: durability is PostgreSQL's, not under test here, and
the machine is shared.

``require_postgres()`` skips a test when the programs are missing and fails it instead when
``X400BRIDGE_REQUIRE_ORACLES=1`` (CI), like ``tests/oracle.py`` does for its tools.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.postfix import free_port

_START_TIMEOUT = 60


def bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin with initdb, or where PATH has one."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def unavailable_reason() -> str | None:
    """None if a cluster can be started here, else why not."""
    folder = bin_dir()
    if folder is None:
        return "PostgreSQL is not installed (run .ci/install-postgres)"
    for program in ("initdb", "pg_ctl", "postgres"):
        if not (folder / program).is_file():
            return f"{folder / program} is missing"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root but there is no postgres user to run the server"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    return None


def require_postgres() -> None:
    """Skip the test if PostgreSQL is unavailable; fail it when X400BRIDGE_REQUIRE_ORACLES=1."""
    from tests.oracle import require_available

    require_available("PostgreSQL", unavailable_reason())


@dataclass
class PgCluster:
    folder: Path
    port: int
    bin: Path
    user: str | None            # run the programs as this user (root: "postgres")
    durable: bool = False       # fsync on (a benchmark against SQLite's fsync), else off

    @classmethod
    def start(cls, *, durable: bool = False) -> PgCluster:
        folder_bin = bin_dir()
        assert folder_bin is not None
        user = "postgres" if os.geteuid() == 0 else None
        folder = Path(tempfile.mkdtemp(prefix="x400bridge-pg-"))
        data = folder / "data"
        data.mkdir()
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (folder, data):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        cluster = cls(folder=folder, port=free_port(), bin=folder_bin, user=user,
                      durable=durable)
        try:
            cluster._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres",
                         "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
            cluster.resume()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its DSN."""
        import psycopg

        name = f"q_{secrets.token_hex(6)}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")          # our own hex name
        return self.dsn(name)

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.data / "server.log").read_text(errors="replace")
        return ""

    def resume(self) -> None:
        """Start the server (again, after :meth:`halt`) on the same port and data; returns
        when it accepts connections (``pg_ctl -w``, bounded)."""
        options = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=50")
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.data / "server.log"), "-w", "-t", str(_START_TIMEOUT), "start")

    def halt(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data (``pg_ctl stop -m fast|immediate``): clients'
        connections are cut; :meth:`resume` starts it again."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t",
                  str(_START_TIMEOUT), "stop")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                                cwd=self.folder)
        if result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, command,
                output=result.stdout, stderr=f"{result.stderr}\n{self.log()[-2000:]}")


#: the backends the contract suite runs on (the ``backend`` fixtures' parameters)
BACKENDS = ("sqlite", "postgresql")


def backend_for(name: str, tmp_path: Path) -> Backend:
    """The store of one test on backend ``name``: a file in ``tmp_path``, or a fresh database
    on the session's cluster (skipped when PostgreSQL is unavailable)."""
    if name == "postgresql":
        require_postgres()
        return Backend(name=name, path=tmp_path / "q.sqlite",
                       dsn=shared_cluster().create_database())
    return Backend(name=name, path=tmp_path / "q.sqlite")


_shared: PgCluster | None = None


def shared_cluster() -> PgCluster:
    """One cluster for the whole test session (every module that needs one), started on
    first use and stopped when the session's process ends."""
    global _shared
    if _shared is None:
        import atexit

        _shared = PgCluster.start()
        atexit.register(_shared.stop)
    return _shared


@dataclass
class Backend:
    """One test's queue store on one backend: every ``open()`` reaches the same store (the
    SQLite file, or the PostgreSQL database), like the gateway and the CLI do."""

    name: str                   # "sqlite" | "postgresql"
    path: Path                  # the SQLite file
    dsn: str = ""               # the PostgreSQL database

    def open(self, **kw: Any) -> Any:
        """A new handle on this store (a ``PgQueue`` or a ``Queue``, keyword arguments
        passed on) -- two handles are two processes or two nodes."""
        if self.name == "postgresql":
            from bridge.queue.pg import PgQueue

            return PgQueue(self.dsn, **kw)
        from bridge.queue.store import Queue

        return Queue(self.path, **kw)

    def sql(self, text: str) -> str:
        """A test's SQL with ``?`` placeholders, in this backend's dialect."""
        return text.replace("?", "%s") if self.name == "postgresql" else text

    def other_connection(self) -> contextlib.AbstractContextManager[object]:
        """A second, independent connection (another process would see the same)."""
        if self.name == "postgresql":
            import psycopg

            return psycopg.connect(self.dsn, autocommit=True)
        import sqlite3

        return contextlib.closing(sqlite3.connect(self.path))
