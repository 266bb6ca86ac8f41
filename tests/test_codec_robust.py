"""Hostile and broken input: the codec answers with a located DecodeError (component path +
byte offset), never another exception, never a hang (bounded depth and lengths)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import samples
from bridge.codec import decode_any, decode_apdu, decode_content
from bridge.errors import BridgeError, DecodeError
from bridge.model import Message
from tests.conftest import sample_file

NAMES = sorted(samples.all_samples())


def decode_fully(data: bytes) -> object:
    """What `x400bridge dump` does: the APDU or P22 value, and the P22 content of a message."""
    obj = decode_any(data)
    if isinstance(obj, Message) and obj.envelope.content_type in (2, 22):
        decode_content(obj.content)
    return obj


@pytest.mark.parametrize("name", ["message-text.p1", "report.p1", "ipn-receipt.p22"])
def test_every_truncation_is_a_located_error(name: str) -> None:
    data = sample_file(name).read_bytes()
    for cut in range(len(data)):
        with pytest.raises(DecodeError) as err:
            decode_any(data[:cut])
        assert err.value.offset is not None, cut


@pytest.mark.parametrize("name", NAMES)
def test_trailing_garbage_is_rejected_at_its_offset(name: str) -> None:
    data = sample_file(name).read_bytes()
    for junk in (b"\x00", b"\x00\x00", b"\x04\x00", b"garbage"):
        with pytest.raises(DecodeError) as err:
            decode_any(data + junk)
        assert err.value.offset == len(data)


def test_error_names_the_component_path() -> None:
    from bridge.codec import asn1
    from bridge.codec.orname import orname_to

    data = bytearray(sample_file("message-text.p1").read_bytes())
    # the originator's country name: [APPLICATION 1] (0x61) -> [APPLICATION 9] (0x69);
    # ORName = 60 len (30 len (61 ...)) with short-form lengths
    originator = data.index(asn1.encode("ORName", orname_to(samples.DIETRICH)))
    assert data[originator + 4] == 0x61
    data[originator + 4] = 0x69
    with pytest.raises(DecodeError) as err:
        decode_apdu(bytes(data))
    assert "originator-name" in err.value.path
    assert err.value.offset is not None and err.value.offset >= originator
    assert str(err.value).startswith(err.value.reason)
    assert "offset" in str(err.value)


def test_non_ber_and_empty_input() -> None:
    for data in (b"", b"\x00", b"From: someone\r\n\r\nhello", bytes(range(256))):
        with pytest.raises(DecodeError):
            decode_any(data)


def test_deep_nesting_and_huge_lengths_are_bounded() -> None:
    deep = b"\xa0\x80" * 100_000  # [0] constructed, indefinite, never closed
    with pytest.raises(DecodeError):
        decode_any(deep)
    huge = b"\xa0\x84\x7f\xff\xff\xff" + b"\x00" * 64  # claims 2 GiB
    with pytest.raises(DecodeError):
        decode_any(huge)


def test_content_that_is_not_p22_is_reported_not_raised() -> None:
    from bridge.dump import render

    msg = samples.message(samples.text_ipm())
    broken = Message(envelope=msg.envelope, content=b"\x30\x03\x02\x01")
    text = render(broken)
    assert "undecodable P22" in text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), data=st.data())
def test_mutated_encodings_never_escape_as_other_exceptions(name: str, data: st.DataObject) -> None:
    original = bytearray(sample_file(name).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(original) - 1))
        original[pos] = data.draw(st.integers(0, 255))
    try:
        decode_fully(bytes(original))
    except BridgeError:
        pass  # DecodeError, or a charset error carried as a BridgeError


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_escape_as_other_exceptions(blob: bytes) -> None:
    try:
        decode_fully(blob)
    except BridgeError:
        pass


def _forwarded(levels: int) -> object:
    from bridge.model import MessageBodyPart

    ipm = samples.text_ipm("innermost", 40)
    for i in range(levels):
        inner = ipm
        ipm = samples.text_ipm(f"level {i}", 40)
        ipm = type(ipm)(heading=ipm.heading, body=(MessageBodyPart(ipm=inner),))
    return ipm


def test_deeply_forwarded_messages() -> None:
    """Forwarded IPMs nest (X.420 §7.3.9); a dozen levels decode, absurd depth is refused."""
    from bridge.codec import encode_content

    ok = _forwarded(12)
    assert decode_content(encode_content(ok)) == ok  # type: ignore[arg-type]
    too_deep = encode_content(_forwarded(40))  # type: ignore[arg-type]
    with pytest.raises(DecodeError) as err:
        decode_content(too_deep)
    assert "deeper" in err.value.reason
