#!/usr/bin/env bash
# `make test`: throwaway PostgreSQL and Redis, then ruff, the migrations check and pytest.
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
echo "== migrations"
.venv/bin/python manage.py makemigrations --check --dry-run
echo "== OpenAPI schema"
.venv/bin/python manage.py spectacular --validate --fail-on-warn --file /dev/null
echo "== pytest (PostgreSQL $(pg_lsclusters --no-header | awk '{print $1}' | head -1), Redis on $REDIS_PORT)"
.venv/bin/python -m pytest "$@"
