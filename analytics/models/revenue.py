"""Revenue per learner-local day, from `purchase` events, kept per currency."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone


class DailyRevenue(models.Model):
    """What `purchase` events paid on one learner-local day in one currency, for the whole
    platform (no course) or one course. A scope has a row only for a day and currency with a
    purchase; amounts are never converted here (see ANALYTICS_EXCHANGE_RATES for reading)."""

    day = models.DateField()
    course = models.ForeignKey(
        "learning.Course",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty for the platform-wide row.",
    )
    currency = models.CharField(max_length=3, help_text="ISO 4217 code, e.g. EUR.")
    amount = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0))
    transactions = models.PositiveIntegerField(default=0, help_text="Purchases that day.")
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "course_id", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "course", "currency"], name="revenue_unique_day_course_currency"
            ),
            models.UniqueConstraint(
                fields=["day", "currency"],
                condition=Q(course__isnull=True),
                name="revenue_unique_platform_day_currency",
            ),
        ]

    def __str__(self) -> str:
        scope = f"course {self.course_id}" if self.course_id else "platform"
        return f"{self.day} {scope}: {self.amount} {self.currency} ({self.transactions})"

    @property
    def average_transaction(self) -> Decimal | None:
        return self.amount / self.transactions if self.transactions else None
