"""Retention cohorts and weekly lifecycle, precomputed nightly for the cohorts page."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class CohortKind(models.TextChoices):
    SIGNUP = "signup", "Signup week"
    ENROLLMENT = "enrollment", "First-enrollment week"


class Breakdown(models.TextChoices):
    """How a cohort is split; the course is a dimension of its own (`RetentionCell.course`)."""

    ALL = "all", "All learners"
    TIMEZONE = "timezone", "Timezone"
    LEAGUE = "league", "League tier (now)"
    STREAK7 = "streak7", "7-day streak in the first two weeks"


class RetentionCell(models.Model):
    """How many learners of one cohort were active in the k-th week after its cohort week.

    A cohort is the students whose cohort week (learner-local Monday to Sunday) of
    `cohort_kind` is `cohort_week`: signing up (User.date_joined), or their first
    enrollment. With a `course` it is that course's learners (for "enrollment": the week of
    their enrollment in it) and only activity in that course counts; without one, the
    platform and any activity. `breakdown`/`breakdown_value` split it further (see
    `analytics.services.retention`). `week_offset` 0 is the cohort week itself; a cell exists
    for every offset from 0 to the current week (at most `MAX_WEEK_OFFSET`).
    """

    cohort_kind = models.CharField(max_length=16, choices=CohortKind.choices)
    course = models.ForeignKey(
        "learning.Course", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    breakdown = models.CharField(max_length=16, choices=Breakdown.choices, default=Breakdown.ALL)
    breakdown_value = models.CharField(max_length=64, blank=True, default="")
    cohort_week = models.DateField(help_text="The Monday the cohort's week starts on.")
    week_offset = models.PositiveSmallIntegerField()
    cohort_size = models.PositiveIntegerField()
    retained = models.PositiveIntegerField(help_text="Cohort learners active in that week.")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cohort_kind", "course", "breakdown", "breakdown_value", "cohort_week"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "cohort_kind",
                    "course",
                    "breakdown",
                    "breakdown_value",
                    "cohort_week",
                    "week_offset",
                ],
                name="retention_cell_unique",
            ),
            models.UniqueConstraint(
                fields=[
                    "cohort_kind",
                    "breakdown",
                    "breakdown_value",
                    "cohort_week",
                    "week_offset",
                ],
                condition=Q(course__isnull=True),
                name="retention_cell_unique_platform",
            ),
        ]
        indexes = [
            models.Index(
                fields=["cohort_kind", "breakdown", "course", "cohort_week"],
                name="retention_cell_lookup",
            )
        ]

    def __str__(self) -> str:
        scope = f"course {self.course_id}" if self.course_id else "platform"
        return (
            f"{self.cohort_kind} {self.cohort_week} {scope} {self.breakdown}="
            f"{self.breakdown_value} +{self.week_offset}w: {self.retained}/{self.cohort_size}"
        )


class LifecycleWeek(models.Model):
    """The active learners of one learner-local week, by how they relate to the week before.

    new: first activity ever (in the course, if any) this week; returning: active this week
    and the previous one; resurrecting: active this week, not the previous one, but before;
    dormant: active the previous week and not this one (the page shows it negative).
    """

    week = models.DateField(help_text="The Monday the week starts on.")
    course = models.ForeignKey(
        "learning.Course", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    new = models.PositiveIntegerField(default=0)
    returning = models.PositiveIntegerField(default=0)
    resurrecting = models.PositiveIntegerField(default=0)
    dormant = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course", "week"]
        constraints = [
            models.UniqueConstraint(fields=["week", "course"], name="lifecycle_unique_week"),
            models.UniqueConstraint(
                fields=["week"],
                condition=Q(course__isnull=True),
                name="lifecycle_unique_platform_week",
            ),
        ]

    def __str__(self) -> str:
        scope = f"course {self.course_id}" if self.course_id else "platform"
        return (
            f"{self.week} {scope}: {self.new} new, {self.returning} returning, "
            f"{self.resurrecting} resurrecting, {self.dormant} dormant"
        )
