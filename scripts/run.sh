#!/usr/bin/env bash
# `make run`: migrate, seed demo data once, make an admin, then run web, worker and beat on the
# embedded defaults until Ctrl-C, which stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE=config.settings.local
PY=.venv/bin/python
PORT="${PORT:-8000}"
# Links in emails (reports, anomaly alerts, tracked messages) point at this server.
export STRIDE_SITE_URL="${STRIDE_SITE_URL:-http://127.0.0.1:$PORT}"
mkdir -p var/log

$PY manage.py migrate --noinput -v0  # also creates the database cache's table
# Web Push needs a VAPID key pair: made once for this checkout, kept in var/ (not in git).
if [ -z "${STRIDE_VAPID_PRIVATE_KEY:-}" ]; then
  [ -f var/vapid.env ] || $PY manage.py vapid_keys >var/vapid.env
  set -a; source var/vapid.env; set +a
fi
if [ ! -f var/.demo-seeded ]; then
  echo "Seeding demo data (first run)…"
  $PY manage.py seed_demo && touch var/.demo-seeded
fi
$PY manage.py ensure_admin --site "http://127.0.0.1:$PORT"
$PY manage.py demo_sign_in --site "http://127.0.0.1:$PORT" || true

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "Stopping Stride…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Stopped."
}
trap stop INT TERM EXIT

(exec .venv/bin/celery -A config worker -B --scheduler django_celery_beat.schedulers:DatabaseScheduler \
  --loglevel INFO --concurrency 2 >var/log/worker.log 2>&1) &
pids+=($!)
(exec $PY manage.py runserver "127.0.0.1:$PORT" --noreload) &
pids+=($!)

echo
echo "Stride is running at http://127.0.0.1:$PORT/  (API docs: /api/docs/, admin: /admin/)"
echo "Worker and beat log: var/log/worker.log. Press Ctrl-C to stop everything."
wait -n "${pids[@]}" || true
