"""Recompute the first-week analysis now (the nightly run does it too)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.services.first_week import first_week_compute
from learning.models import Course


class Command(BaseCommand):
    help = (
        "Compare the enrolments whose first week was weak with the rest, for the platform and "
        "every course, or only for --course EXTERNAL_ID, and store the results."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--course", help="A course's external id; default: every course.")

    def handle(self, *args: Any, **options: Any) -> None:
        course = None
        if options["course"]:
            course = Course.objects.filter(external_id=options["course"]).first()
            if course is None:
                raise CommandError(f"no course has the external id {options['course']!r}")
        started = time.perf_counter()
        computed = first_week_compute(course=course)
        seconds = time.perf_counter() - started
        scope = course.title if course is not None else "the platform"
        self.stdout.write(
            self.style.SUCCESS(
                f"first week, {scope}: {computed.weak} weak of {computed.analysed} enrolments "
                f"analysed; {computed.stored} snapshots stored in {seconds:.1f}s"
            )
        )
