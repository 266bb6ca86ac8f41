"""Delivery reports <-> DSNs (RFC 2156 §5.1.8, §5.3.8, §5.3.9; RFC 3464; CONFORMANCE 1.6).

The two worked examples of RFC 2156 §5.3.8.4 are rebuilt as model reports and compared field by
field with the RFC's text; the status tables are checked against an independent transcription
of R-6 / R-9; DSN fixtures (a Postfix bounce, a delayed+delivered DSN) go the other way; and
reports make the round trip report -> DSN -> report.
"""

from __future__ import annotations

import dataclasses
import email
import importlib.util
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import Message as EmailMessage
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge import samples
from bridge.codec import asn1, decode_apdu, decode_content, encode_apdu, encode_content
from bridge.convert.context import Context
from bridge.convert.dsn_status import (
    Status,
    X400Code,
    format_x400_diagnostic,
    load,
    parse_x400_diagnostic,
    status_tables,
)
from bridge.convert.reports import NotADSNError, answer_probe, dsn_to_report, report_to_dsn
from bridge.convert.vocab import ID_DSN_FIELD_LIST, ID_DSN_HEADER_LIST
from bridge.errors import ConfigError
from bridge.mapping.address import AddressMapper, GatewayIdentity
from bridge.mapping.tables import MappingTables
from bridge.model import (
    IPM,
    DeliveryOutcome,
    GlobalDomainIdentifier,
    Heading,
    IA5TextBodyPart,
    Message,
    MTSIdentifier,
    NonDeliveryOutcome,
    ORAddress,
    ORName,
    PerRecipientIndicators,
    Report,
    ReportedRecipient,
    TraceElement,
)
from bridge.model.envelope import internal_trace_extension
from bridge.model.ipm import IPMIdentifier

DATA = Path(__file__).parent / "data" / "convert" / "reports"
HAVE_TO_MIME = importlib.util.find_spec("bridge.convert.to_mime") is not None


def t(day: int, hh: int, mm: int, ss: int) -> datetime:
    return datetime(1991, 2, day, hh, mm, ss, tzinfo=UTC)


def orn(text: str) -> ORName:
    return ORName(address=ORAddress.parse(text))


UCL = GlobalDomainIdentifier(country="gb", admd="gold 400", prmd="uk.ac")
DGC = GlobalDomainIdentifier(country="GB", admd="GOLD 400", prmd="DGC")


CONVERTED = t(7, 15, 48, 40)  # X400-Conversion-Date of example 1


def context(now: datetime = CONVERTED) -> Context:
    gateway = GatewayIdentity(domain="bells.cs.ucl.ac.uk",
                              or_address=ORAddress.parse("/O=ucl/PRMD=uk.ac/ADMD=gold 400/C=gb/"))
    mapper = AddressMapper(MappingTables.load(DATA / "mappings"), gateway)
    return Context(mapper=mapper, now=now, postmaster="UCL-CS MTA <postmaster@cs.ucl.ac.uk>",
                   mta_name="bells.cs.ucl.ac.uk", domain_id=UCL)


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email_policy.compat32)


def dsn_blocks(msg: EmailMessage) -> list[dict[str, str]]:
    """The message/delivery-status blocks as {field: unfolded value} (whitespace collapsed)."""
    part = next(p for p in msg.walk() if p.get_content_type() == "message/delivery-status")
    payload = part.get_payload()
    assert isinstance(payload, list)
    return [{k: " ".join(str(v).split()) for k, v in b.items()} for b in payload]


