"""Security labels on reports and notifications (MIL-5, issue 14).

* X.400 report -> DSN: the report's message-security-label (X.411 §12.2.1.2, a
  ReportTransferEnvelopeExtensions member) becomes the DSN's ``SIO-Label`` and
  ``SIO-Label-History`` -- no longer discarded into ``X400-Discarded-DR-Extensions``
  (RFC 2156 §5.3.8.1) -- and labels the returned message too;
* DSN -> X.400 report: an ``SIO-Label`` with an ``:x411`` / ``:ess`` label becomes the
  report's label, octets unchanged; round trip report -> DSN -> report byte-identical, read
  by tshark's P1 dissector;
* the gateway's label policy on reports (both ways) and on MDN <-> IPN, with the
  diagnostics of messages: 8/53, 8/68, 5.7.0.
"""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge import samples
from bridge.codec import decode_apdu, encode_apdu
from bridge.convert.context import Context
from bridge.convert.mdn import ipn_to_mdn, mdn_to_ipn
from bridge.convert.policy import RFC2156
from bridge.convert.reports import dsn_to_report, report_to_dsn
from bridge.convert.seclabel import (
    LABEL_CRITICALITY,
    InvalidSecurityLabel,
    SecurityLabelError,
    SecurityLabelRefused,
    SecurityLabelRequired,
)
from bridge.convert.seclabel_text import parse_params
from bridge.model import Criticality, Extension, Message, Opaque, Report, StandardExtension
from tests.helpers import gateway_context
from tests.test_convert_reports import dsn_gateway_context, field_list
from tests.test_seclabel import GATEWAY_HISTORY, GOLDEN, GOLDEN_BER, field_values

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LABEL20 = StandardExtension.MESSAGE_SECURITY_LABEL
DATA = Path(__file__).parent / "data" / "convert"
UPDATE = os.environ.get("X400BRIDGE_UPDATE_GOLDEN") == "1"

#: the ESS label of labelled-bounce.eml, derived by hand from RFC 2634 §5.4 (X.690 §10.3:
#: SET members in tag order -- INTEGER 2, OBJECT IDENTIFIER 6, UTF8String 12)
ESS_BER = bytes.fromhex(
    "3117"
    "020103"                                            # security-classification 3
    "060a2b0601040181fd590109"                          # policy 1.3.6.1.4.1.32473.1.9
    "0c06" + "Übung".encode().hex())                    # privacy-mark, utf8String
#: its ExtensionField (X.411 §9.1): standard-extension [0] 20, criticality [1] for-transfer
#: and for-delivery (bits 1, 2: 5 unused bits, 0x60), value [2] EXPLICIT the label
ESS_EXTENSION_FIELD = bytes.fromhex("3022" "800114" "81020560" "a219") + ESS_BER


def _labelled(report: Report, ber: bytes = GOLDEN_BER, *, content: bool = False,
              criticality: Criticality = LABEL_CRITICALITY) -> Report:
    ext = Extension(type=LABEL20, value=Opaque(ber=ber), criticality=criticality)
    if content:     # a peer in error: the label in the report content's extensions
        return dataclasses.replace(report, extensions=report.extensions + (ext,))
    return dataclasses.replace(report, envelope_extensions=report.envelope_extensions + (ext,))


def _ctx(labels: str = "pass") -> Context:
    return gateway_context(NOW, policy=RFC2156.clone(security_labels=labels))


def _dsn_ctx(labels: str = "pass") -> Context:
    ctx = dsn_gateway_context()
    return dataclasses.replace(ctx, policy=ctx.policy.clone(security_labels=labels))


def _returned(data: bytes) -> bytes:
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    part = next(p for p in msg.walk() if p.get_content_type() == "message/rfc822")
    inner = part.get_payload()
    assert isinstance(inner, list)
    return inner[0].as_bytes()


def _assert_diagnostic(err: SecurityLabelError, diagnostic: int) -> None:
    assert (err.x400.reason, err.x400.diagnostic) == (8, diagnostic)
    assert (err.smtp.code, err.smtp.enhanced) == (554, "5.7.0")


def _sio_label(ber: bytes, marking: str) -> str:
    return f'marking="{marking}"; type=":x411"; label="{base64.b64encode(ber).decode()}"'


# ------------------------------------------------------------------- report -> DSN

