"""The X.400 peer table: which MTAs may bind, with which password, from where, in which mode.

X.419 §7.2 / X.411 §12.1.1: an MTA-bind names the initiating MTA and carries its simple
credentials; the responder checks both and answers with its own name and password (which the
initiator checks in turn).  No anonymous binds unless the local configuration allows them.

A peer table is TOML (read with ``tomllib``, strict: an unknown key is an error naming its
dotted path)::

    [local]
    name = "gateway.example.org"      # our MTA name (X.411 MTAName, IA5String 1..32)
    password = "merlin"               # our simple credentials, sent in bind results/arguments
    listen = "127.0.0.1:1102"         # responder address (102 in production)
    allow-anonymous = false

    [peers.percival]                  # the table key is a local nickname
    mta-name = "percival.smhs.co.uk"  # the name it binds with
    password = "excalibur"            # what it must present (and what we check on its result)
    host = "192.0.2.7"                # where we call it (initiator)
    port = 102
    mode = "normal"                   # or "x410" (X.410-1984 mode)
    allowed-addresses = ["192.0.2.7"] # who may bind as it (empty: anyone with the password)
    tsel = "" ; ssel = "" ; psel = "" # its selectors, hex ("" = absent)
    checkpoint-size = 0               # KiB, 0 = no checkpointing (X.228 §7.2)
    window-size = 3
    timeout = 60                      # seconds for each phase
    x411-edition = 1992               # 1988: the ExtensionField form of X.411 (1988)
    envelope-extensions = true        # false: no non-critical envelope extensions
    same-domain = false               # true: in our management domain (internal trace kept)
    mixer-eit = true                  # false: no eit-mixer in the original EITs (pre-MIXER MTAs)
    security-labels = "pass"          # or "require" / "refuse" a message-security-label
    content = "auto"                  # "p772": a military MTA (always P772); "p22": no P772

The last six are the peer's :class:`~bridge.x400.profile.PeerProfile`.
"""

from __future__ import annotations

import hmac
import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bridge.codec.rtpdu import MTABind
from bridge.configschema import parse_endpoint
from bridge.convert.mmhs_policy import CONTENT_POLICIES
from bridge.errors import ConfigError
from bridge.model.seclabel import LABEL_POLICIES
from bridge.x400.mta import BindError, Selectors
from bridge.x400.profile import DEFAULT_PROFILE, PeerProfile

Mode = Literal["normal", "x410"]

_MTA_NAME_MAX = 32           # X.411 ub-mta-name-length


@dataclass(frozen=True, slots=True, kw_only=True)
class Peer:
    """One remote MTA."""

    key: str
    mta_name: str
    password: str | None = None
    host: str = "127.0.0.1"
    port: int = 102
    mode: Mode = "normal"
    allowed_addresses: tuple[str, ...] = ()
    selectors: Selectors = Selectors()
    checkpoint_size: int = 0
    window_size: int = 3
    timeout: float = 60.0
    profile: PeerProfile = DEFAULT_PROFILE


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalMTA:
    """This gateway's MTA."""

    name: str = "x400bridge"
    password: str | None = None
    listen_host: str = "127.0.0.1"
    listen_port: int = 1102
    allow_anonymous: bool = False
    selectors: Selectors = Selectors()


