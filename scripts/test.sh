#!/usr/bin/env bash
# `make test`: throwaway PostgreSQL and Redis, then ruff, the import contract, the migrations
# check, the schema check, pytest on PostgreSQL and on SQLite, and schemathesis against a live
# server (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/services.sh)"
REDIS_PORT="${STRIDE_TEST_REDIS_PORT:-6390}"
stop_redis() { redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }
trap stop_redis EXIT

export DJANGO_SETTINGS_MODULE=config.settings.test
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== import contract (.importlinter)"
.venv/bin/lint-imports --no-cache
echo "== migrations"
.venv/bin/python manage.py makemigrations --check --dry-run
echo "== OpenAPI schema"
.venv/bin/python manage.py spectacular --validate --fail-on-warn --file /dev/null
# The suite runs twice: on PostgreSQL with Redis (production's stack), then on the embedded
# defaults every new user meets first (SQLite, filesystem broker, local-memory cache), where the
# browser, Redis-only and real-concurrency tests skip and say why. Two xdist workers, one per
# core, each with its own test database. xdist's default distribution keeps, in each worker,
# pytest-django's order (transactional tests last, as their flush empties the rows that data
# migrations seed); --dist loadfile would not. Any non-zero pytest exit (a failure, an error,
# or 5: no tests collected) fails `make test`, after both runs have reported.
PYTEST=(.venv/bin/python -m pytest -n "${STRIDE_TEST_WORKERS:-2}")
failed=()
echo "== pytest (PostgreSQL $(pg_lsclusters --no-header | awk '{print $1}' | head -1), Redis on $REDIS_PORT)"
"${PYTEST[@]}" "$@" || failed+=("PostgreSQL (exit $?)")
echo "== pytest (SQLite, embedded defaults)"
env -u REDIS_URL -u CELERY_BROKER_URL -u CELERY_RESULT_BACKEND \
  DATABASE_URL="sqlite:///$PWD/var/test-services/stride-test.sqlite3" \
  "${PYTEST[@]}" "$@" || failed+=("SQLite (exit $?)")
if [ ${#failed[@]} -gt 0 ]; then
  echo "pytest failed on: ${failed[*]}" >&2
  exit 1
fi
echo "== schemathesis (every check, live server on PostgreSQL)"
scripts/fuzz.sh
