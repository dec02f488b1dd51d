# Entry points for a fresh clone: `make run` (set up + serve the app), `make test` (set up + every test, with Ray
# from requirements-ray.txt for `python -m model screen` and Chromium for the browser tests; what CI runs) and
# `make test-fast` (the pure tier, tests/unit: no Ray, no Chromium, no subprocess; for the edit-test loop).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CHROMIUM ?= /usr/bin/chromium
# pytest-xdist workers for `make test` (0: one process). Each test file runs whole on one worker, the Ray files all
# on one (tests/conftest.py).
TEST_WORKERS ?= 2

.PHONY: run test test-fast lint format bench fuzz clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(VENV)/.ray: $(VENV)/.dev requirements-ray.txt
	$(PY) -m pip install --quiet -r requirements-ray.txt
	touch $@

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null

run: $(VENV)/.runtime
	$(PY) app.py

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: $(VENV)/.ray $(CHROMIUM) lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: $(VENV)/.dev
	$(PY) -m pytest -q tests/unit

$(VENV)/.bench: $(VENV)/.dev requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

bench: $(VENV)/.bench
	$(PY) -m benchmarks.run --out docs/benchmark-results.json
	$(PY) -m benchmarks.report docs/benchmark-results.json --update docs/PERFORMANCE.md

# The decoder against FUZZ_CASES seeded mutations of valid files (a short run is part of `make test`).
FUZZ_CASES ?= 20000
FUZZ_SEED ?= 0
fuzz: $(VENV)/.dev
	$(PY) -m tests.support.fuzz --cases $(FUZZ_CASES) --seed $(FUZZ_SEED)

clean:
	rm -rf $(VENV) .pytest_cache
