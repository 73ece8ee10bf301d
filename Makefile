# Two commands for a fresh Debian machine (run as root): `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run test bench services system-deps system-deps-test messages lint

$(VENV)/.installed: requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.lock
	touch $@

# The test and development tools (requirements-dev.lock) on top; the production image has none of them.
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock
	$(VENV)/bin/pip install -q -r requirements-dev.lock
	touch $@

system-deps:
	bash scripts/system-deps.sh

system-deps-test:
	bash scripts/system-deps.sh --test

# Compiled translations (.mo) are build outputs, made here and never committed.
messages: $(VENV)/.installed
	$(PY) manage.py compilemessages --ignore=.venv -v 0

setup: system-deps $(VENV)/.installed messages

# The embedded default: SQLite, Celery tasks in-process, the demo county loaded; gunicorn and the
# scheduled jobs' scheduler (manage.py run_scheduler) start together, and Ctrl-C stops both.
run: setup
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py migrate --noinput -v 0
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py seed_demo
	DJANGO_SETTINGS_MODULE=config.settings.local bash scripts/run_local.sh

services:
	bash scripts/services.sh

# The whole suite against the machine's PostgreSQL and Redis.
test: system-deps-test $(VENV)/.installed-dev messages services
	$(PY) -m pytest -n 2 --dist loadfile

bench: setup services
	@shopt -s nullglob; for b in bench/[!_]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
