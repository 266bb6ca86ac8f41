"""Independent decoders ("oracles") for tests: @wildboar/x400 under Node, and Wireshark's tshark.

Neither shares code or ASN.1 text with x400bridge, so agreement with them is evidence that our
BER is right, not merely self-consistent. Both are optional locally and mandatory in CI:

    require("node") / require("tshark")
        pytest.skip(...) when the tool (or tests/oracles/node_modules) is missing; pytest.fail(...)
        instead when X400BRIDGE_REQUIRE_ORACLES=1 (set by .ci/run after .ci/install-oracles).

wildboar (Node)
    wildboar_decode(type_name, data) -> JSON value
        Decodes `data` (exactly one BER element) as `type_name` with tests/oracles/decode.js
        (one long-lived `node decode.js --serve` process per test session). type_name is a short
        name ("MTS-APDU", "Message", "Report", "Probe", "InformationObject", "IPM", "IPN",
        "ORName", "ORAddress", "GeneralTextParameters", "GeneralTextData",
        "FileTransferParameters", "FileTransferData", ...) or "Module/Type" of @wildboar/x400.
        Raises OracleError on a decode error, and also when the library met SET/SEQUENCE
        elements it did not recognise (it would silently skip them) unless
        allow_unrecognized=True. JSON conventions (documented at the top of decode.js):
        SEQUENCE/SET -> dict with '_' for '-' ("this_IPM"); CHOICE -> {"alt": v};
        OCTET STRING/TeletexString -> {"hex": ".."}; OID -> "2.6.1.10.1"; BIT STRING -> "0110";
        times -> "2024-05-01T12:00:00Z"; INTEGER/ENUMERATED -> int; open types/ANY ->
        {"ber": "<full TLV hex>"}; EXTERNAL/INSTANCE OF -> {"external": {...}}.
    wildboar_decode_full(type_name, data) -> WildboarResult(value, unrecognized)

tshark
    tshark_decode(data, kind) -> TsharkResult
    tshark_decode_many([data, ...], kind) -> [TsharkResult, ...]   (one tshark run, ~0.3 s)
        kind: "p1" (MTS-APDU), "p22" (InformationObject), "orname" (ORName), "oraddress"
        (ORAddress). The values are written as packets of a pcap (link types USER0..USER3) that
        tests/oracles/ber.lua hands to the P1 / P22 dissectors.
    TsharkResult
        .fields    [(field name, value string), ...] in tree order (tshark -T json values:
                   raw values, e.g. enumerations as numbers "2", booleans "1"/"0")
        .entries   [Field(name, value, path)], path = names of the enclosing tree nodes
        .names     set of every field name present (also subtree-only nodes like
                   "p22.heading_element")
        .errors    malformed packet, expert infos of severity error, every "BER Error" and
                   "Size constraint" expert info (Wireshark gives those severity warning: wrong
                   tags, bad lengths, unknown SET elements, bit strings below SIZE...), Lua
                   errors, "... not reached" when the expected dissector is absent from
                   frame.protocols, and "trailing data" / "BER framing" (checked here: the
                   dissectors do not report bytes after the value)
        .warnings  other expert infos of severity warning
        .raw       the packet's JSON ("_source"."layers"; duplicate keys merged into lists)
        .values(name, under=None) -> [str]   every value of that field (optionally only those
                   with `under` among their enclosing nodes); .value(name, under=None) -> str
                   exactly one, else AssertionError; .has(name) -> bool; .ok -> not errors

    Field names found by experiment (tshark 4.0; "_element" = a SEQUENCE/SET node, a name
    with "_tree" in the JSON is the subtree of the field of the same name):
      O/R names (p1.*, also inside P22): p1.iso_3166_alpha2_code / p1.x121_dcc_code (country,
        under p1.country_name), p1.printable (ADMD under p1.administration_domain_name, PRMD
        under p1.private_domain_name or p1.private_domain_identifier; p1.numeric for numeric
        forms), p1.organization_name, p1.OrganizationalUnitName, p1.surname, p1.given_name,
        p1.initials, p1.generation_qualifier (in p1.personal_name_element),
        p1.printable.type / p1.value (DDA, under p1.BuiltInDomainDefinedAttribute_element),
        p1.extension_attribute_type, p1.CommonName, p1.TeletexCommonName,
        p1.TeletexPersonalName_element (p1.surname/p1.given_name inside).
      P1 envelope: p1.MTS_APDU (0 message, 1 report, 2 probe), p1.message_identifier_element,
        p1.local_identifier, p1.originator_name_element, p1.content_type (+ p1.built_in = "22"),
        p1.priority ("0" normal, "1" non-urgent, "2" urgent), p1.per_message_indicators,
        p1.deferred_delivery_time ("24-05-01 18:00:00 (UTC)"), p1.trace_information,
        p1.arrival_time, p1.routing_action, p1.recipient_name_element,
        p1.originally_specified_recipient_number, p1.per_recipient_indicators,
        p1.BuiltInEncodedInformationTypes.ia5.text (bit flags), p1.content (message content
        bytes; an IPM content is dissected further as p22). Report: p1.report_identifier_element,
        p1.subject_identifier_element, p1.actual_recipient_name_element,
        p1.message_delivery_time, p1.type_of_MTS_user, p1.non_delivery_reason_code,
        p1.non_delivery_diagnostic_code, p1.supplementary_information. Probe:
        p1.probe_identifier_element, p1.content_length.
      P22: p22.this_IPM_element, p22.user_relative_identifier, p22.originator_element,
        p22.formal_name_element, p22.free_form_name, p22.PrimaryRecipientsSubfield_element,
        p22.CopyRecipientsSubfield_element, p22.replied_to_IPM_element, p22.subject,
        p22.expiry_time, p22.importance ("2" high), p22.sensitivity, p22.auto_forwarded ("1"),
        p22.notification_requests (+ p22.NotificationRequests.rn / .nrn bits),
        p22.reply_requested, p22.body (count), p22.ia5_text_element, p22.ia5text.data,
        p22.teletex_element, p22.TeletexData_item. IPN: p22.ipn_element, p22.subject_ipm_element,
        p22.ipn_originator_element, p22.receipt_time, p22.acknowledgment_mode,
        p22.non_receipt_reason, p22.discard_reason.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import shutil
import struct
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ORACLES_DIR = Path(__file__).resolve().parent / "oracles"
DECODE_JS = ORACLES_DIR / "decode.js"
BER_LUA = ORACLES_DIR / "ber.lua"
REQUIRE_ENV = "X400BRIDGE_REQUIRE_ORACLES"
WILDBOAR_TIMEOUT = 60.0
TSHARK_TIMEOUT = 120.0


class OracleError(Exception):
    """The oracle rejected the input (decode error), or the oracle itself failed."""


# ------------------------------------------------------------------------------------------------
# availability


def unavailable_reason(tool: str) -> str | None:
    """None if `tool` ("node"/"wildboar" or "tshark") can be used, else why not."""
    if tool in ("node", "wildboar"):
        if shutil.which("node") is None:
            return "node is not installed"
        if not (ORACLES_DIR / "node_modules" / "@wildboar" / "x400").is_dir():
            return "tests/oracles/node_modules is missing (run .ci/install-oracles)"
        return None
    if tool == "tshark":
        if shutil.which("tshark") is None:
            return "tshark is not installed (run .ci/install-oracles)"
        return None
    raise ValueError(f"unknown oracle tool {tool!r}")


def fail_in_ci(what: str, reason: str | None) -> None:
    """Fail the test when `what` is unavailable (`reason` not None) and the run requires the
    real parts (X400BRIDGE_REQUIRE_ORACLES=1, as in CI); else do nothing."""
    if reason is not None and os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{what} required ({REQUIRE_ENV}=1) but unavailable: {reason}")


def require_available(what: str, reason: str | None) -> None:
    """Skip the test when `what` is unavailable (`reason` not None); fail it instead when
    X400BRIDGE_REQUIRE_ORACLES=1 -- one rule for the oracles, Postfix and PostgreSQL."""
    if reason is None:
        return
    fail_in_ci(what, reason)
    pytest.skip(f"{what} unavailable: {reason}")


def require(tool: str) -> None:
    """Skip the test if `tool` is unavailable; fail it instead when X400BRIDGE_REQUIRE_ORACLES=1."""
    require_available(f"oracle {tool}", unavailable_reason(tool))


# ------------------------------------------------------------------------------------------------
# wildboar (Node)


@dataclass
class WildboarResult:
    value: Any
    unrecognized: list[Any]


class _NodeServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._next_id = 0

    def _start(self) -> subprocess.Popen[bytes]:
        node = shutil.which("node")
        if node is None:
            raise OracleError("node is not installed")
        proc = subprocess.Popen(
            [node, str(DECODE_JS), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=str(ORACLES_DIR),
        )
        self._proc = proc
        return proc

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout:
                proc.stdout.close()

    def request(self, req: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for attempt in (1, 2):
                proc = self._proc
                if proc is None or proc.poll() is not None:
                    self.close()
                    proc = self._start()
                self._next_id += 1
                req = dict(req, id=self._next_id)
                try:
                    return self._roundtrip(proc, req)
                except (BrokenPipeError, EOFError) as exc:
                    self.close()
                    if attempt == 2:
                        raise OracleError(f"decode.js server died: {exc}") from exc
            raise AssertionError("unreachable")

    def _roundtrip(self, proc: subprocess.Popen[bytes], req: dict[str, Any]) -> dict[str, Any]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(req).encode() + b"\n")
        proc.stdin.flush()
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(WILDBOAR_TIMEOUT):
                self.close()
                raise OracleError(f"decode.js did not answer within {WILDBOAR_TIMEOUT} s")
        line = proc.stdout.readline()
        if not line:
            raise EOFError("decode.js closed its output")
        reply: dict[str, Any] = json.loads(line)
        if reply.get("id") != req["id"]:
            self.close()
            raise OracleError(f"decode.js reply out of step: {reply!r}")
        return reply


_server = _NodeServer()
atexit.register(_server.close)


def wildboar_decode_full(type_name: str, data: bytes) -> WildboarResult:
    """Decode with @wildboar/x400; returns the value and the unrecognised elements."""
    require("node")
    reply = _server.request({"type": type_name, "hex": bytes(data).hex()})
    if "error" in reply:
        raise OracleError(f"wildboar {type_name}: {reply['error']}")
    return WildboarResult(reply["value"], reply.get("unrecognized", []))


def wildboar_decode(type_name: str, data: bytes, *, allow_unrecognized: bool = False) -> Any:
    """Decode `data` as `type_name` with @wildboar/x400; the normalised JSON value."""
    result = wildboar_decode_full(type_name, data)
    if result.unrecognized and not allow_unrecognized:
        raise OracleError(f"wildboar {type_name}: unrecognized elements {result.unrecognized}")
    return result.value


# ------------------------------------------------------------------------------------------------
# tshark

# pcap link types DLT_USER0..3 -> wtap_encaps.USER0..3, dispatched by ber.lua
_KINDS: dict[str, tuple[int, str]] = {
    "p1": (147, "p1"),
    "p22": (148, "p22"),
    "orname": (149, "p1"),
    "oraddress": (150, "p1"),
}
_KIND_ALIASES = {"MTS-APDU": "p1", "InformationObject": "p22", "ORName": "orname",
                 "ORAddress": "oraddress"}

PI_WARN = 0x00600000
PI_ERROR = 0x00800000


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    path: tuple[str, ...]


@dataclass
class TsharkResult:
    entries: list[Field]
    names: set[str]
    errors: list[str]
    warnings: list[str]
    protocols: str
    raw: Any = field(repr=False)

    @property
    def fields(self) -> list[tuple[str, str]]:
        return [(f.name, f.value) for f in self.entries]

    @property
    def ok(self) -> bool:
        return not self.errors

    def values(self, name: str, under: str | None = None) -> list[str]:
        return [f.value for f in self.entries
                if f.name == name and (under is None or under in f.path)]

    def value(self, name: str, under: str | None = None) -> str:
        vals = self.values(name, under)
        if len(vals) != 1:
            where = f" under {under}" if under else ""
            raise AssertionError(f"expected exactly one {name}{where}, found {vals!r}")
        return vals[0]

    def has(self, name: str) -> bool:
        return name in self.names


def write_pcap(datas: list[bytes], kind: str) -> bytes:
    """A little-endian pcap with one packet per BER value, link type chosen by kind."""
    linktype = _KINDS[_KIND_ALIASES.get(kind, kind)][0]
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0x40000, linktype)]
    for i, data in enumerate(datas):
        data = bytes(data)
        if len(data) > 0x40000:
            raise ValueError("BER value larger than the pcap snap length (256 KiB)")
        out.append(struct.pack("<IIII", i + 1, 0, len(data), len(data)))
        out.append(data)
    return b"".join(out)


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object as its list of (key, value) pairs: keeps duplicate keys and order."""


