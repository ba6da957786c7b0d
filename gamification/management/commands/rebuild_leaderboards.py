"""Rebuild the leaderboards from the XP ledger (Redis backend; the database needs none)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainValidationError
from gamification.services.leaderboards import leaderboards_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild every leaderboard from the XP ledger, so that it agrees with it. Pages and "
        "live counting go on meanwhile. With the database backend there is nothing to do."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(stage: str, count: int) -> None:
            self.stdout.write(f"  {stage}: {count:,}")
            self.stdout.flush()

        try:
            result = leaderboards_rebuild(progress=progress)
        except DomainValidationError as exc:
            raise CommandError(exc.messages_text()) from exc
        if result.backend == "database":
            self.stdout.write(
                self.style.SUCCESS(
                    f"The leaderboards are read from the ledger itself ({result.rows:,} rows): "
                    "nothing to rebuild."
                )
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt {result.boards:,} leaderboards from {result.rows:,} ledger rows in "
                f"{result.seconds:.1f}s ({result.caught_up:,} rows recorded meanwhile caught up)."
            )
        )
