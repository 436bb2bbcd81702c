# FairSlot. `make help` lists the targets. Everything runs from the project's own .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 5000
FAIRSLOT_BIND ?= 127.0.0.1:8000
# Sync workers: Python CPU is the limit, so two per core plus one.
WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) * 2 + 1 )))

.DEFAULT_GOAL := help
.PHONY: help install install-test install-bench bench bench-full demo serve worker migrate seed test test-embedded lint format typecheck lock clean test-browser config-docs \
  translations-extract translations-update translations-compile

help: ## List the targets
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  Variables: DEMO_PORT (default 5000) and DEMO_HOST (127.0.0.1) for make demo, e.g."
	@echo "  make demo DEMO_PORT=5050; FAIRSLOT_BIND and WORKERS for make serve."
	@echo "  The demo sends no email or SMS: what it would send is at /demo/outbox."

# The compiled catalogs the app reads (built, not committed): every install builds the missing
# or out-of-date ones, so a fresh clone (and so `make demo` and `make test`) speaks each language.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-runtime: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.installed-test: requirements-test.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-test.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@ $(VENV)/.installed-runtime

install: $(VENV)/.installed-runtime $(MO_FILES) ## Create .venv with the pinned runtime dependencies

install-test: $(VENV)/.installed-test $(MO_FILES) ## Create .venv with the pinned runtime and test dependencies

# The demo serves from one process: the embedded Redis lives in it, so every request sees it.
demo: export FAIRSLOT_ENV = demo
demo: export FAIRSLOT_PUBLIC_URL = http://$(DEMO_HOST):$(DEMO_PORT)
demo: install ## Migrate, seed the demo data and serve it on http://DEMO_HOST:DEMO_PORT (127.0.0.1:5000)
	$(BIN)/flask --app wsgi migrate
	$(BIN)/flask --app wsgi seed-demo
	@echo "Serving on http://$(DEMO_HOST):$(DEMO_PORT)/ (Ctrl-C stops it); what it would send by email or SMS: http://$(DEMO_HOST):$(DEMO_PORT)/demo/outbox"
	$(BIN)/gunicorn --no-control-socket --workers 1 --threads 8 \
	  --bind $(DEMO_HOST):$(DEMO_PORT) --access-logfile - wsgi:app

serve: install ## Run gunicorn on FAIRSLOT_DATABASE_URL and FAIRSLOT_REDIS_URL at FAIRSLOT_BIND
	@test -n "$$FAIRSLOT_DATABASE_URL" || { echo "Set FAIRSLOT_DATABASE_URL (PostgreSQL)"; exit 1; }
	@test -n "$$FAIRSLOT_REDIS_URL" || { echo "Set FAIRSLOT_REDIS_URL"; exit 1; }
	$(BIN)/gunicorn --no-control-socket --workers $(WORKERS) --bind $(FAIRSLOT_BIND) \
	  --access-logfile - wsgi:app

# Messages, reminders and housekeeping. Run one or more next to `make serve`, against the same
# FAIRSLOT_REDIS_URL and FAIRSLOT_DATABASE_URL. (The embedded demo runs its worker in-process.)
worker: install ## Run an RQ worker with its scheduler on FAIRSLOT_REDIS_URL (messages, reminders)
	@test -n "$$FAIRSLOT_REDIS_URL" || { echo "Set FAIRSLOT_REDIS_URL"; exit 1; }
	$(BIN)/flask --app wsgi worker

migrate: install ## Run the migrations against FAIRSLOT_DATABASE_URL
	$(BIN)/flask --app wsgi migrate

seed: install ## Add the demo data to FAIRSLOT_DATABASE_URL (idempotent)
	$(BIN)/flask --app wsgi seed-demo

test: install-test lint ## Lint, type-check and run the tests
	$(BIN)/pytest

# The browser tests always run on their own SQLite file and fakeredis, and the backend_free ones
# (make demo from a fresh clone, the layering check) on no test backend at all, so the embedded
# run leaves them out: they would only repeat what `make test` already ran.
test-embedded: install-test ## Run the tests on the embedded default (SQLite + fakeredis), without the browser and backend-free tests
	env -u FAIRSLOT_TEST_DATABASE_URL -u FAIRSLOT_TEST_REDIS_URL $(BIN)/pytest -m "not e2e and not backend_free"

test-browser: install-test ## Run only the browser tests (headless Chromium at /usr/bin/chromium)
	$(BIN)/pytest -m e2e

lint: install-test ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-test ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The README's configuration table, between its config:begin and config:end markers, is written
# from the SETTINGS rows in booking/settings.py; tests/test_config_docs.py fails when they differ.
config-docs: install ## Regenerate README.md's configuration table from booking/settings.py
	$(BIN)/python -c 'from booking.config import write_readme_table; write_readme_table("README.md")'

# Translations: extract the message ids from the code and templates, merge them into each
# language's catalog, and compile the catalogs the app reads (.mo files are built, not committed).
PYBABEL_EXTRACT = $(BIN)/pybabel extract -F babel.cfg -k N_ -k lazy_gettext -k ngettext:1,2 \
  --sort-by-file --project FairSlot --version 1 --copyright-holder "FairSlot contributors"

translations-extract: install ## Extract message ids into translations/messages.pot
	$(PYBABEL_EXTRACT) -o translations/messages.pot .

translations-update: translations-extract ## Merge new message ids into every language's catalog
	$(BIN)/pybabel update -i translations/messages.pot -d translations --ignore-obsolete --no-fuzzy-matching

translations-compile: install ## Compile the catalogs (.po to .mo)
	$(BIN)/pybabel compile -d translations --statistics

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po
	@test -x $(BIN)/pybabel || $(MAKE) --no-print-directory $(VENV)/.installed-runtime
	$(BIN)/pybabel compile --statistics -l $* -i $< -o $@

# The benchmark starts its own PostgreSQL (as the postgres OS user) and Redis on other ports,
# never the shared ones; see bench/README.md.
$(VENV)/.installed-bench: requirements-bench.lock $(VENV)/.installed-test
	$(BIN)/pip install --quiet -r requirements-bench.lock
	@touch $@

install-bench: $(VENV)/.installed-bench ## Add the benchmark's pinned dependencies to .venv

bench: install-bench ## Quick flash-crowd benchmark, every part (bench/README.md) into bench/results/<date>/
	$(BIN)/python -m bench.run --profile quick

bench-full: install-bench ## Full benchmark (1M slots, 1M waiting) into bench/results/<date>-full/
	$(BIN)/python -m bench.run --profile full

lock: install-test ## Re-pin requirements*.lock from pyproject.toml
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile -q --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  --no-emit-trusted-host -o requirements.lock pyproject.toml
	$(BIN)/pip-compile -q --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  --no-emit-trusted-host --extra test -o requirements-test.lock pyproject.toml
	$(BIN)/pip-compile -q --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  --no-emit-trusted-host -o requirements-bench.lock requirements-bench.in

clean: ## Remove the virtual environment, caches and the demo database
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache .hypothesis