def _to_plain(obj: Any) -> Any:
    """_Pairs -> dict; a key that occurs several times gets the list of its values."""
    if isinstance(obj, _Pairs):
        out: dict[str, Any] = {}
        repeated: set[str] = set()
        for k, v in obj:
            v = _to_plain(v)
            if k not in out:
                out[k] = v
            elif k in repeated:
                out[k].append(v)
            else:
                out[k] = [out[k], v]
                repeated.add(k)
        return out
    if isinstance(obj, list):
        return [_to_plain(x) for x in obj]
    return obj


def _get(pairs: Any, key: str) -> Any:
    for k, v in pairs:
        if k == key:
            return v
    return None


def _walk(obj: _Pairs, path: tuple[str, ...], res: TsharkResult) -> None:
    for key, val in obj:
        if key == "_ws.expert" and isinstance(val, _Pairs):
            _expert(val, res)
            continue
        if key == "_ws.malformed":
            if not isinstance(val, _Pairs):
                res.errors.append(f"Malformed Packet: {val}")
                continue
        node = key[:-5] if key.endswith("_tree") else key
        if isinstance(val, _Pairs):
            res.names.add(node)
            _walk(val, path + (node,), res)
        elif isinstance(val, list):
            for item in val:
                if isinstance(item, _Pairs):
                    res.names.add(node)
                    _walk(item, path + (node,), res)
                else:
                    res.names.add(node)
                    res.entries.append(Field(node, str(item), path))
        else:
            res.names.add(node)
            res.entries.append(Field(node, "" if val is None else str(val), path))


