# Civic Assistant — `make help` lists the targets.
SHELL := /bin/bash
CIVIC := .venv/bin/civic
PY := .venv/bin/python
HOME_DIR ?= var
PORT ?= 8000
SERVE_ARGS ?=

.PHONY: help setup run train test test-fast lint typecheck bench bench-retrieval bench-dialogue bench-nlu bench-training bench-first-answer bench-hotline bench-catalog bench-wechat bench-hotline-classifier bench-hotline-taipei bench-load bench-scale drill fuzz audit clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup:  ## create/refresh .venv (app) and .venv-rasa (engine); idempotent
	@scripts/setup.sh

run: setup  ## seed demo corpus, build index, train if data changed, serve on :8000 (PORT=, HOME_DIR=)
	$(CIVIC) --home $(HOME_DIR) serve --port $(PORT) $(SERVE_ARGS)

train: setup  ## retrain the Rasa model in HOME_DIR if its training data changed
	$(CIVIC) --home $(HOME_DIR) train

test: setup  ## the whole suite: lint, types, unit, engine end-to-end and browser tests
	.venv/bin/ruff check .
	.venv/bin/mypy .
	.venv/bin/pytest -q

audit: setup  ## pip-audit of .venv and .venv-rasa: fails on a fixable finding in .venv; says so when offline
	.venv/bin/python scripts/audit.py

test-fast: setup  ## unit tests only (no engine training, no browser)
	.venv/bin/pytest -q -m "not engine and not browser"

lint: setup  ## ruff + mypy
	.venv/bin/ruff check .
	.venv/bin/mypy .

typecheck: setup  ## mypy only
	.venv/bin/mypy .

bench: bench-retrieval bench-dialogue  ## both benchmarks below (retrieval, then dialogue)

bench-retrieval: setup  ## retrieval: build, latency, memory at 10k-1M passages into bench/RESULTS.md
	$(PY) -m bench.run

bench-dialogue: setup  ## dialogue: /api/chat vs bare Rasa turn (1/10/50 sessions, 50-turn chat) into bench/DIALOGUE.md
	$(PY) -m bench.dialogue

bench-nlu: setup  ## NLU: quick linear-model estimate of the intent cross-validation (seconds; bench/NLU_REPORT.md)
	$(PY) -m bench.nlu_quick --curve --report

bench-training: setup  ## training from scratch, model load, engine CPU per turn, 5-fold CV into bench/TRAINING.md
	$(PY) -m bench.training --cv

bench-first-answer:  ## fresh clone -> README's `make run` -> first cited answer, into bench/FIRST_ANSWER.md
	python3 bench/first_answer.py

bench-hotline: setup  ## hotline: suggestions hit@3, p95 final segment -> suggestions at 20 calls, classifier, into bench/HOTLINE.md
	$(PY) -m bench.hotline_bench --report

bench-hotline-classifier: setup  ## hotline classifier: n-grams vs encoder vs both on the held-out split, into bench/HOTLINE_CLASSIFIER.md
	$(PY) -m bench.hotline_classifier_bench

bench-hotline-taipei: setup  ## hotline classifier on another city's real questions (../shared/data Taipei FAQ by department), into bench/HOTLINE_TAIPEI.md
	$(PY) -m bench.hotline_taipei

bench-catalog: setup  ## catalog: combined search p50/p95 over a generated 100k-document archive, into bench/CATALOG.md
	$(PY) -m bench.catalog_bench

bench-wechat: setup  ## WeChat: passive-reply p50/p95/p99 at 10 users (real engine, safe mode), 3x deliveries -> 0 duplicates, into bench/WECHAT.md
	$(PY) -m bench.wechat_bench

bench-load: setup  ## load: 100 sessions over /ws and /api/chat for 10 min, exactly-once replies, p50/p95/p99, memory, into bench/LOAD.md (LOAD_ARGS=)
	$(PY) -m bench.load $(LOAD_ARGS)

bench-scale: setup  ## scale-out: turns/s and p95 through nginx for 1+1 vs 2+2 engine+app replicas on PostgreSQL+Redis (docs/scaling.md; SCALE_ARGS=)
	$(PY) -m bench.scale_bench $(SCALE_ARGS)

drill: setup  ## faults: engine/app SIGKILL under load, locked/read-only archive, full disk, into bench/DRILL.md
	$(PY) -m bench.drill $(DRILL_ARGS)

fuzz: setup  ## bad input with a bigger budget: schemathesis on every route (CIVIC_FUZZ_EXAMPLES=100) and the importers (bench/FUZZ.md)
	CIVIC_FUZZ_EXAMPLES=$${CIVIC_FUZZ_EXAMPLES:-100} .venv/bin/pytest -q tests/fuzz

clean:  ## remove the demo data directory (keeps the virtualenvs)
	rm -rf $(HOME_DIR)
