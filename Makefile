# oncall — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

# The first Python >= 3.12 on PATH (pyenv shims that are not active fail the test and are skipped).
PYTHON_CANDIDATES := python3.14 python3.13 python3.12 python3 python
FOUND_PYTHON := $(shell for p in $(PYTHON_CANDIDATES); do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	command -v $$p; break; fi; done)
PYTHON ?= $(FOUND_PYTHON)

.PHONY: help run test lint format bench install lock upgrade-check clean

help:
	@echo "make run    - install, migrate, load demo data and serve with a Celery worker and beat"
	@echo "make test   - run the whole test suite"
	@echo "make lint   - ruff check and ruff format --check"
	@echo "make bench  - run the benchmarks in bench/"
	@echo "make lock   - refresh requirements/lock.txt from pyproject.toml's ranges"
	@echo "make upgrade-check - run the suite on the newest versions the ranges allow"

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then \
		echo "oncall needs Python 3.12 or newer, and none was found on PATH."; \
		echo "Found: $$(for p in $(PYTHON_CANDIDATES); do command -v $$p >/dev/null 2>&1 && echo -n "$$p=$$($$p -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo '?') "; done)"; \
		echo "Install one (python.org, your package manager, or 'pyenv install 3.12') and run make again,"; \
		echo "or point make at it: make run PYTHON=/path/to/python3.12"; \
		exit 1; \
	fi
	@echo "Creating $(VENV) with $(PYTHON) ($$($(PYTHON) --version))"
	@$(PYTHON) -m venv $(VENV)

# Installs come from the lock, requirements/lock.txt: exact versions with their
# hashes, for Linux and macOS on Python 3.12 and newer. uv installs them (and
# writes the lock); it is itself installed from requirements/uv.txt, pinned
# with its hashes, into a folder of its own inside .venv.
UV := $(VENV)/uv/bin/uv
UV_ENV := UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1
LOCK_INPUTS := pyproject.toml requirements/build.in
LOCK_FLAGS := --extra dev --universal --python-version 3.12 --quiet --custom-compile-command "make lock"

$(UV): requirements/uv.txt | $(BIN)/python
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--require-hashes --target $(VENV)/uv --upgrade -r requirements/uv.txt
	@touch $@

$(VENV)/.installed: $(BIN)/python $(UV) requirements/lock.txt pyproject.toml
	@$(UV_ENV) $(UV) pip sync --quiet --python $(BIN)/python --require-hashes requirements/lock.txt
	@$(UV_ENV) $(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	@touch $@

install: $(VENV)/.installed

# Refresh the lock from pyproject.toml's ranges (and uv's own pin from
# requirements/uv.in). Commit what it changes; `make install` then follows.
lock: $(UV)
	@$(UV_ENV) $(UV) pip compile $(LOCK_INPUTS) $(LOCK_FLAGS) --generate-hashes -o requirements/lock.txt
	@$(UV_ENV) $(UV) pip compile requirements/uv.in --universal --quiet --generate-hashes \
		--custom-compile-command "make lock" -o requirements/uv.txt
	@echo "requirements/lock.txt and requirements/uv.txt written from pyproject.toml's ranges."

# The newest versions the ranges allow, in a throw-away virtualenv, with the
# whole suite run there: how an upstream change is learned of on purpose. It
# prints which packages differ from the lock and never touches .venv or the lock.
UPGRADE_DIR := var/upgrade-check
upgrade-check: $(UV)
	@rm -rf $(UPGRADE_DIR) && mkdir -p $(UPGRADE_DIR)
	@$(UV_ENV) $(UV) pip compile $(LOCK_INPUTS) --extra dev --python $(PYTHON) --upgrade --quiet \
		--no-header -o $(UPGRADE_DIR)/newest.txt
	@echo "Packages whose newest allowed version differs from the lock (lock -> newest):"
	@pins() { sed -nE 's/^([A-Za-z0-9._-]+)==([^ ;\\]+).*/\1 \2/p' "$$1" | sort -u; }; \
		join -a1 -a2 -e '(none)' -o 0,1.2,2.2 <(pins requirements/lock.txt) <(pins $(UPGRADE_DIR)/newest.txt) \
		| awk '$$2 != $$3 { printf "  %-28s %s -> %s\n", $$1, $$2, $$3; n++ } END { if (!n) print "  none" }'
	@$(UV_ENV) $(UV) venv --quiet --python $(PYTHON) $(UPGRADE_DIR)/venv
	@$(UV_ENV) $(UV) pip sync --quiet --python $(UPGRADE_DIR)/venv/bin/python $(UPGRADE_DIR)/newest.txt
	@$(UV_ENV) $(UV) pip install --quiet --python $(UPGRADE_DIR)/venv/bin/python --no-deps --no-build-isolation -e .
	@echo "Running the suite on the newest versions:"
	@ONCALL_VAR_DIR=$(CURDIR)/$(UPGRADE_DIR)/var $(UPGRADE_DIR)/venv/bin/python -m pytest $(PYTEST_ARGS)

run: install
	@$(BIN)/python manage.py preflight
	@$(BIN)/python manage.py migrate --noinput -v 0
	@$(BIN)/python manage.py collectstatic --noinput -v 0
	@$(BIN)/python manage.py seed_demo
	@$(BIN)/python manage.py sync_runbooks runbooks || echo "Some runbooks failed to import (see above); the rest are served."
	@echo
	@echo "  oncall is starting at http://127.0.0.1:$(PORT)/  (Ctrl-C stops web, worker and beat)"
	@echo "  Demo sign-ins, password 'oncall-demo':"
	@echo "    trainee  - a new on-call engineer in payments"
	@echo "    kenji    - another payments trainee, whose profile says Japanese"
	@echo "    primary  - the experienced engineer they shadow"
	@echo "    lead     - the payments lead (readiness dashboard)"
	@echo "    admin    - staff, for /admin/"
	@echo "  Health: http://127.0.0.1:$(PORT)/healthz"
	@echo
	@# serve exits 0 on Ctrl-C; 130 if make itself was interrupted first.
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python manage.py serve; \
		status=$$?; [ $$status -eq 0 ] || [ $$status -eq 130 ] || exit $$status

test: install
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: install
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

bench: install
	@for script in bench/bench_*.py; do \
		[ -e "$$script" ] || { echo "no benchmarks in bench/"; break; }; \
		echo "== $$script"; $(BIN)/python "$$script" || exit 1; \
	done

clean:
	rm -rf $(VENV) var