def _expert(exp: _Pairs, res: TsharkResult) -> None:
    message = str(_get(exp, "_ws.expert.message") or "")
    try:
        severity = int(_get(exp, "_ws.expert.severity") or 0)
    except ValueError:
        severity = 0
    keys = [k for k, _ in exp]
    is_ber_error = (message.startswith(("BER Error", "Size constraint"))
                    or any(k.startswith("ber.error") for k in keys))
    if severity >= PI_ERROR or is_ber_error or "_ws.lua.error" in keys:
        res.errors.append(message or repr(keys))
    elif severity >= PI_WARN:
        res.warnings.append(message or repr(keys))


def ber_element_length(data: bytes, offset: int = 0, depth: int = 0) -> int:
    """Length in bytes of the BER element (TLV) starting at data[offset]; ValueError if bad."""
    if depth > 200:
        raise ValueError("BER nested too deeply")
    pos = offset
    if pos >= len(data):
        raise ValueError("truncated BER identifier")
    first = data[pos]
    pos += 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                raise ValueError("truncated BER tag")
            pos += 1
            if not data[pos - 1] & 0x80:
                break
    if pos >= len(data):
        raise ValueError("truncated BER length")
    lb = data[pos]
    pos += 1
    if lb == 0x80:  # indefinite: constructed contents up to end-of-contents 00 00
        if not first & 0x20:
            raise ValueError("indefinite length on a primitive element")
        while True:
            if data[pos:pos + 2] == b"\0\0":
                return pos + 2 - offset
            pos += ber_element_length(data, pos, depth + 1)
    if lb & 0x80:
        n = lb & 0x7F
        if n == 0x7F or pos + n > len(data):
            raise ValueError("bad BER length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    else:
        length = lb
    if pos + length > len(data):
        raise ValueError("BER length beyond the end of the data")
    return pos + length - offset


def _parse_packet(packet: Any, protocol: str) -> TsharkResult:
    layers = _get(_get(packet, "_source"), "layers")
    res = TsharkResult(entries=[], names=set(), errors=[], warnings=[], protocols="",
                       raw=_to_plain(layers))
    frame = _get(layers, "frame")
    res.protocols = str(_get(frame, "frame.protocols") or "") if frame else ""
    _walk(_Pairs([(k, v) for k, v in layers if k != "frame"]), (), res)
    if protocol not in res.protocols.split(":"):
        res.errors.append(f"{protocol} not reached (frame.protocols = {res.protocols!r})")
    return res


def tshark_decode_many(datas: list[bytes], kind: str) -> list[TsharkResult]:
    """Dissect every BER value in one tshark run; one TsharkResult per value, in order."""
    require("tshark")
    kind = _KIND_ALIASES.get(kind, kind)
    if kind not in _KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {sorted(_KINDS)}")
    datas = list(datas)
    if not datas:
        return []
    tshark = shutil.which("tshark")
    assert tshark is not None
    cmd = [tshark, "-n", "-r", "-", "-X", f"lua_script:{BER_LUA}", "-T", "json"]
    try:
        proc = subprocess.run(cmd, input=write_pcap(datas, kind), capture_output=True,
                              timeout=TSHARK_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise OracleError(f"tshark timed out after {TSHARK_TIMEOUT} s") from exc
    stderr = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise OracleError(f"tshark exited {proc.returncode}: {stderr.strip()}")
    try:
        packets = json.loads(proc.stdout, object_pairs_hook=_Pairs)
    except json.JSONDecodeError as exc:
        raise OracleError(f"tshark output is not JSON: {exc}; stderr: {stderr.strip()}") from exc
    if len(packets) != len(datas):
        raise OracleError(f"tshark returned {len(packets)} packets for {len(datas)} values; "
                          f"stderr: {stderr.strip()}")
    protocol = _KINDS[kind][1]
    results = [_parse_packet(p, protocol) for p in packets]
    for data, res in zip(datas, results, strict=True):
        try:
            used = ber_element_length(bytes(data))
        except ValueError as exc:
            res.errors.append(f"BER framing: {exc}")
            continue
        if used != len(data):
            res.errors.append(f"trailing data: {len(data) - used} bytes after the "
                              f"{used}-byte BER value")
    return results


def tshark_decode(data: bytes, kind: str) -> TsharkResult:
    """Dissect one BER value (kind "p1", "p22", "orname" or "oraddress")."""
    return tshark_decode_many([data], kind)[0]
