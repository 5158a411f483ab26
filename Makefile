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

.PHONY: help run test lint format bench install clean

help:
	@echo "make run    - install, migrate, load demo data and serve with a Celery worker and beat"
	@echo "make test   - run the whole test suite"
	@echo "make lint   - ruff check and ruff format --check"
	@echo "make bench  - run the benchmarks in bench/"

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

$(VENV)/.installed: $(BIN)/python pyproject.toml
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

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
