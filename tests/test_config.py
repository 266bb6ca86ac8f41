"""bridge.config: the typed, strict gateway configuration and ``x400bridge config``."""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

import bridge.config as config_module
from bridge.config import (
    DEFAULTS,
    Config,
    GatewayConfig,
    LogConfig,
    MetricsConfig,
    QueueConfig,
    SmtpInConfig,
    SmtpOutConfig,
    X400Config,
    add_parser,
    load_config,
    parse_config,
    render_config,
    summary,
)
from bridge.configschema import Endpoint, format_duration, parse_duration
from bridge.convert.policy import LENIENT, RFC2156, STRICT
from bridge.errors import ConfigError
from bridge.mapcli import DEFAULT_GATEWAY_DOMAIN, DEFAULT_GATEWAY_OR
from bridge.model.ortext import parse_or_address
from bridge.resources import data_dir

DOCS = Path(__file__).resolve().parent.parent / "docs" / "config.md"

SECTIONS: dict[str, type] = {
    "gateway": GatewayConfig, "smtp.in": SmtpInConfig, "smtp.out": SmtpOutConfig,
    "x400": X400Config, "queue": QueueConfig, "metrics": MetricsConfig, "log": LogConfig,
}
PEER_KEYS = {"mta-name", "password", "host", "port", "mode", "allowed-addresses", "tsel",
             "ssel", "psel", "checkpoint-size", "window-size", "timeout", "x411-edition",
             "envelope-extensions", "same-domain", "mixer-eit", "security-labels"}


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    """{"a": {"b": value}} from "a.b"."""
    out: Any = value
    for part in reversed(dotted.split(".")):
        out = {part: out}
    result: dict[str, Any] = out
    return result


def _error(data: dict[str, Any], base: Path | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, base=base)
    return str(info.value)


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    return cert, key


FULL = """\
[gateway]
domain = "gw.example.org"
or-address = "/O=Gateway/PRMD=Example/ADMD=TestADMD/C=GB/"
tables = "tabs"
dns-server = "[2001:db8::53]:5353"
policy = "strict"
postmaster = "ops@example.org"
state-dir = "state"

[smtp.in]
listen = "[::1]:0"
hostname = "mx.example.org"
max-message-size = 1048576
tls-cert = "cert.pem"
tls-key = "key.pem"
require-auth-for-relay = true
relay-networks = ["10.0.0.0/8", "2001:db8::/32"]
timeout = "2m"
data-timeout = "90s"
max-connections = 20
max-connections-per-client = 5
max-recipients = 200
junk-command-limit = 30
max-auth-failures = 3
auth-failure-delay = 0.5
auth-failure-delay-max = "1m"

[smtp.in.auth]
alice = "wonder\\"land\\\\"
"bob smith" = "pa\\u0001ss ☃"

[smtp.out]
smarthost = "relay.example.org:587"
port = 2525
timeout = 30.5
helo = "out.example.org"
tls = "required"

[x400]
listen = "0.0.0.0:102"
name = "gw.example.org"
password = "merlin"
allow-anonymous = true
tsel = "5031"
ssel = "01"
psel = "0002"
spool = "/srv/spool"
routes = "routes.txt"

[x400.peers.percival]
mta-name = "percival.smhs.co.uk"
password = "excalibur"
host = "192.0.2.7"
port = 10102
mode = "x410"
allowed-addresses = ["192.0.2.0/24"]
tsel = "5031"
checkpoint-size = 16
window-size = 5
timeout = 30

[x400.peers."odd name"]
mta-name = "odd"

[queue]
path = "q/queue.db"
retry-initial = 30
retry-factor = 1.5
retry-max = "2h"
expire-after = "3d"
delay-warning = 0
workers = 8

[metrics]
listen = ""

[log]
level = "debug"
format = "json"
"""


