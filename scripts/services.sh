#!/usr/bin/env bash
# Install (if missing) and start throwaway PostgreSQL and Redis on loopback for the test suite.
# Prints the environment to export; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
VAR="$PWD/var/test-services"
mkdir -p "$VAR"
REDIS_PORT="${STRIDE_TEST_REDIS_PORT:-6390}"

need=()
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing ${need[*]} with apt…" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi

# PostgreSQL: the Debian cluster, started if down, with a role that may create test databases.
if ! pg_isready -q -h 127.0.0.1; then
  read -r version cluster _ < <(pg_lsclusters --no-header | head -1)
  pg_ctlcluster "$version" "$cluster" start >&2 || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 0.5; done
fi
su postgres -c "psql -q -v ON_ERROR_STOP=1" >&2 <<'SQL'
DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='stride') THEN
  CREATE ROLE stride LOGIN PASSWORD 'stride' CREATEDB; END IF; END $$;
SQL
if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='stride'\"" | grep -q 1; then
  su postgres -c "createdb -O stride stride" >&2
fi

# Redis: our own throwaway instance on a side port, nothing persisted.
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --daemonize yes --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --pidfile "$VAR/redis.pid" --logfile "$VAR/redis.log" --dir "$VAR" >&2
  for _ in $(seq 1 30); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
fi

cat <<ENV
export DATABASE_URL=postgres://stride:stride@127.0.0.1:5432/stride
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export CELERY_BROKER_URL=redis://127.0.0.1:$REDIS_PORT/1
export CELERY_RESULT_BACKEND=redis://127.0.0.1:$REDIS_PORT/2
ENV
