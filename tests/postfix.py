"""Real Postfix on loopback: private instances for end-to-end tests and the bench (issue 6).

Each :class:`Postfix` is one private instance living entirely under its own directory
(``postfix -c ROOT/etc``): configuration, queue, data directory, Maildirs and the log. Nothing
touches ``/etc/postfix`` or the system queue. Facts and pitfalls are in PEERS.md (shared notes):
there is no syslog (the log goes to ``ROOT/log/maillog`` through ``postlogd``), every service runs
unchrooted, ``postqueue -c`` needs an absolute path, deliveries run as uid 65534, the master
daemonizes.

Two kinds, chosen by the arguments:

*relay* (``relay_to=(host, port)``)
    Accepts mail from 127.0.0.0/8 and hands every domain to ``smtp:[host]:port`` through
    ``transport_maps`` (no DNS), with fast retries (1 s queue runs, 1-5 s backoff). With
    ``bounce_maildir=True`` the bounces (RFC 3464 DSNs) it sends to senders in its local domains
    (``maildir_domains``, default ``myhostname``) are kept in the Maildir ``bounces``; without
    it, mail for ``maildir_domains`` goes to the Maildir ``catchall`` and the rest to the next hop.

*destination* (``relay_to=None``)
    Delivers to Maildirs with the ``virtual`` agent: the domains in ``maildir_domains`` (every
    domain when empty), every recipient into the Maildir ``catchall``.
    ``maildir_messages("user@example")`` picks that recipient's copies by their
    ``Delivered-To`` header (``virtual_mailbox_maps`` cannot compute a Maildir per recipient).

``recipient_rules`` (both kinds) maps a local-part regular expression (POSIX ERE,
case-insensitive) to an access(5) action such as ``"550 5.1.1 no such user"`` or
``"451 4.3.0 try later"``, answered at RCPT (RFC 5321 §3.3) through ``check_recipient_access``.

Postfix daemons running as ``postfix`` / ``nobody`` must be able to reach ROOT, so every ancestor
of ROOT must be searchable by others (pytest's ``tmp_path`` is not: its base is 0700). Use
:func:`instance_root` to get such a directory; on exit it also stops any instance below it that
a failed test left running. Only root can run private instances.

Found on the way (beyond PEERS.md): Postfix 3.7 listens with SO_REUSEPORT, so a second instance
on a taken port starts "fine" and shares the connections -- start() refuses a port that a plain
bind finds taken, and waits for a greeting naming this instance's ``myhostname``. Before
postlogd runs, Postfix's commands report errors only to a terminal: :meth:`Postfix.check` runs
``postfix check`` on a pseudo-terminal, and a failed start() quotes it.

Typical use::

    with instance_root() as root, Postfix(root / "dst", name="dst", smtpd_port=free_port()) as pf:
        ...send to 127.0.0.1:pf.smtpd_port...
        [raw] = pf.wait_for_messages("rcpt@example.test", 1)
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType

SBIN = Path("/usr/sbin")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
COMMAND_TIMEOUT = 60.0
POLL = 0.05  # seconds between polls of a bounded wait
DELIVERY_UID = 65534  # nobody: virtual(8) refuses uids below virtual_minimum_uid (100)

# The services of Postfix 3.7's stock master.cf, every chroot column "n" (PEERS.md pitfall 2):
# service type private unpriv chroot wakeup maxproc command
_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


# ------------------------------------------------------------------------------------------------
# availability


def postfix_unavailable() -> str | None:
    """None if private Postfix instances can run here, else why not."""
    for tool in ("postfix", "postconf", "postqueue", "smtp-source"):
        if not (SBIN / tool).is_file() and shutil.which(tool) is None:
            return f"{tool} is not installed (run .ci/install-peers)"
    if os.geteuid() != 0:
        return "private Postfix instances need root"
    try:
        import pwd

        pwd.getpwnam("postfix")
    except KeyError:
        return "there is no postfix user (run .ci/install-peers)"
    return None


def require_postfix() -> None:
    """Skip the test without Postfix; fail it instead when X400BRIDGE_REQUIRE_ORACLES=1 (CI)."""
    from tests.oracle import require_available  # pytest only where a test calls it

    require_available("Postfix", postfix_unavailable())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def instance_root(prefix: str = "x400bridge-postfix-") -> Iterator[Path]:
    """A fresh directory under the system temp dir that Postfix's daemons can reach; removed after.

    Mode 0711: uid ``postfix`` and uid 65534 may traverse it but not list it.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    try:
        path.chmod(0o711)
        yield path
    finally:
        try:
            _stop_instances_under(path)
        finally:
            shutil.rmtree(path, ignore_errors=True)