def squash(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------ RFC 2156 §5.3.8.4 examples


def example_1() -> Report:
    """§5.3.8.4 Example Delivery Report 1 as the model report it was made from."""
    content = encode_content(IPM(
        heading=Heading(this_ipm=IPMIdentifier(local="1803.665941698@UK.AC.UCL.CS"),
                        subject="Greetings."),
        body=(IA5TextBodyPart(text="Steve"),)))
    return Report(
        identifier=MTSIdentifier(domain=UCL, local="bells.cs.u.694:07.01.91.15.48.34"),
        destination=orn("/RFC-822=S.Kille(a)cs.ucl.ac.uk/O=ucl/PRMD=uk.ac/ADMD=gold 400/C=gb/"),
        trace=(TraceElement(domain=UCL, arrival_time=t(7, 15, 48, 39)),),
        envelope_extensions=(internal_trace_extension((TraceElement(
            domain=UCL, arrival_time=t(7, 15, 48, 39), mta_name="bells.cs.ucl.ac.uk"),)),),
        subject_identifier=MTSIdentifier(domain=UCL, local="<1803.665941698@UK.AC.UCL.CS>"),
        subject_intermediate_trace=(TraceElement(domain=UCL, arrival_time=t(7, 15, 48, 18)),
                                    TraceElement(domain=UCL, arrival_time=t(7, 15, 48, 20))),
        content_identifier="Greetings.", content_type=22, returned_content=content,
        recipients=(ReportedRecipient(
            actual_recipient=orn("/RFC-822=H.Hildegard(a)bbn.com/OU=cs/O=ucl/PRMD=uk.ac"
                                 "/ADMD=gold 400/C=gb/"),
            number=1, indicators=PerRecipientIndicators.ORIGINATOR_NON_DELIVERY_REPORT,
            arrival_time=t(7, 15, 48, 34), outcome=NonDeliveryOutcome(reason=1, diagnostic=0),
            supplementary_information="MTA 'bbn.com' gives error message  (USER) Unknown "
                                      'user name in "H.Hildegard@bbn.com"'),))


def example_2() -> Report:
    """§5.3.8.4 Example Delivery Report 2 (no returned content)."""
    return Report(
        identifier=MTSIdentifier(domain=DGC, local="DLE/910207154840Z/000"),
        destination=orn("/RFC-822=S.Kille(a)cs.ucl.ac.uk/O=ucl/PRMD=uk.ac/ADMD=gold 400/C=gb/"),
        trace=(TraceElement(domain=DGC, arrival_time=t(7, 15, 48, 40)),),
        envelope_extensions=(internal_trace_extension((TraceElement(
            domain=UCL, arrival_time=t(7, 15, 49, 8), mta_name="bells.cs.ucl.ac.uk"),)),),
        subject_identifier=MTSIdentifier(domain=UCL, local="<1796.665941626@UK.AC.UCL.CS>"),
        content_identifier="A useful mess...",
        recipients=(ReportedRecipient(
            actual_recipient=orn("/I=j/S=nosuchuser/OU=dle/O=cambridge/PRMD=DGC"
                                 "/ADMD=GOLD 400/C=GB/"),
            number=1, indicators=PerRecipientIndicators.ORIGINATOR_NON_DELIVERY_REPORT,
            arrival_time=t(7, 15, 48, 40), outcome=NonDeliveryOutcome(reason=1, diagnostic=0),
            supplementary_information="DG 21187: (CEO POA) Unknown addressee."),))


def test_example_1_outer_header_and_envelope() -> None:
    """§5.3.8.4 example 1, outer header (R-1, R-5).  The RFC's example writes the subject as
    "Delivery Report (failure)"; §5.3.8.1's EBNF (and R-1) says "Delivery-Report"."""
    result = report_to_dsn(example_1(), context())
    assert result.mail_from == ""  # RFC 3461 §6.1 null reverse-path
    assert result.rcpt_to == ("S.Kille@cs.ucl.ac.uk",)
    msg = parse(result.message)
    assert msg["From"] == "UCL-CS MTA <postmaster@cs.ucl.ac.uk>"
    assert msg["To"] == "S.Kille@cs.ucl.ac.uk"
    assert squash(msg["Subject"]) == "Delivery-Report (failure) for H.Hildegard@bbn.com"
    assert msg["Message-Type"] == "Delivery Report"
    assert msg["Date"] == "Thu, 07 Feb 1991 15:48:39 +0000"  # first trace element
    assert squash(msg["X400-MTS-Identifier"]) == \
        "[/PRMD=uk.ac/ADMD=gold 400/C=gb/;bells.cs.u.694:07.01.91.15.48.34]"
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"


def test_report_trace_merged_by_position_at_the_top() -> None:  # T-1
    """§5.3.8.3 -> §5.3.7: the report's trace and internal trace merged as for a message: an
    external element equal to an internal one but for the MTA is shown once (the internal
    one); internal elements follow their domain's last external element; most recent first
    by position, not by time (clocks differ); all trace before any other field."""
    report = example_1()
    result = report_to_dsn(report, context())
    msg = parse(result.message)
    assert [squash(v) for v in msg.get_all("X400-Received", [])] == [
        'by mta "bells.cs.ucl.ac.uk" in /PRMD=uk.ac/ADMD=gold 400/C=gb/; Relayed; '
        "Thu, 07 Feb 1991 15:48:39 +0000"]
    assert list(msg.keys())[0] == "X400-Received"
    # a later domain whose clock is behind: position decides, not the time stamp
    behind = TraceElement(domain=DGC, arrival_time=t(7, 15, 40, 0))
    internal = TraceElement(domain=UCL, arrival_time=t(7, 15, 48, 45), mta_name="relay.ucl")
    report = dataclasses.replace(
        report, trace=report.trace + (behind,),
        envelope_extensions=(internal_trace_extension((internal,)),))
    msg = parse(report_to_dsn(report, context()).message)
    assert [squash(v).split(";")[0] for v in msg.get_all("X400-Received", [])] == [
        "by /PRMD=DGC/ADMD=GOLD 400/C=GB/",
        'by mta "relay.ucl" in /PRMD=uk.ac/ADMD=gold 400/C=gb/',
        "by /PRMD=uk.ac/ADMD=gold 400/C=gb/"]
    names = list(msg.keys())
    assert names[:3] == ["X400-Received"] * 3 and "X400-Received" not in names[3:]


def test_example_1_delivery_status() -> None:
    """§5.3.8.4 example 1, the message/delivery-status part (R-3, R-4, R-6, R-15).  The RFC's
    example writes ``Action: failure``; RFC 3464 §2.3.3 only allows ``failed``."""
    per_msg, rcpt = dsn_blocks(parse(report_to_dsn(example_1(), context()).message))
    assert per_msg["Reporting-MTA"] == \
        'x400; mta "bells.cs.ucl.ac.uk" in /PRMD=uk.ac/ADMD=gold 400/C=gb/'
    assert per_msg["Arrival-Date"] == "Thu, 07 Feb 1991 15:48:34 +0000"
    assert per_msg["DSN-Gateway"] == "dns; bells.cs.ucl.ac.uk"
    assert per_msg["X400-Conversion-Date"] == "Thu, 07 Feb 1991 15:48:40 +0000"
    assert per_msg["Original-Envelope-Id"] == \
        "[/PRMD=uk.ac/ADMD=gold 400/C=gb/;<1803.665941698@UK.AC.UCL.CS>]"
    assert per_msg["X400-Content-Identifier"] == "Greetings."
    assert rcpt["Original-Recipient"] == "rfc822; H.Hildegard@bbn.com"
    assert rcpt["Final-Recipient"] == \
        "x400; /RFC-822=H.Hildegard(a)bbn.com/OU=cs/O=ucl/PRMD=uk.ac/ADMD=gold 400/C=gb/"
    assert rcpt["Action"] == "failed"
    assert rcpt["Status"] == "5.1.1"
    assert rcpt["Diagnostic-Code"] == \
        "x400; Reason 1 (Unable-To-Transfer); Diagnostic 0 (Unrecognised-ORName)"
    assert rcpt["X400-Originally-Specified-Recipient-Number"] == "1"
    assert rcpt["X400-Supplementary-Info"] == ('"MTA \'bbn.com\' gives error message (USER) '
                                               'Unknown user name in "H.Hildegard@bbn.com"";')


def test_example_1_subject_trace_most_recent_first() -> None:
    """§5.3.8.3: X400-Subject-Intermediate-Trace-Information, most recent first (R-3)."""
    msg = parse(report_to_dsn(example_1(), context()).message)
    part = next(p for p in msg.walk() if p.get_content_type() == "message/delivery-status")
    block = part.get_payload()[0]
    assert [squash(v) for v in block.get_all("X400-Subject-Intermediate-Trace-Information")] == [
        "by /PRMD=uk.ac/ADMD=gold 400/C=gb/; Relayed; Thu, 07 Feb 1991 15:48:20 +0000",
        "by /PRMD=uk.ac/ADMD=gold 400/C=gb/; Relayed; Thu, 07 Feb 1991 15:48:18 +0000"]


def test_example_1_user_text_and_returned_content() -> None:
    """§5.3.8.1 dr-user-info and the third part (R-2): a negative report returns the
    message; converted by to_mime as message/rfc822 when available, else the BER as
    application/octet-stream (the recommended dump)."""
    result = report_to_dsn(example_1(), context())
    parts = parse(result.message).get_payload()
    assert isinstance(parts, list) and len(parts) == 3
    text = squash(parts[0].get_payload())
    assert text.startswith("This report relates to your message: Greetings. "
                           "of Thu, 07 Feb 1991 15:48:20 +0000")
    assert "Your message was not delivered to: H.Hildegard@bbn.com for the following " \
           "reason: Unable To Transfer, Unrecognised ORName" in text
    assert text.endswith("The Original Message follows:")
    if HAVE_TO_MIME:
        assert parts[2].get_content_type() == "message/rfc822"
    else:
        assert parts[2].get_content_type() == "application/octet-stream"
        assert parts[2].get_payload(decode=True) == example_1().returned_content
        assert any(d.kind == "encapsulated" for d in result.defects)


def test_example_2() -> None:
    """§5.3.8.4 example 2: no returned content; X400-Received from trace and internal trace
    (R-5, most recent first); Reporting-MTA from the first trace element (R-3).  The
    example's Date: (15:46:11) matches no trace element; we take the first (15:48:40)."""
    result = report_to_dsn(example_2(), context(now=t(7, 15, 49, 12)))
    msg = parse(result.message)
    assert result.rcpt_to == ("S.Kille@cs.ucl.ac.uk",)
    assert squash(msg["Subject"]) == \
        "Delivery-Report (failure) for j.nosuchuser@dle.cambridge.DGC.gold-400.gb"
    assert [squash(v) for v in msg.get_all("X400-Received")] == [
        'by mta "bells.cs.ucl.ac.uk" in /PRMD=uk.ac/ADMD=gold 400/C=gb/; Relayed; '
        "Thu, 07 Feb 1991 15:49:08 +0000",
        "by /PRMD=DGC/ADMD=GOLD 400/C=GB/; Relayed; Thu, 07 Feb 1991 15:48:40 +0000"]
    per_msg, rcpt = dsn_blocks(msg)
    assert per_msg["Reporting-MTA"] == "x400; /PRMD=DGC/ADMD=GOLD 400/C=GB/"
    assert per_msg["Arrival-Date"] == "Thu, 07 Feb 1991 15:48:40 +0000"
    assert per_msg["DSN-Gateway"] == "dns; bells.cs.ucl.ac.uk"
    assert per_msg["X400-Conversion-Date"] == "Thu, 07 Feb 1991 15:49:12 +0000"
    assert per_msg["Original-Envelope-Id"] == \
        "[/PRMD=uk.ac/ADMD=gold 400/C=gb/;<1796.665941626@UK.AC.UCL.CS>]"
    assert per_msg["X400-Content-Identifier"] == "A useful mess..."
    assert rcpt["Original-Recipient"] == "rfc822; j.nosuchuser@dle.cambridge.DGC.gold-400.gb"
    assert rcpt["Final-Recipient"] == \
        "x400; /I=j/S=nosuchuser/OU=dle/O=cambridge/PRMD=DGC/ADMD=GOLD 400/C=GB/"
    assert (rcpt["Action"], rcpt["Status"]) == ("failed", "5.1.1")
    assert rcpt["Diagnostic-Code"] == \
        "x400; Reason 1 (Unable-To-Transfer); Diagnostic 0 (Unrecognised-ORName)"
    assert rcpt["X400-Supplementary-Info"] == '"DG 21187: (CEO POA) Unknown addressee.";'
    assert rcpt["X400-Originally-Specified-Recipient-Number"] == "1"
    parts = msg.get_payload()
    assert isinstance(parts, list) and len(parts) == 2  # no third part
    assert squash(parts[0].get_payload()).endswith("The Original Message is not available")


def test_positive_report_returns_headers_only_and_redirects() -> None:
    """R-2: a positive report carries only the returned message's header; R-4: the sample's
    redirected recipient gives X400-Redirect-Recipient / X400-Mapped-Redirect-Recipient, and
    Final-Recipient rfc822 + Original-Recipient x400 for the intended one."""
    report = samples.report()
    result = report_to_dsn(report, context())
    msg = parse(result.message)
    assert squash(msg["Subject"]).startswith("Delivery-Report (success and failures) for MTA")
    delivered, failed = dsn_blocks(msg)[1:]
    assert (delivered["Action"], delivered["Status"]) == ("delivered", "2.0.0")
    assert delivered["X400-Type-of-MTS-User"] == "private (1)"
    assert failed["X400-Redirect-Recipient"].startswith("x400; /RFC-822=hans.mueller(a)example.de")
    assert failed["X400-Mapped-Redirect-Recipient"] == "rfc822; hans.mueller@example.de"
    assert failed["Final-Recipient"] == "rfc822; jj@seismo.css.gov"
    assert failed["Original-Recipient"].startswith("x400; /RFC-822=jj(a)seismo.css.gov/")
    only_delivered = Report(**{**{f: getattr(report, f) for f in report.__slots__},
                               "recipients": report.recipients[:1]})
    parts = parse(report_to_dsn(only_delivered, context()).message).get_payload()
    assert isinstance(parts, list)
    if HAVE_TO_MIME:
        assert parts[2].get_content_type() == "text/rfc822-headers"


def test_content_correlator_envid_restored() -> None:
    """R-3: a content-correlator "SMTP/NOTARY ENVID: x" gives Original-Envelope-Id x; the
    subject identifier then goes to X400-Subject-Submission-Identifier."""
    from bridge.model import Extension, StandardExtension

    base = example_2()
    report = Report(**{**{f: getattr(base, f) for f in base.__slots__}, "extensions": (
        Extension(type=StandardExtension.CONTENT_CORRELATOR, value="SMTP/NOTARY ENVID: QQ314"),
        Extension(type=StandardExtension.REPORTING_MTA_CERTIFICATE, value=None))})
    result = report_to_dsn(report, context())
    per_msg = dsn_blocks(parse(result.message))[0]
    assert per_msg["Original-Envelope-Id"] == "QQ314"
    assert per_msg["X400-Subject-Submission-Identifier"] == str(base.subject_identifier)
    # security DR extensions are discarded and listed, not the report (the
    # message-security-label is not one of them any more: MIL-5, tests/test_seclabel_reports.py)
    assert per_msg["X400-Discarded-DR-Extensions"] == "reporting-mta-certificate (32)"
    assert any(d.kind == "extension" for d in result.defects)


# ------------------------------------------------------------ status tables

#: R-6, transcribed independently from RFC 2156 §5.3.8.2
R6 = {(0, None): "4.4.0", (1, None): "5.0.0", (2, None): "5.6.3", (3, None): "5.6.0",
      (4, None): "5.1.0", (5, None): "5.7.1", (6, None): "5.4.3", (7, None): "5.3.3",
      (1, 0): "5.1.1", (1, 1): "5.1.4", (1, 2): "4.3.1", (1, 3): "5.4.6", (1, 4): "4.2.1",
      (1, 5): "4.4.7", (1, 6): "5.6.1", (1, 7): "5.2.3", (2, 8): "5.6.3", (2, 9): "5.6.3",
      (1, 10): "5.6.3", (1, 11): "5.5.2", (1, 12): "5.5.2", (1, 13): "5.5.2", (1, 14): "5.5.0",
      (1, 15): "5.6.1", (1, 16): "5.5.3", (1, 17): "5.4.4", (1, 18): "5.3.3", (2, 19): "5.6.2",
      (2, 20): "5.6.0", (2, 21): "5.6.0", (2, 22): "5.6.2", (2, 23): "5.6.2", (2, 24): "5.6.2",
      (2, 25): "5.6.2", (1, 26): "5.4.0", (1, 27): "5.4.6", (1, 28): "5.7.2", (1, 29): "5.7.1",
      (1, 30): "4.2.4", (4, 31): "5.6.0", **{(4, d): "5.1.0" for d in range(32, 46)},
      (1, 43): "5.1.6", (1, 46): "5.7.0", (2, 47): "5.3.3", (0, 48): "5.3.4", (0, 49): "4.4.7"}

#: R-9, transcribed independently from RFC 2156 §5.1.8.4 (None = positive reports only)
R9: dict[str, tuple[int, int | None] | None] = {
    "0.0": (1, None), "1.0": (1, None), "1.1": (1, 0), "1.2": (1, 0), "1.3": (1, 0),
    "1.4": (1, 1), "1.5": None, "1.6": (1, 43), "1.7": (1, 11), "1.8": (1, 11),
    "2.0": (1, None), "2.1": (1, 4), "2.2": (1, 4), "2.3": (1, 7), "2.4": (1, 30),
    "3.0": (0, None), "3.1": (1, 2), "3.2": (1, 2), "3.3": (1, 18), "3.4": (1, 7),
    "3.5": (1, None), "4.0": (0, None), "4.1": (0, None), "4.2": (0, None), "4.3": (6, None),
    "4.4": (0, None), "4.5": (1, 2), "4.6": (1, 3), "4.7": (1, 5), "5.0": (1, None),
    "5.1": (1, 14), "5.2": (1, 14), "5.3": (1, 16), "5.4": (1, 14), "5.5": (1, 18),
    "6.0": (2, None), "6.1": (1, 6), "6.2": (1, 9), "6.3": (2, 8), "6.4": None, "6.5": (2, 47),
    "7.0": (1, 46), "7.1": (1, 29), "7.2": (1, 28), "7.3": (1, 46), "7.4": (1, 46),
    "7.5": (1, 46), "7.6": (1, 46), "7.7": (1, 46)}


def test_forward_table_is_the_rfc_table_and_complete() -> None:
    """R-6: every row of §5.3.8.2; every reason 0..7 and diagnostic 0..49 has a row; the
    rows the RFC does not give (reason 8, diagnostics 50..78) are marked local."""
    tables = status_tables()
    rfc_rows = {(r.reason, r.diagnostic): str(r.status) for r in tables.forward
                if r.source == "rfc2156"}
    assert rfc_rows == R6
    assert {r.reason for r in tables.forward if r.diagnostic is None} == set(range(9))
    assert {r.diagnostic for r in tables.forward} - {None} == set(range(79))
    assert all(r.source == "local" for r in tables.forward if (r.reason, r.diagnostic)
               not in R6)
    for (reason, diagnostic), status in R6.items():
        assert str(tables.to_status(reason, diagnostic)) == status
    assert all(r.label for r in tables.forward)


def test_reverse_table_is_the_rfc_table_and_complete() -> None:
    """R-9: every RFC 3463 code R-9 lists has a row (X.1.5 / X.6.4 are positive-only)."""
    tables = status_tables()
    got = {f"{r.subject}.{r.detail}": None if r.code is None else (r.code.reason,
                                                                  r.code.diagnostic)
           for r in tables.reverse}
    assert got == R9
    for code, want in R9.items():
        for klass in (4, 5):
            x = tables.to_x400(f"{klass}.{code}")
            if want is not None:
                assert (x.reason, x.diagnostic) == want
    # §5.1.8.4: unknown codes take X.n.0's mapping; "5.2.37" maps as 5.2.0 = 1/None
    assert tables.to_x400("5.2.37") == X400Code(reason=1)
    assert tables.to_x400("5.1.5") == X400Code(reason=1)  # positive-only -> X.1.0
    assert tables.to_x400("4.9.9") == X400Code(reason=1)  # unknown subject -> X.0.0
    assert tables.to_x400("5.9.9", unknown=X400Code(reason=0)) == X400Code(reason=0)


#: pairs the two RFC tables map onto each other (R-6 then R-9 gives the pair back)
SYMMETRIC = [(0, None), (1, None), (6, None), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (1, 5),
             (1, 6), (1, 7), (2, 8), (1, 16), (1, 18), (1, 28), (1, 29), (1, 30), (1, 43), (1, 46)]


@pytest.mark.parametrize(("reason", "diagnostic"), SYMMETRIC)
def test_tables_consistent_where_symmetric(reason: int, diagnostic: int | None) -> None:
    """R-6 / R-9 consistency where the RFC's two tables agree."""
    tables = status_tables()
    assert tables.to_x400(tables.to_status(reason, diagnostic)) == X400Code(
        reason=reason, diagnostic=diagnostic)


def test_tables_symmetric_set_is_exactly_the_rfc_one() -> None:
    """No other RFC row round-trips, so SYMMETRIC is complete (guards table edits)."""
    tables = status_tables()
    found = {(r, d) for r, d in R6
             if tables.to_x400(tables.to_status(r, d)) == X400Code(reason=r, diagnostic=d)}
    assert found == set(SYMMETRIC)


@given(st.integers(0, 32767), st.none() | st.integers(0, 32767))
def test_any_reason_diagnostic_gives_a_valid_status(reason: int, diagnostic: int | None) -> None:
    """Hypothesis: any reason/diagnostic pair gives a valid RFC 3463 failure code (R-6)."""
    status = status_tables().to_status(reason, diagnostic)
    assert status.klass in (4, 5)
    assert 0 <= status.subject <= 7
    assert Status.parse(str(status)) == status


@given(st.sampled_from([4, 5]), st.integers(0, 999), st.integers(0, 999))
def test_any_status_gives_a_reason(klass: int, subject: int, detail: int) -> None:
    """Hypothesis: any failure status maps to an X.411 reason 0..6 (R-9)."""
    code = status_tables().to_x400(f"{klass}.{subject}.{detail}")
    assert 0 <= code.reason <= 6
    assert code.diagnostic is None or 0 <= code.diagnostic <= 49


def test_diagnostic_code_syntax() -> None:
    """§5.3.8.1 dr-diagnostic (labelled-integer-2) both ways."""
    code = X400Code(reason=1, diagnostic=5)
    text = format_x400_diagnostic(code)
    assert text == "Reason 1 (Unable-To-Transfer); Diagnostic 5 (Maximum-Time-Expired)"
    assert parse_x400_diagnostic(text) == code
    assert parse_x400_diagnostic("Reason 0") == X400Code(reason=0)
    assert parse_x400_diagnostic("550 unknown user") is None
    assert format_x400_diagnostic(X400Code(reason=99, diagnostic=9999)) == \
        "Reason 99; Diagnostic 9999"


def test_bad_table_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "x400-dsn-status.tsv").write_text("1\t0\t9.9.9\trfc2156\tX\n")
    (tmp_path / "dsn-x400-status.tsv").write_text("0.0\t1\t-\tOther\n")
    with pytest.raises(ConfigError, match="x400-dsn-status.tsv:1"):
        load(tmp_path)


