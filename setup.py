"""Build hook: ship the top-level ``asn1/`` and ``mappings/`` folders inside the wheel.

The repository keeps ASN.1 sources and mapping tables at the top level (the project layout);
an installed ``bridge`` package finds them as ``bridge/_data/asn1`` and ``bridge/_data/mappings``
(see ``bridge/resources.py``).  All other configuration lives in ``pyproject.toml``.
"""

from pathlib import Path
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
DATA_DIRS = ("asn1", "mappings")


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        for name in DATA_DIRS:
            src = HERE / name
            dst = Path(self.build_lib) / "bridge" / "_data" / name
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*~", ".*"))


setup(cmdclass={"build_py": BuildWithData})
