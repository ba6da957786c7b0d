"""Staff reports: who gets which emailed report, and every send, recorded before it goes out."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ReportKind(models.TextChoices):
    DAILY_SUMMARY = "daily_summary", "Daily executive summary"
    WEEKLY_GROWTH = "weekly_growth", "Weekly growth report"


class ReportSubscription(models.Model):
    """A staff member's choice to get one kind of report by email (off: `is_active` false).

    Made through `analytics.services.reports.report_subscription_set`, which refuses anyone
    who is not active staff: the reports show platform-wide figures."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=ReportKind.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="report_subscription_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} ({'on' if self.is_active else 'off'})"


class ReportSend(models.Model):
    """One report of one period to one person: created before the email goes out, claimed by
    the run that sends it, then marked sent (or failed, to be retried by the next run).

    The unique (kind, user, period) makes a retried or concurrent run find the row instead of
    sending again."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=32, choices=ReportKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    period = models.DateField(
        help_text="The day the report covers (daily) or the Monday of its week (weekly)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    to = models.EmailField(blank=True, help_text="The address it was sent to.")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-period", "-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "user", "period"], name="report_send_unique_kind_user_period"
            )
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="report_send_user_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.period} to {self.user_id} ({self.status})"
