"""RFC 2157 §6.7 / App C: MIME text/plain; charset=Teletex -> X.420 Teletex body part (P-12),
and the round trip with the existing X.400 -> MIME mapping."""

from __future__ import annotations

import email
import email.message
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest

from bridge.codec import decode_apdu, decode_content, encode_apdu, encode_content
from bridge.convert.context import Context
from bridge.convert.policy import RFC2156
from bridge.convert.result import X400Result
from bridge.convert.to_mime import x400_to_mime
from bridge.convert.to_x400 import mime_to_x400
from bridge.convert.x400_teletex import teletex_pages
from bridge.mapping.address import AddressMapper, GatewayIdentity
from bridge.mapping.psencode import ps_encode
from bridge.mapping.tables import MappingTables
from bridge.model import (
    IPM,
    BodyPart,
    DomainDefinedAttribute,
    Envelope,
    GlobalDomainIdentifier,
    Heading,
    IA5TextBodyPart,
    IPMIdentifier,
    Message,
    MimeBodyPart,
    MTSIdentifier,
    ORAddress,
    ORName,
    Recipient,
    TeletexBodyPart,
    TraceElement,
)
from bridge.model.charsets import t61_encode

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
TABLES = Path(__file__).parent / "data" / "mappings" / "rfc2156"


def make_ctx(**policy: object) -> Context:
    mapper = AddressMapper(MappingTables.load(TABLES), GatewayIdentity(
        domain="gw.example.ac.uk", or_address=ORAddress.parse("/O=mr/PRMD=uk.ac/ADMD= /C=gb/")))
    return Context(mapper=mapper, now=NOW, postmaster="postmaster@gw.example.ac.uk",
                   mta_name="gw.example.ac.uk", policy=RFC2156.clone(**policy),
                   domain_id=GlobalDomainIdentifier(country="gb", admd=" ", prmd="uk.ac"))


CTX = make_ctx()
CTX_84 = make_ctx(x400_1984_peer=True)
GDI = GlobalDomainIdentifier(country="GB", admd="GOLD 400", prmd="HMG")


def check(result: X400Result) -> tuple[Message, IPM]:
    """The APDU survives BER encoding (the 822 form of recipients is not in BER)."""
    apdu = result.apdu
    assert isinstance(apdu, Message)
    env = replace(apdu.envelope, recipients=tuple(
        replace(r, rfc822=None) for r in apdu.envelope.recipients))
    assert decode_apdu(encode_apdu(replace(apdu, envelope=env))) == replace(apdu, envelope=env)
    ipm = decode_content(apdu.content)
    assert isinstance(ipm, IPM)
    return apdu, ipm


def convert(head: str, text: str, *, ctx: Context) -> tuple[X400Result, Message, IPM]:
    data = (head.strip("\n") + "\n\n" + text).encode("ascii")
    result = mime_to_x400(data, "<s@isode.com>", ("c@AC.UK",), ctx)
    msg, ipm = check(result)
    return result, msg, ipm


