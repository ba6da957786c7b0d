"""Star performers: the last computed segments and differentiating factors, per scope."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class PerformerScope(models.TextChoices):
    COURSE = "course", "One course's enrollments"
    OVERALL = "overall", "Every learner, across their enrollments"
    INSTRUCTORS = "instructors", "Every instructor, across their courses"


class PerformerSegment(models.TextChoices):
    STAR = "star", "Star (top 10%)"
    AVERAGE = "average", "Average"
    LAGGING = "lagging", "Lagging (bottom 10%)"


class PerformerRun(models.Model):
    """The latest analysis of one scope (a course, all learners, all instructors). One row per
    scope: a rerun replaces its members and factors instead of adding a run."""

    scope = models.CharField(max_length=16, choices=PerformerScope.choices)
    course = models.ForeignKey(
        "learning.Course", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    as_of = models.DateField(help_text="The signals are the learners' activity up to this day.")
    computed_at = models.DateTimeField(default=timezone.now)
    population = models.PositiveIntegerField(default=0)
    star_count = models.PositiveIntegerField(default=0)
    lagging_count = models.PositiveIntegerField(default=0)
    star_threshold = models.FloatField(null=True, blank=True, help_text="Lowest star score.")
    lagging_threshold = models.FloatField(null=True, blank=True, help_text="Highest lagging score.")
    weights = models.JSONField(default=dict, help_text="The composite score's weights.")

    class Meta:
        ordering = ["scope", "course_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "course"],
                condition=Q(course__isnull=False),
                name="performer_run_unique_course",
            ),
            models.UniqueConstraint(
                fields=["scope"],
                condition=Q(course__isnull=True),
                name="performer_run_unique_scope",
            ),
        ]

    def __str__(self) -> str:
        where = f"course {self.course_id}" if self.course_id else self.scope
        return f"performers of {where} as of {self.as_of} ({self.population})"


class PerformerMember(models.Model):
    """One learner (or, in the instructors' scope, one instructor) of a run with their score,
    components (0-1, null when undefined) and segment."""

    run = models.ForeignKey(PerformerRun, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    segment = models.CharField(max_length=8, choices=PerformerSegment.choices)
    rank = models.PositiveIntegerField(help_text="1 = the highest score.")
    score = models.FloatField()
    components = models.JSONField(default=dict)
    enrollments = models.PositiveIntegerField(
        default=1, help_text="How many enrollments the score rests on."
    )

    class Meta:
        ordering = ["run_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["run", "user"], name="performer_member_unique")
        ]
        indexes = [models.Index(fields=["run", "segment", "rank"])]

    def __str__(self) -> str:
        return f"{self.user_id} #{self.rank} {self.segment} ({self.score:.1f})"


class PerformerFactor(models.Model):
    """One signal compared between a run's star and lagging learners (Welch's t-test, Cohen's
    d with its 95% interval, Holm over all the run's signals)."""

    run = models.ForeignKey(PerformerRun, on_delete=models.CASCADE, related_name="factors")
    signal = models.CharField(max_length=64)
    n_star = models.PositiveIntegerField()
    n_lagging = models.PositiveIntegerField()
    star_mean = models.FloatField()
    lagging_mean = models.FloatField()
    cohen_d = models.FloatField(help_text="Capped at +/-10 (two constant groups).")
    d_low = models.FloatField()
    d_high = models.FloatField()
    p_value = models.FloatField()
    p_value_holm = models.FloatField()
    significant = models.BooleanField(
        default=False,
        help_text="Holm p < 0.05, |d| >= 0.2, 5+ learners a side: presented on the page.",
    )

    class Meta:
        ordering = ["run_id", "-significant", "signal"]
        constraints = [
            models.UniqueConstraint(fields=["run", "signal"], name="performer_factor_unique")
        ]

    def __str__(self) -> str:
        return f"{self.signal}: d={self.cohen_d:.2f}, p_holm={self.p_value_holm:.3g}"
