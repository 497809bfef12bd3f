# The two commands a new user needs: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export FLASK_APP := wsgi.py

.PHONY: install run test test-sqlite test-postgres bench bench-faults

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

## run: migrate the embedded SQLite database, make the demo site, serve on 127.0.0.1:$(PORT)
run: export OPSIQ_ENV ?= development
run: install
	$(BIN)/flask db upgrade
	PORT=$(PORT) $(BIN)/flask demo ensure
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

## test: every test, on SQLite
test: install browser-deps widget-check apidocs-check
	$(BIN)/python -m pytest

## test-postgres: every test again, on a database of its own in the PostgreSQL at PG_TEST_URL
test-postgres: install browser-deps widget-check apidocs-check
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest

## bench: gunicorn + PostgreSQL (127.0.0.1:5432, user postgres) + wrk; prints req/s, p50/p99 and ratios to hello-world, and writes during a 500,000-record retention purge
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## bench-faults: as root: 60 s of writes with bad input, PostgreSQL (a cluster of its own) restarted twice; prints lost (must be 0), answers by status, recovery
bench-faults: install
	$(BIN)/python bench/faults.py $(BENCH_ARGS)

# --- the widget and its browser tests -----------------------------------------------------------
.PHONY: browser-deps widget-check bench-widget
WIDGET_DEPS := widget/node_modules/.installed

$(WIDGET_DEPS): widget/package.json widget/package-lock.json
	cd widget && npm ci --no-audit --no-fund
	touch $@

## browser-deps: Debian's Chromium (for Playwright) and the widget's node packages (esbuild, axe-core)
browser-deps: $(WIDGET_DEPS)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

## widget-check: static/widget.js is what widget/src builds to, and within the 6,144 B gzip budget
widget-check: $(WIDGET_DEPS)
	node widget/build.mjs --check
	node widget/check-size.mjs

## bench-widget: widget bytes (raw, gzip -9, brotli) and, in headless Chromium, ms to banner, CLS, requests
bench-widget: install browser-deps
	$(BIN)/python bench/widget.py

# --- the API docs page's script ------------------------------------------------------------------
.PHONY: apidocs-check
APIDOCS_DEPS := apidocs/node_modules/.installed

$(APIDOCS_DEPS): apidocs/package.json apidocs/package-lock.json
	cd apidocs && npm ci --no-audit --no-fund
	touch $@

## apidocs-check: static/docs/ is what the pinned redoc package gives (rebuild: cd apidocs && npm run build)
apidocs-check: $(APIDOCS_DEPS)
	node apidocs/build.mjs --check

## bench-overview: PostgreSQL (127.0.0.1:5432) + gunicorn; a site with 10,000,000 records (BENCH_ARGS="--records N"): the rollup's records/s, the overview's and a consent-log search's server time
.PHONY: bench-overview
bench-overview: install
	$(BIN)/python bench/overview.py $(BENCH_ARGS)
