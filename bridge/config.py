"""The gateway configuration: one TOML file, read strictly into frozen dataclasses.

DESIGN §11: typed, strict and explicit.  The file is read with :mod:`tomllib` (TOML 1.0); an
unknown or misspelled key, or a value of the wrong type, is a :class:`~bridge.errors.ConfigError`
naming its dotted path (``smtp.in.max-message-size: expected an integer, got 'ten'``).  Every
option has a default, so no file at all is a valid configuration (issue 6): SMTP on
127.0.0.1:2525, RFC 1006 (RFC 1006 §3: TCP port 102 in production) on 127.0.0.1:1102, state in
``./var/``, tables from the bundled ``mappings/``.  Relative paths are taken relative to the
config file's folder (the current folder when there is no file).  The object is passed down,
never kept in a global.

Every option is listed, with type, default and meaning, in ``docs/config.md``; :data:`DEFAULTS`
is the default file itself.  ``x400bridge config check|show`` is :func:`add_parser`.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import socket
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bridge.configschema import (
    Endpoint,
    IPNetwork,
    Section,
    check_domain,
    describe,
    format_duration,
    format_key,
    format_value,
    parse_endpoint,
)
from bridge.convert.limits import DEFAULT_LIMITS, MessageLimits
from bridge.convert.policy import PRESETS, MappingPolicy
from bridge.convert.priority import POLICIES as PRIORITY_POLICIES
from bridge.errors import ConfigError
from bridge.gateway.convertpool import DEFAULT_MAX_CRASHES, DEFAULT_MEMORY_LIMIT
from bridge.mapcli import DEFAULT_GATEWAY_DOMAIN, DEFAULT_GATEWAY_OR
from bridge.model.oraddress import ORAddress
from bridge.model.ortext import ORAddressSyntaxError, format_std_or, parse_or_address
from bridge.model.seclabel import LABEL_POLICIES
from bridge.queue.settings import KEYS as QUEUE_BACKEND_KEYS
from bridge.queue.settings import BackendSettings, backend_settings
from bridge.queue.types import PRIORITY_RANGE, PriorityTimes, RetryPolicy
from bridge.resources import data_dir
from bridge.x400.mta import Selectors
from bridge.x400.peers import LocalMTA, Peer, PeerTable, load_peer_table
from bridge.x400.shell import ResponderLimits
from bridge.x400.stack import PRE_BIND_LIMIT

__all__ = [
    "DEFAULTS", "DEFAULT_WORKERS", "Config", "ConfigError", "Endpoint", "GatewayConfig",
    "LogConfig", "MetricsConfig", "QueueConfig", "SmtpInConfig", "SmtpOutConfig", "X400Config",
    "add_parser", "advice", "load_config", "parse_config", "render_config", "summary",
]

MIB = 1024 * 1024
POLICIES = tuple(PRESETS)                       # "rfc2156", "strict", "lenient"
SMTP_OUT_TLS = ("opportunistic", "never", "required")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")
ROUTES_FILE = "x400-routes.txt"                 # the bundled O/R prefix -> peer table
_HIDDEN = "(hidden; `config show --secrets` shows it)"


#: ``[gateway] node-id``: 1-63 letters, digits, '-', '_', '.' (it names the node in log
#: lines, metric labels and the queue's leases; 63 = a DNS label's limit, RFC 1035 §2.3.4)
NODE_ID = re.compile(r"[A-Za-z0-9._-]{1,63}")


def default_node_id() -> str:
    """The host name's first label (``gw1`` for ``gw1.example.net``), its other characters
    made '-' -- or ``x400bridge`` when the host has no usable name."""
    label = socket.gethostname().split(".", 1)[0]
    label = re.sub(r"[^A-Za-z0-9_-]", "-", label)[:63]
    return label if label.strip("-") else "x400bridge"


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayConfig:
    """``[gateway]``: who the gateway is (RFC 2156 §4.3.4 gateway identity) and where its data
    lives; ``node_id`` names this node among the gateways sharing one queue (issue 15)."""

    node_id: str = field(default_factory=default_node_id)
    domain: str = DEFAULT_GATEWAY_DOMAIN
    or_address: ORAddress = field(default_factory=lambda: parse_or_address(DEFAULT_GATEWAY_OR))
    tables: Path | None = None
    dns_server: Endpoint | None = None
    policy: str = "rfc2156"
    security_labels: str = "pass"                           # bridge.convert.seclabel (MIL-5)
    postmaster: str = f"postmaster@{DEFAULT_GATEWAY_DOMAIN}"
    state_dir: Path = Path("var")
    max_header_size: int = DEFAULT_LIMITS.header_octets     # bridge.convert.limits
    max_header_fields: int = DEFAULT_LIMITS.header_fields
    max_encoded_words: int = DEFAULT_LIMITS.encoded_words

    @property
    def message_limits(self) -> MessageLimits:
        """What a message may hold before it is parsed (:mod:`bridge.convert.limits`)."""
        return MessageLimits(header_octets=self.max_header_size,
                             header_fields=self.max_header_fields,
                             encoded_words=self.max_encoded_words)

    @property
    def tables_dir(self) -> Path:
        """The RFC 2156 App F mapping tables' folder (the bundled ``mappings/`` by default)."""
        return self.tables if self.tables is not None else data_dir("mappings")

    @property
    def mapping_policy(self) -> MappingPolicy:
        """The :class:`~bridge.convert.policy.MappingPolicy` preset named by ``policy``, with
        ``security_labels``."""
        preset = PRESETS[self.policy]
        return preset if self.security_labels == preset.security_labels else preset.clone(
            security_labels=self.security_labels)


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpInConfig:
    """``[smtp.in]``: the ESMTP server (RFC 5321) that takes mail for X.400."""

    listen: Endpoint = Endpoint(host="127.0.0.1", port=2525)
    hostname: str = DEFAULT_GATEWAY_DOMAIN
    max_message_size: int = 10 * MIB               # RFC 1870 SIZE
    tls_cert: Path | None = None                  # RFC 3207 STARTTLS
    tls_key: Path | None = None
    auth: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    require_auth_for_relay: bool = False
    relay_networks: tuple[IPNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"),
                                             ipaddress.ip_network("::1/128"))
    timeout: float = 300.0                        # RFC 5321 §4.5.3.2.7: server timeout 5 min
    data_timeout: float = 180.0                   # RFC 5321 §4.5.3.2.5: DATA block 3 min
    processes: int = 1                            # SMTP server processes (SO_REUSEPORT)
    # limits (docs/security.md), each per SMTP server process
    max_connections: int = 100                    # Postfix default_process_limit
    max_connections_per_client: int = 50          # Postfix smtpd_client_connection_count_limit
    max_recipients: int = 1000                    # Postfix smtpd_recipient_limit
    junk_command_limit: int = 100                 # Postfix smtpd_junk_command_limit
    max_auth_failures: int = 5                    # per connection
    auth_failure_delay: float = 1.0               # Postfix smtpd_error_sleep_time
    auth_failure_delay_max: float = 30.0
    mt_priority_policy: str = "MIXER"             # RFC 6710 §9.2: "MIXER" or "STANAG4406"

    @property
    def tls(self) -> bool:
        """Whether STARTTLS is offered."""
        return self.tls_cert is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpOutConfig:
    """``[smtp.out]``: the SMTP client delivering X.400 mail to the Internet (MX per RFC 5321
    §5.1, or a smarthost)."""

    smarthost: Endpoint | None = None
    port: int = 25
    timeout: float = 60.0
    helo: str = DEFAULT_GATEWAY_DOMAIN
    tls: str = "opportunistic"