def test_report_label_becomes_sio_label_golden() -> None:
    """MIL-5: the report's label -> SIO-Label (marking + the exact BER) and SIO-Label-History
    in the DSN's header, the returned message labelled the same; the whole DSN is golden
    (tests/data/convert/reports/labelled-report.eml)."""
    result = report_to_dsn(_labelled(samples.report()), _ctx())
    data = result.message
    path = DATA / "reports" / "labelled-report.eml"
    if UPDATE:
        path.write_bytes(data)
    assert data == path.read_bytes(), "labelled-report.eml differs (X400BRIDGE_UPDATE_GOLDEN=1)"
    sio = _sio_label(GOLDEN_BER, "SECRET EXERCISE ONLY")
    assert field_values(data, "SIO-Label") == [sio]
    (history,) = field_values(data, "SIO-Label-History")
    assert parse_params(history) == GATEWAY_HISTORY
    assert b"X400-Discarded-DR-Extensions" not in data
    assert field_values(_returned(data), "SIO-Label") == [sio]      # the subject's label (X.400)
    assert not [d for d in result.defects if "label" in d.detail]


def test_label_in_the_report_content_is_read_too() -> None:
    """A label in the content's extensions (X.411 puts it in the envelope: an MTA in error)
    is mapped the same way; a second one stays listed as discarded, with a defect."""
    report = _labelled(samples.report(), content=True)
    data = report_to_dsn(report, _ctx()).message
    assert field_values(data, "SIO-Label") == [_sio_label(GOLDEN_BER, "SECRET EXERCISE ONLY")]
    other = _labelled(report, ESS_BER)                        # envelope first
    result = report_to_dsn(other, _ctx())
    assert field_values(result.message, "SIO-Label")[0].endswith(
        base64.b64encode(ESS_BER).decode() + '"')
    assert b"X400-Discarded-DR-Extensions: message-security-label (20)" in result.message
    assert any(d.kind == "extension" for d in result.defects)


def test_unreadable_report_label_is_kept_visibly() -> None:
    """A report's label that is no SecurityLabel: even critical under the rfc2156 preset the
    report is not refused (§5.3.8.1 keeps a report rather than its security parameters); the
    BER stays in X400-Unmapped-Extension with a defect.  Under ``require``: 8/68."""
    bad = bytes.fromhex("3003020101")
    result = report_to_dsn(_labelled(samples.report(), bad), _ctx())
    assert field_values(result.message, "SIO-Label") == []
    (kept,) = field_values(result.message, "X400-Unmapped-Extension")
    assert "message-security-label (20); critical; ber=" + base64.b64encode(bad).decode() \
        in kept
    assert any(d.kind == "security-label" for d in result.defects)
    with pytest.raises(InvalidSecurityLabel) as info:
        report_to_dsn(_labelled(samples.report(), bad), _ctx("require"))
    _assert_diagnostic(info.value, 68)


def test_policy_on_reports_to_the_internet() -> None:
    """``refuse``: a labelled report is refused; ``require``: an unlabelled one -- 8/53."""
    with pytest.raises(SecurityLabelRefused, match="the report has a security label") as ref:
        report_to_dsn(_labelled(samples.report()), _ctx("refuse"))
    _assert_diagnostic(ref.value, 53)
    with pytest.raises(SecurityLabelRequired, match="the report has none") as req:
        report_to_dsn(samples.report(), _ctx("require"))
    _assert_diagnostic(req.value, 53)
    report_to_dsn(samples.report(), _ctx("refuse"))
    labelled = report_to_dsn(_labelled(samples.report()), _ctx("require"))
    assert field_values(_returned(labelled.message), "SIO-Label")    # not the BER fallback


# ------------------------------------------------------------------- DSN -> report

def _bounce(name: str = "labelled-bounce.eml") -> bytes:
    return (DATA / "reports" / name).read_bytes()


