# Grants: set-up, serve and test on Debian 12 with Python 3.11.
#
#   make run    system packages, virtualenv, translations, database, demo data, serve
#   make test   system packages, virtualenv, translations, then pytest ($(PYTEST_ARGS))
#               on $(PYTEST_WORKERS) pytest-xdist workers (PYTEST_WORKERS=0: one process)
#   make test-fast  the same without the tests marked slow
#
# Settings come from the environment (see grants/config.py and README.md).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ifndef PYTHON
PYTHON := $(shell command -v python3.11 || command -v python3)
endif
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
FLASK := $(BIN)/flask --app wsgi
TRANSLATIONS := grants/translations
POT := $(TRANSLATIONS)/messages.pot
LOCALE := zh_Hans_CN
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS),)

# What WeasyPrint needs to draw PDFs, and a font with Chinese glyphs.
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk
# The tests also read PDFs (pdftotext), drive a browser (tests/e2e: Playwright with
# Debian's chromium; no browser download) and check PostgreSQL backups' pg_dump.
TEST_SYSTEM_PACKAGES := poppler-utils chromium postgresql-client

.PHONY: help run test test-fast lint mutation worker setup system-packages translations translations-update

help:
	@echo "make run                  set up and serve on http://$(HOST):$(PORT)"
	@echo "make test                 set up and run the tests (PYTEST_ARGS='-k name' ...)"
	@echo "make test-fast            the tests without the slow ones (fuzzing, e2e, faults)"
	@echo "make lint                 ruff check"
	@echo "make mutation             mutation testing of the invariant modules (MUTATE='grants/core/money.py')"
	@echo "make worker               an RQ worker (needs REDIS_URL)"
	@echo "make translations-update  extract strings and update the $(LOCALE) catalogue"

run: setup
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	$(FLASK) run --host $(HOST) --port $(PORT)

test: SYSTEM_PACKAGES += $(TEST_SYSTEM_PACKAGES)
test: setup
	$(BIN)/pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

test-fast: SYSTEM_PACKAGES += $(TEST_SYSTEM_PACKAGES)
test-fast: setup
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not slow" $(PYTEST_ARGS)

# Mutation testing of the invariant modules (scripts/mutation.py); hours on two cores, not in CI.
mutation: setup
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -e '.[test,mutation]'
	$(BIN)/python scripts/mutation.py

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

worker: setup
	$(FLASK) worker

setup: system-packages $(INSTALLED) translations

# Install what is missing through apt-get as root; otherwise say what to run and stop.
# python3-venv is added only when the chosen Python cannot create a virtualenv.
system-packages:
	@if ! command -v dpkg >/dev/null; then \
	  echo "No dpkg here: install Pango, HarfBuzz (subset) and a CJK font yourself."; exit 0; \
	fi; \
	missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do \
	  dpkg -s "$$pkg" >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ ! -x $(BIN)/python ]; then \
	  probe="$$(mktemp -d)"; \
	  $(PYTHON) -m venv "$$probe/venv" >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	  rm -rf "$$probe"; \
	fi; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "Installing system packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	else \
	  echo "Missing system packages:$$missing. Install them with:"; \
	  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$$missing"; \
	  exit 1; \
	fi

# The virtualenv, reinstalled whenever pyproject.toml is newer than the stamp.
$(INSTALLED): pyproject.toml | system-packages
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.11 or later is needed (python3.11 or python3)."; exit 1; fi
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "$(PYTHON) is older than 3.11; set PYTHON=/path/to/python3.11"; exit 1; }
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -e '.[test]'
	@touch $@

# The .mo files are not in git: compile them on every set-up (quietly absent at first).
translations: $(INSTALLED)
	@if compgen -G "$(TRANSLATIONS)/*/LC_MESSAGES/*.po" >/dev/null; then \
	  $(BIN)/pybabel compile --statistics -d $(TRANSLATIONS); \
	fi

translations-update: $(INSTALLED)
	@mkdir -p $(TRANSLATIONS)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -k pgettext:1c,2 -o $(POT) .
	@if [ -f $(TRANSLATIONS)/$(LOCALE)/LC_MESSAGES/messages.po ]; then \
	  $(BIN)/pybabel update -i $(POT) -d $(TRANSLATIONS) -l $(LOCALE) --no-fuzzy-matching; \
	else \
	  $(BIN)/pybabel init -i $(POT) -d $(TRANSLATIONS) -l $(LOCALE); \
	fi
