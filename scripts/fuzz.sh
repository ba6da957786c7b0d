#!/usr/bin/env bash
# Fuzz the API against its own OpenAPI schema with schemathesis (every check), on PostgreSQL.
#
# Called by scripts/test.sh after pytest, with DATABASE_URL (and REDIS_URL etc.) exported.
# It creates a throwaway database, migrates and seeds it, creates a `*` key, serves the app with
# gunicorn on loopback under the production settings (plain http) and runs schemathesis with a
# fixed seed and example budget. Any failure makes it exit non-zero.
#
# Knobs (environment): FUZZ_DB (stride_fuzz), FUZZ_PORT (8765), FUZZ_SEED (20261201),
# FUZZ_MAX_EXAMPLES (25). Extra arguments are passed to `schemathesis run`
# (e.g. --include-path-regex users to fuzz one part while working on it).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${DATABASE_URL:?DATABASE_URL must name the PostgreSQL server (make test exports it)}"
case "$DATABASE_URL" in
  postgres://* | postgresql://*) ;;
  *) echo "fuzz.sh needs PostgreSQL; DATABASE_URL is $DATABASE_URL" >&2; exit 2 ;;
esac
FUZZ_DB="${FUZZ_DB:-stride_fuzz}"
FUZZ_PORT="${FUZZ_PORT:-8765}"
FUZZ_SEED="${FUZZ_SEED:-20261201}"
FUZZ_MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-25}"
PY=.venv/bin/python
VAR="$PWD/var/fuzz"
mkdir -p "$VAR"

# The app exactly as deployed (production settings), except plain http on loopback, a throwaway
# secret and a throttle the fuzzer does not hit (throttling has its own tests).
ADMIN_URL="$DATABASE_URL"
export DATABASE_URL="${DATABASE_URL%/*}/$FUZZ_DB"
export DJANGO_SETTINGS_MODULE=config.settings.production
SECRET_KEY="$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')"
export SECRET_KEY
export SECURE_SSL_REDIRECT=0 ALLOWED_HOSTS=127.0.0.1 API_THROTTLE_RATE=1000000/min
export CACHE_KEY_PREFIX="stride-fuzz-$$" STRIDE_VAR_DIR="$VAR"

started=$SECONDS
echo "== fuzz: fresh database $FUZZ_DB"
$PY - "$ADMIN_URL" "$FUZZ_DB" <<'PY'
import sys

import dj_database_url
import psycopg
from psycopg import sql

conf = dj_database_url.parse(sys.argv[1])
with psycopg.connect(
    host=conf["HOST"], port=conf["PORT"] or 5432, user=conf["USER"], password=conf["PASSWORD"],
    dbname="postgres", autocommit=True,
) as conn:
    name = sql.Identifier(sys.argv[2])
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
PY
$PY manage.py migrate --noinput -v 0
$PY manage.py createcachetable
# A small but complete world: users (some with non-ASCII emails), courses, lessons,
# enrollments, events, a scoring run and alerts.
$PY manage.py seed_demo --students 12 --days 14 --seed 3 2>"$VAR/seed.log" | tail -1 \
  || { cat "$VAR/seed.log" >&2; exit 1; }
KEY="$($PY manage.py create_api_key --name fuzz --scopes '*' 2>/dev/null | tail -1)"

echo "== fuzz: gunicorn on 127.0.0.1:$FUZZ_PORT"
.venv/bin/gunicorn config.wsgi --bind "127.0.0.1:$FUZZ_PORT" --workers 2 --timeout 60 --limit-request-line 8190 \
  >"$VAR/server.log" 2>&1 &
SERVER_PID=$!
stop_server() { kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true; }
trap stop_server EXIT
for _ in $(seq 1 60); do
  curl -fs -o /dev/null "http://127.0.0.1:$FUZZ_PORT/api/schema/" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$VAR/server.log" >&2; exit 1; }
  sleep 0.5
done

# No cache: each run starts from the seed alone, not from what an earlier run found.
#
# positive_data_acceptance: a request that fits the schema must not get a 400. These operations
# also apply rules no OpenAPI schema can state, documented in their descriptions, so a 400 is
# a correct answer to some schema-valid requests there (and only there):
# - upserts: creating needs fields an update may leave out (a user's email, a course's title);
#   referenced users, courses, lessons and live sessions must exist; dates must be in order;
#   emails unique;
# - a single event: its type's properties, the course or lesson some types need, a time no
#   later than now;
# - alerts: a resolved alert can be neither acknowledged nor resolved again;
# - at-risk: `course` must name a course Stride knows;
# - analytics: `course` must name a course Stride knows, `to` must not be before `from`, and a
#   range is at most three years long;
# - XP awards: `user` and `action` must name a learner and an action Stride knows;
# - leaderboards: `course` and `around` must name a course and a learner Stride knows;
# - interventions: `template` must name a template Stride has;
# - conversions: `delivery` must name a delivery, and a conversion is not dated before its send;
# - campaigns and segments: a spec's audience must be a valid filter and name a segment that
#   exists, its schedule a readable rule in the future with templates Stride has; state actions
#   answer 409 where the campaign's state does not allow them; predefined segments are fixed;
# - experiments: keys are unique, variants and metrics follow documented rules, a started one
#   keeps its design (409), and an assignment's `user` must name a learner Stride knows.
#
cat >"$VAR/schemathesis.toml" <<'TOML'
[cache]
enabled = false

