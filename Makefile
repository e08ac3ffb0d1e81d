# Muster: `make run` starts the app with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup install migrate demo lint format check worker beat browser clean bench bench-pages

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Muster needs Python 3.11 or newer"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check --upgrade pip
	$(PIP) install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

setup: install
	$(PY) manage.py migrate --noinput

demo: setup
	$(PY) manage.py seed_demo
	$(PY) manage.py seed_oncall_demo
	$(PY) manage.py seed_paging_demo

## Start Muster with demo data on http://$(HOST):$(PORT). SQLite and in-process tasks unless
## DATABASE_URL / REDIS_URL are set (then run `make worker` and `make beat` beside it).
run: demo
	@echo ""
	@echo "  Muster is starting on http://$(HOST):$(PORT)/"
	@echo "  Sign in as  admin / muster-admin  (superuser)  or  alice / muster-demo  (responder)"
	@echo "  Mail is printed here unless EMAIL_URL is set; Slack needs SLACK_BOT_TOKEN (see README)"
	@echo ""
	@if [ -n "$$REDIS_URL" ]; then \
		echo "  REDIS_URL is set: starting a Celery worker with beat beside the server"; \
		DEBUG=$${DEBUG:-1} NOTIFY_EMAIL=$${NOTIFY_EMAIL:-1} $(VENV)/bin/celery -A config worker --beat --loglevel=INFO \
			--schedule "$(VENV)/celerybeat-schedule" & worker=$$!; \
		trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	else \
		DEBUG=$${DEBUG:-1} NOTIFY_EMAIL=$${NOTIFY_EMAIL:-1} $(PY) manage.py tick & ticker=$$!; \
		trap 'kill $$ticker 2>/dev/null' EXIT INT TERM; \
	fi; \
	DEBUG=$${DEBUG:-1} NOTIFY_EMAIL=$${NOTIFY_EMAIL:-1} $(PY) manage.py runserver $(HOST):$(PORT)

worker: install
	$(VENV)/bin/celery -A config worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A config beat --loglevel=INFO

## Browser tests need Debian's chromium; install it when absent and possible (root with apt-get).
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = "0" ]; then \
		echo "Installing Debian's chromium for the browser tests..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium could not be installed: the browser tests will be skipped"; \
	fi

## Run the whole suite (SQLite unless DATABASE_URL is set; the worker tests need REDIS_URL too).
test: install browser
	$(PY) manage.py makemigrations --check --dry-run >/dev/null
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: lint test

bench: install
	$(PY) bench/declare.py
	$(PY) bench/list_pages.py
	$(PY) bench/pages.py

## The hot paths (declare, API list of 50, incident page, dashboard) as ratios to /healthz, about 2 minutes.
bench-pages: install
	$(PY) bench/pages.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache db.sqlite3
