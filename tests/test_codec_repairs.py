"""Forms real MTAs send that the standards do not allow: accepted, repaired, never silent.

PP 6.0 (x400-samples/pp) writes 8-bit header text into IA5String and PrintableString fields as
it is, and UTCTimes with the year minus 1900 (``1261207170142Z``) or four digits.  The decoder
reads them (:mod:`bridge.codec.repairs`), the conversion records a ``repaired`` defect, and our
own encoder still refuses to *generate* such values.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.codec import decode_apdu, decode_content, encode_apdu, encode_content, repairs
from bridge.codec.values import decode_utctime
from bridge.convert.to_mime import x400_to_mime
from bridge.errors import DecodeError, EncodeError
from bridge.model.apdu import Message
from bridge.model.ipm import IPM
from tests.helpers import gateway_context

SAMPLE = Path(__file__).parent / "data" / "samples" / "message-text.p1.ber"


def _message_with(content_id: str, body_text: str) -> Message:
    m = decode_apdu(SAMPLE.read_bytes())
    assert isinstance(m, Message)
    ipm = decode_content(m.content)
    assert isinstance(ipm, IPM)
    body = (dataclasses.replace(ipm.body[0], text=body_text),)  # type: ignore[call-arg]
    content = encode_content(dataclasses.replace(ipm, body=body))
    exts = tuple(e for e in m.envelope.extensions if not e.criticality)   # convertible
    return dataclasses.replace(m, content=content, envelope=dataclasses.replace(
        m.envelope, content_identifier=content_id, extensions=exts))


def _eight_bit() -> bytes:
    """The sample with ISO 8859-1 octets where PP puts them: the content identifier
    (PrintableString) and an IA5Text body part (IA5String)."""
    data = encode_apdu(_message_with("Gruesse", "Gruesse aus Muenchen"))
    data = data.replace(b"Gruesse aus Muenchen", b"Gr\xfc\xdfe aus M\xfcnchen!!!")
    data = data.replace(b"Gruesse", b"Gr\xfc\xdfe  ")
    return data


def test_8bit_octets_in_7bit_strings_are_read_and_noted() -> None:
    data = _eight_bit()
    m = decode_apdu(data)
    assert isinstance(m, Message)
    assert m.envelope.content_identifier == "Grüße  "
    assert any("PrintableString" in n and "ISO 8859-1" in n for n in m.repairs)
    with repairs.collecting() as notes:
        ipm = decode_content(m.content)
    assert isinstance(ipm, IPM) and ipm.body[0].text == "Grüße aus München!!!"  # type: ignore
    assert any("IA5String" in n for n in notes)
    # what we generate stays strict: the repaired value cannot be encoded back as IA5
    with pytest.raises(EncodeError):
        encode_apdu(m)


def test_repairs_become_defects_of_the_conversion() -> None:
    m = decode_apdu(_eight_bit())
    assert isinstance(m, Message)
    res = x400_to_mime(m, gateway_context(datetime(2026, 12, 7, 18, 0, tzinfo=UTC)))
    kinds = [(d.kind, d.lossy) for d in res.defects]
    assert ("repaired", False) in kinds
    assert "M\u00fcnchen".encode() in res.message or b"M=C3=BCnchen" in res.message or \
        b"TcO8bmNoZW4" in res.message or b"M=FCnchen" in res.message


def test_utf8_octets_are_read_as_utf8() -> None:
    data = encode_apdu(_message_with("Gruesse", "x")).replace(b"Gruesse", b"Gr\xc3\xbc\xc3\x9fe")
    m = decode_apdu(data)
    assert isinstance(m, Message) and m.envelope.content_identifier == "Grüße"
    assert any("UTF-8" in n for n in m.repairs)


def test_clean_input_has_no_repairs() -> None:
    m = decode_apdu(SAMPLE.read_bytes())
    assert m.repairs == ()


@pytest.mark.parametrize(("raw", "when"), [
    (b"1261207170142Z", datetime(2026, 12, 7, 17, 1, 42, tzinfo=UTC)),   # PP: year - 1900
    (b"12612071701Z", datetime(2026, 12, 7, 17, 1, tzinfo=UTC)),
    (b"20251207170000Z", datetime(2025, 12, 7, 17, 0, tzinfo=UTC)),     # PP: four digits
])
def test_utctime_year_repairs(raw: bytes, when: datetime) -> None:
    with repairs.collecting() as notes:
        assert decode_utctime(raw) == when
    assert len(notes) == 1 and raw.decode() in notes[0]


def test_valid_utctimes_need_no_repair() -> None:
    with repairs.collecting() as notes:
        assert decode_utctime(b"261207170142Z").year == 2026
        assert decode_utctime(b"8012312359Z").year == 1980
    assert notes == []
    for bad in (b"1261307170142Z", b"2613071701Z", b"x"):
        with pytest.raises(DecodeError):
            decode_utctime(bad)


@given(st.lists(st.text(max_size=5), max_size=200))
def test_notes_are_bounded_and_collectors_nest(details: list[str]) -> None:
    with repairs.collecting() as outer:
        with repairs.collecting() as inner:
            for d in details:
                repairs.note(d)
        assert inner == outer
    assert len(outer) <= repairs.MAX_NOTES + 1
    assert len(set(outer)) == len(outer)