# Ids the seed created (demo/services.py names them), offered half of the time so that updates,
# filters and references meet real rows as well as unknown ones.
[dictionaries]
users = { values = ["demo-student-00001", "demo-student-00002", "demo-student-00007", "demo-instructor-01"] }
courses = { values = ["demo-course-01", "demo-course-02", "demo-course-04"] }
lessons = { values = ["demo-course-01-lesson-01", "demo-course-01-lesson-05", "demo-course-02-lesson-03"] }
templates = { values = ["gentle-reminder", "streak-warning", "human-outreach"] }

[parameters]
"query.user" = { dictionary = "users", probability = 0.5 }
"query.course" = { dictionary = "courses", probability = 0.5 }
"query.instructor" = { dictionary = "users", probability = 0.5 }
"path.user" = { dictionary = "users", probability = 0.5 }
"path.course" = { dictionary = "courses", probability = 0.5 }
"body.user" = { dictionary = "users", probability = 0.5 }
"body.course" = { dictionary = "courses", probability = 0.5 }
"body.lesson" = { dictionary = "lessons", probability = 0.5 }
"body.instructor" = { dictionary = "users", probability = 0.5 }
"body.items[*].user" = { dictionary = "users", probability = 0.9 }
"body.items[*].course" = { dictionary = "courses", probability = 0.9 }
"body.items[*].instructor" = { dictionary = "users", probability = 0.5 }

[[operations]]
include-name-regex = "/api/v1/users/[{]external_id[}]/$"
parameters = { "path.external_id" = { dictionary = "users", probability = 0.5 } }

[[operations]]
include-name-regex = "/api/v1/courses/[{]external_id[}]/$"
parameters = { "path.external_id" = { dictionary = "courses", probability = 0.5 } }

[[operations]]
include-name-regex = "/api/v1/lessons/[{]external_id[}]/$"
parameters = { "path.external_id" = { dictionary = "lessons", probability = 0.5 } }

[[operations]]
include-name-regex = "^(PUT|POST) /api/v1/(users|courses|lessons|enrollments|live-sessions|live-session-registrations)/"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]

[[operations]]
include-name-regex = "^POST /api/v1/events/$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]

[[operations]]
include-name-regex = "^POST /api/v1/engagement/alerts/[{]id[}]/(acknowledge|resolve)/$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]

[[operations]]
include-name-regex = "^GET /api/v1/engagement/at-risk/$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]

[[operations]]
include-name-regex = "^GET /api/v1/analytics/"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]

[[operations]]
include-name-regex = "^POST /api/v1/xp/awards/$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]

[[operations]]
include-name-regex = "^POST /api/v1/interventions/$"
parameters = { "body.template" = { dictionary = "templates", probability = 0.7 } }
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]

[[operations]]
include-name-regex = "^POST /api/v1/interventions/conversions/$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]

[[operations]]
include-name-regex = "^(POST|PATCH|DELETE) /api/v1/(campaigns|segments|experiments)/"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]

[[operations]]
include-name-regex = "^GET /api/v1/experiments/[{]key[}]/assignment/$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]

[[operations]]
include-name-regex = "^GET /api/v1/leaderboards/"
parameters = { "query.around" = { dictionary = "users", probability = 0.5 } }
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
TOML

echo "== fuzz: schemathesis (seed $FUZZ_SEED, at most $FUZZ_MAX_EXAMPLES examples per operation)"
status=0
.venv/bin/schemathesis --config-file "$VAR/schemathesis.toml" run "http://127.0.0.1:$FUZZ_PORT/api/schema/" \
  --checks all --workers 1 --seed "$FUZZ_SEED" --max-examples "$FUZZ_MAX_EXAMPLES" \
  --generation-database none --header "Authorization: Bearer $KEY" \
  --request-timeout 30 --no-color "$@" || status=$?
if [ "$status" -ne 0 ] && grep -q Traceback "$VAR/server.log"; then
  echo "== fuzz: server errors (from $VAR/server.log)" >&2
  grep -B2 -A30 Traceback "$VAR/server.log" | tail -80 >&2
fi
echo "== fuzz: $((SECONDS - started)) s in all"
exit "$status"
