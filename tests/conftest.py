"""Shared fixtures: the bundled samples as model objects and as BER."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge import samples
from bridge.codec import encode_apdu, encode_content
from bridge.model import IPM, IPN
from tests.tlscert import self_signed

DATA = Path(__file__).parent / "data"
SAMPLE_DIR = DATA / "samples"


def sample_file(name: str) -> Path:
    """File name of a sample: ``message-full.p1`` -> tests/data/samples/message-full.p1.ber."""
    return SAMPLE_DIR / f"{name}.ber"


def encode_sample(obj: object) -> bytes:
    if isinstance(obj, IPM | IPN):
        return encode_content(obj)
    return encode_apdu(obj)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def all_samples() -> dict[str, object]:
    return samples.all_samples()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throw-away self-signed certificate and key (openssl) for gw.test and 127.0.0.1."""
    return self_signed(tmp_path_factory.mktemp("tls"), common_name="gw.test",
                       alt_names="IP:127.0.0.1,DNS:gw.test")