@dataclass(frozen=True, slots=True, kw_only=True)
class X400Config:
    """``[x400]``: the P1 MTA (X.411 §12, X.419) and the file spool; ``peers`` are the
    ``[x400.peers.NAME]`` tables of :mod:`bridge.x400.peers`."""

    listen: Endpoint = Endpoint(host="127.0.0.1", port=1102)
    name: str = "x400bridge"
    password: str | None = field(default=None, repr=False)
    allow_anonymous: bool = False
    tsel: bytes = b""
    ssel: bytes = b""
    psel: bytes = b""
    spool: Path = Path("var/spool")
    routes: Path | None = None
    peers: Mapping[str, Peer] = field(default_factory=lambda: MappingProxyType({}))
    max_associations: int = 100                   # bridge.x400.shell.ResponderLimits
    max_associations_per_address: int = 10
    pre_bind_size: int = PRE_BIND_LIMIT
    bind_failure_delay: float = 1.0
    bind_failure_delay_max: float = 30.0

    @property
    def limits(self) -> ResponderLimits:
        """What inbound associations may cost (docs/security.md)."""
        return ResponderLimits(max_associations=self.max_associations,
                               max_per_address=self.max_associations_per_address,
                               pre_bind_octets=self.pre_bind_size,
                               bind_failure_delay=self.bind_failure_delay,
                               bind_failure_delay_max=self.bind_failure_delay_max)

    @property
    def peer_table(self) -> PeerTable:
        """The :class:`~bridge.x400.peers.PeerTable` (local MTA and peers) for the shell."""
        local = LocalMTA(name=self.name, password=self.password,
                         listen_host=self.listen.host, listen_port=self.listen.port,
                         allow_anonymous=self.allow_anonymous,
                         selectors=Selectors(tsel=self.tsel, ssel=self.ssel, psel=self.psel))
        return PeerTable(local=local, peers=self.peers)

    @property
    def routes_file(self) -> Path:
        """The O/R-prefix -> peer routing table (the bundled one by default)."""
        return self.routes if self.routes is not None else data_dir("mappings") / ROUTES_FILE