@pytest.fixture
def full_file(tmp_path: Path) -> Path:
    conf = tmp_path / "etc"
    conf.mkdir()
    (conf / "tabs").mkdir()
    (conf / "routes.txt").write_text("")
    (conf / "cert.pem").write_text("cert")
    (conf / "key.pem").write_text("key")
    path = conf / "gateway.toml"
    path.write_text(FULL, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ defaults

def test_defaults_need_no_file(cwd: Path) -> None:
    config = load_config(None)
    assert config.smtp_in.listen == Endpoint(host="127.0.0.1", port=2525)
    assert config.x400.listen == Endpoint(host="127.0.0.1", port=1102)
    assert config.gateway.state_dir == cwd / "var"
    assert config.queue.path == cwd / "var" / "queue.sqlite"
    assert config.x400.spool == cwd / "var" / "spool"
    assert config.gateway.tables is None
    assert config.gateway.tables_dir == data_dir("mappings")
    assert config.x400.routes_file == data_dir("mappings") / "x400-routes.txt"
    assert config.gateway.domain == DEFAULT_GATEWAY_DOMAIN
    assert config.gateway.or_address == parse_or_address(DEFAULT_GATEWAY_OR)
    assert config.gateway.postmaster == f"postmaster@{DEFAULT_GATEWAY_DOMAIN}"
    assert config.gateway.mapping_policy is RFC2156
    assert config.smtp_in.hostname == config.smtp_out.helo == DEFAULT_GATEWAY_DOMAIN
    assert config.smtp_in.max_message_size == 10 * 1024 * 1024
    assert config.smtp_in.relay_networks == (ipaddress.ip_network("127.0.0.0/8"),
                                             ipaddress.ip_network("::1/128"))
    assert not config.smtp_in.tls and dict(config.smtp_in.auth) == {}
    assert config.smtp_in.timeout == 300 and config.smtp_out.timeout == 60
    assert config.smtp_in.data_timeout == 180             # RFC 5321 §4.5.3.2.5
    assert (config.smtp_in.max_connections, config.smtp_in.max_connections_per_client,
            config.smtp_in.max_recipients, config.smtp_in.junk_command_limit,
            config.smtp_in.max_auth_failures, config.smtp_in.auth_failure_delay,
            config.smtp_in.auth_failure_delay_max) == (100, 50, 1000, 100, 5, 1, 30)
    assert config.smtp_out.smarthost is None and config.smtp_out.port == 25
    assert config.smtp_out.tls == "opportunistic"
    assert config.x400.name == "x400bridge" and config.x400.password is None
    assert not config.x400.allow_anonymous and dict(config.x400.peers) == {}
    assert (config.queue.retry_initial, config.queue.retry_factor, config.queue.retry_max,
            config.queue.expire_after, config.queue.delay_warning, config.queue.workers,
            config.queue.convert_processes) == (60, 2, 3600, 5 * 86400, 4 * 3600, 8, 1)
    assert config.metrics.listen == Endpoint(host="127.0.0.1", port=9464)
    assert config.log == LogConfig(level="info", format="text")


def test_dataclass_defaults_agree_with_parsed_defaults(cwd: Path) -> None:
    """Sections built in code (as other tests do) match the no-file config except for paths,
    which parsing makes absolute."""
    config = load_config(None)
    assert config.smtp_in == SmtpInConfig()
    assert config.smtp_out == SmtpOutConfig()
    assert config.metrics == MetricsConfig() and config.log == LogConfig()
    assert dataclasses.replace(config.gateway, state_dir=Path("var")) == GatewayConfig()
    assert dataclasses.replace(config.x400, spool=Path("var/spool")) == X400Config()
    assert dataclasses.replace(config.queue, path=Path("var/queue.sqlite")) == QueueConfig()


def test_defaults_text_parses_to_the_no_file_config(cwd: Path) -> None:
    assert parse_config(tomllib.loads(DEFAULTS)) == load_config(None)
    defaults_file = cwd / "defaults.toml"
    defaults_file.write_text(DEFAULTS, encoding="utf-8")
    assert load_config(defaults_file) == load_config(None)


def test_x400_peer_table_from_defaults(cwd: Path) -> None:
    table = load_config(None).x400.peer_table
    assert table.local.name == "x400bridge"
    assert (table.local.listen_host, table.local.listen_port) == ("127.0.0.1", 1102)
    assert dict(table.peers) == {}


# ----------------------------------------------------------------------------- the docs

def _documented() -> dict[str, set[str]]:
    sections: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## `\[([a-z0-9.A-Z]+)\]`", line)
        if heading:
            current = sections.setdefault(heading.group(1), set())
        elif current is not None and (row := re.match(r"\| `([a-z0-9-]+)` \|", line)):
            current.add(row.group(1))
    return sections


def test_every_field_is_documented() -> None:
    documented = _documented()
    for section, cls in SECTIONS.items():
        keys = {f.name.replace("_", "-") for f in dataclasses.fields(cls)}
        if section == "queue":       # the backend's keys live in bridge.queue.settings
            keys |= {"dsn", "password-file"}
        assert documented.get(section) == keys, section
    assert documented["x400.peers.NAME"] == PEER_KEYS
    assert set(documented) == {*SECTIONS, "x400.peers.NAME"}


def test_docs_show_the_defaults_text() -> None:
    assert DEFAULTS in DOCS.read_text(encoding="utf-8")


def test_every_documented_peer_key_is_accepted(cwd: Path) -> None:
    peer = {"mta-name": "p", "password": "x", "host": "192.0.2.1", "port": 102,
            "mode": "normal", "allowed-addresses": [], "tsel": "", "ssel": "", "psel": "",
            "checkpoint-size": 0, "window-size": 3, "timeout": 60, "x411-edition": 1988,
            "envelope-extensions": False, "same-domain": True, "mixer-eit": False,
            "security-labels": "require"}
    assert set(peer) == PEER_KEYS
    config = parse_config({"x400": {"peers": {"p": peer}}})
    assert config.x400.peer_table.get("p").host == "192.0.2.1"
    assert config.x400.peer_table.get("p").profile.security_labels == "require"


# ------------------------------------------------------------------------ every section

def test_full_file(full_file: Path) -> None:
    etc = full_file.parent
    c = load_config(full_file)
    g = c.gateway
    assert g.domain == "gw.example.org"
    assert g.or_address == parse_or_address("/O=Gateway/PRMD=Example/ADMD=TestADMD/C=GB/")
    assert g.tables == g.tables_dir == etc / "tabs"
    assert g.dns_server == Endpoint(host="2001:db8::53", port=5353)
    assert g.policy == "strict" and g.mapping_policy is STRICT
    assert g.postmaster == "ops@example.org" and g.state_dir == etc / "state"
    si = c.smtp_in
    assert si.listen == Endpoint(host="::1", port=0) and str(si.listen) == "[::1]:0"
    assert si.hostname == "mx.example.org" and si.max_message_size == 1048576
    assert (si.tls_cert, si.tls_key, si.tls) == (etc / "cert.pem", etc / "key.pem", True)
    assert dict(si.auth) == {"alice": 'wonder"land\\', "bob smith": "pa\x01ss ☃"}
    assert si.require_auth_for_relay
    assert [str(n) for n in si.relay_networks] == ["10.0.0.0/8", "2001:db8::/32"]
    assert si.timeout == 120 and si.data_timeout == 90
    assert (si.max_connections, si.max_connections_per_client, si.max_recipients,
            si.junk_command_limit, si.max_auth_failures) == (20, 5, 200, 30, 3)
    assert (si.auth_failure_delay, si.auth_failure_delay_max) == (0.5, 60)
    assert c.smtp_out == SmtpOutConfig(
        smarthost=Endpoint(host="relay.example.org", port=587), port=2525, timeout=30.5,
        helo="out.example.org", tls="required")
    x = c.x400
    assert x.listen == Endpoint(host="0.0.0.0", port=102)
    assert (x.name, x.password, x.allow_anonymous) == ("gw.example.org", "merlin", True)
    assert (x.tsel, x.ssel, x.psel) == (b"P1", b"\x01", b"\x00\x02")
    assert x.spool == Path("/srv/spool") and x.routes == x.routes_file == etc / "routes.txt"
    table = x.peer_table
    assert table.local.password == "merlin" and table.local.selectors.tsel == b"P1"
    percival = table.get("percival")
    assert percival.mta_name == "percival.smhs.co.uk" and percival.password == "excalibur"
    assert (percival.host, percival.port, percival.mode) == ("192.0.2.7", 10102, "x410")
    assert percival.allowed_addresses == ("192.0.2.0/24",)
    assert percival.selectors.tsel == b"P1"
    assert (percival.checkpoint_size, percival.window_size, percival.timeout) == (16, 5, 30)
    assert table.by_name("ODD") is table.peers["odd name"]
    assert c.queue == QueueConfig(path=etc / "q" / "queue.db", retry_initial=30,
                                  retry_factor=1.5, retry_max=7200, expire_after=3 * 86400,
                                  delay_warning=0, workers=8)
    assert c.metrics.listen is None
    assert c.log == LogConfig(level="debug", format="json")


def test_derived_defaults_follow_domain_and_state_dir(cwd: Path) -> None:
    c = parse_config({"gateway": {"domain": "gw.example.net", "state-dir": "/srv/x400"}})
    assert c.smtp_in.hostname == c.smtp_out.helo == "gw.example.net"
    assert c.gateway.postmaster == "postmaster@gw.example.net"
    assert c.x400.spool == Path("/srv/x400/spool")
    assert c.queue.path == Path("/srv/x400/queue.sqlite")


def test_lenient_policy(cwd: Path) -> None:
    assert parse_config({"gateway": {"policy": "lenient"}}).gateway.mapping_policy is LENIENT


@pytest.mark.parametrize("value", ["", False])
def test_metrics_can_be_disabled(cwd: Path, value: object) -> None:
    assert parse_config({"metrics": {"listen": value}}).metrics.listen is None


def test_dns_server_default_port(cwd: Path) -> None:
    c = parse_config({"gateway": {"dns-server": "192.0.2.53"}})
    assert c.gateway.dns_server == Endpoint(host="192.0.2.53", port=53)


def test_smarthost_default_port(cwd: Path) -> None:
    c = parse_config({"smtp": {"out": {"smarthost": "relay.example.org"}}})
    assert c.smtp_out.smarthost == Endpoint(host="relay.example.org", port=25)


@pytest.mark.parametrize(("text", "host", "port"), [
    ("localhost:2525", "localhost", 2525), ("[::1]:25", "::1", 25),
    ("[2001:db8::1]:0", "2001:db8::1", 0), (" 192.0.2.1:587 ", "192.0.2.1", 587),
])
def test_listen_endpoints(cwd: Path, text: str, host: str, port: int) -> None:
    endpoint = parse_config({"smtp": {"in": {"listen": text}}}).smtp_in.listen
    assert endpoint == Endpoint(host=host, port=port)
    assert parse_config({"smtp": {"in": {"listen": str(endpoint)}}}).smtp_in.listen == endpoint


# ------------------------------------------------------------------------ unknown keys

@pytest.mark.parametrize("path", [
    "gatway", "gateway.domian", "smtp.inn", "smtp.in.max-size", "smtp.in.tls_cert",
    "smtp.out.smart-host", "x400.nmae", "x400.peer", "queue.retries", "metrics.port",
    "log.levle",
])
def test_unknown_keys_name_their_path(cwd: Path, path: str) -> None:
    assert _error(_nested(path, 1)).startswith(f"{path}: unknown key")


def test_unknown_key_suggests_the_close_one(cwd: Path) -> None:
    assert _error({"gateway": {"domian": "x"}}) == \
        "gateway.domian: unknown key (did you mean 'domain'?)"


def test_unknown_peer_key_names_its_path(cwd: Path) -> None:
    data = {"x400": {"peers": {"percival": {"mta-name": "p", "pasword": "x"}}}}
    assert _error(data) == "x400.peers.percival.pasword: unknown key"


@pytest.mark.parametrize("section", ["gateway", "smtp", "x400", "queue", "metrics", "log"])
def test_a_section_must_be_a_table(cwd: Path, section: str) -> None:
    assert _error({section: 5}) == f"{section}: expected a table, got 5"


def test_smtp_in_must_be_a_table(cwd: Path) -> None:
    assert _error({"smtp": {"in": "yes"}}) == "smtp.in: expected a table, got 'yes'"


# ------------------------------------------------------------------------- wrong types

@pytest.mark.parametrize(("path", "value", "message"), [
    ("smtp.in.max-message-size", "ten", "expected an integer, got 'ten'"),
    ("smtp.in.max-message-size", 10.5, "expected an integer, got 10.5"),
    ("smtp.in.max-message-size", True, "expected an integer, got True"),
    ("smtp.in.max-message-size", 0, "must be at least 1, got 0"),
    ("smtp.in.require-auth-for-relay", "yes", "expected true or false, got 'yes'"),
    ("smtp.in.data-timeout", 0, "must be longer than 0"),
    ("smtp.in.max-connections", 0, "must be at least 1, got 0"),
    ("smtp.in.max-connections-per-client", "10", "expected an integer, got '10'"),
    ("smtp.in.max-recipients", 99, "must be at least 100, got 99"),      # RFC 5321 §4.5.3.1.8
    ("smtp.in.junk-command-limit", 0, "must be at least 1, got 0"),
    ("smtp.in.max-auth-failures", 0, "must be at least 1, got 0"),
    ("smtp.in.auth-failure-delay", "-1s", "expected seconds or a duration"),
    ("smtp.in.require-auth-for-relay", 1, "expected true or false, got 1"),
    ("smtp.in.relay-networks", "127.0.0.0/8", "expected an array of strings"),
    ("smtp.in.auth", ["a"], "expected a table, got an array"),
    ("gateway.domain", 5, "expected a string, got 5"),
    ("gateway.domain", "not a domain", "not a domain name: 'not a domain'"),
    ("gateway.policy", "loose", "expected one of 'rfc2156', 'strict', 'lenient'"),
    ("gateway.state-dir", {}, "expected a string, got a table"),
    ("gateway.state-dir", "", "must not be empty"),
    ("gateway.dns-server", "ns.example.org", "'ns.example.org' is not an IP address"),
    ("smtp.in.listen", "127.0.0.1", "expected HOST:PORT, got '127.0.0.1'"),
    ("smtp.in.listen", "127.0.0.1:70000", "expected HOST:PORT, got '127.0.0.1:70000'"),
    ("smtp.in.listen", ":25", "expected HOST:PORT, got ':25'"),
    ("smtp.in.listen", "[::1]25", "expected HOST:PORT, got '[::1]25'"),
    ("smtp.out.smarthost", "relay:0", "expected HOST:PORT, got 'relay:0'"),
    ("smtp.out.smarthost", "re lay:25", "not a domain name: 're lay'"),
    ("smtp.in.listen", "*:25", "not a domain name: '*'"),
    ("smtp.out.port", 65536, "not a TCP port: 65536"),
    ("smtp.out.tls", "maybe", "expected one of 'opportunistic', 'never', 'required'"),
    ("x400.allow-anonymous", "no", "expected true or false, got 'no'"),
    ("x400.peers", [], "expected a table, got an array"),
    ("queue.workers", 0, "must be at least 1, got 0"),
    ("queue.retry-factor", 0.5, "must be a finite number of at least 1.0, got 0.5"),
    ("queue.retry-factor", "2", "expected a number, got '2'"),
    ("queue.retry-initial", 0, "must be longer than 0"),
    ("metrics.listen", 9464, "expected HOST:PORT, \"\" or false, got 9464"),
    ("metrics.listen", True, "expected HOST:PORT, \"\" or false, got True"),
    ("log.level", "verbose", "expected one of 'debug', 'info'"),
    ("log.format", 1, "expected a string, got 1"),
])
def test_wrong_types_name_their_path(cwd: Path, path: str, value: object,
                                     message: str) -> None:
    assert _error(_nested(path, value)).startswith(f"{path}: {message}")


def test_the_documented_example_message(cwd: Path) -> None:
    assert _error({"smtp": {"in": {"max-message-size": "ten"}}}) == \
        "smtp.in.max-message-size: expected an integer, got 'ten'"


def test_array_items_are_named_by_index(cwd: Path) -> None:
    assert _error({"smtp": {"in": {"relay-networks": ["10.0.0.0/8", 7]}}}) == \
        "smtp.in.relay-networks[1]: expected a string, got 7"
    assert _error({"smtp": {"in": {"relay-networks": ["10.0.0.1/8"]}}}).startswith(
        "smtp.in.relay-networks[0]: 10.0.0.1/8 has host bits set")


def test_auth_values_are_strings(cwd: Path) -> None:
    assert _error({"smtp": {"in": {"auth": {"bob smith": 5}}}}) == \
        "smtp.in.auth.\"bob smith\": expected a string, got 5"


def test_bad_or_address(cwd: Path) -> None:
    assert _error({"gateway": {"or-address": "/X=1/"}}).startswith("gateway.or-address: ")


def test_auth_failure_delay_max_not_below_the_delay(cwd: Path) -> None:
    assert _error({"smtp": {"in": {"auth-failure-delay": "10s",
                                   "auth-failure-delay-max": "5s"}}}) == \
        "smtp.in.auth-failure-delay-max: shorter than smtp.in.auth-failure-delay"
    # the default maximum is at least the delay
    config = parse_config({"smtp": {"in": {"auth-failure-delay": "1m"}}})
    assert config.smtp_in.auth_failure_delay_max == 60


def test_smtp_endpoint_settings_take_every_endpoint_key(full_file: Path) -> None:
    """InboundSettings.from_config carries every [smtp.in] key but the listener's own (the
    limits included): a key added to one and not the other fails here."""
    from bridge.smtp.server import InboundSettings

    si = load_config(full_file).smtp_in
    settings = InboundSettings.from_config(si)
    endpoint = {f.name for f in dataclasses.fields(InboundSettings)}
    assert {f.name for f in dataclasses.fields(SmtpInConfig)} - endpoint == {
        "listen", "processes"}
    for name in endpoint - {"relay_networks"}:
        assert getattr(settings, name) == getattr(si, name), name
    assert settings.relay_networks == ("10.0.0.0/8", "2001:db8::/32")


def test_the_gateway_passes_the_smtp_limits_on(full_file: Path) -> None:
    from bridge.gateway.wiring import inbound_settings
    from bridge.smtp.server import InboundSettings

    config = load_config(full_file)
    assert inbound_settings(config) == InboundSettings.from_config(config.smtp_in)


def test_retry_max_not_below_initial(cwd: Path) -> None:
    assert _error({"queue": {"retry-initial": "2h", "retry-max": "1h"}}).startswith(
        "queue.retry-max: ")


# --------------------------------------------------------------------------- durations

@pytest.mark.parametrize(("value", "seconds"), [
    (90, 90.0), (1.5, 1.5), (0, 0.0), ("90s", 90.0), ("15m", 900.0), ("4h", 14400.0),
    ("5d", 432000.0), ("1h30m", 5400.0), ("0.5s", 0.5), (" 2m ", 120.0),
])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value, "x") == seconds


