"""N-5, X.400 -> 822: notification requests on IPM heading recipients (X.420 §7.1.5 rn/nrn)
become ``Disposition-Notification-To:`` naming the originator (RFC 8098 §2.1) under policy
``ipn_as_mdn``; and the reverse rule (a Disposition-Notification-To naming From/Sender asks
every recipient for rn and nrn, bridge/convert/x400_heading.py) makes the pair symmetric."""

from __future__ import annotations

from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from hypothesis import given
from hypothesis import strategies as st

from bridge.codec import decode_content, encode_content
from bridge.codec.p22ext import ID_RFC_822_FIELD_LIST
from bridge.convert.policy import RFC2156
from bridge.convert.to_mime import x400_to_mime
from bridge.convert.to_x400 import mime_to_x400
from bridge.model import (
    IPM,
    Envelope,
    GlobalDomainIdentifier,
    Heading,
    IA5TextBodyPart,
    IPMIdentifier,
    IPMSExtension,
    Message,
    MTSIdentifier,
    NotificationRequests,
    ORDescriptor,
    PerRecipientIndicators,
    Recipient,
    RecipientSpecifier,
    TraceElement,
)
from tests.test_convert_roundtrip import CTX, NOW, OR_MAPPED, OR_POOL, SETTINGS, orname

MDN_CTX = replace(CTX, policy=RFC2156.clone(ipn_as_mdn=True))
RN, NRN = NotificationRequests.RN, NotificationRequests.NRN
GDI = GlobalDomainIdentifier(country="GB", admd="GOLD 400", prmd="UK.AC")
ORIGINATOR = OR_MAPPED[1]  # /G=Jo/S=Bloggs/PRMD=UK.AC/ADMD=GOLD 400/C=GB/
ALICE, BOB = OR_MAPPED[0], OR_MAPPED[2]


def message(asks: dict[str, NotificationRequests], *, responsible: tuple[str, ...] | None = None,
            originator: str | None = ORIGINATOR, authorizing: str | None = None,
            fields: tuple[str, ...] = ()) -> Message:
    """An IPM to the recipients of ``asks`` (To:), each with its notification requests."""
    names = list(asks)
    heading = Heading(
        this_ipm=IPMIdentifier(user=orname(ORIGINATOR), local="42"),
        originator=None if originator is None else ORDescriptor(formal_name=orname(originator)),
        authorizing_users=None if authorizing is None else (
            ORDescriptor(formal_name=orname(authorizing)),),
        primary=tuple(RecipientSpecifier(recipient=ORDescriptor(formal_name=orname(n)),
                                         notification_requests=asks[n]) for n in names),
        subject="N-5",
        extensions=None if not fields else (
            IPMSExtension(type=ID_RFC_822_FIELD_LIST, value=fields),))
    shown = names if responsible is None else responsible
    env = Envelope(
        identifier=MTSIdentifier(domain=GDI, local="n5"), originator=orname(ORIGINATOR),
        content_type=22,
        recipients=tuple(Recipient(name=orname(n), number=i, indicators=(
            PerRecipientIndicators.RESPONSIBILITY if n in shown else
            PerRecipientIndicators.NONE)) for i, n in enumerate(names, 1)),
        trace=(TraceElement(domain=GDI, arrival_time=NOW),))
    return Message(envelope=env, content=encode_content(IPM(
        heading=heading, body=(IA5TextBodyPart(text="hi\r\n"),))))


def dnt(msg: Message, ctx: object = MDN_CTX) -> list[str]:
    out = BytesParser(policy=policy.compat32).parsebytes(
        x400_to_mime(msg, ctx).message)  # type: ignore[arg-type]
    return [str(v) for v in out.get_all("Disposition-Notification-To", [])]


def addr(name: str) -> str:
    return CTX.mapper.to_rfc822(orname(name)).address


def test_receipt_request_names_the_originator() -> None:
    assert dnt(message({ALICE: RN})) == [addr(ORIGINATOR)]
    assert dnt(message({ALICE: NRN, BOB: NotificationRequests.NONE})) == [addr(ORIGINATOR)]
    # ipm-return alone asks for no notification (X.420 §7.1.5)
    assert dnt(message({ALICE: NotificationRequests.IPM_RETURN})) == []


