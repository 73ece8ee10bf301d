#!/usr/bin/env bash
# The demo server (`make run`): gunicorn and the scheduled jobs' scheduler (manage.py run_scheduler,
# the demo's stand-in for Celery beat and a worker), started together and stopped together.
# Ctrl-C (SIGINT to the whole group), SIGTERM or SIGHUP to this script stops both; if either one
# exits on its own, the other is stopped too, so no scheduler is ever left running behind.
set -uo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.local}"
PORT="${PORT:-8000}"

pids=()
stop() {
	trap - INT TERM HUP EXIT
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	wait "${pids[@]}" 2>/dev/null
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM HUP
trap stop EXIT

.venv/bin/python manage.py run_scheduler &
pids+=($!)
# gunicorn with threads, not runserver: the dev server's listen queue of 10 drops connections in a
# burst (tests/security/test_sqlite_concurrency.py serves the same way).
.venv/bin/gunicorn config.wsgi:application --bind "127.0.0.1:${PORT}" --workers 2 --threads 8 \
	--reload --access-logfile - &
pids+=($!)

wait -n "${pids[@]}"