@pytest.mark.parametrize("value", ["5x", "5", "", "-1s", -1, True, "1.5.3s", "h", [1],
                                   float("inf")])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^queue\.expire-after: "):
        parse_duration(value, "queue.expire-after")


def test_duration_in_a_section(cwd: Path) -> None:
    assert parse_config({"queue": {"delay-warning": "15m"}}).queue.delay_warning == 900
    assert _error({"smtp": {"out": {"timeout": "soon"}}}).startswith(
        "smtp.out.timeout: expected seconds or a duration")


@pytest.mark.parametrize(("seconds", "text"), [
    (432000.0, "5d"), (14400.0, "4h"), (900.0, "15m"), (90.0, "90s"), (0.0, "0s"),
    (5400.0, "90m"), (1.5, 1.5),
])
def test_format_duration(seconds: float, text: object) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text, "x") == seconds


# ------------------------------------------------------------------------------- paths

def test_paths_are_relative_to_the_file(full_file: Path) -> None:
    (full_file.parent / "tabs2").mkdir()
    full_file.write_text('[gateway]\nstate-dir = "st"\ntables = "tabs2"\n'
                         '[queue]\npath = "../q.db"\n', encoding="utf-8")
    c = load_config(full_file)
    etc = full_file.parent
    assert c.gateway.state_dir == etc / "st" and c.x400.spool == etc / "st" / "spool"
    assert c.gateway.tables == etc / "tabs2"
    assert c.queue.path == etc / ".." / "q.db"


