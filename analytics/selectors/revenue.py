"""Reading the revenue of a range of days: per currency, and converted when a rate table is
configured (settings.ANALYTICS_EXCHANGE_RATES: currency -> rate to the base currency)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from accounts.models import User
from analytics.models import DailyRevenue
from learning.models import Course


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    amount: Decimal
    transactions: int

    @property
    def average_transaction(self) -> Decimal | None:
        return self.amount / self.transactions if self.transactions else None


@dataclass(frozen=True)
class RevenueTotals:
    """A range's revenue: one total per currency, largest first, and (with a rate table that
    knows every currency) the converted total; `unconverted` names currencies without a rate."""

    per_currency: list[CurrencyTotal]
    converted: Decimal | None
    unconverted: list[str]


def exchange_rates() -> dict[str, Decimal]:
    rates = getattr(settings, "ANALYTICS_EXCHANGE_RATES", {}) or {}
    return {currency: Decimal(str(rate)) for currency, rate in rates.items()}


def revenue_totals(
    start: datetime.date,
    end: datetime.date,
    *,
    course: Course | None = None,
    instructor: User | None = None,
) -> RevenueTotals:
    """The revenue of days start..end on the platform (or in `course`, or in `instructor`'s
    courses), in one query."""
    rows = DailyRevenue.objects.filter(day__gte=start, day__lte=end).scoped(
        course=course, instructor=instructor
    )
    per_currency = [
        CurrencyTotal(row["currency"], row["amount"], row["transactions"])
        for row in rows.order_by()
        .values("currency")
        .annotate(amount=Sum("amount"), transactions=Sum("transactions"))
        .order_by("-amount", "currency")
    ]
    rates = exchange_rates()
    unconverted = [t.currency for t in per_currency if t.currency not in rates]
    converted = None
    if rates and not unconverted:
        converted = sum((t.amount * rates[t.currency] for t in per_currency), Decimal(0))
    return RevenueTotals(per_currency, converted, unconverted)