def x400_to_mime_body(ctx: Context, bp: BodyPart) -> email.message.EmailMessage:
    """An IPM with the one body part, converted to MIME and parsed."""
    name = ORName(address=ORAddress(country="GB", admd="GOLD 400", prmd="UK.AC", ddas=(
        DomainDefinedAttribute(type="RFC-822", value=ps_encode("r@y.example")),)))
    env = Envelope(identifier=MTSIdentifier(domain=GDI, local="id-1"), originator=name,
                   content_type=22, recipients=(Recipient(name=name, number=1),),
                   trace=(TraceElement(domain=GDI, arrival_time=NOW),))
    ipm = IPM(heading=Heading(this_ipm=IPMIdentifier(local="1")), body=(bp,))
    result = x400_to_mime(Message(envelope=env, content=encode_content(ipm)), ctx)
    msg = email.message_from_bytes(result.message, policy=policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg
HEAD = "From: s@isode.com\nTo: c@AC.UK\nMessage-ID: <1@isode.com>\nMIME-Version: 1.0\n"


def teletex_message(octets: bytes, charset: str = "Teletex") -> tuple[str, str]:
    """Head and (quoted-printable, RFC 2157 §6.7 last paragraph) body of a teletex part."""
    head = (HEAD + f"Content-Type: text/plain; charset={charset}\n"
            "Content-Transfer-Encoding: quoted-printable\n")
    return head, "".join(chr(o) if 0x20 <= o < 0x7F and o != 0x3D else f"={o:02X}"
                         for o in octets)  # every control octet quoted: CR, LF, FF


def teletex_of(octets: bytes, *, ctx: Context = CTX,
               charset: str = "Teletex") -> tuple[BodyPart, X400Result]:
    head, text = teletex_message(octets, charset)
    result, _, ipm = convert(head, text, ctx=ctx)
    assert len(ipm.body) == 1
    return ipm.body[0], result


@pytest.mark.parametrize(("text", "pages"), [
    ("one page", ("one page",)),
    ("a\x0cb", ("a", "b")),
    ("a\x0cb\x0c", ("a", "b")),  # the FF the reverse mapping adds ends the last page
    ("a\x0c\x0cb", ("a", "", "b")),  # an empty page in the middle is kept
    ("\x0c", ("",)),
    ("", ("",)),
])
def test_pages_split_on_ff(text: str, pages: tuple[str, ...]) -> None:  # P-12 §6.7
    assert teletex_pages(text) == pages


def test_teletex_text_plain_becomes_teletex_body_part() -> None:  # P-12 §6.7, App C
    octets = t61_encode("Seite 1: Grüße\r\n") + b"\x0c" + t61_encode("Seite 2: Straße\r\n")
    assert b"\xc8u" in octets and b"\xfb" in octets  # T.61 non-spacing diaeresis, sharp s
    bp, result = teletex_of(octets)
    assert bp == TeletexBodyPart(pages=("Seite 1: Grüße\r\n", "Seite 2: Straße\r\n"),
                                 number_of_pages=2)
    assert not any(d.kind == "encapsulated" for d in result.defects)


def test_charset_name_is_case_insensitive() -> None:  # RFC 2045 §5.1
    bp, _ = teletex_of(b"x\x0cy", charset='"TELETEX"')
    assert isinstance(bp, TeletexBodyPart) and bp.pages == ("x", "y")


def test_cr_ff_and_bare_line_feeds_kept() -> None:  # §6.7: "CR FF", "CR LF LF" are data
    bp, _ = teletex_of(b"a\r\x0cb\r\n\n\nc")
    assert isinstance(bp, TeletexBodyPart) and bp.pages == ("a\r", "b\r\n\n\nc")


def test_not_t61_is_encapsulated() -> None:  # §6.7 / §3.1.2: a part that does not convert
    bp, result = teletex_of(b"bad \xc0 octet")  # 0xC0 is undefined in T.61
    assert isinstance(bp, MimeBodyPart)
    assert any(d.kind == "encapsulated" for d in result.defects)


def test_teletex_for_an_x400_1984_peer() -> None:  # App B: Teletex is an 84 body part
    bp, result = teletex_of(t61_encode("Grüße"), ctx=CTX_84)
    assert bp == TeletexBodyPart(pages=("Grüße",), number_of_pages=1)
    msg, _ = check(result)
    assert msg.envelope.content_type == 2


def test_ascii_teletex_is_still_teletex() -> None:  # §6.7: the charset decides, not the text
    bp, _ = teletex_of(b"plain")
    assert isinstance(bp, TeletexBodyPart) and not isinstance(bp, IA5TextBodyPart)


@pytest.mark.parametrize("pages", [
    ("Seite 1: Grüße\r\n", "Seite 2: Straße\r\n"),
    ("one",),
    ("a", "", "b"),
    ("é ends here\x0c", "next"),  # a page that already ends in FF (§6.7 "does not already")
])
def test_round_trip_x400_mime_x400(pages: tuple[str, ...]) -> None:  # P-12 §6.7 symmetry
    """X.400 pages -> MIME (joined with FF, converted to 8859-1/UTF-8 as §6.7 NOTE advises)
    -> relabelled as Teletex -> X.400: the same pages."""
    msg = x400_to_mime_body(CTX, TeletexBodyPart(pages=pages))
    text = msg.get_content()
    assert text == "".join(p if p.endswith("\x0c") else p + "\x0c" for p in pages)
    bp, _ = teletex_of(t61_encode(text))
    assert isinstance(bp, TeletexBodyPart)
    assert bp.pages == tuple(p.removesuffix("\x0c") for p in pages)


def test_round_trip_mime_x400_mime() -> None:  # P-12 §6.7 symmetry, the other way
    text = "Seite 1: Grüße\r\n\x0cSeite 2: Straße\r\n\x0c"
    bp, _ = teletex_of(t61_encode(text))
    msg = x400_to_mime_body(CTX, bp)
    assert msg.get_content_charset() == "iso-8859-1"
    assert msg.get_content() == text
