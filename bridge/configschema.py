"""Typed, strict readers for TOML tables, and the small TOML writer ``config show`` uses.

The TOML data model (TOML 1.0, read by :mod:`tomllib`) has tables, arrays, strings, integers,
floats, booleans and date-times.  :class:`Section` reads one table of a configuration file:
it refuses keys it does not know (naming the dotted path and the closest known key) and
values of the wrong type (naming the path and the value), so a typo never passes silently.
Only :mod:`bridge.config` uses this module.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError
from bridge.mapping.rfc822 import is_domain_syntax

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhd])+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_LABEL_MAX = 63                                        # RFC 1035 §2.3.4
_DOMAIN_MAX = 253                                      # RFC 1035 §2.3.4: 255 octets on the wire
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")              # TOML 1.0 "Keys": bare keys


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """A TCP endpoint, written ``host:port`` (``[v6-address]:port`` for IPv6)."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def describe(value: object) -> str:
    """How an error message shows an unexpected TOML value."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str | int | float):
        return repr(value)
    return f"a {type(value).__name__}"


def parse_duration(value: object, where: str) -> float:
    """Seconds from a number or a string like ``"90s"``, ``"15m"``, ``"4h"``, ``"5d"``,
    ``"1h30m"``; never negative."""
    seconds: float
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and _DURATION.fullmatch(value.strip()):
        seconds = sum(float(n) * _DURATION_UNITS[u]
                      for n, u in _DURATION_PART.findall(value.strip()))
    else:
        raise ConfigError(f"{where}: expected seconds or a duration such as '90s', '15m', "
                          f"'4h' or '5d', got {describe(value)}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"{where}: a duration must be finite and not negative, "
                          f"got {describe(value)}")
    return seconds


def format_duration(seconds: float) -> str | float:
    """The shortest exact text for ``seconds`` (``"5d"``, ``"4h"``, ``"90s"``); a float when
    it is not a whole number of seconds."""
    if seconds != int(seconds):
        return seconds
    whole = int(seconds)
    for unit in ("d", "h", "m"):
        size = _DURATION_UNITS[unit]
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def parse_endpoint(text: str, where: str, *, default_port: int | None = None,
                   any_port: bool = False, ip_only: bool = False) -> Endpoint:
    """``host:port`` or ``[v6]:port`` (``host`` alone when ``default_port`` is given).

    The host is an IP address or a domain name (RFC 1123 §2.1).  ``any_port`` admits port 0
    (a listener on any free port, as tests use); ``ip_only`` requires an IP address (a DNS
    resolver's address cannot be a name)."""
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        close = text.find("]")
        host, rest = text[1:close], text[close + 1:]
        if close < 0 or (rest and not rest.startswith(":")):
            raise ConfigError(f"{where}: expected HOST:PORT, got {text!r}")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" in text:                                   # a bare IPv6 address, no port
        host = text
    if not port_text:
        if default_port is None:
            raise ConfigError(f"{where}: expected HOST:PORT, got {text!r}")
        port_text = str(default_port)
    if not host or not port_text.isdigit() or not (0 if any_port else 1) <= int(port_text) < 65536:
        raise ConfigError(f"{where}: expected HOST:PORT, got {text!r}")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if ip_only or ":" in host:
            raise ConfigError(f"{where}: {host!r} is not an IP address") from None
        check_domain(host, where)
    return Endpoint(host=host, port=int(port_text))


def check_domain(text: str, where: str) -> str:
    """A domain name (RFC 1035 §2.3.1 labels, RFC 1123 leading digits); returned as given."""
    labels = text.rstrip(".").split(".")
    if not text or len(text) > _DOMAIN_MAX or \
            not all(len(x) <= _LABEL_MAX and is_domain_syntax(x) for x in labels):
        raise ConfigError(f"{where}: not a domain name: {text!r}")
    return text


class Section:
    """One TOML table being read: every key must be known, every value of its type.

    ``where`` is the table's dotted path ("" for the top level); errors read
    ``"<where>.<key>: <what is wrong>"``.
    """

    def __init__(self, data: object, where: str, keys: Iterable[str], *,
                 base: Path) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a table, got {describe(data)}")
        self.data: Mapping[str, Any] = data
        self.where = where
        self.base = base
        known = list(keys)
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"{self.path(key)}: unknown key{hint}")

    def path(self, key: str) -> str:
        """The dotted path of ``key``."""
        return f"{self.where}.{key}" if self.where else key

    def _get(self, key: str, kinds: type | tuple[type, ...], what: str) -> Any:
        value = self.data[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in
                                            (kinds if isinstance(kinds, tuple) else (kinds,))):
            raise ConfigError(f"{self.path(key)}: expected {what}, got {describe(value)}")
        return value

    def text(self, key: str, default: str, *, empty: bool = True) -> str:
        """A string (``empty=False``: a non-empty one)."""
        if key not in self.data:
            return default
        value: str = self._get(key, str, "a string")
        if not empty and not value.strip():
            raise ConfigError(f"{self.path(key)}: must not be empty")
        return value

    def opt_text(self, key: str) -> str | None:
        """A string, or None when absent."""
        return self._get(key, str, "a string") if key in self.data else None

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        """An integer ``>= minimum`` (a boolean is not an integer)."""
        if key not in self.data:
            return default
        value: int = self._get(key, int, "an integer")
        if value < minimum:
            raise ConfigError(f"{self.path(key)}: must be at least {minimum}, got {value}")
        return value

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        """An integer or float ``>= minimum``, as a float."""
        if key not in self.data:
            return default
        value = float(self._get(key, (int, float), "a number"))
        if not math.isfinite(value) or value < minimum:
            raise ConfigError(f"{self.path(key)}: must be a finite number of at least "
                              f"{minimum}, got {self.data[key]!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """``true`` or ``false``."""
        if key not in self.data:
            return default
        value: bool = self._get(key, bool, "true or false")
        return value

    def duration(self, key: str, default: float) -> float:
        """Seconds (see :func:`parse_duration`)."""
        return parse_duration(self.data[key], self.path(key)) if key in self.data else default

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        """One of ``choices``."""
        value = self.text(key, default)
        if value not in choices:
            raise ConfigError(f"{self.path(key)}: expected one of "
                              f"{', '.join(map(repr, choices))}, got {value!r}")
        return value

    def file_path(self, key: str, default: Path | None) -> Path | None:
        """A path; a relative one is taken relative to ``base`` (the config file's folder)."""
        if key not in self.data:
            return default
        value = self.text(key, "", empty=False)
        return self.base / Path(value).expanduser()

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """An array of strings."""
        if key not in self.data:
            return default
        value: list[Any] = self._get(key, list, "an array of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ConfigError(f"{self.path(key)}[{i}]: expected a string, "
                                  f"got {describe(item)}")
        return tuple(value)

    def networks(self, key: str, default: tuple[str, ...]) -> tuple[IPNetwork, ...]:
        """An array of CIDR networks (``"192.0.2.0/24"``, ``"::1/128"``; host bits zero)."""
        out: list[IPNetwork] = []
        for i, text in enumerate(self.strings(key, default)):
            try:
                out.append(ipaddress.ip_network(text.strip()))
            except ValueError as exc:
                raise ConfigError(f"{self.path(key)}[{i}]: {exc}") from None
        return tuple(out)

    def string_table(self, key: str) -> dict[str, str]:
        """A table whose values are all strings (empty when absent)."""
        if key not in self.data:
            return {}
        value: dict[str, Any] = self._get(key, dict, "a table")
        for name, item in value.items():
            if not isinstance(item, str):
                raise ConfigError(f"{self.path(key)}.{format_key(name)}: expected a string, "
                                  f"got {describe(item)}")
        return dict(value)

    def table(self, key: str) -> dict[str, Any]:
        """A sub-table as it was parsed (empty when absent)."""
        if key not in self.data:
            return {}
        value: dict[str, Any] = self._get(key, dict, "a table")
        return value


# ------------------------------------------------------------------------------ TOML writer

def format_key(key: str) -> str:
    """A TOML key: bare when it can be (TOML 1.0 "Keys"), a basic string otherwise."""
    return key if _BARE_KEY.fullmatch(key) else format_string(key)


def format_string(text: str) -> str:
    """A TOML basic string: quotation mark, backslash and control characters escaped
    (TOML 1.0 "String": U+0000..U+001F except tab, and U+007F, must be escaped)."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch != "\t" and (ord(ch) < 0x20 or ord(ch) == 0x7F):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_value(value: object) -> str:
    """A TOML value for a string, bool, int, float or list of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return format_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")
