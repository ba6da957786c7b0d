"""Settings as deployed: production refuses to start without a secret and passes Django's
deploy checks, every process picks safe settings, database timeouts, `migrate` alone."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from core.statement_timeout import statement_timeout_for_jobs

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k3Q9-vT2#pL8zR6!wY4@mN1^bX7$cH5%jF0&dG3*sA9(eU2)oI6"


def _environment_without_settings(**env: str) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return {**environment, **env}


def _check_deploy(**env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    environment.update(DJANGO_SETTINGS_MODULE="config.settings.production", **env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _check_deploy()

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_check_deploy():
    result = _check_deploy(SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="stride.example.com")

    assert result.returncode == 0, result.stderr + result.stdout


# --- which settings each process picks -------------------------------------------------------


def test_a_celery_worker_without_settings_module_or_secret_refuses_to_start():
    # A real worker, started as an operator would, with nothing set: it must not come up with
    # DEBUG on and the development key.
    result = subprocess.run(
        [str(Path(sys.executable).with_name("celery")), "-A", "config", "worker", "--pool=solo"],
        cwd=ROOT,
        env=_environment_without_settings(CELERY_BROKER_URL="memory://"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_celery_app_defaults_to_the_production_settings():
    probe = (
        "import config.celery; from django.conf import settings; "
        "print(settings.SETTINGS_MODULE, settings.DEBUG, settings.SECRET_KEY[:8])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=_environment_without_settings(SECRET_KEY=STRONG_KEY),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["config.settings.production", "False", STRONG_KEY[:8]]


def test_manage_py_defaults_to_the_local_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "diffsettings", "--all"],
        cwd=ROOT,
        env=_environment_without_settings(),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "SETTINGS_MODULE = 'config.settings.local'" in result.stdout


# --- database timeouts ------------------------------------------------------------------------


def _statement_timeout(conn) -> str:
    with conn.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_new_postgresql_connections_give_up_on_slow_statements_and_jobs_get_longer():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no statement timeout (its busy timeout is the OPTIONS' timeout)")
    fresh = connections.create_connection("default")  # a connection as a web worker opens it
    try:
        assert fresh.settings_dict["OPTIONS"]["connect_timeout"] == 5
        assert _statement_timeout(fresh) == "20s"
        with transaction.atomic(using="default"):
            statement_timeout_for_jobs(local=True)
            assert _statement_timeout(connection) == "30min"
    finally:
        fresh.close()


@pytest.mark.django_db
def test_a_statement_over_the_timeout_is_cancelled():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no statement timeout")
    settings_dict = connections["default"].settings_dict
    url = "postgres://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}".format(**settings_dict)
    probe = (
        "import django; django.setup(); from django.db import connection\n"
        "try:\n"
        "    connection.cursor().execute('SELECT pg_sleep(5)')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=_environment_without_settings(
            DJANGO_SETTINGS_MODULE="config.settings.test",
            DATABASE_URL=url,
            DB_STATEMENT_TIMEOUT="500ms",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "OperationalError canceling statement due to statement timeout" in result.stdout


# --- `migrate`, then serve --------------------------------------------------------------------


@pytest.mark.django_db
def test_migrate_alone_creates_the_database_cache_table_the_api_needs(settings, integrator):
    # Deployed without REDIS_URL: the cache (throttling) is the database's `stride_cache`.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "stride_cache",
        }
    }
    with connection.cursor() as cursor:  # a fresh deployment: no such table (undone after)
        cursor.execute("DROP TABLE IF EXISTS stride_cache")
    assert "stride_cache" not in connection.introspection.table_names()

    call_command("migrate", interactive=False, verbosity=0)

    assert "stride_cache" in connection.introspection.table_names()
    assert integrator.get("/api/v1/users/").status_code == 200
    assert integrator.get("/api/v1/users/").status_code == 200  # throttle counts read back