@dataclass(frozen=True, slots=True, kw_only=True)
class BindDecision:
    """The outcome of checking an MTA-bind: the peer, or the X.411 bind error and why."""

    peer: Peer | None
    error: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PeerTable:
    """Local MTA plus the peers, looked up by nickname or by bound MTA name."""

    local: LocalMTA = LocalMTA()
    peers: Mapping[str, Peer] = field(default_factory=dict)

    def get(self, key: str) -> Peer:
        """The peer with nickname (or MTA name) ``key``; ConfigError when there is none."""
        peer = self.peers.get(key) or self.by_name(key)
        if peer is None:
            raise ConfigError(f"no X.400 peer {key!r} in the peer table")
        return peer

    def by_name(self, mta_name: str) -> Peer | None:
        """The peer whose MTA name is ``mta_name`` (MTA names compare case-insensitively)."""
        folded = mta_name.casefold()
        for peer in self.peers.values():
            if peer.mta_name.casefold() == folded:
                return peer
        return None

    def check_bind(self, bind: MTABind, address: str, mode: Mode) -> BindDecision:
        """Decide an MTA-bind indication (X.411 §12.1.1.1): name, password, address, mode."""
        if bind.name is None:
            if self.local.allow_anonymous:
                return BindDecision(peer=Peer(key="anonymous", mta_name="", mode=mode))
            return BindDecision(peer=None, error=BindError.AUTHENTICATION_ERROR,
                                reason="anonymous bind not allowed")
        if bind.strong:
            return BindDecision(peer=None, error=BindError.UNACCEPTABLE_SECURITY_CONTEXT,
                                reason="strong credentials are not supported")
        # an MTA may call in either mode (PP 6.0 does, per route): with one entry per mode,
        # the entry of the mode it uses decides
        folded = bind.name.casefold()
        peer = next((p for p in self.peers.values()
                     if p.mta_name.casefold() == folded and p.mode == mode), None) \
            or self.by_name(bind.name)
        if peer is None:
            return BindDecision(peer=None, error=BindError.AUTHENTICATION_ERROR,
                                reason=f"unknown MTA {bind.name!r}")
        if not _password_ok(peer.password, bind.password):
            return BindDecision(peer=None, error=BindError.AUTHENTICATION_ERROR,
                                reason=f"wrong password for MTA {bind.name!r}")
        if peer.allowed_addresses and not _address_allowed(address, peer.allowed_addresses):
            return BindDecision(peer=None, error=BindError.AUTHENTICATION_ERROR,
                                reason=f"MTA {bind.name!r} may not bind from {address}")
        if peer.mode != mode:
            return BindDecision(peer=None, error=BindError.UNACCEPTABLE_DIALOGUE_MODE,
                                reason=f"MTA {bind.name!r} is configured for {peer.mode} mode")
        return BindDecision(peer=peer)

    def check_result(self, peer: Peer, result: MTABind) -> str | None:
        """Check the responder's MTA-bind result against the peer entry; None when good."""
        if result.name is None:
            return None if self.local.allow_anonymous else "the peer bound anonymously"
        if result.name.casefold() != peer.mta_name.casefold():
            return f"the peer answered as {result.name!r}, not {peer.mta_name!r}"
        if not _password_ok(peer.password, result.password):
            return f"wrong password in the bind result of {peer.mta_name!r}"
        return None


def _password_ok(expected: str | None, given: str | bytes | None) -> bool:
    if expected is None:
        return given in (None, "", b"")
    if given is None:
        return False
    left = expected.encode("utf-8")
    right = given.encode("utf-8") if isinstance(given, str) else given
    return hmac.compare_digest(left, right)


def _address_allowed(address: str, allowed: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address in allowed
    for entry in allowed:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            if entry == address:
                return True
    return False


# ------------------------------------------------------------------------------- loading

_PEER_KEYS = {"mta-name", "password", "host", "port", "mode", "allowed-addresses", "tsel",
              "ssel", "psel", "checkpoint-size", "window-size", "timeout", "x411-edition",
              "envelope-extensions", "same-domain", "mixer-eit", "security-labels",
              "content"}
_LOCAL_KEYS = {"name", "password", "listen", "allow-anonymous", "tsel", "ssel", "psel"}


def _typed(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str,
           default: Any) -> Any:
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, "
                          f"got {type(value).__name__}")
    return value


def _selectors(table: Mapping[str, Any], where: str) -> Selectors:
    out: dict[str, bytes] = {}
    for key in ("tsel", "ssel", "psel"):
        text = _typed(table, key, str, where, "")
        try:
            out[key] = bytes.fromhex(text)
        except ValueError:
            raise ConfigError(f"{where}.{key}: not hexadecimal: {text!r}") from None
    return Selectors(**out)


def _mta_name(value: str, where: str) -> str:
    if not 1 <= len(value) <= _MTA_NAME_MAX or not value.isascii():
        raise ConfigError(f"{where}: an MTA name is 1..{_MTA_NAME_MAX} IA5 characters")
    return value