#: delivery workers per direction: a P1 association each (one activity at a time per
#: association, X.228 §7.4), so this many transfers run at once
DEFAULT_WORKERS = 8
#: the lease a worker's claim takes (docs/queue.md "Nodes"): how long the recipients of a node
#: that died stay untouched before another node takes them over; at least MIN_LEASE, so that a
#: transfer in progress is not taken over from a live node (a P1 transfer of a large message
#: takes seconds)
DEFAULT_LEASE = 600.0
MIN_LEASE = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueConfig:
    """``[queue]``: the durable queue and its retry schedule (durations in seconds)."""

    path: Path = Path("var/queue.sqlite")
    retry_initial: float = 60.0
    retry_factor: float = 2.0
    retry_max: float = 3600.0
    expire_after: float = 5 * 86400.0
    delay_warning: float = 4 * 3600.0             # RFC 3464 "delayed" DSN; 0: none
    lease: float = DEFAULT_LEASE                  # a claim's lease = take-over after a node dies
    workers: int = DEFAULT_WORKERS                # delivery workers per direction
    convert_processes: int = 1                    # conversions in other processes; 0: here
    convert_memory: int = DEFAULT_MEMORY_LIMIT    # RLIMIT_AS per conversion process; 0: none
    convert_max_failures: int = DEFAULT_MAX_CRASHES   # then the message is refused (5.6.0)
    backend: BackendSettings = BackendSettings()  # sqlite (path) or postgresql (dsn)
    by_priority: tuple[PriorityTimes, ...] = ()   # [[queue.by-priority]], by at-least

    @property
    def retry_policy(self) -> RetryPolicy:
        """The queue's :class:`~bridge.queue.types.RetryPolicy`: these times, and theirs per
        RFC 6710 priority (``[[queue.by-priority]]``, docs/queue.md)."""
        return RetryPolicy(initial=self.retry_initial, factor=self.retry_factor,
                           maximum=self.retry_max, expire_after=self.expire_after,
                           delay_warning=self.delay_warning or None,
                           by_priority=self.by_priority)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsConfig:
    """``[metrics]``: the Prometheus endpoint (None: off)."""

    listen: Endpoint | None = Endpoint(host="127.0.0.1", port=9464)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogConfig:
    """``[log]``: level and format of the structured log."""

    level: str = "info"
    format: str = "text"


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole configuration, one frozen value passed down to every part of the gateway."""

    gateway: GatewayConfig
    smtp_in: SmtpInConfig
    smtp_out: SmtpOutConfig
    x400: X400Config
    queue: QueueConfig
    metrics: MetricsConfig
    log: LogConfig


# ------------------------------------------------------------------------------ parsing

_TOP = ("gateway", "smtp", "x400", "queue", "metrics", "log")
_X400_LOCAL = ("name", "password", "listen", "allow-anonymous", "tsel", "ssel", "psel")


def _keys(cls: type) -> tuple[str, ...]:
    return tuple(f.replace("_", "-") for f in cls.__dataclass_fields__)  # type: ignore[attr-defined]


def _node_id(s: Section) -> str:
    value = s.text("node-id", default_node_id())
    if not NODE_ID.fullmatch(value):
        raise ConfigError(f"{s.path('node-id')}: expected 1-63 letters, digits, '-', '_' or "
                          f"'.', got {value!r}")
    return value


def _gateway(data: object, base: Path) -> GatewayConfig:
    s = Section(data, "gateway", _keys(GatewayConfig), base=base)
    domain = check_domain(s.text("domain", DEFAULT_GATEWAY_DOMAIN), s.path("domain"))
    or_text = s.text("or-address", DEFAULT_GATEWAY_OR, empty=False)
    try:
        or_address = parse_or_address(or_text)
    except ORAddressSyntaxError as exc:           # RFC 2156 §4.1.3 std-or-address-input
        raise ConfigError(f"{s.path('or-address')}: {exc}") from None
    dns_text = s.opt_text("dns-server")
    tables = s.file_path("tables", None)
    if tables is not None and not tables.is_dir():
        raise ConfigError(f"{s.path('tables')}: no such folder: {tables}")
    return GatewayConfig(
        node_id=_node_id(s), domain=domain, or_address=or_address, tables=tables,
        dns_server=None if dns_text is None else parse_endpoint(
            dns_text, s.path("dns-server"), default_port=53, ip_only=True),
        policy=s.choice("policy", "rfc2156", POLICIES),
        security_labels=s.choice("security-labels", "pass", LABEL_POLICIES),
        postmaster=s.text("postmaster", f"postmaster@{domain}", empty=False),
        state_dir=s.file_path("state-dir", None) or base / "var",
        max_header_size=s.integer("max-header-size", DEFAULT_LIMITS.header_octets,
                                  minimum=1024),
        max_header_fields=s.integer("max-header-fields", DEFAULT_LIMITS.header_fields,
                                    minimum=10),
        max_encoded_words=s.integer("max-encoded-words", DEFAULT_LIMITS.encoded_words,
                                    minimum=10))


def _smtp_in(data: object, gateway: GatewayConfig, base: Path) -> SmtpInConfig:
    s = Section(data, "smtp.in", _keys(SmtpInConfig), base=base)
    cert, key = s.file_path("tls-cert", None), s.file_path("tls-key", None)
    if (cert is None) != (key is None):
        have, missing = ("tls-cert", "tls-key") if key is None else ("tls-key", "tls-cert")
        raise ConfigError(f"{s.path(missing)}: required with {s.path(have)} (both or neither)")
    for name, path in (("tls-cert", cert), ("tls-key", key)):
        if path is not None and not path.is_file():
            raise ConfigError(f"{s.path(name)}: no such file: {path}")
    auth = s.string_table("auth")
    for user in auth:
        if not user:
            raise ConfigError(f"{s.path('auth')}: an empty user name")
    delay = s.duration("auth-failure-delay", 1.0)
    delay_max = s.duration("auth-failure-delay-max", max(30.0, delay))
    if delay_max < delay:
        raise ConfigError(f"{s.path('auth-failure-delay-max')}: shorter than "
                          f"{s.path('auth-failure-delay')}")
    return SmtpInConfig(
        listen=parse_endpoint(s.text("listen", "127.0.0.1:2525"), s.path("listen"),
                              any_port=True),
        hostname=check_domain(s.text("hostname", gateway.domain), s.path("hostname")),
        max_message_size=s.integer("max-message-size", 10 * MIB, minimum=1),
        tls_cert=cert, tls_key=key, auth=MappingProxyType(auth),
        require_auth_for_relay=s.boolean("require-auth-for-relay", False),
        relay_networks=s.networks("relay-networks", ("127.0.0.0/8", "::1/128")),
        timeout=_positive(s, "timeout", 300.0),
        data_timeout=_positive(s, "data-timeout", 180.0),
        processes=_processes(s),
        max_connections=s.integer("max-connections", 100, minimum=1),
        max_connections_per_client=s.integer("max-connections-per-client", 50, minimum=1),
        # RFC 5321 §4.5.3.1.8: a server MUST take at least 100 recipients per message
        max_recipients=s.integer("max-recipients", 1000, minimum=100),
        junk_command_limit=s.integer("junk-command-limit", 100, minimum=1),
        max_auth_failures=s.integer("max-auth-failures", 5, minimum=1),
        auth_failure_delay=delay, auth_failure_delay_max=delay_max,
        mt_priority_policy=s.choice("mt-priority-policy", "MIXER", PRIORITY_POLICIES))


def _smtp_out(data: object, gateway: GatewayConfig, base: Path) -> SmtpOutConfig:
    s = Section(data, "smtp.out", _keys(SmtpOutConfig), base=base)
    smarthost = s.opt_text("smarthost")
    port = s.integer("port", 25, minimum=1)
    if port > 65535:
        raise ConfigError(f"{s.path('port')}: not a TCP port: {port}")
    return SmtpOutConfig(
        smarthost=None if smarthost is None else parse_endpoint(
            smarthost, s.path("smarthost"), default_port=25),
        port=port, timeout=_positive(s, "timeout", 60.0),
        helo=check_domain(s.text("helo", gateway.domain), s.path("helo")),
        tls=s.choice("tls", "opportunistic", SMTP_OUT_TLS))


def _x400(data: object, gateway: GatewayConfig, base: Path) -> X400Config:
    s = Section(data, "x400", _keys(X400Config), base=base)
    listen = parse_endpoint(s.text("listen", "127.0.0.1:1102"), s.path("listen"),
                            any_port=True)
    local: dict[str, Any] = {"name": s.text("name", "x400bridge"), "listen": str(listen),
                             "allow-anonymous": s.boolean("allow-anonymous", False)}
    for key in ("password", "tsel", "ssel", "psel"):
        value = s.opt_text(key)
        if value is not None:
            local[key] = value
    peers = s.table("peers")
    try:
        table = load_peer_table({"local": local, "peers": peers}, where="x400")
    except ConfigError as exc:
        # our [x400] table is bridge.x400.peers' [local]: report the path the user wrote
        text = str(exc)
        if text.startswith("x400.local."):
            raise ConfigError("x400." + text.removeprefix("x400.local.")) from None
        raise
    routes = s.file_path("routes", None)
    if routes is not None and not routes.is_file():
        raise ConfigError(f"{s.path('routes')}: no such file: {routes}")
    delay = s.duration("bind-failure-delay", 1.0)
    delay_max = s.duration("bind-failure-delay-max", max(30.0, delay))
    if delay_max < delay:
        raise ConfigError(f"{s.path('bind-failure-delay-max')}: shorter than "
                          f"{s.path('bind-failure-delay')}")
    sel = table.local.selectors
    return X400Config(
        listen=listen, name=table.local.name, password=table.local.password,
        allow_anonymous=table.local.allow_anonymous,
        tsel=sel.tsel, ssel=sel.ssel, psel=sel.psel,
        spool=s.file_path("spool", None) or gateway.state_dir / "spool",
        routes=routes, peers=MappingProxyType(dict(table.peers)),
        max_associations=s.integer("max-associations", 100, minimum=1),
        max_associations_per_address=s.integer("max-associations-per-address", 10,
                                               minimum=1),
        pre_bind_size=s.integer("pre-bind-size", PRE_BIND_LIMIT, minimum=4096),
        bind_failure_delay=delay, bind_failure_delay_max=delay_max)


def _queue(data: object, gateway: GatewayConfig, base: Path) -> QueueConfig:
    s = Section(data, "queue", (*_keys(QueueConfig), *QUEUE_BACKEND_KEYS), base=base)
    backend = backend_settings(data if isinstance(data, dict) else {}, base=base)
    initial = _positive(s, "retry-initial", 60.0)
    maximum = _positive(s, "retry-max", 3600.0)
    if maximum < initial:
        raise ConfigError(f"{s.path('retry-max')}: shorter than queue.retry-initial")
    return QueueConfig(
        path=s.file_path("path", None) or gateway.state_dir / "queue.sqlite",
        retry_initial=initial, retry_factor=s.number("retry-factor", 2.0, minimum=1.0),
        retry_max=maximum, expire_after=_positive(s, "expire-after", 5 * 86400.0),
        delay_warning=s.duration("delay-warning", 4 * 3600.0),
        lease=_at_least(s, "lease", DEFAULT_LEASE, MIN_LEASE),
        workers=s.integer("workers", DEFAULT_WORKERS, minimum=1),
        convert_processes=s.integer("convert-processes", 1, minimum=0),
        convert_memory=s.integer("convert-memory", DEFAULT_MEMORY_LIMIT, minimum=0),
        convert_max_failures=s.integer("convert-max-failures", DEFAULT_MAX_CRASHES,
                                       minimum=1),
        backend=backend, by_priority=_by_priority(s, initial, maximum))


#: the keys of a ``[[queue.by-priority]]`` entry
_BY_PRIORITY_KEYS = ("at-least", "retry-initial", "retry-max", "delay-warning", "expire-after")


def _by_priority(queue: Section, initial: float, maximum: float) -> tuple[PriorityTimes, ...]:
    """``[[queue.by-priority]]``: times per RFC 6710 priority (issue 14), each key but
    ``at-least`` optional and inherited from ``[queue]``.  Errors name the entry by index."""
    key = "by-priority"
    if key not in queue.data:
        return ()
    items = queue.data[key]
    if not isinstance(items, list):
        raise ConfigError(f"{queue.path(key)}: expected an array of tables "
                          f"([[{queue.path(key)}]]), got {describe(items)}")
    entries: list[PriorityTimes] = []
    seen: dict[int, int] = {}
    for i, item in enumerate(items):
        e = Section(item, f"{queue.path(key)}[{i}]", _BY_PRIORITY_KEYS, base=queue.base)
        if "at-least" not in e.data:
            raise ConfigError(f"{e.path('at-least')}: required (an MT-PRIORITY, -9..9)")
        level = e.integer("at-least", 0, minimum=PRIORITY_RANGE.start)
        if level not in PRIORITY_RANGE:
            raise ConfigError(f"{e.path('at-least')}: must be an RFC 6710 priority, -9..9, "
                              f"got {level}")
        if level in seen:
            raise ConfigError(f"{e.path('at-least')}: {level} is also "
                              f"{queue.path(key)}[{seen[level]}].at-least")
        seen[level] = i
        own_initial = _positive(e, "retry-initial", 0) if "retry-initial" in e.data else None
        own_max = _positive(e, "retry-max", 0) if "retry-max" in e.data else None
        if (own_max if own_max is not None else maximum) \
                < (own_initial if own_initial is not None else initial):
            raise ConfigError(f"{e.path('retry-max')}: shorter than its retry-initial"
                              if own_max is not None else
                              f"{e.path('retry-initial')}: longer than queue.retry-max")
        entries.append(PriorityTimes(
            at_least=level, initial=own_initial, maximum=own_max,
            delay_warning=e.duration("delay-warning", 0) if "delay-warning" in e.data
            else None,
            expire_after=_positive(e, "expire-after", 0) if "expire-after" in e.data
            else None))
    return tuple(sorted(entries, key=lambda entry: entry.at_least))


def _metrics(data: object, base: Path) -> MetricsConfig:
    s = Section(data, "metrics", _keys(MetricsConfig), base=base)
    if "listen" not in s.data:
        return MetricsConfig()
    value = s.data["listen"]
    if value is False or value == "":
        return MetricsConfig(listen=None)
    if not isinstance(value, str):
        raise ConfigError(f"{s.path('listen')}: expected HOST:PORT, \"\" or false, "
                          f"got {describe(value)}")
    return MetricsConfig(listen=parse_endpoint(value, s.path("listen"), any_port=True))


def _log(data: object, base: Path) -> LogConfig:
    s = Section(data, "log", _keys(LogConfig), base=base)
    return LogConfig(level=s.choice("level", "info", LOG_LEVELS),
                     format=s.choice("format", "text", LOG_FORMATS))


def _at_least(s: Section, key: str, default: float, minimum: float) -> float:
    value = s.duration(key, default)
    if value < minimum:
        raise ConfigError(f"{s.path(key)}: must be at least {format_duration(minimum)}")
    return value


#: ``[smtp.in] processes = "auto"``: one per CPU the gateway may run on, at most this many
AUTO_PROCESSES_MAX = 4


def auto_processes() -> int:
    """The number of SMTP processes ``"auto"`` stands for on this machine."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):      # not Linux: every CPU
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, AUTO_PROCESSES_MAX))


