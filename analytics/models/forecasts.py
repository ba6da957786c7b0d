"""Forecasts the nightly run stored: 30 days ahead of the latest aggregated day, per scope."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Forecast(models.Model):
    """One metric's forecast for the platform (no course) or one course, made from the
    history up to `origin`; revenue is forecast per currency (`currency` is empty for the
    other metrics). A rerun for the same origin replaces the row instead of adding another.
    With too little history there are no points and `reason` says why."""

    class Metric(models.TextChoices):
        DAU = "dau", "Daily active learners"
        ENROLLMENTS = "enrollments", "Enrollments"
        REVENUE = "revenue", "Revenue"

    origin = models.DateField(help_text="The last day of the history; points start the day after.")
    course = models.ForeignKey(
        "learning.Course", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    metric = models.CharField(max_length=16, choices=Metric.choices)
    currency = models.CharField(max_length=3, blank=True, default="", help_text="Revenue only.")
    model = models.CharField(max_length=80, blank=True, help_text="Empty: no forecast.")
    reason = models.TextField(blank=True, help_text="Why there is no forecast or no backtest.")
    history_days = models.PositiveIntegerField(default=0)
    points = models.JSONField(
        default=list,
        help_text="[{date, mean, lower_80, upper_80, lower_95, upper_95}], oldest first.",
    )
    backtest_days = models.PositiveIntegerField(null=True, blank=True)
    backtest_mape = models.FloatField(
        null=True, blank=True, help_text="Percent, over the held-out days with a non-zero value."
    )
    backtest_mape_days = models.PositiveIntegerField(null=True, blank=True)
    backtest_mae = models.FloatField(null=True, blank=True)
    backtest_covered_80 = models.PositiveIntegerField(null=True, blank=True)
    backtest_covered_95 = models.PositiveIntegerField(null=True, blank=True)
    warnings = models.JSONField(default=list, help_text="What the fits warned about.")
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-origin", "metric", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["origin", "course", "metric", "currency"],
                name="forecast_unique_origin_course_metric_currency",
            ),
            models.UniqueConstraint(
                fields=["origin", "metric", "currency"],
                condition=Q(course__isnull=True),
                name="forecast_unique_platform_origin_metric_currency",
            ),
        ]

    def __str__(self) -> str:
        scope = f"course {self.course_id}" if self.course_id else "platform"
        what = f"{self.metric} {self.currency}".strip()
        return f"{self.origin} {scope} {what}: {self.model or 'no forecast'}"

    @property
    def has_forecast(self) -> bool:
        return bool(self.points)
