"""Daily aggregates of learner activity (platform-wide, per course and per instructor) and the
runs that compute them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class ScopedQuerySet(models.QuerySet):
    """Rows of a model scoped to the platform (no course, no instructor), a course or an
    instructor (the union of their courses: a learner in two of them counts once)."""

    def platform(self) -> ScopedQuerySet:
        return self.filter(course__isnull=True, instructor__isnull=True)

    def scoped(self, *, course: object = None, instructor: object = None) -> ScopedQuerySet:
        """The rows of `course`, else of `instructor`, else of the platform."""
        if course is not None:
            return self.filter(course=course)
        if instructor is not None:
            return self.filter(instructor=instructor)
        return self.platform()


def scope_constraints(prefix: str, extra: list[str]) -> list[models.BaseConstraint]:
    """A row is for at most one of course and instructor, and one row a day per scope (and
    per `extra` fields). NULLs are distinct in a unique index on both PostgreSQL and SQLite,
    so the per-course and per-instructor ones hold for their own rows only and a partial one
    keeps one platform row."""
    return [
        models.CheckConstraint(
            condition=Q(course__isnull=True) | Q(instructor__isnull=True),
            name=f"{prefix}_course_or_instructor",
        ),
        models.UniqueConstraint(
            fields=["day", "course", *extra],
            name=f"{prefix}_unique_day_course{''.join('_' + e for e in extra)}",
        ),
        models.UniqueConstraint(
            fields=["day", "instructor", *extra],
            name=f"{prefix}_unique_day_instructor{''.join('_' + e for e in extra)}",
        ),
        models.UniqueConstraint(
            fields=["day", *extra],
            condition=Q(course__isnull=True, instructor__isnull=True),
            name=f"{prefix}_unique_platform_day{''.join('_' + e for e in extra)}",
        ),
    ]


class DailyAggregate(models.Model):
    """The activity of one learner-local day, for the whole platform (no course, no
    instructor), one course or one instructor's courses together.

    "Active" means any event that is something the learner did (not in
    engagement.catalogue.NON_ACTIVITY_TYPES); a day is the learner's own (User.timezone), so
    one UTC instant may fall on different days for different learners. A course has a row on
    the days it has anything to count (an active learner in its 30-day window, an event, an
    enrollment or a completion), and so does an instructor (distinct learners over all of their
    courses, not a sum of the course rows); the platform has a row on every computed day.
    """

    day = models.DateField()
    course = models.ForeignKey(
        "learning.Course",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty for the platform-wide and instructor rows.",
    )
    instructor = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Set on an instructor's row: the courses they teach, together.",
    )
    dau = models.PositiveIntegerField(default=0, help_text="Distinct active learners that day.")
    wau = models.PositiveIntegerField(
        default=0, help_text="Distinct active learners in the 7 days ending that day."
    )
    mau = models.PositiveIntegerField(
        default=0, help_text="Distinct active learners in the 30 days ending that day."
    )
    new_learners = models.PositiveIntegerField(
        default=0, help_text="Learners whose first activity (in the scope) is that day."
    )
    events = models.PositiveIntegerField(default=0, help_text="Events of every type that day.")
    enrollments = models.PositiveIntegerField(default=0, help_text="Enrollments made that day.")
    completions = models.PositiveIntegerField(default=0, help_text="Courses completed that day.")
    starts = models.PositiveIntegerField(
        default=0,
        help_text="Enrollments whose first activity in their course is that day.",
    )
    rating_sum = models.FloatField(
        default=0, help_text="Sum of the ratings of the reviews posted that day."
    )
    rating_count = models.PositiveIntegerField(default=0, help_text="Reviews posted that day.")
    median_days_to_complete = models.FloatField(
        null=True,
        blank=True,
        help_text="Median days from enrolling to completing, of the completions that day.",
    )
    messages_sent = models.PositiveIntegerField(default=0, help_text="Messages sent that day.")
    messages_opened = models.PositiveIntegerField(default=0, help_text="Messages opened that day.")
    messages_clicked = models.PositiveIntegerField(
        default=0, help_text="Messages clicked that day."
    )
    messages_converted = models.PositiveIntegerField(
        default=0, help_text="Messages that converted that day."
    )
    scored_learners = models.PositiveIntegerField(
        default=0,
        help_text="Learners scored by the day's latest completed scoring run (0: no run).",
    )
    at_risk_learners = models.PositiveIntegerField(
        default=0, help_text="Of those, learners with a high or critical score in the scope."
    )
    computed_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "course_id", "instructor_id"]
        constraints = scope_constraints("aggregate", [])

    def __str__(self) -> str:
        return f"{self.day} {self.scope_label}: DAU {self.dau}, MAU {self.mau}"

    @property
    def scope_label(self) -> str:
        if self.course_id:
            return f"course {self.course_id}"
        if self.instructor_id:
            return f"instructor {self.instructor_id}"
        return "platform"

    @property
    def average_rating(self) -> float | None:
        """Mean rating of the day's reviews, or None on a day without one."""
        return self.rating_sum / self.rating_count if self.rating_count else None

    @property
    def at_risk_share(self) -> float | None:
        """The share (0-1) of the scored learners rated high or critical, or None on a day
        without a completed scoring run."""
        return self.at_risk_learners / self.scored_learners if self.scored_learners else None

    @property
    def stickiness(self) -> float | None:
        """DAU / MAU (0-1), or None on a day with no active learner in the 30-day window."""
        return self.dau / self.mau if self.mau else None


class AggregateRun(models.Model):
    """One refresh or backfill of the daily aggregates; a done refresh is the watermark.

    The next refresh recomputes the days of the events received after `received_until`.
    """

    class Kind(models.TextChoices):
        REFRESH = "refresh", "Incremental refresh"
        BACKFILL = "backfill", "Backfill"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.REFRESH)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    received_until = models.DateTimeField(
        null=True, blank=True, help_text="Events received up to this instant are counted."
    )
    first_day = models.DateField(null=True, blank=True)
    last_day = models.DateField(null=True, blank=True)
    days = models.PositiveIntegerField(default=0, help_text="Days recomputed.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["kind", "status", "-received_until"], name="aggregate_run_mark")
        ]
        constraints = [
            # One refresh at a time: a redelivered nightly task, or the command run by hand
            # meanwhile, finds the refresh under way instead of counting the same days twice.
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(kind="refresh", status="running"),
                name="aggregate_run_one_refresh_running",
            )
        ]

    def __str__(self) -> str:
        return f"Aggregate {self.kind} {self.pk} ({self.status}, {self.days} days)"
