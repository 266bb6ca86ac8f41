"""Regenerate tests/data/samples/*.ber from bridge.samples (run: python -m tests.make_samples)."""

from __future__ import annotations

from bridge import samples
from tests.conftest import SAMPLE_DIR, encode_sample, sample_file


def main() -> None:
    SAMPLE_DIR.mkdir(parents=True, exist_ok=True)
    for name, obj in samples.all_samples().items():
        sample_file(name).write_bytes(encode_sample(obj))
        print(sample_file(name))


if __name__ == "__main__":
    main()
