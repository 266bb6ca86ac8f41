"""RFC 6758 MT-Priority header field (bridge.smtp.tunnel): reading (§3.1 rule 4a, §4 syntax)
and replacing it toward servers without MT-PRIORITY (§3.3).  CONFORMANCE MIL-4."""

from __future__ import annotations

import email
import email.policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.smtp.tunnel import header_priority, retunnel

BODY = b"\r\nMT-Priority: 7\r\n"


@pytest.mark.parametrize(("header", "expected"), [
    (b"MT-Priority: 4\r\n", 4),
    (b"mt-priority:-3\r\n", -3),
    (b"MT-Priority: 4 (ultra)\r\n", 4),                     # §4's example
    (b"MT-Priority: (a (nested) comment) 0 \r\n", 0),
    (b"MT-Priority:\r\n  -9\r\n", -9),                       # folded
    (b"MT-Priority: (unclosed 4\r\n", None),
    (b"MT-Priority: +4\r\n", None),                          # RFC 6710 §7 priority-value
    (b"MT-Priority: -0\r\n", None),
    (b"MT-Priority: 04\r\n", None),
    (b"MT-Priority: 10\r\n", None),
    (b"MT-Priority: 4 4\r\n", None),
    (b"MT-Priority: 1\r\nMT-Priority: 1\r\n", None),          # not a single field
    (b"X-MT-Priority: 4\r\n", None),
    (b"", None),
])
def test_header_priority(header: bytes, expected: int | None) -> None:
    message = b"From: a@b.example\r\n" + header + b"Subject: s\r\n" + BODY
    assert header_priority(message) == expected


def test_only_the_header_is_read() -> None:
    assert header_priority(b"From: a@b.example\r\n" + BODY) is None
    assert header_priority(b"\r\nMT-Priority: 4\r\n") is None       # empty header


@given(st.one_of(st.none(), st.integers(-9, 9)),
       st.lists(st.sampled_from([b"MT-Priority: 3\r\n", b"mt-priority:\r\n\t-1 (x)\r\n",
                                 b"Subject: MT-Priority: 2\r\n", b"X-A: b\r\n"]),
                max_size=5))
def test_retunnel_leaves_exactly_one_field(value: int | None, fields: list[bytes]) -> None:
    """§3.3: after retunnel the header holds one MT-Priority field with the value (none
    without a value); every other field and the body are unchanged, in order."""
    message = b"From: a@b.example\r\n" + b"".join(fields) + BODY
    out = retunnel(message, value)
    assert header_priority(out) == value
    parsed = email.message_from_bytes(out, policy=email.policy.compat32)
    assert parsed.get_all("MT-Priority") == (None if value is None else [str(value)])
    kept = [f for f in fields if not f.lower().startswith(b"mt-priority")]
    assert out.endswith(b"From: a@b.example\r\n" + b"".join(kept) + BODY)
