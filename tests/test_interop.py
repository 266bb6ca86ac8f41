"""Interop against code nobody here wrote (ASN1-NOTES: @wildboar/x400 and Wireshark's tshark).

(a) Every encoding our codec produces for the samples (messages, reports, probes, IPMs, IPNs;
    every heading field, body part type, extension attribute, standard extension and trace
    element the model has) is decoded by both independent decoders and compared by value:
    wildboar's full JSON against our decoded value, component by component, *and* every open
    type inside (extension attributes, extensions, heading extensions, extended body parts)
    decoded by wildboar with its own type and compared; tshark must dissect it without
    malformed-packet or BER errors and show the values we put in.
(b) The files produced by the independent encoder (tests/data/wildboar) are decoded by ours and
    compared with wildboar's JSON and with the values the fixture says it holds.

Skips locally without Node/tshark; fails in CI (X400BRIDGE_REQUIRE_ORACLES=1).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bridge import samples
from bridge.codec import asn1, decode_any, decode_content
from bridge.codec.orname import orname_from
from bridge.model import IPM, IPN, Message, ORAddress, Probe, Report
from tests import oracle
from tests.conftest import sample_file
from tests.helpers import recorded_open_types
from tests.oracle_compare import compare

pytestmark = pytest.mark.oracle

NAMES = sorted(samples.all_samples())
FIXTURES = Path(__file__).resolve().parent / "data" / "wildboar"
FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.ber"))
WILDBOAR_MODULES = (oracle.ORACLES_DIR / "node_modules" / "@wildboar" / "x400" / "src" / "lib"
                    / "modules")

# tshark has no dissector for these private/MIXER OIDs; it says so as an expert note, which is
# not a fault of the encoding (the value is then not checked by tshark, only by wildboar).
TSHARK_UNKNOWN_OID = "Dissector for OID not implemented"


def top_type(name: str) -> str:
    return "InformationObject" if name.endswith(".p22") else "MTS-APDU"


def wildboar_type(type_name: str) -> str | None:
    """The @wildboar/x400 Module/Type of one of our ASN.1 type names (same ITU names)."""
    hits = sorted(WILDBOAR_MODULES.glob(f"*/{type_name}.ta.js"))
    preferred = [h for h in hits if "88" not in h.parent.name]
    return f"{(preferred or hits)[0].parent.name}/{type_name}" if hits else None


# ---------------------------------------------------------------------------------- (a) wildboar


@pytest.mark.parametrize("name", NAMES)
def test_wildboar_decodes_our_encoding_to_the_same_value(name: str) -> None:
    oracle.require("node")
    data = sample_file(name).read_bytes()
    ours = asn1.decode(top_type(name), data)
    result = oracle.wildboar_decode_full(top_type(name), data)
    assert result.unrecognized == []
    assert compare(top_type(name), ours, result.value) == []


@pytest.mark.parametrize("name", NAMES)
def test_wildboar_decodes_every_open_type_inside(name: str) -> None:
    """Each value our registries put into an open type is also what wildboar decodes with the
    type X.411/X.420 assigns to it."""
    oracle.require("node")
    data = sample_file(name).read_bytes()
    obj = decode_any(data)
    with recorded_open_types() as calls:
        decode_any(data)
        if isinstance(obj, Message):
            decode_content(obj.content)
    checked = 0
    for type_name, value in calls[1:]:
        wb = wildboar_type(type_name)
        if wb is None or type_name in ("InformationObject", "MTS-APDU"):
            continue
        if type_name == "GeneralTextData" and max(value[2:], default=0) > 0x7F:
            continue  # ASN1-NOTES wildboar bug (5): GeneralString must be ASCII there
        try:
            theirs = oracle.wildboar_decode(wb, value)
        except oracle.OracleError as exc:
            pytest.fail(f"wildboar rejects our {type_name} {value.hex()}: {exc}")
        diffs = compare(type_name, asn1.decode(type_name, value), theirs)
        assert diffs == [], f"{type_name}: {diffs}"
        checked += 1
    if name == "message-full.p1":
        assert checked >= 20  # extension attributes, extensions, trace, redirection, ...
    if name == "ipm-full.p22":
        assert checked >= 15  # heading extensions, extended body parts, FTBP, GeneralText


# ---------------------------------------------------------------------------------- (a) tshark


def _tshark_results() -> dict[str, oracle.TsharkResult]:
    out: dict[str, oracle.TsharkResult] = {}
    for kind in ("p1", "p22"):
        sel = [n for n in NAMES if n.endswith("." + kind)]
        for n, r in zip(sel, oracle.tshark_decode_many(
                [sample_file(n).read_bytes() for n in sel], kind), strict=True):
            out[n] = r
    return out


@pytest.fixture(scope="module")
def tshark_results() -> dict[str, oracle.TsharkResult]:
    oracle.require("tshark")
    return _tshark_results()


@pytest.mark.parametrize("name", NAMES)
def test_tshark_dissects_our_encoding_cleanly(
        name: str, tshark_results: dict[str, oracle.TsharkResult]) -> None:
    errors = [e for e in tshark_results[name].errors if TSHARK_UNKNOWN_OID not in e]
    assert errors == []
    assert tshark_results[name].warnings == []


def _tshark_time(text: str) -> str:
    # tshark shows UTCTime as "26-11-28 09:30:15 (UTC)"
    return text.split(" (")[0]


def test_tshark_shows_our_values(tshark_results: dict[str, oracle.TsharkResult]) -> None:
    full = tshark_results["ipm-full.p22"]
    ipm = samples.full_ipm()
    h = ipm.heading
    assert full.values("p22.user_relative_identifier", under="p22.this_IPM_element")[0] == "147"
    assert full.value("p22.importance") == "2"
    assert full.value("p22.sensitivity") == "3"
    assert full.value("p22.auto_forwarded") == "1"
    assert "Dietrich" in full.values("p1.surname")
    assert "Rose" in full.values("p1.surname")
    assert full.values("p1.given_name").count("Marshall") >= 1
    assert "+49 89 636 0" in full.values("p22.telephone_number")
    assert full.values("p22.ia5text.data")[0] == "Plain IA5 text.\r\nSecond line.\r\n"
    assert h.expiry_time is not None
    shown = _tshark_time(full.value("p22.expiry_time"))
    assert shown == h.expiry_time.strftime("%y-%m-%d %H:%M:%S")
    msg = tshark_results["message-full.p1"]
    env = samples.envelope()
    local = msg.value("p1.local_identifier", under="p1.message_identifier_element")
    assert local == env.identifier.local
    assert msg.values("p1.priority")[0] == "2"
    assert msg.values("p1.originally_specified_recipient_number") == ["1", "2", "3"]
    assert set(msg.values("p1.CommonName")) == {"Hans Mueller"}
    rpt = tshark_results["report.p1"]
    assert rpt.values("p1.non_delivery_reason_code") == ["1"]
    assert rpt.values("p1.non_delivery_diagnostic_code") == ["0"]
    assert rpt.value("p1.supplementary_information") == "No such user (via mixer-gw)"
    probe = tshark_results["probe.p1"]
    assert probe.value("p1.content_length") == "4711"
    ipn = tshark_results["ipn-non-receipt.p22"]
    assert ipn.value("p22.non_receipt_reason") == "0"
    assert ipn.value("p22.discard_reason") == "0"


# ---------------------------------------------------------------------------------- (b) fixtures


def _load(name: str) -> tuple[bytes, dict[str, Any]]:
    return (FIXTURES / f"{name}.ber").read_bytes(), json.loads(
        (FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_independent_encoding_decodes_to_the_same_value(name: str) -> None:
    """No Node needed: the fixture carries wildboar's own JSON of its value."""
    data, meta = _load(name)
    ours = asn1.decode(meta["type"], data)
    assert compare(meta["type"], ours, meta["wildboar"]) == []


