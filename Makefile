# The two commands README promises: `make run` and `make test`.  Each creates its own virtual
# environment (.venv) and installs what it needs from PyPI.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: run test lint bench clean

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# Main job with embedded defaults: decode and show the bundled sample X.400 messages
# (until the gateway exists, see docs/architecture.md).
run: $(VENV)/.installed
	$(VENV)/bin/x400bridge dump tests/data/samples/*.ber tests/data/wildboar/mts_*.ber

test: lint
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check bridge tests bench
	$(VENV)/bin/mypy

bench: $(VENV)/.installed
	$(PY) bench/codec.py

clean:
	rm -rf $(VENV) build *.egg-info