def _processes(s: Section) -> int:
    """``processes``: an integer >= 1, or ``"auto"`` (:func:`auto_processes`)."""
    value = s.data.get("processes")
    if isinstance(value, str):
        if value != "auto":
            raise ConfigError(f'{s.path("processes")}: expected an integer or "auto", got '
                              f"{value!r}")
        return auto_processes()
    return s.integer("processes", 1, minimum=1)


def _positive(s: Section, key: str, default: float) -> float:
    value = s.duration(key, default)
    if value <= 0:
        raise ConfigError(f"{s.path(key)}: must be longer than 0")
    return value


def parse_config(data: Mapping[str, Any], *, source: str = "<config>",
                 base: Path | None = None) -> Config:
    """A :class:`Config` from parsed TOML; relative paths are taken relative to ``base`` (the
    config file's folder; the current folder when None).  ``source`` names the input for the
    caller; errors name dotted paths only, and :func:`load_config`'s caller adds the file."""
    root = (base if base is not None else Path.cwd()).absolute()
    top = Section(dict(data), "", _TOP, base=root)
    smtp = Section(top.data.get("smtp", {}), "smtp", ("in", "out"), base=root)
    gateway = _gateway(top.data.get("gateway", {}), root)
    return Config(gateway=gateway,
                  smtp_in=_smtp_in(smtp.data.get("in", {}), gateway, root),
                  smtp_out=_smtp_out(smtp.data.get("out", {}), gateway, root),
                  x400=_x400(top.data.get("x400", {}), gateway, root),
                  queue=_queue(top.data.get("queue", {}), gateway, root),
                  metrics=_metrics(top.data.get("metrics", {}), root),
                  log=_log(top.data.get("log", {}), root))