# ------------------------------------------------------------ DSN -> report (R-7..R-10)


def dsn_gateway_context() -> Context:
    gateway = GatewayIdentity(domain="gw.example.ac.uk",
                              or_address=ORAddress.parse("/O=mr/PRMD=uk.ac/ADMD= /C=gb/"))
    mapper = AddressMapper(MappingTables.load(DATA / "mappings"), gateway)
    return Context(mapper=mapper, now=datetime(2026, 3, 12, 10, 20, tzinfo=UTC),
                   postmaster="postmaster@gw.example.ac.uk", mta_name="gw.example.ac.uk",
                   domain_id=GlobalDomainIdentifier(country="GB", admd=" ", prmd="UK.AC"))


def field_list(value: object) -> list[str]:
    from bridge.model import Opaque

    assert isinstance(value, Opaque)
    decoded = asn1.decode("RFC822FieldList", value.ber)
    assert isinstance(decoded, list)
    return decoded


def test_postfix_bounce() -> None:
    """A Postfix bounce: two failed recipients -> one NDR (R-7); status through the R-9
    table; DSN header and fields in dsn-header-list / dsn-field-list (R-8); the whole DSN
    as returned content (R-8, mandatory for non-delivery); a generated subject-identifier."""
    data = (DATA / "postfix-bounce.eml").read_bytes()
    result = dsn_to_report(data, "", ["alice@gw.example.ac.uk"], dsn_gateway_context())
    report = result.apdu
    assert isinstance(report, Report) and result.extra == ()
    assert report.destination.address.ddas[0].value == "alice(a)gw.example.ac.uk"
    assert [r.number for r in report.recipients] == [1, 2]
    first, second = report.recipients
    assert first.outcome == NonDeliveryOutcome(reason=1, diagnostic=0)  # 5.1.1
    assert second.outcome == NonDeliveryOutcome(reason=1, diagnostic=4)  # 4.2.2
    assert first.indicators == PerRecipientIndicators.ORIGINATING_MTA_NON_DELIVERY_REPORT
    assert first.actual_recipient.address.ddas[0].value == "nobody(a)example.com"
    assert first.originally_intended_recipient is None  # same as Final-Recipient
    assert first.arrival_time == datetime(2026, 3, 12, 9, 15, 1, tzinfo=UTC)
    assert first.supplementary_information is not None
    assert first.supplementary_information.startswith("550 5.1.1 ?nobody?example.com?:")
    assert report.identifier.local.startswith("20260312091503.3F2A81C0")
    assert len(report.identifier.local) <= 32
    assert any(d.kind == "identifier" for d in result.defects)
    headers = field_list(report.extensions[0].value)
    assert report.extensions[0].type == ID_DSN_HEADER_LIST
    assert "Subject: Undelivered Mail Returned to Sender" in headers
    assert report.extensions[1].type == ID_DSN_FIELD_LIST
    assert "X-Postfix-Queue-ID: 3F2A81C0042" in field_list(report.extensions[1].value)
    per_rcpt = field_list(first.extensions[0].value)
    assert "Status: 5.1.1" in per_rcpt and "Remote-MTA: dns; mx.example.com" in per_rcpt
    assert not any(f.startswith(("Action:", "Final-Recipient:")) for f in per_rcpt)
    returned = decode_content(report.returned_content or b"")
    assert isinstance(returned, IPM)
    assert returned.heading.subject == "Undelivered Mail Returned to Sender"
    assert decode_apdu(encode_apdu(report)) == report


