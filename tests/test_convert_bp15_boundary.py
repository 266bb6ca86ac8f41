"""P-7, RFC 2157 §3.1.2 (4): decapsulating a multipart BP15 (MimeBodyPart) the boundary
parameter must be the boundary the body actually uses."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from bridge.codec import encode_content
from bridge.convert.to_mime import x400_to_mime
from bridge.model import (
    IPM,
    Envelope,
    GlobalDomainIdentifier,
    Heading,
    IA5TextBodyPart,
    IPMIdentifier,
    Message,
    MimeBodyPart,
    MTSIdentifier,
    PerRecipientIndicators,
    Recipient,
    TraceElement,
)
from tests.test_convert_roundtrip import CTX, NOW, OR_MAPPED, orname

GDI = GlobalDomainIdentifier(country="GB", admd="GOLD 400", prmd="UK.AC")
BODY = (b"--inner\r\nContent-Type: text/plain\r\n\r\none\r\n"
        b"--inner\r\nContent-Type: text/plain\r\n\r\ntwo\r\n--inner--\r\n")


def convert(bp: MimeBodyPart) -> tuple[EmailMessage, list[str]]:
    me = orname(OR_MAPPED[0])
    ipm = IPM(heading=Heading(this_ipm=IPMIdentifier(local="b")),
              body=(IA5TextBodyPart(text="first\r\n"), bp))
    msg = Message(envelope=Envelope(
        identifier=MTSIdentifier(domain=GDI, local="b"), originator=me, content_type=22,
        recipients=(Recipient(name=me, number=1,
                              indicators=PerRecipientIndicators.RESPONSIBILITY),),
        trace=(TraceElement(domain=GDI, arrival_time=NOW),)), content=encode_content(ipm))
    result = x400_to_mime(msg, CTX)
    out = BytesParser(policy=policy.default).parsebytes(result.message)
    assert isinstance(out, EmailMessage)
    return out, [d.kind for d in result.defects]


def the_part(out: EmailMessage) -> EmailMessage:
    parts = out.get_payload()
    assert isinstance(parts, list) and len(parts) == 2
    second = parts[1]
    assert isinstance(second, EmailMessage)
    return second


@pytest.mark.parametrize("params", [(), (("boundary", "wrong"),),
                                    (("boundary", "inner"), ("type", "x"))])
def test_boundary_is_the_one_the_body_uses(params: tuple[tuple[str, str], ...]) -> None:
    out, kinds = convert(MimeBodyPart(content_type="multipart/alternative",
                                      parameters=params, headers=(), data=BODY))
    part = the_part(out)
    assert part.get_content_type() == "multipart/alternative"
    assert part.get_boundary() == "inner"
    texts = [p.get_content().strip() for p in part.iter_parts()]
    assert texts == ["one", "two"]
    assert ("boundary" in kinds) == (params != (("boundary", "inner"), ("type", "x")))
    if params and params[-1][0] == "type":
        assert part.get_param("type") == "x"


def test_multipart_without_delimiters_is_encapsulated() -> None:
    out, kinds = convert(MimeBodyPart(content_type="multipart/mixed",
                                      parameters=(("boundary", "b"),), headers=(),
                                      data=b"no delimiters at all\r\n"))
    part = the_part(out)
    assert part.get_content_type() == "application/x400-bp"
    assert "boundary" in kinds
