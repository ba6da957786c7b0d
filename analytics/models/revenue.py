"""Revenue per learner-local day, from `purchase` events, kept per currency."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone

from analytics.models.aggregates import ScopedQuerySet, scope_constraints


class DailyRevenue(models.Model):
    """What `purchase` events paid on one learner-local day in one currency, for the whole
    platform (no course, no instructor), one course or one instructor's courses. A scope has
    a row only for a day and currency with a purchase; amounts are never converted here (see
    ANALYTICS_EXCHANGE_RATES for reading)."""

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
    currency = models.CharField(max_length=3, help_text="ISO 4217 code, e.g. EUR.")
    amount = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0))
    transactions = models.PositiveIntegerField(default=0, help_text="Purchases that day.")
    computed_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "course_id", "instructor_id", "currency"]
        constraints = scope_constraints("revenue", ["currency"])

    def __str__(self) -> str:
        if self.course_id:
            scope = f"course {self.course_id}"
        else:
            scope = f"instructor {self.instructor_id}" if self.instructor_id else "platform"
        return f"{self.day} {scope}: {self.amount} {self.currency} ({self.transactions})"

    @property
    def average_transaction(self) -> Decimal | None:
        return self.amount / self.transactions if self.transactions else None
