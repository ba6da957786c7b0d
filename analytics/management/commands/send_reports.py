"""Email a staff report now: `python manage.py send_reports --kind daily_summary|weekly_growth`."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.models import ReportKind
from analytics.services.reports import reports_send
from core.errors import DomainValidationError


class Command(BaseCommand):
    help = (
        "Email a staff report (the one due now, or of --period) to the staff who chose it and "
        "have not had it; --dry-run lists them and sends nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", required=True, choices=ReportKind.values)
        parser.add_argument(
            "--period",
            type=datetime.date.fromisoformat,
            help="The day (daily summary) or the week's Monday (weekly growth); default: due now.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Record and send nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            outcome = reports_send(
                options["kind"], period=options["period"], dry_run=options["dry_run"]
            )
        except DomainValidationError as error:
            raise CommandError(error.messages_text()) from error
        who = ", ".join(outcome.recipients) or "nobody (no active staff subscription)"
        if outcome.dry_run:
            self.stdout.write(f"{outcome.kind} {outcome.period}: would be sent to {who}.")
            return
        self.stdout.write(
            f"{outcome.kind} {outcome.period}: {outcome.sent} sent, {outcome.failed} failed "
            f"(subscribed: {who})."
        )
        if outcome.failed:
            raise CommandError(f"{outcome.failed} report(s) failed; the next run retries them.")
