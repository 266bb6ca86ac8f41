"""Limits checked before any parser sees a message (bridge/convert/limits.py, issue 12 item 1).

The probe's poison message -- a Subject of 50,000 RFC 2047 encoded-words, 1.1 MB -- made the
stdlib parser grow past 20 GB.  It is now refused before parsing, in linear time and with
next to no memory; every message of the real corpus passes the default limits.
"""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.convert.limits import MessageLimits, MessageTooComplex, check_limits
from bridge.convert.reports import internet_to_x400
from tests.helpers import gateway_context
from tests.test_corpus import corpus_dir, corpus_messages

HEAD = b"From: a@example.org\r\nTo: b@example.org\r\n"


def _subject_of(words: int) -> bytes:
    return HEAD + b"Subject: " + b" ".join([b"=?utf-8?q?ab=C3=A9?="] * words) + \
        b"\r\n\r\nbody\r\n"


def test_the_probes_poison_message_is_refused_before_parsing() -> None:
    data = _subject_of(50_000)
    tracemalloc.start()
    try:
        with pytest.raises(MessageTooComplex, match="50000 encoded-words in one field"):
            check_limits(data, MessageLimits(header_octets=0))
        with pytest.raises(MessageTooComplex, match="header of 1050049 octets"):
            check_limits(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(data)                     # no parser ran: a few copies at most
    ctx = gateway_context(datetime(2026, 12, 7, 18, 0, tzinfo=UTC))
    with pytest.raises(MessageTooComplex) as info:
        internet_to_x400(data, "a@example.org", ["b@example.org"], ctx)
    assert (info.value.smtp.code, info.value.smtp.enhanced) == (552, "5.3.4")
    assert (info.value.x400.reason, info.value.x400.diagnostic) == (1, 7)


def test_encoded_words_in_a_body_part_header_count_too() -> None:
    part = b"Content-Type: text/plain;\r\n name=\"" + b"=?utf-8?q?x?=" * 6000 + b"\"\r\n"
    data = HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + part + \
        b"\r\nx\r\n--b--\r\n"
    with pytest.raises(MessageTooComplex, match="6000 encoded-words"):
        check_limits(data)


def test_many_encoded_words_spread_over_fields_pass() -> None:
    fields = b"".join(b"X-F%d: =?utf-8?q?x?= =?utf-8?q?y?=\r\n" % i for i in range(3000))
    check_limits(HEAD + fields + b"\r\nbody\r\n")   # 6,000 words, none over 5,000 per field


def test_header_size_and_field_count() -> None:
    with pytest.raises(MessageTooComplex, match="header fields"):
        check_limits(HEAD + b"X-A: 1\r\n" * 11_000 + b"\r\nbody\r\n")
    with pytest.raises(MessageTooComplex, match="octets"):
        check_limits(HEAD + b"X-A: " + b"a" * 1_100_000 + b"\r\n\r\nbody\r\n")
    check_limits(HEAD + b"X-A: 1\r\n" * 11_000 + b"\r\nbody\r\n",
                 MessageLimits(header_fields=0))            # 0: no limit


@given(st.binary(max_size=4000))
def test_any_octets_only_pass_or_are_refused(data: bytes) -> None:
    try:
        check_limits(data, MessageLimits(header_octets=500, header_fields=20, encoded_words=3))
    except MessageTooComplex:
        pass


def test_every_corpus_message_passes_the_default_limits() -> None:
    root = corpus_dir()
    if root is None:
        pytest.skip("corpus not found")
    for message in corpus_messages(root):
        check_limits(message.read())