def test_dsn_label_becomes_the_report_label_golden() -> None:
    """labelled-bounce.eml (a Postfix bounce with an ESS SIO-Label, its marking as RFC 2231
    UTF-8) -> a report whose transfer envelope carries the label's exact octets as the
    message-security-label: the ExtensionField derived by hand from X.411 §9.1 / RFC 2634."""
    result = dsn_to_report(_bounce(), "", ["alice@gw.example.ac.uk"], _dsn_ctx())
    report = result.apdu
    assert isinstance(report, Report)
    (ext,) = [e for e in report.envelope_extensions if e.type == LABEL20]
    assert ext.value == Opaque(ber=ESS_BER)
    assert ext.criticality == LABEL_CRITICALITY
    assert not [e for e in report.extensions if e.type == LABEL20]
    assert ESS_EXTENSION_FIELD in encode_apdu(report)
    assert not [d for d in result.defects if d.kind == "security-label"]
    # the header list still carries every field, SIO-Label included
    (header_list,) = [e for e in report.extensions if "SIO-Label" in repr(field_list(e.value))]
    assert header_list.value is not None


@pytest.mark.parametrize("field,lossy", [
    ('marking="SECRET"', False),                             # a display marking only
    ('type=":ess"; label="MQMCAQ=="', False),                 # not a SecurityLabel
])
def test_dsn_labels_without_an_x411_form(field: str, lossy: bool) -> None:
    """An SIO-Label that gives no X.411 label: no label is invented, a defect says so, the
    field stays readable in the dsn-header-list (R-8) -- not a loss."""
    data = _bounce("postfix-bounce.eml").replace(
        b"Auto-Submitted: auto-replied\n", b"Auto-Submitted: auto-replied\nSIO-Label: "
        + field.encode() + b"\n")
    result = dsn_to_report(data, "", ["alice@gw.example.ac.uk"], _dsn_ctx())
    assert isinstance(result.apdu, Report)
    assert not [e for e in result.apdu.envelope_extensions if e.type == LABEL20]
    (defect,) = [d for d in result.defects
                 if d.kind == "security-label" and d.detail.startswith("report: ")]
    assert defect.lossy is lossy and "kept in dsn-header-list" in defect.detail


def test_policy_on_dsns_to_x400() -> None:
    """The gateway's policy on a DSN that becomes a report: refuse a labelled one, require a
    label (an unreadable one: 68) -- also when the DSN becomes an IPM only (delayed), where
    the minimal-IPM fallback must not slip past the policy."""
    rcpt = ["alice@gw.example.ac.uk"]
    with pytest.raises(SecurityLabelRefused, match="report") as ref:
        dsn_to_report(_bounce(), "", rcpt, _dsn_ctx("refuse"))
    _assert_diagnostic(ref.value, 53)
    with pytest.raises(SecurityLabelRequired) as req:
        dsn_to_report(_bounce("postfix-bounce.eml"), "", rcpt, _dsn_ctx("require"))
    _assert_diagnostic(req.value, 53)
    bad = _bounce().replace(b"MRcCAQMGCisGAQQBgf1ZAQkMBsOcYnVuZw==", b"MQMCAQ==")
    with pytest.raises(InvalidSecurityLabel, match="cannot be used") as inv:
        dsn_to_report(bad, "", rcpt, _dsn_ctx("require"))
    _assert_diagnostic(inv.value, 68)
    assert isinstance(dsn_to_report(_bounce(), "", rcpt, _dsn_ctx("require")).apdu, Report)
    delayed = (DATA / "reports" / "delayed-and-delivered.eml").read_bytes().replace(
        b"Action: delivered", b"Action: delayed")
    with pytest.raises(SecurityLabelRequired):
        dsn_to_report(delayed, "", rcpt, _dsn_ctx("require"))


# ------------------------------------------------------------- round trip, tshark

def _round_trip() -> Report:
    ctx = _ctx()
    dsn = report_to_dsn(_labelled(samples.report()), ctx)
    back = dsn_to_report(dsn.message, dsn.mail_from, dsn.rcpt_to, ctx).apdu
    assert isinstance(back, Report)
    decoded = decode_apdu(encode_apdu(back))
    assert isinstance(decoded, Report)
    return decoded


def test_round_trip_keeps_the_report_label_byte_identical() -> None:
    """MIL-5: report -> DSN -> report gives the label's octets back unchanged, in the report
    transfer envelope, critical for transfer and delivery."""
    back = _round_trip()
    (ext,) = [e for e in back.envelope_extensions if e.type == LABEL20]
    assert ext.value == Opaque(ber=GOLDEN_BER)
    assert ext.criticality == LABEL_CRITICALITY


