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
