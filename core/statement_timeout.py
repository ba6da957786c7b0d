"""Statement timeouts: short for requests, long for jobs.

Every PostgreSQL connection starts with ``DB_STATEMENT_TIMEOUT`` (settings; 20 s by default),
so that a query stuck behind a lock or on an overloaded server cannot hold a web worker until
it is killed. Long jobs raise the limit to ``DB_JOB_STATEMENT_TIMEOUT`` (30 min) for their own
statements: Celery tasks (config.celery), migrations (accounts.apps), the scoring and training
aggregations (engagement.selectors.activity), scoring's writes and import_events' connections.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


def statement_timeout_for_jobs(*, local: bool = False, using: str = DEFAULT_DB_ALIAS) -> None:
    """Give this connection's statements the job timeout: to the end of the current
    transaction when ``local`` (SET LOCAL), else for the rest of the session.

    Does nothing on databases other than PostgreSQL, which have no statement timeout.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # set_config() takes its value as a parameter, which SET cannot.
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, %s)",
            [settings.DB_JOB_STATEMENT_TIMEOUT, local],
        )
