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
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

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

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
