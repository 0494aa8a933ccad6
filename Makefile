# Seismo — `make run` starts everything, `make test` runs the suite. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test bench lint format check services-stop clean install install-dev

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Seismo needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "seismo: installing requirements into $(VENV) …"
	@$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	@$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: web + Celery worker + beat on PostgreSQL and Redis (embedded unless DATABASE_URL / REDIS_URL are set)
run: $(VENV)/.installed
	@exec $(PY) -m config.launcher run

## make test: the whole suite with line coverage; non-zero exit on any failure
test: $(VENV)/.installed-dev
	@$(PY) -m config.launcher test --cov --cov-report=term $(PYTEST_ARGS)

## make bench: benchmarks; prints a table and writes BENCHMARKS.md
## make bench soak: the 10-minute soak and kill -9 recovery benchmark (opt-in)
BENCH_NAMES := $(filter-out bench,$(MAKECMDGOALS))
bench: $(VENV)/.installed-dev
	@$(PY) -m config.launcher bench $(BENCH_NAMES) $(BENCH_ARGS)

# `make bench soak`: the names after `bench` are arguments, not targets of their own.
ifneq ($(filter bench,$(MAKECMDGOALS)),)
$(BENCH_NAMES):
	@:
endif

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make services-stop: stop the embedded PostgreSQL and Redis if they are still running
services-stop: $(VENV)/.installed
	@$(PY) -m config.launcher services stop

clean: services-stop
	rm -rf var
