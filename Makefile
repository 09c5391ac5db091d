# Two commands for a fresh clone:
#   make run   – set up and serve the dashboard with demo data (SQLite, no servers needed)
#   make test  – set up and run ruff, mypy and pytest
# Both create .venv with pinned requirements on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test test-clock lint typecheck pytest demo clean help

help:
	@echo "make run   - serve the dashboard with demo data at http://127.0.0.1:$(PORT)/"
	@echo "make test  - ruff, mypy and pytest (set DATABASE_URL / CELERY_BROKER_URL for Postgres/Redis)"
	@echo "make test-clock - pytest with the clock pinned at 00:05, 11:59, 23:59 UTC and month end"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: export SANDBOX_ENABLED ?= true
run: export PORT := $(PORT)
run: $(VENV)/.runtime
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_load
	$(BIN)/python manage.py run --port $(PORT)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy .

pytest: $(VENV)/.dev
	@mkdir -p var
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The suite with the clock at 00:05, 11:59 and 23:59 UTC and at the end of the month
# (needs Debian's faketime); finds tests that only pass at some hours.
test-clock: $(VENV)/.dev
	@mkdir -p var
	$(BIN)/python tests/clock_run.py $(PYTEST_ARGS)

clean:
	rm -rf var/broker var/test-*.sqlite3* staticfiles
