# pixelgate — `make run` starts the gateway on its embedded default, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIXELGATE_HOST ?= 127.0.0.1
PIXELGATE_PORT ?= 8080
export PIXELGATE_HOST PIXELGATE_PORT

.PHONY: run install install-dev test lint typecheck unit clean bench browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/pixelgate migrate
	exec $(BIN)/pixelgate serve

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-dev
	$(BIN)/mypy

# The console's browser tests drive Debian's chromium through Playwright (never
# `playwright install`: browsers are not downloaded, the system package is used).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium; }

unit: install-dev browser
	PIXELGATE_BROWSER_TESTS=required $(BIN)/pytest -q

test: install-dev lint typecheck unit

# LiteLLM, for comparison only: its own virtualenv, never the project's dependencies.
LITELLM_VENV := bench/.venv-litellm

$(LITELLM_VENV)/.installed: bench/requirements-litellm.txt
	$(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/pip install --quiet -r bench/requirements-litellm.txt
	touch $@

# Not part of `make test` (CI does not run it): several minutes, and it wants the machine.
bench: install-dev $(LITELLM_VENV)/.installed
	ulimit -n 65536 2>/dev/null || ulimit -n "$$(ulimit -Hn)"; \
	$(BIN)/python -m bench.run --litellm $(LITELLM_VENV)/bin/litellm

clean:
	rm -rf $(VENV) $(LITELLM_VENV) data .pytest_cache .mypy_cache .ruff_cache