def load_config(path: Path | None) -> Config:
    """Read the config file ``path`` (None: the defaults, no file needed)."""
    if path is None:
        return parse_config({}, source="<defaults>")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_config(data, source=str(path), base=path.absolute().parent)


# --------------------------------------------------------------------------------- DEFAULTS

DEFAULTS = """\
# x400bridge configuration: the defaults.  Every option is optional; no file at all means
# exactly this.  Relative paths are relative to this file's folder (the current folder when
# the gateway runs without a file).  Durations: seconds, or "90s", "15m", "4h", "5d".

[gateway]
# node-id = "<host name>"                # this node among those sharing a queue
domain = "x400-gateway.invalid"          # the gateway's own domain
or-address = "/O=x400bridge/ADMD= /C=ZZ/" # the gateway's own O/R address (std-or text)
# tables = "mappings"                    # default: the bundled mappings/ folder
# dns-server = "192.0.2.53:53"           # RFC 2163 lookups; default: tables only
policy = "rfc2156"                       # or "strict", "lenient"
security-labels = "pass"                 # or "require", "refuse" (RFC 7444 / X.411 labels)
# postmaster = "postmaster@<domain>"
state-dir = "var"

[smtp.in]
listen = "127.0.0.1:2525"
# hostname = "<gateway.domain>"
max-message-size = 10485760              # 10 MiB
# tls-cert = "cert.pem"                  # STARTTLS: both or neither
# tls-key = "key.pem"
require-auth-for-relay = false
relay-networks = ["127.0.0.0/8", "::1/128"]
timeout = "5m"                           # waiting for a command
data-timeout = "3m"                      # waiting for the next block of DATA
processes = 1
max-connections = 100                    # limits: per SMTP process (docs/security.md)
max-connections-per-client = 50          # IPv4 address or IPv6 /64
max-recipients = 1000                    # per message
junk-command-limit = 100                 # commands without a message, then 421
max-auth-failures = 5                    # per connection, then 421
auth-failure-delay = "1s"                # before the answer to an AUTH failure; doubles
auth-failure-delay-max = "30s"           # ... up to this
mt-priority-policy = "MIXER"             # RFC 6710 priority policy, or "STANAG4406"

[smtp.in.auth]
# alice = "secret"

[smtp.out]
# smarthost = "smtp.example.org:25"      # default: MX lookup
port = 25
timeout = "1m"
# helo = "<gateway.domain>"
tls = "opportunistic"                    # or "never", "required"

[x400]
listen = "127.0.0.1:1102"
name = "x400bridge"
# password = "secret"
allow-anonymous = false
tsel = ""
ssel = ""
psel = ""
# spool = "<state-dir>/spool"
# routes = "x400-routes.txt"             # default: the bundled mappings/x400-routes.txt

# [x400.peers.percival]
# mta-name = "percival.example.org"
# password = "excalibur"
# host = "192.0.2.7"
# port = 102

[queue]
# path = "<state-dir>/queue.sqlite"
retry-initial = "1m"
retry-factor = 2
retry-max = "1h"
expire-after = "5d"
delay-warning = "4h"
lease = "10m"                            # a claim's lease: another node takes over a dead
                                         # node's work after this (at least 5s)
workers = 8
convert-processes = 1

# [[queue.by-priority]]                  # other times for MT-PRIORITY >= at-least (RFC 6710)
# at-least = 4                           # each key but at-least optional: else [queue]'s
# retry-initial = "10s"
# retry-max = "5m"
# delay-warning = "15m"
# expire-after = "4h"

[metrics]
listen = "127.0.0.1:9464"                # "" or false: no metrics endpoint

[log]
level = "info"                           # debug, info, warning, error, critical
format = "text"                          # or "json"
"""


