"""``[queue]`` backend settings: which store holds the queue, and how to reach it.

Read from the raw TOML table by :func:`backend_settings`; :mod:`bridge.config` checks the key
set of ``[queue]`` as a whole (these keys are :data:`KEYS`) and calls it.  The password never
enters the configuration: ``password-file`` names a file read when the queue is opened (or
libpq takes ``PGPASSWORD`` from the environment), so ``config show`` and the logs cannot show
it -- a DSN with a password in it is refused.

```toml
[queue]
backend = "postgresql"                            # default "sqlite" (the file at queue.path)
dsn = "postgresql://x400bridge@db.example:5432/x400bridge"
password-file = "/etc/x400bridge/queue-password"  # else PGPASSWORD, ~/.pgpass
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from bridge.errors import ConfigError

Backend = Literal["sqlite", "postgresql"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgresql")
#: the keys of ``[queue]`` this module reads
KEYS = ("backend", "dsn", "password-file")
_SCHEMES = ("postgresql", "postgres")               # libpq's URI schemes (PostgreSQL §34.1.1)


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendSettings:
    """Where the queue lives: ``sqlite`` (the file ``[queue] path``) or ``postgresql`` at
    ``dsn`` (no password in it) with the password in ``password_file`` or the
    environment."""

    backend: Backend = "sqlite"
    dsn: str | None = None
    password_file: Path | None = None

    def read_password(self) -> str | None:
        """The password from ``password_file`` (first line, without its newline), or None
        (libpq then uses ``PGPASSWORD`` / ``~/.pgpass``).  Raises :class:`ConfigError`."""
        if self.password_file is None:
            return None
        try:
            text = self.password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"queue.password-file: cannot read {self.password_file}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from exc
        lines = text.splitlines()
        if not lines or not lines[0]:
            raise ConfigError(f"queue.password-file: {self.password_file} is empty")
        return lines[0]


def backend_settings(table: Mapping[str, object], *, base: Path,
                     where: str = "queue") -> BackendSettings:
    """The backend settings from the raw ``[queue]`` table (other keys are ignored: the
    caller checks them).  A relative ``password-file`` is taken from ``base`` (the config
    file's folder).  Raises :class:`ConfigError` naming the dotted key."""
    backend = table.get("backend", "sqlite")
    if not isinstance(backend, str) or backend not in BACKENDS:
        got = repr(backend) if isinstance(backend, str) else f"a {type(backend).__name__}"
        raise ConfigError(f"{where}.backend: expected \"sqlite\" or \"postgresql\", got {got}")
    dsn = table.get("dsn")
    password_file = table.get("password-file")
    for key, value in (("dsn", dsn), ("password-file", password_file)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"{where}.{key}: expected a non-empty string")
    if backend == "sqlite":
        for key, value in (("dsn", dsn), ("password-file", password_file)):
            if value is not None:
                raise ConfigError(f"{where}.{key}: only for backend = \"postgresql\"")
        return BackendSettings()
    if dsn is None:
        raise ConfigError(f"{where}.dsn: required with backend = \"postgresql\" "
                          "(postgresql://user@host:port/database)")
    assert isinstance(dsn, str)
    _check_dsn(dsn, f"{where}.dsn")
    path = None
    if password_file is not None:
        assert isinstance(password_file, str)
        path = Path(password_file).expanduser()
        if not path.is_absolute():
            path = base / path
    return BackendSettings(backend="postgresql", dsn=dsn, password_file=path)


def _check_dsn(dsn: str, where: str) -> None:
    """A ``postgresql://`` URL without a password.  The error never repeats the DSN (it may
    hold the password the check refuses)."""
    try:
        parts = urlsplit(dsn)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{where}: not a valid postgresql:// URL ({exc})") from None
    if parts.scheme not in _SCHEMES:
        raise ConfigError(f"{where}: expected a postgresql://user@host:port/database URL")
    if parts.password is not None or "password=" in parts.query:
        raise ConfigError(f"{where}: must not contain the password; put it in "
                          "queue.password-file or the PGPASSWORD environment variable")
    if not parts.path.strip("/"):
        raise ConfigError(f"{where}: names no database (postgresql://user@host:port/database)")
    del port                                         # parsed only to check it
