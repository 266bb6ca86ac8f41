"""Codec speed: encode+decode of a typical 8–10 KB IPM (P22 content: heading + body, the
X.400 equivalent of a MIME message), against the stdlib ``email`` package (policy.default)
parsing and generating the equivalent MIME message in the same run.  Prints messages/s for
both and their ratio (goal: codec >= 4x the baseline).  For information it also measures the
same IPM inside a full MTS-APDU (P1 envelope with 3 recipients and trace: two encodes and two
decodes per message), which has no MIME counterpart (the envelope is SMTP's MAIL/RCPT).

Run: ``python bench/codec.py [--seconds N]``.  Numbers are ratios within one run because the
machines are noisy; nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge import samples  # noqa: E402
from bridge.codec import decode_apdu, decode_content, encode_apdu, encode_content  # noqa: E402
from bridge.codec.orname import orname_to  # noqa: E402
from bridge.model import (  # noqa: E402
    IPM,
    EncodedInformationTypes,
    Envelope,
    Heading,
    IA5TextBodyPart,
    Importance,
    IPMIdentifier,
    Message,
    MTSIdentifier,
    ORDescriptor,
    PerMessageIndicators,
    PerRecipientIndicators,
    Recipient,
    RecipientSpecifier,
)

LINE = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
PART = (LINE * (4096 // len(LINE) + 1))[:4096]


def typical_ipm() -> IPM:
    """10 heading fields, two 4 KiB IA5 body parts (the size ASN1-NOTES measured)."""
    rcpt = [RecipientSpecifier(recipient=ORDescriptor(formal_name=n, free_form_name=f))
            for n, f in ((samples.ROSE, "Marshall Rose"), (samples.GATEWAY, "Hans Mueller"),
                         (samples.RFC822_USER, None))]
    heading = Heading(
        this_ipm=IPMIdentifier(user=samples.DIETRICH, local="20261128093015.4711"),
        originator=ORDescriptor(formal_name=samples.DIETRICH, free_form_name="Dr. Dietrich"),
        primary=tuple(rcpt[:2]), copy=tuple(rcpt[2:]),
        replied_to=IPMIdentifier(user=samples.ROSE, local="562"),
        related=(IPMIdentifier(user=samples.ROSE, local="561"),),
        subject="Quarterly figures for the northern region",
        expiry_time=samples.T0 + timedelta(days=30),
        reply_time=samples.T0 + timedelta(days=3),
        reply_recipients=(ORDescriptor(formal_name=samples.DIETRICH),),
        importance=Importance.HIGH,
    )
    return IPM(heading=heading, body=(IA5TextBodyPart(text=PART), IA5TextBodyPart(text=PART)))


def typical_envelope() -> Envelope:
    """A transfer envelope as an MTA sends it: ids, originator, 3 recipients, 2 trace hops."""
    return Envelope(
        identifier=MTSIdentifier(domain=samples.GDI_DE, local="PC1000-910530172027-57D8"),
        originator=samples.DIETRICH, content_type=22, content_identifier="Quarterly figs",
        original_eits=EncodedInformationTypes(builtin=frozenset({2})),
        indicators=PerMessageIndicators.ALTERNATE_RECIPIENT_ALLOWED
        | PerMessageIndicators.CONTENT_RETURN_REQUEST,
        trace=samples.TRACE,
        recipients=tuple(
            Recipient(name=n, number=i, indicators=PerRecipientIndicators.RESPONSIBILITY
                      | PerRecipientIndicators.ORIGINATOR_NON_DELIVERY_REPORT)
            for i, n in enumerate((samples.ROSE, samples.GATEWAY, samples.RFC822_USER), 1)))


def typical_mime() -> bytes:
    """The same message as MIME: the headers RFC 2156 §5.3 would produce, two text parts."""
    msg = EmailMessage()
    msg["Message-ID"] = '<"20261128093015.4711*/S=Dietrich/O=Siemens/ADMD=DBP/C=DE/"@MHS>'
    msg["From"] = '"Dr. Dietrich" <Dietrich@Siemens.DBP.DE>'
    msg["To"] = '"Marshall Rose" <Marshall.MT.Rose@cs.ucl.ac.uk>, "Hans Mueller" <hans@siemens.de>'
    msg["Cc"] = "jj@seismo.css.gov"
    rose = "/G=Marshall/I=MT/S=Rose/OU=cs/O=ucl/PRMD=UK.AC/ADMD=GOLD 400/C=GB/"
    msg["In-Reply-To"] = f'<"562*{rose}"@MHS>'
    msg["References"] = f'<"561*{rose}"@MHS>'
    msg["Subject"] = "Quarterly figures for the northern region"
    msg["Expires"] = "Mon, 28 Dec 2026 09:30:15 +0000"
    msg["Reply-By"] = "Tue, 01 Dec 2026 09:30:15 +0000"
    msg["Reply-To"] = "Dietrich@Siemens.DBP.DE"
    msg["Importance"] = "high"
    msg["Date"] = "Sat, 28 Nov 2026 09:30:15 +0000"
    msg.set_content(PART.replace("\r\n", "\n"))
    msg.add_attachment(PART.replace("\r\n", "\n"), subtype="plain")
    return msg.as_bytes(policy=policy.SMTP)


def rate(fn: Callable[[], object], seconds: float) -> float:
    fn()  # warm up
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            fn()
        n += 20
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()

    ipm = typical_ipm()
    envelope = typical_envelope()
    apdu = Message(envelope=envelope, content=encode_content(ipm))
    ber = encode_apdu(apdu)
    mime = typical_mime()

    content = encode_content(ipm)

    # orname_to caches names; clear it per message so repeated rounds of the same message
    # measure the codec, not the cache (names repeat *within* a message, as in real traffic)
    def ipm_round() -> None:
        orname_to.cache_clear()
        decode_content(encode_content(ipm))

    def apdu_round() -> None:
        orname_to.cache_clear()
        data = encode_apdu(Message(envelope=envelope, content=encode_content(ipm)))
        msg = decode_apdu(data)
        assert isinstance(msg, Message)
        decode_content(msg.content)

    def email_round() -> None:
        parsed = BytesParser(policy=policy.default).parsebytes(mime)
        out = io.BytesIO()
        BytesGenerator(out, policy=policy.default).flatten(parsed)
        for part in parsed.walk():  # touch the headers as a gateway would
            for _name, _value in part.items():
                pass

    codec = rate(ipm_round, args.seconds)
    baseline = rate(email_round, args.seconds)
    apdu_rate = rate(apdu_round, args.seconds)
    print(f"IPM: {len(content)} bytes BER (in an MTS-APDU: {len(ber)}); "
          f"MIME equivalent: {len(mime)} bytes")
    print(f"codec IPM encode+decode:              {codec:8.0f} msgs/s")
    print(f"email policy.default parse+generate:  {baseline:8.0f} msgs/s")
    print(f"ratio codec/email:                    {codec / baseline:8.2f}x (goal >= 4x)")
    print(f"codec MTS-APDU+IPM encode+decode:     {apdu_rate:8.0f} msgs/s "
          f"({apdu_rate / baseline:.2f}x email)")


if __name__ == "__main__":
    main()
