"""What the health page reads about the periodic tasks: their last outcomes."""

from __future__ import annotations

from django.db import models


class TaskHealth(models.Model):
    """The last start, success and failure of one task on the beat schedule.

    Written by the Celery signal receivers (analytics.receivers) with UPDATEs on the unique
    task name, so that workers finishing the same task at once never add a second row.
    """

    task = models.CharField(max_length=200, unique=True, help_text="The Celery task name.")
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_success_seconds = models.FloatField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_failure_seconds = models.FloatField(null=True, blank=True)
    last_error = models.CharField(
        max_length=300,
        blank=True,
        help_text="The last failure's exception type and message, addresses masked, truncated.",
    )
    successes = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["task"]
        verbose_name_plural = "task health"

    def __str__(self) -> str:
        return self.task


class IngestionHour(models.Model):
    """The events received in one closed UTC hour, counted once by `analytics.count_ingestion`
    so that the health page adds up a day of hours instead of counting a day of events."""

    hour = models.DateTimeField(unique=True, help_text="The hour's start (UTC).")
    events = models.PositiveBigIntegerField(default=0)
    counted_at = models.DateTimeField()

    class Meta:
        ordering = ["-hour"]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 UTC: {self.events} events"
