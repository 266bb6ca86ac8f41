"""bridge.convert.mimeparse gives what the email package's full parse gives.

Compared on everything the conversion reads: the tree's structure, each part's header fields
as stored (the policy parses them from those when read), defects, payloads and the unixfrom
line -- for the ~290 corpus messages (skipped without the corpus), hand-picked edge cases of
the header/body boundary, and generated messages.
"""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser
from email.policy import Policy, compat32

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.convert import mimeparse
from bridge.convert.x400_bodies import PARSE_POLICY
from tests.test_corpus import corpus_dir, corpus_messages

POLICIES = [PARSE_POLICY, compat32]


def _shape(msg: Message) -> object:
    """Everything of a parsed message the comparison covers, as plain values."""
    payload = msg.get_payload()
    if isinstance(payload, list):
        body: object = [_shape(part) for part in payload]
    else:
        body = payload
    return (msg.get_unixfrom(), [(k, str(v)) for k, v in msg.raw_items()],
            [type(d).__name__ for d in msg.defects], msg.get_content_type(),
            msg.preamble, msg.epilogue, body)


def _assert_same(data: bytes, policy: Policy) -> None:
    full = BytesParser(policy=policy).parsebytes(data)
    assert _shape(mimeparse.parse_message(data, policy)) == _shape(full)


EDGES = [
    b"From: a@b\r\nTo: c@d\r\n\r\nbody\r\nline 2\r\n",
    b"From: a@b\nTo: c@d\n\nbare LF body\nno final newline",
    b"From: a@b\r\nSubject: x\r\n\r\n",                          # empty body
    b"From: a@b\r\nSubject: no body and no empty line\r\n",
    b"From: a@b\r\nSubject: x",                                  # no line ending at all
    b"\r\nbody only: the header section is empty\r\n",
    b"From: a@b\r\nnot a header line\r\nTo: c@d\r\n\r\nbody\r\n",  # parser ends early
    b"From: a@b\rTo: c@d\r\rbare CR line endings\r",
    b"From: a@b\r\nSubject: x\r\n\r\n\r\nbody after two empty lines\r\n",
    b"From someone Mon Dec  7 22:00:00 2026\r\nFrom: a@b\r\n\r\nmbox line first\r\n",
    b"From: a@b\r\nSubject: folded\r\n\tcontinued\r\n \tagain\r\n\r\nbody\r\n",
    b"From: a@b\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\npre\r\n--XX\r\n"
    b"Content-Type: text/plain\r\n\r\none\r\n--XX--\r\nepi\r\n",
    b"From: a@b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n",
    b"From: a@b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
    b"Final-Recipient: rfc822; a@b\r\nAction: failed\r\nStatus: 5.0.0\r\n",
    b"From: a@b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xc3\xa9t\xc3\xa9 \xff\r\n",
    b"From: \xc3\xa9 <a@b>\r\nSubject: 8-bit header\r\n\r\nbody\r\n",
    b"From: a@b\r\nContent-Type: multipart/mixed\r\n\r\nmultipart without a boundary\r\n",
    b"From: a@b\r\nContent-Type: MULTIPART/Mixed; boundary=\"q\"\r\n\r\n--q\r\n\r\nx\r\n--q--\r\n",
    b"From: a@b\r\nContent-Type: text/plain\r\nContent-Type: multipart/mixed; boundary=b\r\n"
    b"\r\n--b\r\n\r\nx\r\n--b--\r\n",
    b"From: a@b\r\n: empty field name\r\n\r\nbody\r\n",
    b"From: a@b\r\nX-Weird:\r\n\r\n",
    b"From: a@b\n\r\nmixed endings\r\n",
    b"From: a@b\r\n\n\r\nLF empty line after CRLF\r\n",
]


@pytest.mark.parametrize("policy", POLICIES, ids=["parse-policy", "compat32"])
@pytest.mark.parametrize("data", EDGES, ids=range(len(EDGES)))
def test_edge_cases_parse_as_the_email_package_does(data: bytes, policy: Policy) -> None:
    _assert_same(data, policy)


def test_a_leaf_body_is_taken_whole_and_a_composite_one_parsed() -> None:
    body = b"".join(b"%d line\r\n" % i for i in range(100))
    leaf = mimeparse.parse_message(b"From: a@b\r\n\r\n" + body, PARSE_POLICY)
    assert leaf.get_payload() == body.decode()
    nested = mimeparse.parse_message(EDGES[11], PARSE_POLICY)
    assert nested.is_multipart() and nested.preamble == "pre"


def test_corpus_messages_parse_as_the_email_package_does() -> None:
    root = corpus_dir()
    if root is None:
        pytest.skip("corpus not found (../shared/corpus or $X400BRIDGE_CORPUS)")
    messages = corpus_messages(root)
    assert len(messages) > 200
    for m in messages:
        data = m.read()
        for policy in POLICIES:
            try:
                _assert_same(data, policy)
            except AssertionError as exc:
                raise AssertionError(f"{m.id}: {exc}") from None


_LINE_ENDS = st.sampled_from(["\r\n", "\n", "\r"])
_HEADER = st.one_of(
    st.builds("{}: {}".format, st.sampled_from(["From", "To", "Subject", "Content-Type",
                                                "X-A", "Received", "MIME-Version"]),
              st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)),
    st.sampled_from(["\tcontinued", " x", "not a header", "From x", "Content-Type: "
                     "multipart/mixed; boundary=b", "Content-Type: message/rfc822", ""]))
_BODY_LINE = st.one_of(st.text(max_size=20), st.sampled_from(["--b", "--b--", "Subject: x"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_HEADER, _LINE_ENDS), max_size=8),
       st.lists(st.tuples(_BODY_LINE, _LINE_ENDS), max_size=8), st.booleans())
def test_generated_messages_parse_as_the_email_package_does(
        header: list[tuple[str, str]], body: list[tuple[str, str]], crlf_sep: bool) -> None:
    text = "".join(a + b for a, b in header) + ("\r\n" if crlf_sep else "\n") + \
        "".join(a + b for a, b in body)
    _assert_same(text.encode("utf-8", "surrogateescape"), PARSE_POLICY)