def _instance_pids() -> dict[int, str]:
    """Running Postfix processes of private instances: pid -> their MAIL_CONFIG directory."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            env = (entry / "environ").read_bytes()
        except OSError:  # gone, or a kernel thread
            continue
        for var in env.split(b"\0"):
            if var.startswith(b"MAIL_CONFIG="):
                found[int(entry.name)] = var[len(b"MAIL_CONFIG=") :].decode(errors="replace")
    return found


def _stop_instances_under(path: Path) -> None:
    """Safety net: stop every instance configured below ``path`` (one a failed test leaked)."""
    prefix = f"{path}/"
    leaked = {conf for conf in _instance_pids().values() if conf.startswith(prefix)}
    for conf in leaked:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                [_tool("postfix"), "-c", conf, "stop"],
                capture_output=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
    deadline = time.monotonic() + STOP_TIMEOUT
    while pids := [pid for pid, conf in _instance_pids().items() if conf.startswith(prefix)]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"Postfix processes {pids} under {path} survived SIGKILL")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(POLL)


def _tool(name: str) -> str:
    path = SBIN / name
    return str(path) if path.is_file() else (shutil.which(name) or name)


def _unreachable_ancestor(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` that others cannot search, if any."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            return parent
    return None


def _delivered_to(raw: bytes) -> str | None:
    """The first ``Delivered-To`` header field of a delivered message (added by virtual(8))."""
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    match = re.search(rb"^Delivered-To:[ \t]*(\S+)", head, re.IGNORECASE | re.MULTILINE)
    return match.group(1).decode("utf-8", "replace").lower() if match else None


# ------------------------------------------------------------------------------------------------
# the instance


class Postfix:
    """One private Postfix instance under ``root`` (see the module docstring for the two kinds)."""

    def __init__(
        self,
        root: Path,
        *,
        name: str,
        smtpd_port: int,
        relay_to: tuple[str, int] | None = None,
        maildir_domains: Sequence[str] = (),
        recipient_rules: Mapping[str, str] | None = None,
        routes: Mapping[str, tuple[str, int]] | None = None,
        bounce_maildir: bool = False,
        myhostname: str | None = None,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", name):
            raise ValueError(f"instance name {name!r}: letters, digits and '-' only")
        if bounce_maildir and relay_to is None:
            raise ValueError("bounce_maildir applies to a relay instance (relay_to=...)")
        self.root = Path(root).resolve()
        self.name = name
        self.smtpd_port = smtpd_port
        self.relay_to = relay_to
        self.maildir_domains = tuple(maildir_domains)
        self.recipient_rules = dict(recipient_rules or {})
        # per-domain next hops (transport(5) lines before the "*" default of a relay)
        self.routes = dict(routes or {})
        self.bounce_maildir = bounce_maildir
        self.myhostname = myhostname or f"{name}.x400bridge.test"
        self.config_dir = self.root / "etc"
        self.queue_dir = self.root / "spool"
        self.data_dir = self.root / "data"
        self.maildir_base = self.root / "maildir"
        self.log_file = self.root / "log" / "maillog"
        self._started = False

    # -- configuration ----------------------------------------------------------------------------

    @property
    def local_domains(self) -> tuple[str, ...]:
        """Domains this instance delivers to its own Maildirs (empty: every domain)."""
        if self.relay_to is None:
            return self.maildir_domains
        if self.bounce_maildir:
            return self.maildir_domains or (self.myhostname,)
        return self.maildir_domains

    def main_cf(self) -> str:
        """The text of main.cf (postconf(5) parameter names)."""
        conf = self.config_dir
        lines = [
            "compatibility_level = 3.6",
            f"config_directory = {conf}",
            f"queue_directory = {self.queue_dir}",
            f"data_directory = {self.data_dir}",
            f"maillog_file = {self.log_file}",
            f"maillog_file_prefixes = {self.root}",
            f"syslog_name = postfix-{self.name}",
            f"myhostname = {self.myhostname}",
            "myorigin = $myhostname",
            "mydestination =",
            "local_recipient_maps =",
            "alias_maps =",
            "alias_database =",
            "biff = no",
            "append_dot_mydomain = no",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "mynetworks = 127.0.0.0/8",
            "smtputf8_enable = yes",
            # no DNS anywhere (PEERS.md pitfall 5); next hops are [127.0.0.1]:port literals
            "smtp_dns_support_level = disabled",
            "smtp_host_lookup = native",
            "smtpd_peername_lookup = no",
            "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
            # fast retries: a deferred message is tried again within seconds
            "queue_run_delay = 1s",
            "minimal_backoff_time = 1s",
            "maximal_backoff_time = 5s",
            "smtp_connect_timeout = 5s",
        ]
        if self.recipient_rules:
            lines.append(
                f"smtpd_recipient_restrictions = check_recipient_access regexp:{conf}/recipients"
            )
        domains = self.local_domains
        if self.relay_to is not None:
            lines.append(f"transport_maps = texthash:{conf}/transport")
        if self.relay_to is None or domains:
            lines += [
                "virtual_mailbox_domains = " + (", ".join(domains) if domains else "static:all"),
                f"virtual_mailbox_base = {self.maildir_base}",
                f"virtual_uid_maps = static:{DELIVERY_UID}",
                f"virtual_gid_maps = static:{DELIVERY_UID}",
            ]
            # one Maildir for all: virtual_mailbox_maps cannot derive a path from the address
            # (PEERS.md pitfall 4); maildir_messages() picks recipients by Delivered-To instead
            mailbox = "bounces" if self.bounce_maildir else "catchall"
            lines.append(f"virtual_mailbox_maps = static:{mailbox}/")
        return "\n".join(lines) + "\n"

    def master_cf(self) -> str:
        """The text of master.cf: our smtpd on 127.0.0.1:smtpd_port, then the stock services."""
        smtpd = f"127.0.0.1:{self.smtpd_port} inet n - n - - smtpd\n"
        return smtpd + _SERVICES

    def _tables(self) -> dict[str, str]:
        tables: dict[str, str] = {}
        if self.relay_to is not None:
            host, port = self.relay_to
            # transport(5): an exact domain beats "*"; local domains stay with virtual(8)
            local = "".join(f"{d} virtual:\n" for d in self.local_domains)
            routed = "".join(f"{d} smtp:[{h}]:{p}\n" for d, (h, p) in self.routes.items())
            tables["transport"] = f"{local}{routed}* smtp:[{host}]:{port}\n"
        if self.recipient_rules:
            # regexp_table(5): POSIX ERE, case-insensitive; "/" must not appear unescaped
            tables["recipients"] = "".join(
                f"/^({rx.replace('/', chr(92) + '/')})@/ {action}\n"
                for rx, action in self.recipient_rules.items()
            )
        return tables

    def _write_config(self) -> None:
        for directory in (self.config_dir, self.queue_dir, self.log_file.parent, self.maildir_base):
            directory.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        # virtual(8) runs as uid 65534 and creates Maildirs below the base
        os.chown(self.maildir_base, DELIVERY_UID, DELIVERY_UID)
        (self.config_dir / "main.cf").write_text(self.main_cf())
        (self.config_dir / "master.cf").write_text(self.master_cf())
        for table, text in self._tables().items():
            (self.config_dir / table).write_text(text)

    # -- lifecycle --------------------------------------------------------------------------------

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [_tool(argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}\n"
                f"--- maillog ---\n{self.log()}"
            )
        return proc

    def start(self) -> None:
        """Check the port is free, write the configuration, ``postfix -c DIR start``, wait until
        smtpd answers with this instance's greeting.

        Raises RuntimeError (with the maillog) when Postfix refuses to start or the port does
        not open within START_TIMEOUT; the instance is stopped again in that case.
        """
        blocked = _unreachable_ancestor(self.root)
        if blocked is not None:
            raise RuntimeError(
                f"{blocked} is not searchable by others: Postfix's daemons could not reach "
                f"{self.root} (use tests.postfix.instance_root())"
            )
        # Postfix 3.7 listens with SO_REUSEPORT: a second instance on a taken port would start
        # fine and share the connections. A plain bind tells whether anything listens there.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", self.smtpd_port))
            except OSError as exc:
                raise RuntimeError(
                    f"postfix {self.name}: 127.0.0.1:{self.smtpd_port} is in use ({exc})"
                ) from exc
        self._write_config()
        self._started = True
        try:
            proc = self._run("postfix", "-c", str(self.config_dir), "start", check=False)
            if proc.returncode != 0:
                raise RuntimeError(
                    f"postfix {self.name}: start exited {proc.returncode}\n"
                    f"--- postfix check ---\n{self.check()}\n--- maillog ---\n{self.log()}"
                )
            self._wait_port()
        except BaseException:
            self.stop()
            raise

    def check(self) -> str:
        """What ``postfix -c DIR check`` says (empty when the configuration is fine).

        Without a running postlogd Postfix's commands write errors only to a terminal, so
        stderr is a pseudo-terminal here.
        """
        master_fd, slave_fd = pty.openpty()
        try:
            try:
                subprocess.run(
                    [_tool("postfix"), "-c", str(self.config_dir), "check"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=slave_fd,
                    timeout=COMMAND_TIMEOUT,
                    check=False,
                )
            finally:
                os.close(slave_fd)
            chunks = []
            while True:
                try:
                    chunk = os.read(master_fd, 4096)
                except OSError:  # EIO: the terminal has no writer left
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(master_fd)
        return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n").strip()

    def _wait_port(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.smtpd_port), timeout=2) as sock:
                    sock.settimeout(5)
                    greeting = sock.recv(512)
                    with contextlib.suppress(OSError):
                        sock.sendall(b"QUIT\r\n")
                # RFC 5321 §4.2: "220 <domain> ..." -- ours, not whatever else holds the port
                if greeting.startswith(f"220 {self.myhostname} ".encode()):
                    return
                raise RuntimeError(
                    f"postfix {self.name}: 127.0.0.1:{self.smtpd_port} answers {greeting!r}, "
                    f"not this instance\n--- maillog ---\n{self.log()}"
                )
            except OSError:
                pass
            if not self.pids():
                raise RuntimeError(
                    f"postfix {self.name}: the master exited\n--- maillog ---\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"postfix {self.name}: 127.0.0.1:{self.smtpd_port} did not open within "
                    f"{START_TIMEOUT:.0f} s\n--- maillog ---\n{self.log()}"
                )
            time.sleep(POLL)

    def pids(self) -> list[int]:
        """Processes of this instance: those whose environment names its config directory."""
        conf = str(self.config_dir)
        return sorted(pid for pid, their in _instance_pids().items() if their == conf)

    def stop(self) -> None:
        """``postfix -c DIR stop``, then kill whatever of this instance still runs.

        Always returns with no process of the instance left (bounded by STOP_TIMEOUT).
        """
        if not self._started:
            return
        self._started = False
        if (self.config_dir / "main.cf").exists():
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                self._run("postfix", "-c", str(self.config_dir), "stop", check=False)
        # the master terminates its children itself; what is left after a grace period is killed
        if self._wait_gone(STOP_TIMEOUT / 2):
            return
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not self._wait_gone(STOP_TIMEOUT / 2):
            raise RuntimeError(f"postfix {self.name}: processes {self.pids()} survived SIGKILL")

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL)
        return True

    def __enter__(self) -> Postfix:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- queue ------------------------------------------------------------------------------------

    def queue_empty(self) -> bool:
        """True when ``postqueue -p`` reports an empty queue."""
        out = self._run("postqueue", "-c", str(self.config_dir), "-p").stdout
        return "Mail queue is empty" in out

    def flush(self) -> None:
        """``postqueue -f``: try every deferred message again now."""
        self._run("postqueue", "-c", str(self.config_dir), "-f")

    def log(self) -> str:
        """The instance's maillog (empty before the first line is written)."""
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- Maildirs ---------------------------------------------------------------------------------

    def maildir_messages(self, address_or_dir: str) -> list[bytes]:
        """Delivered messages, oldest first (files of ``new/`` and ``cur/``).

        ``address_or_dir`` is a Maildir name under the base (``"catchall"``, ``"bounces"``) or a
        recipient address, matched against the ``Delivered-To`` of every Maildir's messages.
        """
        if "@" not in address_or_dir:
            return [raw for _, raw in self._read_maildir(self.maildir_base / address_or_dir)]
        want = address_or_dir.lower()
        found: list[tuple[tuple[float, str], bytes]] = []
        if self.maildir_base.is_dir():
            for maildir in self.maildir_base.iterdir():
                found += [
                    (key, raw)
                    for key, raw in self._read_maildir(maildir)
                    if _delivered_to(raw) == want
                ]
        return [raw for _, raw in sorted(found, key=lambda item: item[0])]

    @staticmethod
    def _read_maildir(maildir: Path) -> list[tuple[tuple[float, str], bytes]]:
        items = []
        for sub in ("new", "cur"):
            directory = maildir / sub
            if not directory.is_dir():
                continue
            for path in directory.iterdir():
                try:
                    items.append(((path.stat().st_mtime, path.name), path.read_bytes()))
                except FileNotFoundError:  # moved from new/ to cur/ meanwhile
                    continue
        return sorted(items, key=lambda item: item[0])

    def wait_for_messages(self, where: str, count: int, timeout: float = 60) -> list[bytes]:
        """Poll until ``where`` (see maildir_messages) holds at least ``count`` messages.

        Raises AssertionError with the maillog when they do not arrive within ``timeout`` s.
        """
        deadline = time.monotonic() + timeout
        while True:
            messages = self.maildir_messages(where)
            if len(messages) >= count:
                return messages
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"postfix {self.name}: {len(messages)} of {count} messages in {where!r} "
                    f"after {timeout:.0f} s\n--- maillog ---\n{self.log()}"
                )
            time.sleep(POLL)
