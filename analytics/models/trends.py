"""Anomalies the nightly run found in the daily aggregates."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Anomaly(models.Model):
    """One day whose metric was far from its same-weekday baseline, for the platform (no
    course) or one course; a rerun updates the row instead of adding another."""

    day = models.DateField()
    course = models.ForeignKey(
        "learning.Course", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    metric = models.CharField(max_length=32)
    value = models.FloatField()
    baseline = models.FloatField(help_text="Median of the previous same weekdays.")
    score = models.FloatField(help_text="Robust score: residual over 1.4826 x MAD.")
    detected_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When staff were told of it (set once, before sending; never told twice).",
    )

    class Meta:
        ordering = ["-day", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "course", "metric"], name="anomaly_unique_day_course_metric"
            ),
            models.UniqueConstraint(
                fields=["day", "metric"],
                condition=Q(course__isnull=True),
                name="anomaly_unique_platform_day_metric",
            ),
        ]

    def __str__(self) -> str:
        scope = f"course {self.course_id}" if self.course_id else "platform"
        return f"{self.day} {scope} {self.metric}: {self.value:g} (score {self.score:.1f})"