def load_peer_table(data: Mapping[str, Any], *, where: str = "") -> PeerTable:
    """A :class:`PeerTable` from parsed TOML; unknown keys are errors naming their path."""
    prefix = f"{where}." if where else ""
    for key in data:
        if key not in ("local", "peers"):
            raise ConfigError(f"{prefix}{key}: unknown key")
    local_t = _typed(data, "local", dict, where or "<top>", {})
    for key in local_t:
        if key not in _LOCAL_KEYS:
            raise ConfigError(f"{prefix}local.{key}: unknown key")
    lw = f"{prefix}local"
    listen = parse_endpoint(_typed(local_t, "listen", str, lw, "127.0.0.1:1102"),
                            f"{lw}.listen", any_port=True)        # 0: any free port
    host, port = listen.host, listen.port
    local = LocalMTA(name=_mta_name(_typed(local_t, "name", str, lw, "x400bridge"),
                                    f"{lw}.name"),
                     password=_typed(local_t, "password", str, lw, None),
                     listen_host=host, listen_port=port,
                     allow_anonymous=_typed(local_t, "allow-anonymous", bool, lw, False),
                     selectors=_selectors(local_t, lw))
    peers: dict[str, Peer] = {}
    for nick, table in _typed(data, "peers", dict, where or "<top>", {}).items():
        pw = f"{prefix}peers.{nick}"
        if not isinstance(table, dict):
            raise ConfigError(f"{pw}: expected a table")
        for key in table:
            if key not in _PEER_KEYS:
                raise ConfigError(f"{pw}.{key}: unknown key")
        if "mta-name" not in table:
            raise ConfigError(f"{pw}.mta-name: required")
        mode = _typed(table, "mode", str, pw, "normal")
        if mode not in ("normal", "x410"):
            raise ConfigError(f"{pw}.mode: 'normal' or 'x410', got {mode!r}")
        addresses = _typed(table, "allowed-addresses", list, pw, [])
        if not all(isinstance(a, str) for a in addresses):
            raise ConfigError(f"{pw}.allowed-addresses: expected a list of strings")
        edition = _typed(table, "x411-edition", int, pw, 1992)
        if edition not in (1988, 1992):
            raise ConfigError(f"{pw}.x411-edition: 1988 or 1992, got {edition!r}")
        labels = _typed(table, "security-labels", str, pw, "pass")
        if labels not in LABEL_POLICIES:
            raise ConfigError(f"{pw}.security-labels: one of {', '.join(LABEL_POLICIES)}, "
                              f"got {labels!r}")
        content = _typed(table, "content", str, pw, "auto")
        if content not in CONTENT_POLICIES:
            raise ConfigError(f"{pw}.content: one of {', '.join(CONTENT_POLICIES)}, "
                              f"got {content!r}")
        checkpoint = _typed(table, "checkpoint-size", int, pw, 0)
        if not 0 <= checkpoint <= 1024:
            raise ConfigError(f"{pw}.checkpoint-size: 0..1024 KiB, got {checkpoint}")
        profile = PeerProfile(
            x411_edition=edition,
            envelope_extensions=_typed(table, "envelope-extensions", bool, pw, True),
            same_domain=_typed(table, "same-domain", bool, pw, False),
            mixer_eit=_typed(table, "mixer-eit", bool, pw, True), security_labels=labels,
            content=content)
        port_n = _typed(table, "port", int, pw, 102)
        if not 0 < port_n < 65536:
            raise ConfigError(f"{pw}.port: out of range")
        peers[nick] = Peer(
            key=nick, mta_name=_mta_name(table["mta-name"], f"{pw}.mta-name")
            if isinstance(table["mta-name"], str) else _mta_name("", f"{pw}.mta-name"),
            password=_typed(table, "password", str, pw, None),
            host=_typed(table, "host", str, pw, "127.0.0.1"), port=port_n, mode=mode,
            allowed_addresses=tuple(addresses), selectors=_selectors(table, pw),
            checkpoint_size=checkpoint,
            window_size=max(1, _typed(table, "window-size", int, pw, 3)),
            timeout=float(_typed(table, "timeout", (int, float), pw, 60.0)), profile=profile)
    return PeerTable(local=local, peers=peers)


def read_peer_table(path: Path) -> PeerTable:
    """Read a peer table TOML file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return load_peer_table(data)