def test_off_by_default_for_mixer_purity() -> None:  # N-5: off by default
    assert dnt(message({ALICE: RN | NRN}), CTX) == []


def test_only_recipients_this_conversion_delivers_to() -> None:
    """A request of a recipient the gateway is not responsible for is that recipient's UA's
    business (X.420 §7.1.5), not the 822 recipients'."""
    assert dnt(message({ALICE: RN, BOB: NotificationRequests.NONE}, responsible=(BOB,))) == []
    assert dnt(message({ALICE: RN, BOB: NotificationRequests.NONE},
                       responsible=(ALICE,))) == [addr(ORIGINATOR)]


def test_without_heading_originator_the_smtp_originator() -> None:  # §5.3.2 From default
    assert dnt(message({ALICE: RN}, originator=None)) == [addr(ORIGINATOR)]


def test_kept_field_is_not_doubled() -> None:
    """A Disposition-Notification-To restored from rfc-822-field (822 origin) is the one."""
    kept = ("Disposition-Notification-To: Jo <jo@AC.UK>",)
    assert dnt(message({ALICE: RN}, fields=kept)) == ["Jo <jo@AC.UK>"]


def _back(msg: Message) -> IPM:
    mime = x400_to_mime(msg, MDN_CTX)
    there = mime_to_x400(mime.message, mime.mail_from, mime.rcpt_to, MDN_CTX)
    assert isinstance(there.apdu, Message)
    ipm = decode_content(there.apdu.content)
    assert isinstance(ipm, IPM)
    return ipm


def test_round_trip_with_authorizing_users() -> None:
    """From = the authorizing user, Sender = the originator, which the request names: the
    reverse rule accepts a Sender address too."""
    back = _back(message({ALICE: RN | NRN}, authorizing=BOB))
    assert [s.notification_requests for s in back.heading.primary or ()] == [RN | NRN]


@SETTINGS
@given(data=st.data())
def test_x400_mime_x400_keeps_requests(data: st.DataObject) -> None:
    """X.400 -> 822 -> X.400: when every recipient asks for rn and nrn (the only request 822
    can express), every recipient asks again; when none asks, none does."""
    names = data.draw(st.lists(st.sampled_from(OR_POOL), min_size=1, max_size=4, unique=True))
    ask = data.draw(st.sampled_from([RN | NRN, NotificationRequests.NONE]))
    originator = data.draw(st.sampled_from(OR_POOL))
    msg = message(dict.fromkeys(names, ask), originator=originator)
    back = _back(msg)
    assert [s.notification_requests for s in back.heading.primary or ()] == [ask] * len(names)


def test_mime_x400_mime_keeps_the_field() -> None:
    """822 -> X.400 -> 822: the field comes back once and verbatim, and the X.400 side asks
    every recipient for rn and nrn."""
    data = (b"From: Jo Bloggs <Jo.Bloggs@AC.UK>\r\nTo: rose@AC.UK, c@Widget.COM\r\n"
            b"Disposition-Notification-To: Jo Bloggs <Jo.Bloggs@AC.UK>\r\nSubject: s\r\n"
            b"\r\nhi\r\n")
    there = mime_to_x400(data, "Jo.Bloggs@AC.UK", ["rose@AC.UK", "c@Widget.COM"], MDN_CTX)
    assert isinstance(there.apdu, Message)
    ipm = decode_content(there.apdu.content)
    assert isinstance(ipm, IPM)
    assert [s.notification_requests for s in ipm.heading.primary or ()] == [RN | NRN] * 2
    back = BytesParser(policy=policy.default).parsebytes(
        x400_to_mime(there.apdu, MDN_CTX).message)
    assert isinstance(back, EmailMessage)
    assert [str(v) for v in back.get_all("Disposition-Notification-To", [])] == [
        "Jo Bloggs <Jo.Bloggs@AC.UK>"]
