# Routine jobs. `make run` and `make test` work on a fresh clone: they build .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test test-postgres lint format migrations-check check bench clean help

help:
	@echo "make run    - set up and start web, worker, beat and Flower (Ctrl-C stops all)"
	@echo "make test   - run the test suite (SQLite + a private Redis unless DATABASE_URL/REDIS_URL)"
	@echo "make lint   - ruff check, ruff format --check, makemigrations --check"
	@echo "make format - ruff format and ruff check --fix"
	@echo "make bench  - run the benchmarks in benchmarks/ (PostgreSQL via DATABASE_URL)"
	@echo "make clean  - remove var/ (database, logs, embedded Redis data)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when a requirements file changed.
$(VENV)/.installed-runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-runtime

run: $(VENV)/.installed-runtime
	$(BIN)/python -m capitolscope.devstack

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-dev
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf var
