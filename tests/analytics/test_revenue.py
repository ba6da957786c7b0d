"""The range's revenue, per currency and converted with a configured rate table."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.selectors.revenue import revenue_totals
from analytics.services.aggregates import aggregates_compute
from tests.accounts.factories import UserFactory
from tests.analytics.history import DAY, utc
from tests.engagement.factories import make_events
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db


def _purchases():
    course = CourseFactory()
    day = timezone.now().date() - 5 * DAY
    make_events(
        UserFactory(timezone="UTC"),
        [
            ("purchase", utc(day, 9), {"amount": 10, "currency": "EUR"}),
            ("purchase", utc(day + DAY, 9), {"amount": 20, "currency": "EUR"}),
            ("purchase", utc(day + DAY, 10), {"amount": 1000, "currency": "JPY"}),
        ],
        course=course,
    )
    aggregates_compute(day - DAY, day + 2 * DAY)
    return course, day


def test_revenue_is_kept_per_currency_with_its_average_transaction(settings):
    settings.ANALYTICS_EXCHANGE_RATES = {}
    course, day = _purchases()

    totals = revenue_totals(day, day + DAY, course=course)

    assert [(t.currency, t.amount, t.transactions) for t in totals.per_currency] == [
        ("JPY", Decimal(1000), 1),
        ("EUR", Decimal(30), 2),
    ]
    assert totals.per_currency[1].average_transaction == Decimal(15)
    assert totals.converted is None
    assert revenue_totals(day + DAY, day + DAY).per_currency[1].amount == Decimal(20)


def test_a_rate_table_converts_the_total_unless_a_currency_has_no_rate(settings):
    _, day = _purchases()
    settings.ANALYTICS_EXCHANGE_RATES = {"EUR": 1, "JPY": "0.0062"}

    assert revenue_totals(day, day + DAY).converted == Decimal("36.2")

    settings.ANALYTICS_EXCHANGE_RATES = {"EUR": 1}
    totals = revenue_totals(day, day + DAY)
    assert (totals.converted, totals.unconverted) == (None, ["JPY"])
