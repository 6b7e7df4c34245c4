# Two commands for a newcomer: `make run` and `make test`. Needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint demo browser axe haproxy soak bench wrk clean

$(BIN)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Hospital Registry needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

$(BIN)/.installed-dev: requirements-dev.txt $(BIN)/.installed
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

# Serves http://127.0.0.1:8000 on the embedded SQLite database (instance/hospital.db).
# On a new database it first creates admin@example.org and prints its password once.
run: $(BIN)/.installed
	APP_ENV=development $(BIN)/flask --app wsgi db upgrade
	APP_ENV=development $(BIN)/flask --app wsgi create-dev-admin
	APP_ENV=development $(BIN)/gunicorn wsgi:app

# 50 demo hospitals with 90 days of reports each, for trying the app out.
demo: $(BIN)/.installed
	APP_ENV=development $(BIN)/flask --app wsgi db upgrade
	APP_ENV=development $(BIN)/flask --app wsgi seed-demo --hospitals 50 --days 90

# The whole suite on SQLite; DATABASE_URL=postgresql+psycopg://… or mysql+pymysql://… runs it
# on that server (the database name must contain "test": the suite empties it).
test: $(BIN)/.installed-dev browser axe
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's chromium; install it where we can (root with apt-get).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing chromium for the browser tests…"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "!!! /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get):"; \
			echo "!!! THE BROWSER TESTS WILL NOT RUN. Install Debian's chromium package to run them."; \
		fi; \
	fi

# The accessibility test injects axe-core into the pages: the exact version that
# tests/e2e/package-lock.json pins, installed by npm into tests/e2e/node_modules (not committed).
# Without npm, install Debian's where we can (root with apt-get), like chromium above.
AXE_STAMP := tests/e2e/node_modules/.installed

axe: $(AXE_STAMP)

$(AXE_STAMP): tests/e2e/package.json tests/e2e/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing npm for the accessibility tests…"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; \
		else \
			echo "!!! npm is missing and cannot be installed here (needs root and apt-get):"; \
			echo "!!! THE ACCESSIBILITY TESTS WILL NOT RUN. Install npm, then run make axe."; \
		fi; \
	fi
	@if command -v npm >/dev/null 2>&1; then \
		echo "npm ci --prefix tests/e2e --no-audit --no-fund"; \
		npm ci --prefix tests/e2e --no-audit --no-fund && touch $@; \
	fi

# Two app servers behind haproxy on one PostgreSQL database, 16 clerks writing for
# SOAK_SECONDS (120), workers killed and the database restarted under them; then
# check-integrity proves nothing acknowledged was lost (README: "Soak test"). It empties the
# database hospital_soak (DATABASE_URL names another) and restarts PostgreSQL: needs root.
soak: $(BIN)/.installed haproxy
	$(BIN)/python bench/soak/soak.py

# The soak test's load balancer: Debian's haproxy, installed where we can (root with apt-get).
haproxy:
	@if ! command -v haproxy >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing haproxy for the soak test…"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; \
		else \
			echo "!!! haproxy is missing and cannot be installed here (needs root and apt-get):"; \
			echo "!!! make soak needs Debian's haproxy package."; \
			exit 1; \
		fi; \
	fi

# Page speed on a year of a thousand hospitals, against a bare reference app, in one run
# (README: "Benchmark"); not part of make test. SQLite in instance/bench/ (made once a day and
# kept), or DATABASE_URL=postgresql+psycopg://…/NAME for NAME_big and NAME_small.
# BENCH_SECONDS (5) per wrk run, BENCH_ROUNDS (3) rounds: about 6 minutes.
bench: $(BIN)/.installed wrk
	$(BIN)/python bench/bench.py

# The benchmark's load generator: Debian's wrk, installed where we can (root with apt-get).
wrk:
	@if ! command -v wrk >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing wrk for the benchmark…"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
		else \
			echo "!!! wrk is missing and cannot be installed here (needs root and apt-get):"; \
			echo "!!! make bench needs Debian's wrk package."; \
			exit 1; \
		fi; \
	fi

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check hospital_app tests bench migrations wsgi.py gunicorn.conf.py

clean:
	rm -rf $(VENV) test-output .pytest_cache .ruff_cache tests/e2e/node_modules
