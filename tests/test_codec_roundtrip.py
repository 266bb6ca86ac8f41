"""The codec: model -> BER -> model is the identity for every sample (every envelope field,
heading field, body part type, extension attribute and trace element the model has), and
the committed golden files still decode to the same values (X.411 §12, X.420 §7–8)."""

from __future__ import annotations

import random

import pytest

from bridge import samples
from bridge.codec import asn1, decode_any, decode_apdu, decode_content
from bridge.model import IPM, IPN, Message
from tests.bertools import canonical, rewrite
from tests.conftest import encode_sample, sample_file
from tests.helpers import recorded_open_types

NAMES = sorted(samples.all_samples())


@pytest.mark.parametrize("name", NAMES)
def test_encode_decode_identity(name: str, all_samples: dict[str, object]) -> None:
    obj = all_samples[name]
    data = encode_sample(obj)
    back = decode_content(data) if isinstance(obj, IPM | IPN) else decode_apdu(data)
    assert back == obj


@pytest.mark.parametrize("name", NAMES)
def test_golden_file_matches(name: str, all_samples: dict[str, object]) -> None:
    """The committed BER (tests/data/samples) decodes to the sample and re-encodes to itself.

    Regenerate with ``python -m tests.make_samples`` after an intended encoding change.
    """
    golden = sample_file(name).read_bytes()
    assert decode_any(golden) == all_samples[name]
    assert encode_sample(all_samples[name]) == golden


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("variant", ["indefinite", "shuffled-sets", "constructed-strings", "all"])
def test_other_valid_encodings_decode_to_the_same_value(name: str, variant: str) -> None:
    """What real MTAs send: indefinite lengths (also inside open types), SET members in any
    order, constructed strings (X.690 §8.1.3.6, §8.11.2, §8.7.3/§8.23.6)."""
    golden = sample_file(name).read_bytes()
    kw: dict[str, object] = {
        "indefinite": {"indefinite": True},
        "shuffled-sets": {"shuffle_sets": random.Random(name)},
        "constructed-strings": {"split_strings": True},
        "all": {"indefinite": True, "shuffle_sets": random.Random(name), "split_strings": True},
    }[variant]
    variant_bytes = rewrite(golden, **kw)  # type: ignore[arg-type]
    if variant_bytes == golden:
        pytest.skip("nothing in this sample that the rewrite changes")
    assert canonical(decode_any(variant_bytes)) == canonical(decode_any(golden))


def test_message_content_is_p22() -> None:
    msg = decode_apdu(sample_file("message-full.p1").read_bytes())
    assert isinstance(msg, Message)
    assert decode_content(msg.content) == samples.full_ipm()


@pytest.mark.parametrize("name", NAMES)
def test_samples_satisfy_the_asn1_constraints(name: str) -> None:
    """Our encodings respect SIZE bounds and PrintableString/NumericString alphabets (X.411
    upper bounds): strict decoding of the outer value and of every open type inside passes."""
    data = sample_file(name).read_bytes()
    with recorded_open_types() as calls:
        obj = decode_any(data)
        if isinstance(obj, Message):
            decode_content(obj.content)
    assert calls
    for type_name, value in calls:
        asn1.decode(type_name, value, strict=True)


# ------------------------------------------------- FTBP parameters (RFC 2157 §2.3.3)


def _ftbp_params(b: object) -> dict[str, object]:
    from bridge.codec.p22ext import extended_body_part_to

    out = extended_body_part_to(b)  # type: ignore[arg-type]
    value = asn1.decode("FileTransferParameters", out["parameters"]["value"])
    assert isinstance(value, dict)
    return value


def _ftbp_from(params: dict[str, object]) -> object:
    from bridge.codec.p22ext import extended_body_part_from

    return extended_body_part_from({
        "data": {"type-id": "2.6.1.4.12", "value": asn1.encode("FileTransferData", [
            {"encoding": ("octet-aligned", b"x")}])},
        "parameters": {"type-id": "2.6.1.11.12",
                       "value": asn1.encode("FileTransferParameters", params)}})


