"""The first-week analysis the nightly run stored: one snapshot per course and one for the
platform (no course), replaced in place by every run."""

from __future__ import annotations

from django.db import models
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone


class FirstWeekSnapshot(models.Model):
    """Weak first weeks against the rest in one course or, without a course, over every
    enrolment: the definition used, the groups' outcomes, the separating signals and the
    recommendation (`analytics.services.first_week` says how each is defined)."""

    course = models.ForeignKey(
        "learning.Course", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    computed_at = models.DateTimeField(default=timezone.now)
    first_days = models.PositiveSmallIntegerField(help_text="Days in a first week.")
    min_active_days = models.PositiveSmallIntegerField(
        help_text="A first week with fewer active days than this is weak."
    )
    horizon_days = models.PositiveSmallIntegerField(
        help_text="Silent this many days (or withdrawn) and not completed: dropped off."
    )
    analysed = models.PositiveIntegerField(default=0, help_text="Enrolments analysed.")
    weak = models.PositiveIntegerField(default=0, help_text="... with a weak first week.")
    weak_dropped = models.PositiveIntegerField(default=0)
    rest_dropped = models.PositiveIntegerField(default=0)
    weak_completed = models.PositiveIntegerField(default=0)
    rest_completed = models.PositiveIntegerField(default=0)
    comparisons = models.JSONField(
        default=list,
        help_text="Every signal compared (weak vs rest): signal, means, d with its interval, "
        "p-values; the largest |d| first.",
    )
    recommendation = models.TextField(blank=True)
    weak_learners = models.JSONField(
        default=list, help_text="User ids of the learners with a weak first week (sorted)."
    )

    class Meta:
        ordering = ["course_id"]
        constraints = [
            models.UniqueConstraint(
                Coalesce("course", Value(0)), name="first_week_snapshot_one_per_scope"
            )
        ]

    def __str__(self) -> str:
        scope = f"course {self.course_id}" if self.course_id else "platform"
        return f"First week, {scope}: {self.weak} weak of {self.analysed}"

    @property
    def rest(self) -> int:
        return self.analysed - self.weak
