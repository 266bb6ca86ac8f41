"""Archived messages towards X.400: the envelope from the headers (bridge/convert/archive.py,
issue 13).  Messages without To/Cc, with 8-bit or broken addresses, report-shaped messages
that are no DSN: each converts, and the report says how."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.convert.archive import archive_envelope, archive_to_x400
from bridge.model.apdu import Message
from tests.helpers import gateway_context
from tests.test_corpus import corpus_dir, corpus_messages

CTX = gateway_context(datetime(2026, 12, 7, 18, 0, tzinfo=UTC))


def _mail(head: bytes) -> bytes:
    return head + b"Subject: archived\r\nDate: Sat, 28 Nov 2026 09:30:15 +0000\r\n\r\nhi\r\n"


def test_to_cc_bcc_and_return_path() -> None:
    env = archive_envelope(_mail(b"Return-Path: <bounce@cs.ucl.ac.uk>\r\nFrom: a@cs.ucl.ac.uk\r\n"
                                 b"To: b@cs.ucl.ac.uk\r\nCc: c@cs.ucl.ac.uk, b@cs.ucl.ac.uk\r\n"),
                           CTX)
    assert env.mail_from == "bounce@cs.ucl.ac.uk"
    assert env.rcpt_to == ("b@cs.ucl.ac.uk", "c@cs.ucl.ac.uk") and env.defects == ()


def test_the_null_reverse_path_is_kept() -> None:
    env = archive_envelope(_mail(b"Return-Path: <>\r\nFrom: a@cs.ucl.ac.uk\r\n"
                                 b"To: b@cs.ucl.ac.uk\r\n"), CTX)
    assert env.mail_from == ""


@pytest.mark.parametrize("field", [b"Delivered-To", b"X-Original-To", b"Envelope-To",
                                   b"Resent-To", b"Apparently-To"])
def test_without_to_cc_the_delivery_fields_name_the_recipient(field: bytes) -> None:
    env = archive_envelope(_mail(b"From: a@cs.ucl.ac.uk\r\n" + field + b": d@cs.ucl.ac.uk\r\n"),
                           CTX)
    assert env.rcpt_to == ("d@cs.ucl.ac.uk",)
    assert [d.kind for d in env.defects] == ["envelope"] and not env.defects[0].lossy


def test_without_any_recipient_the_owner_or_the_postmaster() -> None:
    data = _mail(b"From: a@cs.ucl.ac.uk\r\n")
    assert archive_envelope(data, CTX, owner="Archivist <arch@cs.ucl.ac.uk>").rcpt_to == (
        "arch@cs.ucl.ac.uk",)
    env = archive_envelope(data, CTX)
    assert env.rcpt_to == (CTX.postmaster,)
    assert "postmaster" in env.defects[-1].detail
    res = archive_to_x400(data, CTX)
    assert isinstance(res.apdu, Message) and len(res.apdu.envelope.recipients) == 1


def test_addresses_that_cannot_be_carried_are_left_out_with_a_defect() -> None:
    env = archive_envelope(_mail(b"From: \xef\xbf\xbdgoogle@example.com\r\n"
                                 b"To: \xc3\xa9t\xc3\xa9@cs.ucl.ac.uk, @cs.ucl.ac.uk, "
                                 b"<@develop:x@cs.ucl.ac.uk>, ok@cs.ucl.ac.uk\r\n"), CTX)
    assert env.rcpt_to == ("x@cs.ucl.ac.uk", "ok@cs.ucl.ac.uk")   # the route is dropped
    assert env.mail_from == ""
    details = " | ".join(d.detail for d in env.defects)
    assert "non-ASCII" in details and "left out of the envelope" in details


def test_a_report_without_a_status_part_is_a_message() -> None:
    data = (b"From: MAILER-DAEMON@cs.ucl.ac.uk\r\nTo: a@cs.ucl.ac.uk\r\nSubject: failure\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/report; "
            b"report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain"
            b"\r\n\r\nyour mail failed\r\n--b--\r\n")
    res = archive_to_x400(data, CTX)
    assert isinstance(res.apdu, Message)
    assert any(d.kind == "dsn" and "converted as a message" in d.detail for d in res.defects)


def test_every_corpus_message_converts_to_x400() -> None:
    root = corpus_dir()
    if root is None:
        pytest.skip("corpus not found")
    failed = []
    for message in corpus_messages(root):
        try:
            archive_to_x400(message.read(), CTX)
        except Exception as exc:  # noqa: BLE001 - collected and shown
            failed.append(f"{message.id}: {exc!r}")
    assert failed == []


# ------------------------------------------------------------------ X.400 -> MIME, archival

def test_the_archive_policy_converts_what_the_gateway_refuses() -> None:
    """The bundled messages, given a critical message-token nothing maps: RFC 2156 §5.3.6
    refuses them (right for a gateway), the archive policy converts them and keeps the token
    where a person sees it, with a defect.  (Their critical message-security-label maps to
    SIO-Label, MIL-5.)"""
    from dataclasses import replace
    from pathlib import Path

    from bridge.codec import decode_apdu
    from bridge.convert.mime_headers import UnsupportedCriticalFunction
    from bridge.convert.policy import ARCHIVE
    from bridge.convert.to_mime import x400_to_mime
    from bridge.model.common import Criticality, Extension, Opaque

    token = Extension(type=16, value=Opaque(ber=b"\x30\x00"), criticality=Criticality.FOR_DELIVERY)
    archive = gateway_context(datetime(2026, 12, 7, 18, 0, tzinfo=UTC), policy=ARCHIVE)
    for path in sorted((Path(__file__).parent / "data" / "samples").glob("message-*.p1.ber")):
        message = decode_apdu(path.read_bytes())
        assert isinstance(message, Message)
        message = replace(message, envelope=replace(
            message.envelope, extensions=message.envelope.extensions + (token,)))
        with pytest.raises(UnsupportedCriticalFunction):
            x400_to_mime(message, CTX)
        res = x400_to_mime(message, archive)
        kept = [line for line in res.message.split(b"\r\n")
                if line.startswith(b"X400-Unmapped-Extension:")]
        assert any(b"message-token (16); critical" in line for line in kept)
        assert any(line.startswith(b"SIO-Label:") for line in res.message.split(b"\r\n"))
        assert res.message.isascii()
        assert any(d.kind == "extension-kept" and d.lossy for d in res.defects)