# ------------------------------------------------------------------------------- rendering

def _line(key: str, value: object) -> str:
    return f"{format_key(key)} = {format_value(value)}"


def render_config(config: Config, *, secrets: bool = True) -> str:
    """The effective configuration as TOML (``parse_config`` of it gives ``config`` back).

    Options without a value (no smarthost, the bundled tables) are comments; with
    ``secrets=False`` passwords are comments too."""
    g, si, so, x, q = config.gateway, config.smtp_in, config.smtp_out, config.x400, config.queue
    out = ["[gateway]", _line("node-id", g.node_id), _line("domain", g.domain),
           _line("or-address", format_std_or(g.or_address)),
           _line("tables", str(g.tables)) if g.tables else f"# tables: bundled ({g.tables_dir})",
           _line("dns-server", str(g.dns_server)) if g.dns_server else "# dns-server: none",
           _line("policy", g.policy), _line("security-labels", g.security_labels),
           _line("postmaster", g.postmaster),
           _line("state-dir", str(g.state_dir)),
           _line("max-header-size", g.max_header_size),
           _line("max-header-fields", g.max_header_fields),
           _line("max-encoded-words", g.max_encoded_words), "",
           "[smtp.in]", _line("listen", str(si.listen)), _line("hostname", si.hostname),
           _line("max-message-size", si.max_message_size)]
    if si.tls_cert is not None and si.tls_key is not None:
        out += [_line("tls-cert", str(si.tls_cert)), _line("tls-key", str(si.tls_key))]
    else:
        out.append("# tls-cert, tls-key: none (no STARTTLS)")
    out += [_line("require-auth-for-relay", si.require_auth_for_relay),
            _line("relay-networks", [str(n) for n in si.relay_networks]),
            _line("timeout", format_duration(si.timeout)),
            _line("data-timeout", format_duration(si.data_timeout)),
            _line("processes", si.processes),
            _line("max-connections", si.max_connections),
            _line("max-connections-per-client", si.max_connections_per_client),
            _line("max-recipients", si.max_recipients),
            _line("junk-command-limit", si.junk_command_limit),
            _line("max-auth-failures", si.max_auth_failures),
            _line("auth-failure-delay", format_duration(si.auth_failure_delay)),
            _line("auth-failure-delay-max", format_duration(si.auth_failure_delay_max)),
            _line("mt-priority-policy", si.mt_priority_policy), "",
            "[smtp.in.auth]"]
    out += [_line(user, pw) if secrets else f"# {format_key(user)} = {_HIDDEN}"
            for user, pw in si.auth.items()]
    out += ["", "[smtp.out]",
            _line("smarthost", str(so.smarthost)) if so.smarthost else "# smarthost: none (MX)",
            _line("port", so.port), _line("timeout", format_duration(so.timeout)),
            _line("helo", so.helo), _line("tls", so.tls), "",
            "[x400]", _line("listen", str(x.listen)), _line("name", x.name),
            _secret("password", x.password, secrets),
            _line("allow-anonymous", x.allow_anonymous),
            _line("tsel", x.tsel.hex()), _line("ssel", x.ssel.hex()), _line("psel", x.psel.hex()),
            _line("spool", str(x.spool)),
            _line("routes", str(x.routes)) if x.routes else "# routes: bundled",
            _line("max-associations", x.max_associations),
            _line("max-associations-per-address", x.max_associations_per_address),
            _line("pre-bind-size", x.pre_bind_size),
            _line("bind-failure-delay", _seconds(x.bind_failure_delay)),
            _line("bind-failure-delay-max", _seconds(x.bind_failure_delay_max))]
    for nick, peer in x.peers.items():
        out += ["", f"[x400.peers.{format_key(nick)}]", *_peer_lines(peer, secrets)]
    b = q.backend
    out += ["", "[queue]", _line("backend", b.backend)]
    if b.backend == "postgresql":
        out += [_line("dsn", b.dsn or "")]
        if b.password_file is not None:
            out += [_line("password-file", str(b.password_file))]
    out += [_line("path", str(q.path)),
            _line("retry-initial", format_duration(q.retry_initial)),
            _line("retry-factor", q.retry_factor),
            _line("retry-max", format_duration(q.retry_max)),
            _line("expire-after", format_duration(q.expire_after)),
            _line("delay-warning", format_duration(q.delay_warning)),
            _line("lease", format_duration(q.lease)),
            _line("workers", q.workers),
            _line("convert-processes", q.convert_processes),
            _line("convert-memory", q.convert_memory),
            _line("convert-max-failures", q.convert_max_failures), "",
            *_by_priority_lines(q.by_priority),
            "[metrics]", _line("listen", str(config.metrics.listen or "")), "",
            "[log]", _line("level", config.log.level), _line("format", config.log.format)]
    return "\n".join(out) + "\n"