def test_tshark_reads_the_report_label() -> None:
    """tshark's P1 dissector (independent) finds the label's policy, classification, privacy
    mark and category types in the report transfer envelope (X.411 §12.2.1.2) we encode
    after the round trip (its only complaints: OIDs it has no dissector for)."""
    from tests import oracle

    oracle.require("tshark")
    result = oracle.tshark_decode(encode_apdu(_round_trip()), "p1")
    where = "p1.MessageSecurityLabel_element"
    assert result.value("p1.security_classification", under=where) == "4"
    assert result.value("p1.privacy_mark", under=where) == "EXERCISE ONLY"
    assert result.value("p1.security_policy_identifier", under=where) == GOLDEN.policy_id
    assert result.values("p1.category.type") == [c.type for c in GOLDEN.categories]
    (label,) = [f for f in result.entries if f.name == "p1.security_classification"]
    assert label.path[2:4] == ("p1.report_element", "p1.envelope_element")
    assert all("Dissector for OID not implemented" in e for e in result.errors)


# ------------------------------------------------------------------- MDN <-> IPN

def _mdn(label_field: str | None) -> bytes:
    data = (DATA / "mdn" / "rfc8098-example.eml").read_bytes()
    if label_field is None:
        return data
    anchor = b"Subject: Disposition notification\r\n"
    assert anchor in data
    return data.replace(anchor, anchor + b"SIO-Label: " + label_field.encode() + b"\r\n")


def _ipn(data: bytes, labels: str = "pass", **policy: bool) -> tuple[Message, list[str]]:
    ctx = gateway_context(NOW, policy=RFC2156.clone(security_labels=labels, **policy))
    result = mdn_to_ipn(data, "", ["jane@example.org"], ctx)
    assert isinstance(result.apdu, Message)
    return result.apdu, [f"{d.kind}:{d.lossy}:{d.detail}" for d in result.defects]


def test_mdn_label_becomes_the_ipn_label() -> None:
    """MIL-5: the MDN's SIO-Label -> the IPN message's message-security-label (octets
    unchanged, critical); without one, none."""
    ipn, defects = _ipn(_mdn(_sio_label(GOLDEN_BER, "SECRET EXERCISE ONLY")))
    assert [(e.value, e.criticality) for e in ipn.envelope.extensions if e.type == LABEL20] \
        == [(Opaque(ber=GOLDEN_BER), LABEL_CRITICALITY)]
    assert not [d for d in defects if d.startswith("security-label")]
    bare, _ = _ipn(_mdn(None))
    assert not [e for e in bare.envelope.extensions if e.type == LABEL20]


def test_mdn_label_never_lost_silently() -> None:
    """A field that gives no label (the MDN's header has no place in the IPN) and a label an
    X.400(84) peer cannot take are lossy defects."""
    _, defects = _ipn(_mdn('marking="SECRET"'))
    assert [d for d in defects if d.startswith("security-label:True:IPN: SIO-Label with a "
                                               "display marking only")]
    ipn, old = _ipn(_mdn(_sio_label(GOLDEN_BER, "SECRET EXERCISE ONLY")), x400_1984_peer=True)
    assert not ipn.envelope.extensions
    assert [d for d in old if d.startswith("downgrade:True:IPN: message-security-label")]


def test_policy_on_mdns_and_ipns() -> None:
    """The gateway's policy on MDN -> IPN (and IPN -> MDN through ipn_to_mdn), as messages."""
    labelled = _mdn(_sio_label(GOLDEN_BER, "SECRET EXERCISE ONLY"))
    with pytest.raises(SecurityLabelRefused, match="the IPN has a security label") as ref:
        _ipn(labelled, "refuse")
    _assert_diagnostic(ref.value, 53)
    with pytest.raises(SecurityLabelRequired, match="the IPN has none") as req:
        _ipn(_mdn(None), "require")
    _assert_diagnostic(req.value, 53)
    with pytest.raises(InvalidSecurityLabel) as inv:
        _ipn(_mdn('type=":ess"; label="MQMCAQ=="'), "require")
    _assert_diagnostic(inv.value, 68)
    _ipn(labelled, "require")
    receipt = samples.message(samples.receipt_ipn())            # its envelope has a label
    with pytest.raises(SecurityLabelRefused):
        ipn_to_mdn(receipt, _ctx("refuse"))
    assert b"SIO-Label:" in ipn_to_mdn(receipt, _ctx("require")).message
