"""Security-label policy (MIL-5): ``pass`` / ``require`` / ``refuse``, for the gateway's
conversions (``[gateway] security-labels``, MappingPolicy) and per X.400 peer
(``security-labels`` in a peer entry, PeerProfile), with the exact non-delivery diagnostics:
X.411 transfer-failure-for-security-reason (8) with security-policy-violation (53) or
invalid-security-label (68), and the RFC 3463 code the x400-dsn-status table gives (5.7.0).
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime
from typing import TypeVar

import pytest

from bridge import samples
from bridge.codec.seclabel import label_to_ber
from bridge.config import parse_config
from bridge.convert.context import Context
from bridge.convert.dsn_status import status_tables
from bridge.convert.gateway_reports import RecipientFate, message_report
from bridge.convert.policy import RFC2156
from bridge.convert.seclabel import (
    InvalidSecurityLabel,
    SecurityLabelError,
    SecurityLabelRefused,
    SecurityLabelRequired,
    label_extension,
)
from bridge.convert.to_mime import x400_to_mime
from bridge.convert.to_x400 import mime_to_x400
from bridge.errors import ConfigError
from bridge.model import Extension, Message, Opaque, Probe, StandardExtension
from bridge.model.seclabel import SecurityLabel
from bridge.x400.profile import CriticalExtensionNotAccepted, PeerProfile, encode_for, prepare
from tests.helpers import gateway_context

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
A = TypeVar("A", Message, Probe)
LABEL20 = StandardExtension.MESSAGE_SECURITY_LABEL
BER = label_to_ber(SecurityLabel(policy_id="1.2.840.7", classification=3))


def _strip(apdu: A) -> A:
    """``apdu`` without its message-security-label (the samples carry one)."""
    env = apdu.envelope
    return dataclasses.replace(apdu, envelope=dataclasses.replace(
        env, extensions=tuple(e for e in env.extensions if e.type != LABEL20)))


def _ctx(policy: str) -> Context:
    return gateway_context(NOW, policy=RFC2156.clone(security_labels=policy))


def _mime(label_field: str | None) -> bytes:
    extra = f"SIO-Label: {label_field}\r\n" if label_field else ""
    return (f"From: a@x.example\r\nTo: r@y.example\r\nSubject: s\r\n{extra}\r\nhi\r\n").encode()


def _assert_diagnostic(err: SecurityLabelError, diagnostic: int) -> None:
    assert (err.x400.reason, err.x400.diagnostic) == (8, diagnostic)
    assert err.smtp.code == 554
    assert err.smtp.enhanced == "5.7.0"
    assert err.smtp.enhanced == str(status_tables().to_status(8, diagnostic))


# ------------------------------------------------------------- the gateway's conversions

def test_pass_lets_both_through() -> None:
    labelled = samples.message(samples.text_ipm())
    assert b"SIO-Label:" in x400_to_mime(labelled, _ctx("pass")).message
    assert b"SIO-Label:" not in x400_to_mime(_strip(labelled), _ctx("pass")).message


def test_require_to_the_internet() -> None:
    """X.400 -> Internet under ``require``: no label -> security-policy-violation."""
    with pytest.raises(SecurityLabelRequired) as info:
        x400_to_mime(_strip(samples.message(samples.text_ipm())), _ctx("require"))
    _assert_diagnostic(info.value, 53)
    x400_to_mime(samples.message(samples.text_ipm()), _ctx("require"))


def test_refuse_to_the_internet() -> None:
    with pytest.raises(SecurityLabelRefused) as info:
        x400_to_mime(samples.message(samples.text_ipm()), _ctx("refuse"))
    _assert_diagnostic(info.value, 53)
    x400_to_mime(_strip(samples.message(samples.text_ipm())), _ctx("refuse"))


def test_require_to_x400_and_the_unreadable_label() -> None:
    """Internet -> X.400 under ``require``: no SIO-Label -> 53; an SIO-Label whose label
    cannot be read -> invalid-security-label (68), with a clear text; a good one passes."""
    with pytest.raises(SecurityLabelRequired) as info:
        mime_to_x400(_mime(None), "a@x.example", ["r@y.example"], _ctx("require"))
    _assert_diagnostic(info.value, 53)
    with pytest.raises(InvalidSecurityLabel, match="cannot be used") as bad:
        mime_to_x400(_mime('type=":ess"; label="MQMCAQ=="'), "a@x.example", ["r@y.example"],
                     _ctx("require"))
    _assert_diagnostic(bad.value, 68)
    good = f'type=":ess"; label="{base64.b64encode(BER).decode()}"'
    result = mime_to_x400(_mime(good), "a@x.example", ["r@y.example"], _ctx("require"))
    assert isinstance(result.apdu, Message)
    assert [e.value for e in result.apdu.envelope.extensions if e.type == LABEL20] == [
        Opaque(ber=BER)]


def test_refuse_to_x400() -> None:
    good = f'type=":x411"; label="{base64.b64encode(BER).decode()}"'
    with pytest.raises(SecurityLabelRefused) as info:
        mime_to_x400(_mime(good), "a@x.example", ["r@y.example"], _ctx("refuse"))
    _assert_diagnostic(info.value, 53)
    # a display marking alone is no label: it passes (kept in rfc-822-field)
    mime_to_x400(_mime('marking="SECRET"'), "a@x.example", ["r@y.example"], _ctx("refuse"))


# ------------------------------------------------------------------- per X.400 peer

@pytest.mark.parametrize("apdu", [samples.message(samples.text_ipm()), samples.probe()],
                         ids=["message", "probe"])
def test_peer_policies(apdu: Message | Probe) -> None:
    """PeerProfile.security_labels, applied by prepare() to messages and probes."""
    bare = _strip(apdu)
    prepare(apdu, PeerProfile(security_labels="require"), mta_name="gw", now=NOW)
    prepare(bare, PeerProfile(security_labels="refuse"), mta_name="gw", now=NOW)
    with pytest.raises(SecurityLabelRequired, match="the peer requires") as req:
        prepare(bare, PeerProfile(security_labels="require"), mta_name="gw", now=NOW)
    _assert_diagnostic(req.value, 53)
    with pytest.raises(SecurityLabelRefused, match="the peer refuses") as ref:
        encode_for(apdu, PeerProfile(security_labels="refuse"), mta_name="gw", now=NOW)
    _assert_diagnostic(ref.value, 53)


def test_peer_require_reads_the_label() -> None:
    apdu = samples.message(samples.text_ipm())
    env = _strip(apdu).envelope
    broken = dataclasses.replace(apdu, envelope=dataclasses.replace(env, extensions=(
        *env.extensions, Extension(type=LABEL20, value=Opaque(ber=b"\x31\x01\x02")))))
    with pytest.raises(InvalidSecurityLabel) as info:
        prepare(broken, PeerProfile(security_labels="require"), mta_name="gw", now=NOW)
    _assert_diagnostic(info.value, 68)


def test_reports_follow_the_peer_policy_and_carry_their_subjects_label() -> None:
    """A link's policy covers reports too; a report the gateway writes carries the label of
    the message it reports on (X.402: labelling applies to the message "and any reports on
    it"), so an NDR about a labelled message still reaches a ``require`` peer."""
    bare_report = samples.report()
    assert not [e for e in bare_report.envelope_extensions if e.type == LABEL20]
    with pytest.raises(SecurityLabelRequired, match="the peer requires") as req:
        prepare(bare_report, PeerProfile(security_labels="require"), mta_name="gw", now=NOW)
    _assert_diagnostic(req.value, 53)
    prepare(bare_report, PeerProfile(security_labels="refuse"), mta_name="gw", now=NOW)

    labelled = samples.message(samples.text_ipm())
    ctx = gateway_context(NOW)
    ndr = message_report(labelled, {labelled.envelope.recipients[0].number: RecipientFate(
        status="5.1.1", diagnostic="no such user")}, ctx)
    assert ndr is not None
    subject_labels = [e for e in labelled.envelope.extensions if e.type == LABEL20]
    assert subject_labels and list(ndr.envelope_extensions) == subject_labels
    prepare(ndr, PeerProfile(security_labels="require"), mta_name="gw", now=NOW)
    with pytest.raises(SecurityLabelRefused):
        prepare(ndr, PeerProfile(security_labels="refuse"), mta_name="gw", now=NOW)
    unlabelled = message_report(_strip(labelled), {labelled.envelope.recipients[0].number:
                                                   RecipientFate(status="5.1.1")}, ctx)
    assert unlabelled is not None and unlabelled.envelope_extensions == ()


def test_a_critical_label_is_never_dropped_for_a_peer() -> None:
    """A peer that takes no envelope extensions cannot get the (critical) label: the message
    is non-delivered (X.411 §9.1), not sent without it."""
    apdu = samples.message(samples.text_ipm())
    only_label = dataclasses.replace(apdu, envelope=dataclasses.replace(apdu.envelope, extensions=(
        label_extension(Opaque(ber=BER)),)))
    with pytest.raises(CriticalExtensionNotAccepted, match="message-security-label"):
        prepare(only_label, PeerProfile(envelope_extensions=False), mta_name="gw", now=NOW)


# ----------------------------------------------------------------------------- config

def test_config_keys() -> None:
    peer = {"mta-name": "p", "security-labels": "refuse"}
    config = parse_config({"gateway": {"security-labels": "require"},
                           "x400": {"peers": {"p": peer}}})
    assert config.gateway.mapping_policy.security_labels == "require"
    assert config.gateway.mapping_policy.reject_critical       # still the rfc2156 preset
    assert config.x400.peer_table.get("p").profile.security_labels == "refuse"
    assert parse_config({}).gateway.mapping_policy is RFC2156


@pytest.mark.parametrize("data,path", [
    ({"gateway": {"security-labels": "drop"}}, "gateway.security-labels"),
    ({"x400": {"peers": {"p": {"mta-name": "p", "security-labels": "strip"}}}},
     "x400.peers.p.security-labels"),
])
def test_config_rejects_unknown_values(data: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
        parse_config(data)
    with pytest.raises(ConfigError):
        RFC2156.clone(security_labels="drop")