def test_delayed_and_delivered() -> None:
    """R-7: delivered -> DR, delayed -> an IPM as well; R-8: the subject-identifier from an
    Original-Envelope-Id "X400-MTS-Identifier: [...]"."""
    data = (DATA / "delayed-and-delivered.eml").read_bytes()
    result = dsn_to_report(data, "", ["alice@gw.example.ac.uk"], dsn_gateway_context())
    report = result.apdu
    assert isinstance(report, Report)
    assert report.subject_identifier == MTSIdentifier(
        domain=GlobalDomainIdentifier(country="GB", admd=" ", prmd="UK.AC"), local="msg-0042")
    (only,) = report.recipients
    assert isinstance(only.outcome, DeliveryOutcome)
    assert only.outcome.delivery_time == only.arrival_time  # §5.1.8.3 default
    assert only.indicators == PerRecipientIndicators.ORIGINATING_MTA_REPORT
    (ipm,) = result.extra
    assert isinstance(ipm, Message)
    assert decode_apdu(encode_apdu(report)) == report
    encode_apdu(ipm)


def test_only_delayed_gives_an_ipm() -> None:
    """R-7: no failed/delivered recipient -> no report, only the IPM."""
    data = (DATA / "delayed-and-delivered.eml").read_bytes().replace(
        b"Action: delivered", b"Action: relayed")
    result = dsn_to_report(data, "", ["alice@gw.example.ac.uk"], dsn_gateway_context())
    assert isinstance(result.apdu, Message) and result.extra == ()


