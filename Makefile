# kb: two commands on a fresh machine.
#   make run   virtualenv, install, migrate, demo accounts and library, a worker, serve on http://$(HOST):$(PORT)/
#   make test  virtualenv, install with test extras, the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
WORKERS ?= 2

.PHONY: run test test-fast lint bench bench-pages messages translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d kb/translations

run: $(VENV)/.installed translations
	$(BIN)/kb db upgrade
	$(BIN)/kb demo users
	$(BIN)/kb demo load
	$(BIN)/kb synonyms starter --as marketing@demo.kb
	$(BIN)/kb index rebuild
	@echo ""
	@echo "kb is starting on http://$(HOST):$(PORT)/  (Ctrl+C stops it)"
	@# One background worker beside the server (text extraction); it stops when the server stops.
	$(BIN)/kb worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/kb serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

# Both cores (-n 2); a test file's tests stay in one process, so module fixtures are built once. The slowest
# tests are listed at the end, so the suite's time (under 12 minutes on 2 cores) is watched where it is spent.
JOBS ?= 2
test: $(VENV)/.installed-test translations
	$(BIN)/ruff check kb tests content wsgi.py
	$(BIN)/pytest -q -n $(JOBS) --dist loadfile --durations=25 $(PYTEST_ARGS)

# The domain and the pages without browsers, real server processes or whole corpora: under a minute.
test-fast: $(VENV)/.installed-test translations
	$(BIN)/pytest -q -n $(JOBS) --dist loadfile -m "not browser and not slow and not web" $(PYTEST_ARGS)

# The search benchmark (benchmarks/README.md): ASSETS=10000 for the full run.
ASSETS ?= 1000
bench: $(VENV)/.installed translations
	$(BIN)/python benchmarks/search_benchmark.py --assets $(ASSETS)

# Page speed (benchmarks/README.md): every main page's time through kb serve and kb's start time; the demo
# library by default, PAGES_ASSETS=10000 with PAGES_LIBRARY=<work directory of a 10,000-asset search benchmark>.
PAGES_ASSETS ?= demo
PAGES_LIBRARY ?= benchmarks/.work/a10000-s4
bench-pages: $(VENV)/.installed translations
	$(BIN)/python benchmarks/page_speed.py --assets $(PAGES_ASSETS) --library $(PAGES_LIBRARY)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check kb tests content wsgi.py

# Extract translatable strings and merge them into the English and Russian catalogs.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k NP_:1,2 -k _l -o kb/translations/messages.pot --no-location --sort-output kb templates
	$(BIN)/pybabel update -i kb/translations/messages.pot -d kb/translations --no-wrap --ignore-obsolete -N

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Search quality on real documents (tests/realdocs/README.md): kb against an SQLite FTS5 baseline.
.PHONY: relevance
relevance: $(VENV)/.installed-test translations
	$(BIN)/python benchmarks/relevance_real.py
