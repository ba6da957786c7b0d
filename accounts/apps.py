from typing import Any

from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate, pre_migrate

from core.statement_timeout import statement_timeout_for_jobs


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Registers the OpenAPI description of API-key authentication (import side effect).
        from accounts.api import schema  # noqa: F401

        # Django's own migrate signals, for tables and settings no model of ours owns.
        pre_migrate.connect(migrations_get_the_job_statement_timeout, sender=self)
        post_migrate.connect(cache_tables_create, sender=self)


def migrations_get_the_job_statement_timeout(*, using: str, **kwargs: Any) -> None:
    """Migrations are long jobs: an index on a big table takes longer than a request may."""
    statement_timeout_for_jobs(using=using)


def cache_tables_create(*, using: str, verbosity: int = 1, **kwargs: Any) -> None:
    """Create the database cache's table (`stride_cache`) if it is missing, at every migrate.

    Without REDIS_URL the cache (API throttling among others) lives in that table, which no
    migration creates: `migrate`, then serve, must give a working server. Does nothing when
    the cache is Redis or in memory; safe to repeat.
    """
    call_command("createcachetable", database=using, verbosity=max(verbosity - 1, 0))