def _secret(key: str, value: str | None, secrets: bool) -> str:
    if value is None:
        return f"# {key}: none"
    return _line(key, value) if secrets else f"# {key} = {_HIDDEN}"


def _by_priority_lines(entries: tuple[PriorityTimes, ...]) -> list[str]:
    out: list[str] = []
    for e in entries:
        out += ["[[queue.by-priority]]", _line("at-least", e.at_least)]
        for key, value in (("retry-initial", e.initial), ("retry-max", e.maximum),
                           ("delay-warning", e.delay_warning),
                           ("expire-after", e.expire_after)):
            if value is not None:
                out.append(_line(key, format_duration(value)))
        out.append("")
    return out


def _peer_lines(peer: Peer, secrets: bool) -> list[str]:
    sel = peer.selectors
    return [_line("mta-name", peer.mta_name), _secret("password", peer.password, secrets),
            _line("host", peer.host), _line("port", peer.port), _line("mode", peer.mode),
            _line("allowed-addresses", list(peer.allowed_addresses)),
            _line("tsel", sel.tsel.hex()), _line("ssel", sel.ssel.hex()),
            _line("psel", sel.psel.hex()), _line("checkpoint-size", peer.checkpoint_size),
            _line("window-size", peer.window_size), _line("timeout", peer.timeout),
            _line("x411-edition", peer.profile.x411_edition),
            _line("envelope-extensions", peer.profile.envelope_extensions),
            _line("same-domain", peer.profile.same_domain),
            _line("mixer-eit", peer.profile.mixer_eit),
            _line("security-labels", peer.profile.security_labels),
            _line("content", peer.profile.content)]


