"""SMTP DSN parameters (RFC 3461 §4) and their RFC 2156 App A §3 mapping
(bridge.convert.notary, and its use in to_x400 / to_mime).

Conformance IDs: R-11 (App A §3 NOTIFY/ORCPT/ENVID/RET), R-13 (RFC 3461 §5.2.4 gatewaying),
R-14 (ORCPT x400 address type, xtext), A-25 (822 -> X.400 per-recipient fields).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge import samples
from bridge.codec import decode_apdu, encode_apdu, encode_content
from bridge.convert.context import Context
from bridge.convert.notary import (
    ENVID_PREFIX,
    MTSID_PREFIX,
    DefectSink,
    NotaryError,
    SmtpEnvelope,
    SmtpRecipient,
    defect_sink,
    envid_for,
    format_notify,
    format_orcpt,
    gateway_report_duty,
    indicators_to_notify,
    notify_to_indicators,
    orcpt_for,
    parse_notify,
    parse_orcpt,
    ret_for,
    xtext_decode,
    xtext_encode,
)
from bridge.convert.result import Defect, MimeResult, X400Result
from bridge.convert.to_mime import x400_to_mime
from bridge.convert.to_x400 import mime_to_x400
from bridge.mapping.address import Role
from bridge.mapping.psencode import ps_encode
from bridge.model import (
    DomainDefinedAttribute,
    GlobalDomainIdentifier,
    Message,
    MTSIdentifier,
    ORAddress,
    PerMessageIndicators,
    PerRecipientIndicators,
    StandardExtension,
)
from bridge.model.common import Extension, TraceElement
from bridge.model.envelope import Envelope, Recipient, Redirection, RedirectionReason
from bridge.model.oraddress import ORName
from tests.helpers import gateway_context

DATA = Path(__file__).parent / "data"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
GW_GDI = GlobalDomainIdentifier(country="gb", admd=" ", prmd="uk.ac")
CTX = gateway_context(NOW)
MESSAGE = b"From: s@isode.com\nTo: c@AC.UK\nMessage-ID: <1@isode.com>\nSubject: hi\n\nHello.\n"
R = PerRecipientIndicators
REPORT_BITS = R.ORIGINATOR_REPORT | R.ORIGINATOR_NON_DELIVERY_REPORT


def to_x400(rcpts: tuple[SmtpRecipient, ...], *, mail_from: str = "<s@isode.com>",
            ret: str | None = None, envid: str | None = None,
            ctx: Context = CTX) -> tuple[X400Result, Envelope]:
    smtp = SmtpEnvelope(mail_from=mail_from, recipients=rcpts, ret=ret, envid=envid)
    result = mime_to_x400(MESSAGE, mail_from, [r.address for r in rcpts], ctx, smtp=smtp)
    msg = result.apdu
    assert isinstance(msg, Message)
    # the BER round trip keeps everything but the mapping layer's 822 forms
    plain = dataclasses.replace(msg, envelope=dataclasses.replace(msg.envelope, recipients=tuple(
        dataclasses.replace(r, rfc822=None) for r in msg.envelope.recipients)))
    assert decode_apdu(encode_apdu(plain)) == plain
    return result, msg.envelope


def rfc822(addr: str) -> ORName:
    """An O/R name holding an 822 address in the RFC-822 DDA (§4.3.5 Mapping A)."""
    return ORName(address=ORAddress(country="GB", admd="GOLD 400", prmd="UK.AC",
                                    organization="mixer-gw", ddas=(DomainDefinedAttribute(
                                        type="RFC-822", value=ps_encode(addr)),)))


GDI = GlobalDomainIdentifier(country="GB", admd="GOLD 400", prmd="HMG")
MTS_ID = MTSIdentifier(domain=GDI, local="id-1")
INTENDED = ORName(address=ORAddress.parse("/G=John/S=Smith/O=Acme/ADMD=Gold 400/C=GB/"))


def to_mime(*recipients: Recipient,
            indicators: PerMessageIndicators = PerMessageIndicators.CONTENT_RETURN_REQUEST,
            identifier: MTSIdentifier = MTS_ID) -> MimeResult:
    env = Envelope(identifier=identifier, originator=rfc822("o@x.example"), content_type=22,
                   recipients=recipients, indicators=indicators,
                   trace=(TraceElement(domain=GDI, arrival_time=NOW),))
    return x400_to_mime(Message(envelope=env, content=encode_content(samples.text_ipm())), CTX)


def recipient(addr: str, indicators: PerRecipientIndicators = R.NONE, number: int = 1,
              history: tuple[Redirection, ...] = ()) -> Recipient:
    return Recipient(name=rfc822(addr), number=number, indicators=R.RESPONSIBILITY | indicators,
                     extensions=(Extension(type=StandardExtension.REDIRECTION_HISTORY,
                                           value=history),) if history else ())


def history(rcpt: Recipient) -> tuple[Redirection, ...]:
    for e in rcpt.extensions:
        if e.type == StandardExtension.REDIRECTION_HISTORY:
            assert isinstance(e.value, tuple)
            return e.value
    return ()


def sink(defects: list[Defect]) -> DefectSink:
    return defect_sink(defects)


# ------------------------------------------------------------------------------ xtext


@pytest.mark.parametrize(("text", "xtext"), [
    ("QQ314159", "QQ314159"),  # RFC 3461 §6 example ENVID
    ("Bob@Example.COM", "Bob@Example.COM"),  # RFC 3461 §6 example ORCPT (rfc822;...)
    ("a+b=c d", "a+2Bb+3Dc+20d"),  # "+" and "=" are never xchars, SP is outside "!".."~"
    ("/G=John/S=Smith/ADMD= /C=GB/", "/G+3DJohn/S+3DSmith/ADMD+3D+20/C+3DGB/"),
    ("tab\there", "tab+09here"),
    ("", ""),
])
def test_xtext_examples(text: str, xtext: str) -> None:  # R-14 (RFC 3461 §4)
    assert xtext_encode(text) == xtext
    assert xtext_decode(xtext) == text


def test_xtext_decode_accepts_hexchar_for_any_char() -> None:
    assert xtext_decode("+51+5131+34") == "QQ314"  # a CHAR MAY be sent as a hexchar (§4)
    assert xtext_decode("a+2bb") == "a+b"  # lower case hex: accepted (robustness)
    assert xtext_encode(b"\x00\xff") == "+00+FF"


@pytest.mark.parametrize("bad", ["a b", "a=b", "+2", "+ZZ", "x+", "é"])
def test_xtext_decode_rejects(bad: str) -> None:
    with pytest.raises(NotaryError) as info:
        xtext_decode(bad)
    assert info.value.smtp.code == 501  # RFC 3461 §4.5


@given(st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x2FFF, codec="utf-8")))
def test_xtext_round_trip(text: str) -> None:
    encoded = xtext_encode(text)
    assert all("!" <= c <= "~" and c != "=" for c in encoded)
    assert xtext_decode(encoded) == text


# ------------------------------------------------------------------ parameters (RFC 3461 §4)


def test_rfc3461_example_parameters() -> None:  # RFC 3461 §6 example transaction
    rcpts = (SmtpRecipient.from_esmtp("<Bob@Example.COM>", {
                 "NOTIFY": "SUCCESS", "ORCPT": "rfc822;Bob@Example.COM"}),
             SmtpRecipient.from_esmtp("<Dana@Ivory.EDU>", {
                 "notify": "success,Failure", "ORCPT": "RFC822;Dana@Ivory.EDU"}),
             SmtpRecipient.from_esmtp("<Fred@Bombs.AF.MIL>", {"NOTIFY": "NEVER", "SIZE": "1"}))
    env = SmtpEnvelope.from_esmtp("<Alice@Example.ORG>", {"RET": "hdrs", "ENVID": "QQ314159"},
                                  rcpts)
    assert env.ret == "HDRS" and env.envid == "QQ314159"
    assert env.esmtp_params() == ("RET=HDRS", "ENVID=QQ314159")
    assert rcpts[0].notify == frozenset({"SUCCESS"})
    assert rcpts[1].notify == frozenset({"SUCCESS", "FAILURE"})
    assert rcpts[1].orcpt == ("rfc822", "Dana@Ivory.EDU")
    assert rcpts[1].esmtp_params() == ("NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Dana@Ivory.EDU")
    assert rcpts[2].esmtp_params() == ("NOTIFY=NEVER",)
    assert env.recipient("fred@bombs.af.mil") is rcpts[2]
    assert env.recipient("nobody@example.org") is None


@pytest.mark.parametrize("bad", ["", "NEVER,SUCCESS", "SOMETIMES", "FAILURE,FAILURE"])
def test_notify_syntax(bad: str) -> None:  # RFC 3461 §4.1
    with pytest.raises(NotaryError):
        parse_notify(bad)


def test_parameter_errors() -> None:  # RFC 3461 §4.2-§4.5
    with pytest.raises(NotaryError):
        parse_orcpt("Bob@Example.COM")  # no addr-type
    with pytest.raises(NotaryError):
        parse_orcpt("rfc822;" + "a" * 500)  # over 500 characters
    with pytest.raises(NotaryError):
        SmtpEnvelope(mail_from="", ret="BODY")
    with pytest.raises(NotaryError):
        SmtpEnvelope(mail_from="", envid="x" * 101)
    with pytest.raises(NotaryError):
        SmtpEnvelope.from_esmtp("", {"RET": "FULL", "ret": "HDRS"})  # twice (§4.5)
    with pytest.raises(NotaryError):
        SmtpRecipient(address="a@b", orcpt=("rfc822", "bé@b"))  # not US-ASCII
    assert format_orcpt(("x400", "/S=A B/")) == "x400;/S+3DA+20B/"
    assert parse_orcpt("x400;/S+3DA+20B/") == ("x400", "/S=A B/")
    assert format_notify(frozenset({"DELAY", "FAILURE", "SUCCESS"})) == "SUCCESS,FAILURE,DELAY"


# ------------------------------------------------------------------------ NOTIFY

NOTIFY_CASES = [
    # NOTIFY, the originator report bits (App A §3.1), NOTIFY back (App A §3.2)
    (None, R.ORIGINATOR_NON_DELIVERY_REPORT, "FAILURE"),  # RFC 3461 §4.1 default, A-25
    ("NEVER", R.NONE, "NEVER"),
    ("SUCCESS", R.ORIGINATOR_REPORT, "SUCCESS,FAILURE"),
    ("FAILURE", R.ORIGINATOR_NON_DELIVERY_REPORT, "FAILURE"),
    ("DELAY", R.ORIGINATOR_NON_DELIVERY_REPORT, "FAILURE"),
    ("SUCCESS,FAILURE", R.ORIGINATOR_REPORT, "SUCCESS,FAILURE"),
    ("SUCCESS,DELAY", R.ORIGINATOR_REPORT, "SUCCESS,FAILURE"),
    ("FAILURE,DELAY", R.ORIGINATOR_NON_DELIVERY_REPORT, "FAILURE"),
    ("SUCCESS,FAILURE,DELAY", R.ORIGINATOR_REPORT, "SUCCESS,FAILURE"),
]


@pytest.mark.parametrize(("notify", "bits", "back"), NOTIFY_CASES)
def test_notify_to_indicators_and_back(notify: str | None, bits: PerRecipientIndicators,
                                       back: str) -> None:
    ind = notify_to_indicators(parse_notify(notify) if notify else None)
    assert ind & REPORT_BITS == bits
    assert ind & R.RESPONSIBILITY
    # X.411: the originating MTA asks for at least what the originator asks for
    assert ind & R.ORIGINATING_MTA_NON_DELIVERY_REPORT
    assert bool(ind & R.ORIGINATING_MTA_REPORT) == bool(bits & R.ORIGINATOR_REPORT)
    assert format_notify(indicators_to_notify(ind)) == back
    # and App A §3.1 of the App A §3.2 result gives the same bits: a double transformation
    # brings the X.400 request back (G-7)
    assert notify_to_indicators(indicators_to_notify(ind)) == ind


@pytest.mark.parametrize(("notify", "bits", "back"), NOTIFY_CASES)
def test_notify_in_mime_to_x400(notify: str | None, bits: PerRecipientIndicators,
                                back: str) -> None:
    rcpt = SmtpRecipient("c@AC.UK", parse_notify(notify) if notify else None)
    _, env = to_x400((rcpt, SmtpRecipient("<d@AC.UK>", frozenset({"NEVER"}))))
    assert env.recipients[0].indicators & REPORT_BITS == bits
    assert env.recipients[1].indicators & REPORT_BITS == R.NONE  # per recipient


def test_without_smtp_parameters_behaviour_is_unchanged() -> None:
    result = mime_to_x400(MESSAGE, "<s@isode.com>", ["c@AC.UK"], CTX)
    assert isinstance(result.apdu, Message)
    env = result.apdu.envelope
    assert env.recipients[0].indicators == (R.RESPONSIBILITY | R.ORIGINATING_MTA_NON_DELIVERY_REPORT
                                            | R.ORIGINATOR_NON_DELIVERY_REPORT)
    assert env.indicators & PerMessageIndicators.CONTENT_RETURN_REQUEST
    assert not any(d.kind == "notary" for d in result.defects)


def test_null_reverse_path_asks_for_no_reports() -> None:  # R-11, R-13 (c)
    result, env = to_x400((SmtpRecipient("c@AC.UK", frozenset({"SUCCESS"})),), mail_from="<>")
    assert env.recipients[0].indicators & REPORT_BITS == R.NONE
    assert any(d.kind == "notary" and "null reverse-path" in d.detail for d in result.defects)


def test_x400_notify_per_recipient() -> None:  # R-11 (App A §3.2), R-13
    result = to_mime(recipient("a@y.example", R.ORIGINATOR_REPORT, 1),
                     recipient("b@y.example", R.ORIGINATOR_NON_DELIVERY_REPORT, 2),
                     recipient("c@y.example", R.NONE, 3))
    assert result.smtp is not None
    assert result.smtp.mail_from == result.mail_from == "o@x.example"
    assert [r.address for r in result.smtp.recipients] == list(result.rcpt_to)
    assert [r.esmtp_params() for r in result.smtp.recipients] == [
        ("NOTIFY=SUCCESS,FAILURE",), ("NOTIFY=FAILURE",), ("NOTIFY=NEVER",)]


def test_gateway_report_duty() -> None:  # MTA requirements beyond the user's
    assert gateway_report_duty(R.ORIGINATING_MTA_REPORT | R.ORIGINATOR_REPORT) == frozenset()
    assert gateway_report_duty(R.ORIGINATING_MTA_NON_DELIVERY_REPORT
                               | R.ORIGINATOR_NON_DELIVERY_REPORT) == frozenset()
    assert gateway_report_duty(R.ORIGINATING_MTA_REPORT
                               | R.ORIGINATOR_NON_DELIVERY_REPORT) == {"SUCCESS"}
    assert gateway_report_duty(R.ORIGINATING_MTA_NON_DELIVERY_REPORT) == {"FAILURE"}
    assert gateway_report_duty(R.ORIGINATING_MTA_REPORT) == {"SUCCESS", "FAILURE"}


# ------------------------------------------------------------------------- ORCPT


def test_orcpt_rfc822_becomes_redirection_history() -> None:  # R-11 (App A §3.1)
    _, env = to_x400((SmtpRecipient("c@AC.UK", orcpt=("rfc822", "list-alias@AC.UK")),))
    (element,) = history(env.recipients[0])
    assert element.reason == RedirectionReason.ALIAS
    assert element.time == NOW  # the date of conversion
    assert element.intended_recipient.address == CTX.mapper.to_x400(
        "list-alias@AC.UK", Role.SMTP_RECIPIENT).address


def test_orcpt_x400_becomes_redirection_history() -> None:
    std_or = str(INTENDED.address)
    _, env = to_x400((SmtpRecipient("c@AC.UK", orcpt=("x400", std_or + " (cn=John)")),))
    (element,) = history(env.recipients[0])
    assert element.intended_recipient == INTENDED
    assert element.reason == RedirectionReason.ALIAS


def test_orcpt_naming_the_recipient_is_no_redirection() -> None:  # R-11, RFC 3461 §4.2
    _, env = to_x400((SmtpRecipient("c@AC.UK", orcpt=("rfc822", "c@AC.UK")),))
    assert history(env.recipients[0]) == ()


def test_orcpt_of_other_types_is_a_defect() -> None:  # only x400 and rfc822
    result, env = to_x400((SmtpRecipient("c@AC.UK", orcpt=("unknown", "whatever")),
                           SmtpRecipient("d@AC.UK", orcpt=("x400", "not an O/R address"))))
    assert history(env.recipients[0]) == history(env.recipients[1]) == ()
    assert sum(d.kind == "notary" and "ORCPT" in d.detail for d in result.defects) == 2


def test_redirection_history_becomes_orcpt_x400() -> None:  # R-11 (App A §3.2), R-14
    first = Redirection(intended_recipient=INTENDED, time=NOW, reason=RedirectionReason.ALIAS)
    second = Redirection(intended_recipient=rfc822("z@y.example"), time=NOW,
                         reason=RedirectionReason.DIRECTORY_LOOK_UP)
    result = to_mime(recipient("a@y.example", R.ORIGINATOR_NON_DELIVERY_REPORT,
                               history=(first, second)))
    assert result.smtp is not None
    (rcpt,) = result.smtp.recipients
    assert rcpt.orcpt == ("x400", str(INTENDED.address))  # the originally intended one
    assert rcpt.esmtp_params() == (
        "NOTIFY=FAILURE", "ORCPT=x400;" + xtext_encode(str(INTENDED.address)))
    assert "+3D" in rcpt.esmtp_params()[1] and "=" not in rcpt.esmtp_params()[1][6:]


def test_orcpt_of_a_non_ascii_value_is_ascii() -> None:  # R-14 (RFC 3461 §4.2 US-ASCII)
    """A value outside PrintableString (a repaired one) is written in the std-or teletex form
    (RFC 2156 §3.3.4, ``*`` and ``{ddd}``): the ORCPT stays printable US-ASCII, no loss."""
    name = ORName(address=ORAddress.parse("/S=Müller/ADMD=A/C=GB/"))
    rcpt = recipient("a@y.example", history=(Redirection(
        intended_recipient=name, time=NOW, reason=RedirectionReason.ALIAS),))
    defects: list[Defect] = []
    orcpt = orcpt_for(rcpt, sink(defects))
    assert orcpt is not None and orcpt[0] == "x400" and orcpt[1].isascii()
    assert "*M{200}uller" in orcpt[1] and not defects


def test_orcpt_round_trip_smtp_x400_smtp() -> None:  # G-7
    _, env = to_x400((SmtpRecipient("c@AC.UK", frozenset({"SUCCESS"}),
                                    ("rfc822", "alias@AC.UK")),))
    back = x400_to_mime(Message(envelope=env, content=encode_content(samples.text_ipm())), CTX)
    assert back.smtp is not None
    (rcpt,) = back.smtp.recipients
    assert rcpt.notify == frozenset({"SUCCESS", "FAILURE"})
    assert rcpt.orcpt is not None and rcpt.orcpt[0] == "x400"
    # the x400 ORCPT names the O/R address the rfc822 one mapped to
    assert ORAddress.parse(rcpt.orcpt[1]) == CTX.mapper.to_x400(
        "alias@AC.UK", Role.SMTP_RECIPIENT).address
    # and going in again gives the same redirection history
    _, again = to_x400((rcpt,))
    assert history(again.recipients[0])[0].intended_recipient == history(
        env.recipients[0])[0].intended_recipient


# --------------------------------------------------------------------------- ENVID, RET


def test_envid_becomes_content_correlator() -> None:  # R-11 (App A §3.1)
    result, env = to_x400((SmtpRecipient("c@AC.UK"),), envid="QQ314159")
    corr = env.extension(StandardExtension.CONTENT_CORRELATOR)
    assert corr is not None and corr.value == ENVID_PREFIX + "QQ314159"
    assert any(d.kind == "notary" and not d.lossy for d in result.defects)


def test_envid_from_x400_is_not_reverse_mapped() -> None:  # R-11 (App A §3.1, last para)
    envid = MTSID_PREFIX + "[/PRMD=HMG/ADMD=GOLD 400/C=GB/;id-1]"
    _, env = to_x400((SmtpRecipient("c@AC.UK"),), envid=envid)
    assert env.identifier.local == "<1@isode.com>"  # from Message-ID, not from the ENVID
    corr = env.extension(StandardExtension.CONTENT_CORRELATOR)
    assert corr is not None and corr.value == ENVID_PREFIX + envid


def test_envid_from_mts_identifier() -> None:  # R-11 (App A §3.2)
    result = to_mime(recipient("a@y.example"))
    assert result.smtp is not None
    assert result.smtp.envid == "X400-MTS-Identifier: [/PRMD=HMG/ADMD=GOLD 400/C=GB/;id-1]"
    assert result.smtp.esmtp_params()[1] == (
        "ENVID=X400-MTS-Identifier:+20[/PRMD+3DHMG/ADMD+3DGOLD+20400/C+3DGB/;id-1]")
    defects: list[Defect] = []
    long = MTSIdentifier(domain=GDI, local="x" * 90)
    assert envid_for(long, sink(defects)) is None and defects


def test_ret_from_content_return_request() -> None:  # R-11 (App A §3.2)
    assert ret_for(PerMessageIndicators.NONE) == "HDRS"
    assert ret_for(PerMessageIndicators.CONTENT_RETURN_REQUEST) == "FULL"
    result = to_mime(recipient("a@y.example"), indicators=PerMessageIndicators.NONE)
    assert result.smtp is not None and result.smtp.esmtp_params()[0] == "RET=HDRS"


def test_ret_hdrs_still_requests_content_return() -> None:  # H-12 over R-13 (e)
    result, env = to_x400((SmtpRecipient("c@AC.UK"),), ret="HDRS")
    assert env.indicators & PerMessageIndicators.CONTENT_RETURN_REQUEST
    assert any(d.kind == "notary" and "RET=HDRS" in d.detail for d in result.defects)
    result, env = to_x400((SmtpRecipient("c@AC.UK"),), ret="FULL")
    assert env.indicators & PerMessageIndicators.CONTENT_RETURN_REQUEST
    assert not any(d.kind == "notary" for d in result.defects)


def test_duplicate_smtp_address_keeps_first_parameters() -> None:
    result = to_mime(recipient("a@y.example", R.ORIGINATOR_REPORT, 1),
                     recipient("a@y.example", R.NONE, 2))
    assert result.smtp is not None and result.rcpt_to == ("a@y.example",)
    assert [r.notify for r in result.smtp.recipients] == [frozenset({"SUCCESS", "FAILURE"})]
    assert any(d.kind == "notary" for d in result.defects)


def test_dsn_envelope_is_null_path_notify_never() -> None:
    """RFC 3461 §6.1: a DSN is sent from <> with NOTIFY=NEVER and without RET."""
    from bridge import samples
    from bridge.convert.reports import report_to_dsn
    from tests.test_convert_reports import dsn_gateway_context

    result = report_to_dsn(samples.report(), dsn_gateway_context())
    assert result.mail_from == "" and result.smtp is not None
    assert result.smtp.mail_from == "" and result.smtp.ret is None
    assert result.smtp.recipients and all(
        r.notify == frozenset({"NEVER"}) for r in result.smtp.recipients)
    assert [r.esmtp_params() for r in result.smtp.recipients] == [("NOTIFY=NEVER",)]