def test_ftbp_typed_fields_round_trip() -> None:
    """application-reference, the first user-visible-string, the Content-ID
    related-stored-file and the rfc-822-field extension are typed; everything else of the
    same components stays in other_parameters, and model -> BER -> model is the identity."""
    from bridge.model import FileTransferBodyPart, IPMIdentifier, Opaque

    other = asn1.encode("FileTransferParameters", {
        "related-stored-file": [{"file-identifier": ("pathname-and-version", {
            "pathname": ("incomplete-pathname", [b"old.bin"])})}],
        "environment": {"operating-system": "1.2.3", "user-visible-string": [b"second"]},
        "extensions": [{"type": "1.2.3.4", "value": b"\x05\x00"}]})
    b = FileTransferBodyPart(
        data=b"x", application_reference="1.2.840.113556.4.2", description="Grüße",
        related_message=IPMIdentifier(user=samples.DIETRICH, local="cid1"),
        headers=("Content-Language: de", "X-A: 1"), other_parameters=Opaque(ber=other))
    params = _ftbp_params(b)
    assert params["environment"] == {
        "application-reference": ("registered-identifier", "1.2.840.113556.4.2"),
        "operating-system": "1.2.3", "user-visible-string": [b"Gr\xfc\xdfe", b"second"]}
    first, second = params["related-stored-file"]  # type: ignore[misc]
    assert first["relationship"] == ("descriptive-relationship", b"Internet MIME Body Part")
    assert first["file-identifier"][1]["application-cross-reference"] == b""
    assert second["file-identifier"][0] == "pathname-and-version"
    assert [e["type"] for e in params["extensions"]] == [  # type: ignore[attr-defined]
        "1.3.6.1.7.1.3.2", "1.2.3.4"]
    assert decode_content_of(encode_content_of(b)) == b


def encode_content_of(b: object) -> bytes:
    from bridge.codec import encode_content
    from bridge.model import Heading, IPMIdentifier

    return encode_content(IPM(heading=Heading(this_ipm=IPMIdentifier(local="1")),
                              body=(b,)))  # type: ignore[arg-type]


def decode_content_of(data: bytes) -> object:
    ipm = decode_content(data)
    assert isinstance(ipm, IPM)
    (b,) = ipm.body
    return b


def test_ftbp_unmarked_or_descriptive_values_stay_opaque() -> None:
    """A related-stored-file without the "Internet MIME Body Part" marker (or with a
    non-null application-cross-reference), a descriptive application-reference and an empty
    rfc-822-field list are not the §2.3.2 forms: they stay in other_parameters."""
    from bridge.model import FileTransferBodyPart

    params: dict[str, object] = {
        "related-stored-file": [
            {"file-identifier": ("cross-reference", {
                "application-cross-reference": b"",
                "message-reference": {"user-relative-identifier": "a"}}),
             "relationship": ("descriptive-relationship", b"Something else")},
            {"file-identifier": ("cross-reference", {
                "application-cross-reference": b"app",
                "message-reference": {"user-relative-identifier": "b"}}),
             "relationship": ("descriptive-relationship", b"Internet MIME Body Part")}],
        "environment": {"application-reference": ("descriptive-identifier", [b"Word"])},
        "extensions": [{"type": "1.3.6.1.7.1.3.2",
                        "value": asn1.encode("RFC822FieldList", [])}]}
    b = _ftbp_from(params)
    assert isinstance(b, FileTransferBodyPart)
    assert (b.application_reference, b.description, b.related_message, b.headers) == (
        None, None, None, ())
    assert b.other_parameters is not None
    assert asn1.decode("FileTransferParameters", b.other_parameters.ber) == params
    assert decode_content_of(encode_content_of(b)) == b


def test_ftbp_content_id_form_is_typed() -> None:
    from bridge.model import FileTransferBodyPart, IPMIdentifier

    b = _ftbp_from({
        "related-stored-file": [{"file-identifier": ("cross-reference", {
            "application-cross-reference": b"",
            "message-reference": {"user-relative-identifier": "p1(a)ex.com"}}),
            "relationship": ("descriptive-relationship", b"Internet MIME Body Part")}],
        "environment": {"application-reference": (
            "registered-identifier", "2.16.840.1.113694.2.2.1.1"),
            "user-visible-string": [b"one", b"two"]},
        "extensions": [{"type": "1.3.6.1.7.1.3.2",
                        "value": asn1.encode("RFC822FieldList", ["X-A: 1"])}]})
    assert isinstance(b, FileTransferBodyPart)
    assert b.related_message == IPMIdentifier(local="p1(a)ex.com")
    assert b.application_reference == "2.16.840.1.113694.2.2.1.1"
    assert b.description == "one" and b.headers == ("X-A: 1",)
    assert b.other_parameters is not None
    assert asn1.decode("FileTransferParameters", b.other_parameters.ber) == {
        "environment": {"user-visible-string": [b"two"]}}
    assert decode_content_of(encode_content_of(b)) == b