def _seconds(value: float) -> str:
    text = format_duration(value)
    return text if isinstance(text, str) else f"{text}s"


def summary(config: Config) -> list[str]:
    """One line per section, for ``config check``."""
    g, si, so, x, q = config.gateway, config.smtp_in, config.smtp_out, config.x400, config.queue
    tables = str(g.tables) if g.tables else "bundled"
    dns = f", DNS {g.dns_server}" if g.dns_server else ""
    users = len(si.auth)
    relay = " ".join(str(n) for n in si.relay_networks) or "none"
    out_to = f"smarthost {so.smarthost}" if so.smarthost else f"MX port {so.port}"
    peers = ", ".join(x.peers) or "none"
    metrics = str(config.metrics.listen) if config.metrics.listen else "off"
    return [
        f"gateway: node {g.node_id}, {g.domain} = {format_std_or(g.or_address)}, "
        f"tables {tables}{dns}, "
        f"policy {g.policy}, postmaster {g.postmaster}, state {g.state_dir}",
        f"smtp.in: listen {si.listen} as {si.hostname}, max {si.max_message_size} bytes, "
        f"STARTTLS {'on' if si.tls else 'off'}, {users} AUTH user{'s' * (users != 1)}, "
        f"relay from {relay}{' with AUTH' if si.require_auth_for_relay else ''}, "
        f"timeout {_seconds(si.timeout)} (DATA {_seconds(si.data_timeout)} per block), "
        f"at most {si.max_connections} connections ({si.max_connections_per_client} per "
        f"client), {si.max_recipients} recipients",
        f"smtp.out: {out_to}, TLS {so.tls}, HELO {so.helo}, timeout {_seconds(so.timeout)}",
        f"x400: listen {x.listen} as {x.name}, anonymous "
        f"{'allowed' if x.allow_anonymous else 'refused'}, peers {peers}, spool {x.spool}, "
        f"routes {x.routes or 'bundled'}",
        f"queue: {q.path}, retry {_seconds(q.retry_initial)} x{q.retry_factor:g} up to "
        f"{_seconds(q.retry_max)}, warn after {_seconds(q.delay_warning)}, expire after "
        f"{_seconds(q.expire_after)}, {q.workers} worker{'s' * (q.workers != 1)}",
        f"metrics: {metrics}",
        f"log: {config.log.level}, {config.log.format}",
    ]


def advice(config: Config) -> list[str]:
    """Settings that are valid but probably not meant (``config check`` prints them, ``serve``
    logs them at start-up)."""
    si, out = config.smtp_in, []
    host = si.listen.host
    local = host in ("localhost", "") or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)
    if si.auth and not si.tls and not local:
        out.append("smtp.in: AUTH users but no tls-cert: clients not on loopback can never "
                   "authenticate (AUTH is offered only after STARTTLS, RFC 4954 §4)")
    if si.require_auth_for_relay and not si.auth:
        out.append("smtp.in: require-auth-for-relay without AUTH users: nobody can relay mail "
                   "to the Internet")
    return out


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------------- CLI

def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``x400bridge config check [FILE]`` and ``x400bridge config show [--secrets] [FILE]``."""
    p = sub.add_parser("config", help="validate or show the gateway configuration")
    cmds = p.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = cmds.add_parser("check", help="validate a config file (no FILE: the defaults)")
    check.add_argument("file", nargs="?", type=Path, metavar="FILE")
    check.set_defaults(func=cmd_check)
    show = cmds.add_parser("show", help="print the effective configuration as TOML")
    show.add_argument("file", nargs="?", type=Path, metavar="FILE")
    show.add_argument("--secrets", action="store_true", help="include passwords")
    show.set_defaults(func=cmd_show)


def _error(args: argparse.Namespace, exc: ConfigError) -> int:
    name = str(args.file) if args.file is not None else "<defaults>"
    text = str(exc)
    print(text if text.startswith(name) else f"{name}: {text}", file=sys.stderr)
    return 1


def cmd_check(args: argparse.Namespace) -> int:
    """Print one line per section, any advice, and ``ok`` (exit 0), or the error (exit 1)."""
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        return _error(args, exc)
    print("\n".join(summary(config) + [f"warning: {line}" for line in advice(config)]))
    print("ok")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print the effective configuration as TOML (exit 0), or the error (exit 1)."""
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        return _error(args, exc)
    sys.stdout.write(render_config(config, secrets=args.secrets))
    return 0
