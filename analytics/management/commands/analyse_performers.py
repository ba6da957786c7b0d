"""Compute the star performers now: every course, learner and instructor, or one course."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.services.performers import performers_compute
from learning.models import Course


class Command(BaseCommand):
    help = (
        "Score every enrollment in progress and store the star / average / lagging segments "
        "and their differentiating factors (what the nightly run does); --course for one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--course", metavar="EXTERNAL_ID", help="One course's external id.")

    def handle(self, *args: Any, **options: Any) -> None:
        course = None
        if options["course"]:
            course = Course.objects.filter(external_id=options["course"]).first()
            if course is None:
                raise CommandError(f"No course has the external id {options['course']!r}.")

        def progress(stage: str, done: int, total: int) -> None:
            self.stdout.write(f"  {stage}: {done}/{total} scopes stored")

        started = time.perf_counter()
        self.stdout.write(
            f"analysing {course.title!r}"
            if course
            else "analysing every course, learner and instructor"
        )
        result = performers_compute(course=course, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"performers as of {result.as_of}: {result.runs} scopes, {result.members} "
                f"members, {result.significant} of {result.factors} factors significant, in "
                f"{time.perf_counter() - started:.1f}s"
            )
        )
