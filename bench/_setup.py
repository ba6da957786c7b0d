"""What the benchmarks share: a PostgreSQL database of their own, Django set up against it, and
COPY of rows (bench learners among them).

The scripts run as ``python bench/<name>.py``, so this folder is on ``sys.path`` and they
import it as ``_setup``. Django and the project are imported inside the functions: a script
points ``DATABASE_URL`` at its own database before Django is set up.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
LEARNER_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gia", "Hugo", "Ines", "Jon")
LEARNER_EMAIL_DOMAIN = "bench.example"


def with_database(url: str, name: str) -> str:
    """Return the PostgreSQL URL ``url`` with its database replaced by ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(url: str, name: str) -> str:
    """Drop and create the benchmark database ``name`` on the server of ``url``; return its URL."""
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(url, name)


def setup_django(db_name: str) -> None:
    """Point Django at a dedicated PostgreSQL database (created if missing) and set it up.

    The server is BENCH_PG_URL's (default the local one); settings are config.settings.local
    unless DJANGO_SETTINGS_MODULE says otherwise.
    """
    base = os.environ.get("BENCH_PG_URL", "postgres://stride:stride@127.0.0.1:5432")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db_name}"')
    os.environ["DATABASE_URL"] = f"{base}/{db_name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def copy_rows(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Any]) -> None:
    """COPY ``rows`` (tuples) into ``table`` through psycopg 3's copy protocol."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# The columns of engagement_event a benchmark COPies its events into.
EVENT_COLUMNS = (
    "source",
    "client_id",
    "type",
    "user_id",
    "occurred_at",
    "received_at",
    "session_id",
    "device",
    "platform",
    "properties",
)


def copy_learners(
    cursor: Any, n: int, *, now: datetime, domain: str = LEARNER_EMAIL_DOMAIN, prefix: str = "ext"
) -> list[int]:
    """COPY ``n`` student accounts in (``learner<i>@<domain>``, external id ``<prefix>-<i>``,
    UTC, no usable password); return the ids of ``domain``'s accounts in that order."""
    copy_rows(
        cursor,
        "accounts_user",
        [
            "password",
            "is_superuser",
            "first_name",
            "last_name",
            "is_staff",
            "is_active",
            "date_joined",
            "email",
            "role",
            "timezone",
            "external_id",
            "provisional",
            "updated_at",
        ],
        (
            (
                "!",
                False,
                LEARNER_NAMES[i % len(LEARNER_NAMES)],
                f"Learner{i}",
                False,
                True,
                now,
                f"learner{i}@{domain}",
                "student",
                "UTC",
                f"{prefix}-{i}",
                False,
                now,
            )
            for i in range(n)
        ),
    )
    cursor.execute(
        "SELECT id FROM accounts_user WHERE email LIKE %s ORDER BY id",
        [f"%@{domain}"],
    )
    return [row[0] for row in cursor.fetchall()]