def test_not_a_dsn() -> None:
    with pytest.raises(NotADSNError):
        dsn_to_report(b"Subject: hi\r\n\r\nhello\r\n", "", ["a@b.example"], dsn_gateway_context())


# ------------------------------------------------------------ round trip


@pytest.mark.parametrize("make", [example_1, example_2, samples.report], ids=[
    "rfc-example-1", "rfc-example-2", "sample"])
def test_round_trip(make: object) -> None:
    """report -> DSN -> report keeps identifiers, recipients, outcomes and reason/diagnostic
    (R-10's optional reverse mapping of the X400-* fields makes it exact)."""
    assert callable(make)
    report = make()
    ctx = context()
    dsn = report_to_dsn(report, ctx)
    back = dsn_to_report(dsn.message, dsn.mail_from, dsn.rcpt_to, ctx).apdu
    assert isinstance(back, Report)
    assert back.identifier == report.identifier
    assert back.subject_identifier == report.subject_identifier
    mapped = ctx.mapper.to_rfc822  # the destination crosses as an 822 address (§5.3.8.3)
    assert mapped(back.destination).address == mapped(report.destination).address
    assert back.content_identifier == report.content_identifier
    for a, b in zip(report.recipients, back.recipients, strict=True):
        # the DSN carries the std-or text form (§5.3.8.1): what that form keeps comes back
        assert b.actual_recipient.address == ORAddress.parse(str(a.actual_recipient.address))
        assert (b.originally_intended_recipient is None) == (
            a.originally_intended_recipient is None)
        assert b.number == a.number
        assert b.outcome == a.outcome
        assert b.arrival_time == a.arrival_time
    encode_apdu(back)