def test_default_state_dir_is_relative_to_the_file(full_file: Path) -> None:
    full_file.write_text("", encoding="utf-8")
    assert load_config(full_file).gateway.state_dir == full_file.parent / "var"


def test_paths_without_a_file_are_relative_to_the_cwd(cwd: Path) -> None:
    assert parse_config({"gateway": {"state-dir": "s"}}).gateway.state_dir == cwd / "s"
    assert parse_config({}, base=Path("/srv")).gateway.state_dir == Path("/srv/var")


def test_absolute_paths_stay(cwd: Path) -> None:
    assert parse_config({"x400": {"spool": "/data/spool"}}).x400.spool == Path("/data/spool")


def test_tables_folder_must_exist(cwd: Path) -> None:
    assert _error({"gateway": {"tables": "nowhere"}}) == \
        f"gateway.tables: no such folder: {cwd / 'nowhere'}"


def test_routes_file_must_exist(cwd: Path) -> None:
    assert _error({"x400": {"routes": "routes.txt"}}) == \
        f"x400.routes: no such file: {cwd / 'routes.txt'}"


# --------------------------------------------------------------------------------- TLS

def test_tls_pair(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    c = parse_config({"smtp": {"in": {"tls-cert": "cert.pem", "tls-key": "key.pem"}}},
                     base=tmp_path)
    assert (c.smtp_in.tls_cert, c.smtp_in.tls_key, c.smtp_in.tls) == (cert, key, True)


def test_tls_cert_without_key(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    assert _error({"smtp": {"in": {"tls-cert": "cert.pem"}}}, tmp_path) == \
        "smtp.in.tls-key: required with smtp.in.tls-cert (both or neither)"
    assert _error({"smtp": {"in": {"tls-key": "key.pem"}}}, tmp_path) == \
        "smtp.in.tls-cert: required with smtp.in.tls-key (both or neither)"


def test_tls_files_must_exist(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    data = {"smtp": {"in": {"tls-cert": "cert.pem", "tls-key": "missing.pem"}}}
    assert _error(data, tmp_path) == f"smtp.in.tls-key: no such file: {tmp_path / 'missing.pem'}"
    data = {"smtp": {"in": {"tls-cert": "nocert.pem", "tls-key": "key.pem"}}}
    assert _error(data, tmp_path).startswith("smtp.in.tls-cert: no such file: ")


# ------------------------------------------------------------------------------- peers

@pytest.mark.parametrize(("x400", "message"), [
    ({"peers": {"percival": {"password": "x"}}}, "x400.peers.percival.mta-name: required"),
    ({"peers": {"percival": {"mta-name": "p", "mode": "x420"}}},
     "x400.peers.percival.mode: 'normal' or 'x410', got 'x420'"),
    ({"peers": {"percival": {"mta-name": "p", "port": 0}}}, "x400.peers.percival.port: "),
    ({"peers": {"percival": {"mta-name": "p", "tsel": "zz"}}},
     "x400.peers.percival.tsel: not hexadecimal: 'zz'"),
    ({"peers": {"percival": {"mta-name": "x" * 33}}}, "x400.peers.percival.mta-name: "),
    ({"peers": {"percival": "p"}}, "x400.peers.percival: expected a table"),
    ({"name": "x" * 33}, "x400.name: an MTA name is 1..32 IA5 characters"),
    ({"name": ""}, "x400.name: "),
    ({"tsel": "P1"}, "x400.tsel: not hexadecimal: 'P1'"),
    ({"password": 5}, "x400.password: expected a string, got 5"),
])
def test_x400_error_paths(cwd: Path, x400: dict[str, Any], message: str) -> None:
    assert _error({"x400": x400}).startswith(message)


# -------------------------------------------------------------------------- round trip

def test_show_round_trip(full_file: Path) -> None:
    config = load_config(full_file)
    text = render_config(config)
    assert parse_config(tomllib.loads(text)) == config
    assert parse_config(tomllib.loads(text), base=Path("/elsewhere")) == config


def test_show_round_trip_of_the_defaults(cwd: Path) -> None:
    config = load_config(None)
    assert parse_config(tomllib.loads(render_config(config))) == config


def test_show_hides_secrets(full_file: Path) -> None:
    config = load_config(full_file)
    text = render_config(config, secrets=False)
    for secret in ("merlin", "excalibur", "wonder", "pa\\u0001ss"):
        assert secret in render_config(config)
        assert secret not in text
    hidden = parse_config(tomllib.loads(text))
    assert hidden.x400.password is None and dict(hidden.smtp_in.auth) == {}
    assert hidden.x400.peers["percival"].password is None


def test_passwords_stay_out_of_repr(full_file: Path) -> None:
    config = load_config(full_file)
    assert "merlin" not in repr(config.x400) and "wonder" not in repr(config.smtp_in)


def test_config_is_frozen(cwd: Path) -> None:
    config = load_config(None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.log = LogConfig()  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.smtp_in.auth["eve"] = "x"  # type: ignore[index]


# ---------------------------------------------------------------------------------- CLI

def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="x400bridge")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = args.func(args)
    out = capsys.readouterr()
    return status, out.out, out.err


def test_cli_check_ok(full_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(["config", "check", str(full_file)], capsys)
    lines = out.splitlines()
    assert status == 0 and err == ""
    assert [line.split(":")[0] for line in lines] == \
        ["gateway", "smtp.in", "smtp.out", "x400", "queue", "metrics", "log", "ok"]
    assert lines == [*summary(load_config(full_file)), "ok"]
    assert "peers percival, odd name" in out and "metrics: off" in out
    assert "STARTTLS on, 2 AUTH users" in out


def test_cli_check_defaults(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(["config", "check"], capsys)
    assert status == 0 and out.endswith("\nok\n") and "listen 127.0.0.1:2525" in out


@pytest.mark.parametrize(("section", "warned"), [
    ('[smtp.in]\nlisten = "0.0.0.0:2525"\n[smtp.in.auth]\nalice = "pw"\n', "never authenticate"),
    ('[smtp.in]\nlisten = "127.0.0.1:2525"\n[smtp.in.auth]\nalice = "pw"\n', None),
    ('[smtp.in]\nrequire-auth-for-relay = true\n', "nobody can relay"),
])
def test_cli_check_advises_on_valid_but_unusable_settings(
        full_file: Path, capsys: pytest.CaptureFixture[str], section: str,
        warned: str | None) -> None:
    full_file.write_text(section, encoding="utf-8")
    status, out, _ = _run(["config", "check", str(full_file)], capsys)
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert status == 0 and out.endswith("\nok\n")
    if warned is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and warned in warnings[0], out


def test_cli_check_error(full_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full_file.write_text('[smtp.in]\nmax-message-size = "ten"\n', encoding="utf-8")
    status, out, err = _run(["config", "check", str(full_file)], capsys)
    assert status == 1 and out == ""
    assert err == f"{full_file}: smtp.in.max-message-size: expected an integer, got 'ten'\n"


def test_cli_check_toml_syntax_error(full_file: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    full_file.write_text("[gateway\n", encoding="utf-8")
    status, _, err = _run(["config", "check", str(full_file)], capsys)
    assert status == 1 and err.startswith(f"{full_file}: ") and err.count(str(full_file)) == 1


def test_cli_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(["config", "check", str(tmp_path / "none.toml")], capsys)
    assert status == 1 and "No such file" in err


def test_cli_show_round_trip(full_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(["config", "show", "--secrets", str(full_file)], capsys)
    assert status == 0
    assert parse_config(tomllib.loads(out)) == load_config(full_file)
    status, out, _ = _run(["config", "show", str(full_file)], capsys)
    assert status == 0 and "excalibur" not in out and "--secrets" in out


def test_cli_show_error(full_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full_file.write_text("[log]\nlevle = 'info'\n", encoding="utf-8")
    status, out, err = _run(["config", "show", str(full_file)], capsys)
    assert status == 1 and out == "" and "log.levle: unknown key" in err


def test_config_type_is_exported() -> None:
    assert {f.name for f in dataclasses.fields(Config)} == {
        "gateway", "smtp_in", "smtp_out", "x400", "queue", "metrics", "log"}


def test_smtp_processes_auto_is_one_per_usable_cpu(cwd: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_module.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert parse_config({"smtp": {"in": {"processes": "auto"}}}).smtp_in.processes == 3
    monkeypatch.setattr(config_module.os, "sched_getaffinity", lambda pid: set(range(64)))
    assert config_module.auto_processes() == config_module.AUTO_PROCESSES_MAX
    assert parse_config({"smtp": {"in": {"processes": 2}}}).smtp_in.processes == 2
    assert _error({"smtp": {"in": {"processes": "many"}}}) == \
        "smtp.in.processes: expected an integer or \"auto\", got 'many'"
    assert _error({"smtp": {"in": {"processes": 0}}}).startswith(
        "smtp.in.processes: must be at least 1")