_OR_KEYS = {"C": "country", "ADMD": "admd", "PRMD": "prmd", "O": "organization"}
_PN_KEYS = {"S": "surname", "G": "given_name", "I": "initials", "Q": "generation_qualifier"}


def _check_or(summary: dict[str, Any], addr: ORAddress) -> None:
    for key, attr in _OR_KEYS.items():
        if key in summary:
            assert getattr(addr, attr) == summary[key], key
    for key, attr in _PN_KEYS.items():
        if key in summary:
            assert addr.personal_name is not None
            assert getattr(addr.personal_name, attr) == summary[key], key
    if "OU" in summary:
        assert list(addr.org_units) == summary["OU"]
    for dtype, value in summary.get("DDA", {}).items():
        assert addr.dda(dtype) == value
    if "common-name" in summary:
        assert addr.common_name == summary["common-name"]
    if "teletex-common-name" in summary:
        assert addr.teletex_common_name == summary["teletex-common-name"]
    tpn = summary.get("teletex-personal-name")
    if tpn:
        assert addr.teletex_personal_name is not None
        assert addr.teletex_personal_name.surname == tpn["surname"]  # T.61 c8 75 -> ü
        assert addr.teletex_personal_name.given_name == tpn["given_name"]


def _pairs(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in text.split(";"):
        k, v = item.split("=", 1)
        k = {"A": "ADMD", "P": "PRMD"}.get(k, k)
        if k == "OU":
            out.setdefault("OU", []).append(v)
        else:
            out[k] = v
    return out


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _check_ipm(s: dict[str, Any], ipm: IPM) -> None:
    h = ipm.heading
    if "this_IPM" in s:
        assert h.this_ipm.local == s["this_IPM"]["id"]
        if "user" in s["this_IPM"]:
            user = _pairs(s["this_IPM"]["user"])
            assert h.this_ipm.user is not None
            _check_or({k: v for k, v in user.items() if k != "OU"}, h.this_ipm.user.address)
            assert sorted(h.this_ipm.user.address.org_units) == sorted(user["OU"])
    if "originator" in s:
        assert h.originator is not None and h.originator.formal_name is not None
        _check_or(s["originator"], h.originator.formal_name.address)
        assert h.originator.free_form_name == s["originator"]["free_form_name"]
    for key, field in (("primary_recipients", h.primary), ("copy_recipients", h.copy)):
        if key in s:
            assert field is not None and len(field) == len(s[key])
            for spec, rs in zip(field, s[key], strict=True):
                assert spec.recipient.formal_name is not None
                _check_or(rs, spec.recipient.formal_name.address)
                if "free_form_name" in rs:
                    assert spec.recipient.free_form_name == rs["free_form_name"]
                if "reply_requested" in rs:
                    assert spec.reply_requested == rs["reply_requested"]
    if "subject" in s:
        assert h.subject == s["subject"]
    if "expiry_time" in s:
        assert h.expiry_time == _time(s["expiry_time"])
    if "importance" in s:
        assert h.importance.name.lower() == s["importance"]
    if "sensitivity" in s:
        assert h.sensitivity is not None
        assert h.sensitivity.name.lower().replace("_", "-") == s["sensitivity"]
    if "auto_forwarded" in s:
        assert h.auto_forwarded == s["auto_forwarded"]
    for part, sp in zip(ipm.body, s.get("body", []), strict=True):
        if sp["type"] == "ia5-text":
            assert getattr(part, "text", None) == sp["text"]
        elif sp["type"] == "teletex":
            assert list(getattr(part, "pages", ())) == sp["pages"]
        elif sp["type"] == "general-text":
            assert getattr(part, "text", None) == sp["text"]
            assert list(getattr(part, "charsets", ())) == sp["character_sets"]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_independent_encoding_decodes_to_the_described_model(name: str) -> None:
    data, meta = _load(name)
    s = meta["summary"]
    if meta["type"] == "ORName":
        _check_or(s, orname_from(asn1.decode("ORName", data)).address)
        return
    obj = decode_any(data)
    if isinstance(obj, IPM):
        _check_ipm(s, obj)
    elif isinstance(obj, IPN):
        assert obj.subject_ipm.local == s["subject_ipm"]["id"]
        if "receipt_time" in s:
            assert obj.fields.receipt_time == _time(s["receipt_time"])  # type: ignore[union-attr]
        if "discard_reason" in s:
            assert obj.fields.discard_reason == 0  # type: ignore[union-attr]  # ipm-expired
    elif isinstance(obj, Message | Probe):
        env = obj.envelope
        ident = s.get("message_identifier") or s["probe_identifier"]
        assert env.identifier.local == ident["local"]
        assert env.identifier.domain.country == ident["C"]
        _check_or(s["originator"], env.originator.address)
        assert env.content_type == s["content_type"]
        assert [r.number for r in env.recipients] == [r["number"] for r in s["recipients"]]
        if isinstance(obj, Message):
            assert env.priority.name.lower().replace("_", "-") == s["priority"]
            assert env.deferred_delivery_time == _time(s["deferred_delivery_time"])
            assert env.trace[0].arrival_time == _time(s["trace"][0]["arrival_time"])
            content, _ = _load(s["content"].removesuffix(".ber"))
            assert obj.content == content
        else:
            assert env.content_length == s["content_length"]
    else:
        assert isinstance(obj, Report)
        assert obj.identifier.local == s["report_identifier"]["local"]
        assert obj.subject_identifier.local == s["subject_identifier"]
        delivered, failed = obj.recipients
        assert delivered.outcome.delivery_time == _time(  # type: ignore[union-attr]
            s["recipients"][0]["delivery_time"])
        assert (failed.outcome.reason, failed.outcome.diagnostic) == (1, 0)  # type: ignore[union-attr]


def test_dump_shows_independent_message() -> None:
    """`x400bridge dump` gives a sensible view of a message from the independent encoder."""
    from bridge.dump import dump_file

    text = dump_file((FIXTURES / "mts_message.ber").read_bytes())
    assert "message-identifier: [/PRMD=Example/ADMD=BT/C=GB/;MSG-0001]" in text
    assert "subject: Quarterly report" in text
    assert "2. teletex: 2 page(s)" in text