@given(st.sampled_from(list(R6)))
def test_round_trip_any_rfc_code(code: tuple[int, int | None]) -> None:
    """Every R-6 reason/diagnostic survives report -> DSN -> report via Diagnostic-Code."""
    base = example_2()
    rcpt = base.recipients[0]
    outcome = NonDeliveryOutcome(reason=code[0], diagnostic=code[1])
    report = Report(**{**{f: getattr(base, f) for f in base.__slots__}, "recipients": (
        ReportedRecipient(**{**{f: getattr(rcpt, f) for f in rcpt.__slots__},
                             "outcome": outcome}),)})
    dsn = report_to_dsn(report, context())
    back = dsn_to_report(dsn.message, "", dsn.rcpt_to, context()).apdu
    assert isinstance(back, Report) and back.recipients[0].outcome == outcome


# ------------------------------------------------------------ probes (§5.3.9, G-3)


def test_answer_probe() -> None:
    """§5.3.9: the gateway answers a probe; supplementary information names the gateway."""
    probe = samples.probe()
    names = [r.name for r in probe.envelope.recipients]
    report = answer_probe(probe, context(), lambda n: n == names[0])
    assert report.subject_identifier == probe.envelope.identifier
    assert report.destination == probe.envelope.originator
    outcomes = {r.actual_recipient: r.outcome for r in report.recipients}
    assert isinstance(outcomes[names[0]], DeliveryOutcome)
    assert all(r.supplementary_information == "Probe serviced by MIXER gateway "
               "bells.cs.ucl.ac.uk" for r in report.recipients)
    if len(report.recipients) > 1:
        assert isinstance(report.recipients[1].outcome, NonDeliveryOutcome)
    assert decode_apdu(encode_apdu(report)) == report


