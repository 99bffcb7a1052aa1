# The two commands of README.md: `make run` (start the platform) and `make test` (run every test).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt requirements-dev.lock | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM := /usr/bin/chromium

.PHONY: setup run run-services worker worker-gpu test lint format migrate demo clean-db lock audit browser-deps

# Exact versions with hashes from requirements-dev.lock (`make lock` rewrites it from the
# ranges in requirements*.txt); torch is the CPU build, installed first from a local wheel
# where pip is configured with one (the lock pins 2.13.0+cpu by hash).
$(STAMP): requirements.txt requirements-dev.txt requirements-dev.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	touch $(STAMP)

# Re-resolve the lock (needs PyPI, and the CPU torch wheel in /opt/wheels or WHEELS=...).
WHEELS ?= /opt/wheels
lock:
	test -x $(BIN)/uv || $(BIN)/pip install -q uv
	$(BIN)/uv pip compile requirements-dev.txt --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --find-links $(WHEELS) -o requirements-dev.lock

# Known vulnerabilities of the locked versions (needs a vulnerability database: see docs/security.md).
audit:
	test -x $(BIN)/pip-audit || $(BIN)/pip install -q pip-audit
	$(BIN)/pip-audit --strict --disable-pip --no-deps --require-hashes -r requirements-dev.lock

# Only the tests need a browser: `make test` installs Debian's Chromium and the Japanese fonts
# (root or sudo); `make run` never does. Waits for a busy apt instead of failing.
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300
$(CHROMIUM):
	@if [ "$$(id -u)" = "0" ]; then $(APT_GET) update -qq && $(APT_GET) install -y -qq chromium fonts-ipafont-gothic >/dev/null; \
	else sudo $(APT_GET) update -qq && sudo $(APT_GET) install -y -qq chromium fonts-ipafont-gothic >/dev/null; fi

browser-deps: $(CHROMIUM)

# compilemessages needs gettext's msgfmt; without it (and without root) the committed .mo files are used.
setup: $(STAMP)
	@if command -v msgfmt >/dev/null; then $(BIN)/python manage.py compilemessages -v 0 --ignore=.venv; \
	else echo "gettext (msgfmt) is not installed: using the compiled translations in locale/"; fi

migrate: setup
	$(BIN)/python manage.py migrate --noinput -v 0

demo: migrate
	$(BIN)/python manage.py seed_demo

# Embedded mode: SQLite, in-memory channel layer, Celery tasks run in-process (no broker).
# With DATABASE_URL and REDIS_URL set, the same command also starts a Celery worker process.
run: demo
	@echo ""; echo "KokoroChat is served at http://$(HOST):$(PORT)/  (stop with Ctrl+C)"; \
	  echo "With the published dataset at KOKOROCHAT_DIR, the first start sets up data and models in the background (staff: /ml/setup/)."; echo ""
	@if [ -n "$$REDIS_URL" ]; then \
	  export DB_CONN_MAX_AGE=$${DB_CONN_MAX_AGE:-60}; mkdir -p var; \
	  $(BIN)/celery -A kokoro_site worker -Q default -l info --concurrency 2 & \
	  $(BIN)/celery -A kokoro_site beat -l warning --schedule var/celerybeat-schedule & \
	  trap "kill %1 %2" EXIT; \
	  $(BIN)/daphne -b $(HOST) -p $(PORT) kokoro_site.asgi:application; \
	else \
	  $(BIN)/daphne -b $(HOST) -p $(PORT) kokoro_site.asgi:application; \
	fi

worker: setup
	$(BIN)/celery -A kokoro_site worker -Q default -l info

# One training/generation job at a time per GPU: CUDA cannot start in a forked child.
worker-gpu: setup
	$(BIN)/celery -A kokoro_site worker -Q gpu -l info --pool solo --concurrency 1

test: setup browser-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
