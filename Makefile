# Civic Assistant — `make help` lists the targets.
SHELL := /bin/bash
CIVIC := .venv/bin/civic
PY := .venv/bin/python
HOME_DIR ?= var

.PHONY: help setup run test test-fast lint typecheck bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup:  ## create/refresh .venv (app) and .venv-rasa (engine); idempotent
	@scripts/setup.sh

run: setup  ## seed the demo corpus, build indexes, train if data changed, serve on http://127.0.0.1:8000
	$(CIVIC) --home $(HOME_DIR) serve

test: setup  ## the whole suite: lint, types, unit, engine end-to-end and browser tests
	.venv/bin/ruff check .
	.venv/bin/mypy .
	.venv/bin/pytest -q

test-fast: setup  ## unit tests only (no engine training, no browser)
	.venv/bin/pytest -q -m "not engine and not browser"

lint: setup  ## ruff + mypy
	.venv/bin/ruff check .
	.venv/bin/mypy .

bench: setup  ## retrieval and dialogue benchmarks; results go to bench/RESULTS.md
	$(PY) -m bench.run

clean:  ## remove the demo data directory (keeps the virtualenvs)
	rm -rf var
