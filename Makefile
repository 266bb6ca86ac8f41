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

# Main job with embedded defaults: the gateway (SMTP on 127.0.0.1:2525, P1 over RFC 1006 on
# 127.0.0.1:1102, state in ./var/, see docs/config.md); Ctrl-C / SIGTERM drains and stops it.
run: $(VENV)/.installed
	$(VENV)/bin/x400bridge serve

test: lint
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check bridge tests bench
	$(VENV)/bin/mypy

bench: $(VENV)/.installed
	$(PY) bench/codec.py
	$(PY) bench/p1.py

clean:
	rm -rf $(VENV) build *.egg-info