# ------------------------------------------------------------ fallbacks without the converters


def test_returned_content_fallback_when_to_mime_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """R-2: when to_mime is missing or fails, the returned content is the BER dump as
    application/octet-stream (§5.3.8.1 "recommended"), recorded as a defect."""
    import bridge.convert as package

    monkeypatch.setattr(package, "to_mime", None, raising=False)
    result = report_to_dsn(example_1(), context())
    parts = parse(result.message).get_payload()
    assert isinstance(parts, list)
    assert parts[2].get_content_type() == "application/octet-stream"
    assert parts[2].get_payload(decode=True) == example_1().returned_content
    assert any(d.kind == "encapsulated" for d in result.defects)


def test_dsn_fallback_when_to_x400_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """R-7 / R-8 without to_x400: the returned content and the IPM are minimal IPMs (IA5 text
    body parts, one per part of the DSN), recorded as defects; nothing is dropped."""
    import bridge.convert as package

    monkeypatch.setattr(package, "to_x400", None, raising=False)
    data = (DATA / "delayed-and-delivered.eml").read_bytes()
    result = dsn_to_report(data, "", ["alice@gw.example.ac.uk"], dsn_gateway_context())
    report = result.apdu
    assert isinstance(report, Report)
    returned = decode_content(report.returned_content or b"")
    assert isinstance(returned, IPM) and len(returned.body) == 3
    texts = [b.text for b in returned.body if isinstance(b, IA5TextBodyPart)]
    assert "Action: delayed" in texts[1]  # the DSN part as text (§5.1.8.3)
    (ipm,) = result.extra
    assert isinstance(ipm, Message)
    assert decode_apdu(encode_apdu(ipm)) == ipm
    assert sum(d.kind == "encapsulated" for d in result.defects) == 2
