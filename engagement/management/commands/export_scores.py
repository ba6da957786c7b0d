"""Write the current scoring run's scores as CSV to stdout: a row per enrolment, or per learner."""

from __future__ import annotations

import csv
import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engagement.selectors.dashboard import scoring_run_current
from engagement.selectors.learners import learner_risks
from engagement.selectors.scores import score_list

HEADER = (
    "user",
    "course",
    "never_started",
    "drop_off_risk",
    "weekly_risk",
    "monthly_risk",
    "confidence",
    "level",
    "scored_at",
)
LEARNER_HEADER = ("user", "risk", "level", "driving_course", "enrolments", "never_started")


class Command(BaseCommand):
    help = (
        "Export scores of the current run (or the latest done run of --as-of) as CSV: one row "
        "per enrolment, or with --per-learner one per learner (the highest risk of their "
        "enrolments and the course driving it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["csv"], default="csv")
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, default=None)
        parser.add_argument("--per-learner", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        run = scoring_run_current(as_of=options["as_of"])
        if run is None:
            when = f" as of {options['as_of']}" if options["as_of"] else ""
            raise CommandError(f"No finished scoring run{when}; run score_risk first.")
        writer = csv.writer(self.stdout, lineterminator="\n")
        if options["per_learner"]:
            self._per_learner(writer, run)
            return
        writer.writerow(HEADER)
        rows = score_list(as_of=options["as_of"]).values_list(
            "user__external_id",
            "user_id",
            "course__external_id",
            "never_started",
            "drop_off_risk",
            "weekly_risk",
            "monthly_risk",
            "confidence",
            "level",
            "scored_at",
        )
        for ext, uid, course, never, *values, scored_at in rows.iterator(chunk_size=5000):
            writer.writerow(
                [
                    ext if ext is not None else f"id:{uid}",
                    course or "",
                    "yes" if never else "no",
                    *values,
                    scored_at.isoformat(),
                ]
            )

    def _per_learner(self, writer: Any, run: Any) -> None:
        risks = learner_risks(run=run)
        users: dict[int, str | None] = {}
        courses: dict[int, str] = {}
        names = score_list(as_of=run.as_of).values_list(
            "user_id", "user__external_id", "course_id", "course__external_id"
        )
        for uid, ext, cid, course in names.iterator(chunk_size=5000):
            users[uid] = ext
            if cid is not None:
                courses[cid] = course
        writer.writerow(LEARNER_HEADER)
        for risk in sorted(risks.values(), key=lambda r: (-r.risk, r.user_id)):
            ext = users.get(risk.user_id)
            writer.writerow(
                [
                    ext if ext is not None else f"id:{risk.user_id}",
                    risk.risk,
                    risk.level,
                    courses.get(risk.course_id, "") if risk.course_id else "",
                    risk.enrolments,
                    risk.never_started,
                ]
            )
