"""The weekly insights: one run per week (what was computed and who wrote the text) and its
insights, one per finding, with the status staff give them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class InsightRun(models.Model):
    """The insights of one Monday-to-Sunday week. A rerun of the same week updates this row
    (one per week) instead of adding another."""

    class Writer(models.TextChoices):
        AI = "ai", "Claude"
        DETERMINISTIC = "deterministic", "Built-in writer (no API key)"
        FALLBACK = "fallback", "Built-in writer (Claude's answers were rejected)"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    week = models.DateField(unique=True, help_text="The Monday the week starts on.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    writer = models.CharField(max_length=16, choices=Writer.choices, blank=True)
    model = models.CharField(max_length=64, blank=True, help_text="Claude's model, if asked.")
    summary = models.TextField(blank=True, help_text="The week's narrative in a few sentences.")
    movements = models.JSONField(
        default=list, help_text="Every metric's week-over-week movement (the page's chart)."
    )
    findings = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Requests sent to Claude.")
    rejected = models.JSONField(
        default=list, help_text="The rejected answers: [{attempt, reasons}]."
    )
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-week"]

    def __str__(self) -> str:
        return f"insights of the week of {self.week} ({self.writer or self.status})"


class Insight(models.Model):
    """One finding of a week, in words, with the figures it rests on and the chart it comes
    from; unique per week and finding key, so a rerun replaces its text."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ACTED_ON = "acted_on", "Acted on"
        DISMISSED = "dismissed", "Dismissed"

    run = models.ForeignKey(InsightRun, on_delete=models.CASCADE, related_name="insights")
    week = models.DateField(help_text="The run's week (kept here for the unique key).")
    key = models.CharField(max_length=128, help_text="The finding's key, stable within a week.")
    kind = models.CharField(max_length=32)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order on the page.")
    title = models.CharField(max_length=200, help_text="The finding, as computed.")
    headline = models.CharField(max_length=200)
    body = models.TextField()
    recommendation = models.TextField()
    figures = models.JSONField(default=dict, help_text="The named numbers the text may use.")
    p_value = models.FloatField(null=True, blank=True)
    significant = models.BooleanField(default=False)
    chart_url = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    status_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-week", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["week", "key"], name="insight_unique_week_key")
        ]

    def __str__(self) -> str:
        return f"{self.week} {self.headline}"
