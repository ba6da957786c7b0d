"""Forecasts: the model follows a trend and a weekly pattern, its intervals cover what really
happened, its backtest is reported, a short history falls back (or gives a reason), and the
nightly run stores one row per scope, metric and currency however often it runs."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from analytics.models import DailyAggregate, DailyRevenue, Forecast
from analytics.selectors.forecasts import forecast_get, forecast_histories
from analytics.services.forecast_models import (
    NO_SEASON,
    WEEKLY,
    ForecastPoint,
    backtest_score,
    forecast,
)
from analytics.services.forecasts import forecasts_compute
from analytics.services.nightly import analytics_derive
from tests.accounts.factories import AdminFactory
from tests.learning.factories import CourseFactory

DAY = datetime.timedelta(days=1)
END = datetime.date(2026, 11, 30)
MONDAY_BUMP = 30.0


def weekly(first: datetime.date, days: int, *, seed: int = 7) -> list[tuple[datetime.date, float]]:
    """100 learners a day growing by 0.5 a day, 30 more on Mondays, noise of sd 4."""
    rng = random.Random(seed)
    out = []
    for i in range(days):
        day = first + i * DAY
        bump = MONDAY_BUMP if day.weekday() == 0 else 0.0
        out.append((day, 100 + 0.5 * i + bump + rng.gauss(0, 4)))
    return out


# --- the model -------------------------------------------------------------------------------


def test_the_forecast_follows_the_weekly_pattern_and_the_trend():
    result = forecast(weekly(datetime.date(2026, 6, 1), 112))

    assert result.model.startswith("ETS(A,") and result.model.endswith(WEEKLY)
    assert len(result.points) == 30
    assert result.points[0].day == datetime.date(2026, 6, 1) + 112 * DAY
    mondays = [p.mean for p in result.points if p.day.weekday() == 0]
    others = [p.mean for p in result.points if p.day.weekday() != 0]
    # Every Monday is forecast well above the week around it, by about the real bump.
    assert min(mondays) > max(others[:7])
    assert 20 < sum(mondays) / len(mondays) - sum(others) / len(others) < 40
    # The growth carries on: the last week is forecast above the first (damped, not flat).
    assert sum(p.mean for p in result.points[-7:]) > sum(p.mean for p in result.points[:7])
    for p in result.points:
        assert p.lower_95 <= p.lower_80 <= p.mean <= p.upper_80 <= p.upper_95


def test_the_intervals_cover_what_really_happened_at_their_stated_rates():
    """Ten histories of 16 weeks, each forecast and compared with the 30 days that followed
    (measured over 40 such histories: 95.2% inside the 95% interval, 80.4% inside the 80%)."""
    inside_95 = inside_80 = 0
    for seed in range(10):
        series = weekly(datetime.date(2026, 6, 1), 142, seed=seed)
        history, truth = series[:112], series[112:]
        points = forecast(history).points
        for p, (_, value) in zip(points, truth, strict=True):
            inside_95 += p.lower_95 <= value <= p.upper_95
            inside_80 += p.lower_80 <= value <= p.upper_80

    assert inside_95 >= 0.9 * 300
    assert 0.7 * 300 <= inside_80 <= 0.9 * 300


def test_the_backtest_of_a_regular_series_is_small_and_reported():
    result = forecast(weekly(datetime.date(2026, 6, 1), 112))

    backtest = result.backtest
    assert backtest is not None
    assert backtest.days == 14 and backtest.mape_days == 14
    assert backtest.mape is not None and backtest.mape < 5  # percent; the noise is ~3%
    assert backtest.mae < 8
    assert backtest.covered_95 >= 12


def test_the_backtest_mape_leaves_out_days_whose_actual_value_is_zero():
    day = datetime.date(2026, 6, 1)
    points = [ForecastPoint(day, 1, 0, 2, 0, 3), ForecastPoint(day + DAY, 12, 11, 13, 8, 16)]

    score = backtest_score([0.0, 10.0], points)

    assert score.mape == pytest.approx(20.0)  # only the day of 10: |10 - 12| / 10
    assert score.mape_days == 1
    assert score.mae == pytest.approx(1.5)
    assert (score.covered_80, score.covered_95) == (1, 2)


def test_three_weeks_of_history_get_the_non_seasonal_model_and_a_one_week_backtest():
    result = forecast(weekly(datetime.date(2026, 6, 1), 21))

    assert result.model.endswith(NO_SEASON)
    assert len(result.points) == 30
    assert result.backtest is not None and result.backtest.days == 7


def test_two_weeks_of_history_are_forecast_without_a_backtest_and_say_why():
    result = forecast(weekly(datetime.date(2026, 6, 1), 15))

    assert result.model.endswith(NO_SEASON)
    assert result.backtest is None
    assert result.reason == "No backtest: needs 21 days of history."


def test_under_two_weeks_of_history_there_is_no_forecast_only_the_reason():
    result = forecast(weekly(datetime.date(2026, 6, 1), 10))

    assert result.model == "" and result.points == []
    assert result.reason == "Needs 14 days of history; has 10."


def test_a_flat_history_gives_a_reason_instead_of_a_degenerate_fit():
    result = forecast([(datetime.date(2026, 6, 1) + i * DAY, 0.0) for i in range(60)])

    assert result.points == []
    assert "Every day of the history is 0" in result.reason


def test_a_quiet_series_never_forecasts_below_zero():
    rng = random.Random(3)
    series = [
        (datetime.date(2026, 6, 1) + i * DAY, float(rng.choice([0, 0, 0, 1, 2]))) for i in range(70)
    ]

    result = forecast(series)

    assert result.points
    assert all(p.lower_95 >= 0 and p.mean >= 0 for p in result.points)


# --- the nightly run -------------------------------------------------------------------------


@pytest.fixture
def stored_history(db):
    """90 days on the platform (DAU, enrollments, revenue in EUR and USD), 90 days of one
    course, 10 days of a new course."""
    algebra = CourseFactory(external_id="algebra-1")
    newcomer = CourseFactory(external_id="new-1")
    rng = random.Random(5)
    for back in range(90):
        day = END - back * DAY
        monday = day.weekday() == 0
        DailyAggregate.objects.create(
            day=day,
            dau=int(100 + (30 if monday else 0) + rng.gauss(0, 4)),
            enrollments=rng.randint(3, 9),
        )
        DailyAggregate.objects.create(day=day, course=algebra, dau=rng.randint(8, 14))
        DailyRevenue.objects.create(day=day, currency="EUR", amount=Decimal(rng.randint(50, 90)))
        if back % 2:
            DailyRevenue.objects.create(day=day, currency="USD", amount=Decimal(20))
        if back < 10:
            DailyAggregate.objects.create(day=day, course=newcomer, dau=rng.randint(1, 4))
    return algebra, newcomer


def stored() -> list[tuple[int | None, str, str, int]]:
    return sorted(
        Forecast.objects.values_list("course_id", "metric", "currency", "history_days"),
        key=lambda row: (row[0] or 0, row[1], row[2]),
    )


def test_the_nightly_run_stores_every_scope_metric_and_currency(stored_history):
    algebra, newcomer = stored_history

    run = forecasts_compute()

    assert run.origin == END
    assert stored() == [
        (None, "dau", "", 90),
        (None, "enrollments", "", 90),
        (None, "revenue", "EUR", 90),
        (None, "revenue", "USD", 90),  # a sale every other day: the days between are zeros
        (algebra.pk, "dau", "", 90),
        (algebra.pk, "enrollments", "", 90),
        (newcomer.pk, "dau", "", 10),
        (newcomer.pk, "enrollments", "", 10),
    ]
    platform_dau = Forecast.objects.get(course=None, metric="dau")
    assert platform_dau.model.endswith(WEEKLY)
    assert platform_dau.points[0]["date"] == (END + DAY).isoformat()
    assert len(platform_dau.points) == 30
    assert platform_dau.backtest_days == 14 and platform_dau.backtest_mape < 10
    new_dau = Forecast.objects.get(course=newcomer, metric="dau")
    assert new_dau.points == [] and new_dau.reason == "Needs 14 days of history; has 10."
    assert run.stored == 8 and run.with_forecast == 5  # no course enrollments: flat zeros


def test_a_rerun_replaces_the_nights_rows_instead_of_adding_to_them(stored_history):
    forecasts_compute()
    before = Forecast.objects.get(course=None, metric="dau").points[0]["mean"]
    DailyAggregate.objects.filter(day__gt=END - 7 * DAY, course=None).update(dau=300)

    forecasts_compute()

    assert Forecast.objects.count() == 8
    assert Forecast.objects.get(course=None, metric="dau").points[0]["mean"] > before + 50


def test_forecasts_made_more_than_90_days_before_the_night_are_dropped(stored_history):
    for back in (91, 90):  # earlier nights' forecasts, as those nights stored them
        Forecast.objects.create(origin=END - back * DAY, metric="dau", model="ETS")

    forecasts_compute()

    assert set(Forecast.objects.values_list("origin", flat=True)) == {END, END - 90 * DAY}


def test_the_nightly_derive_step_stores_the_forecasts(stored_history):
    assert analytics_derive().forecasts == 8
    assert Forecast.objects.filter(origin=END).count() == 8


def test_with_no_aggregates_nothing_is_forecast(db):
    assert forecasts_compute().stored == 0
    assert not Forecast.objects.exists()


def test_staff_read_the_stored_forecasts_in_the_admin_and_cannot_add_one(stored_history):
    forecasts_compute()
    client = Client()
    client.force_login(AdminFactory(is_superuser=True))

    page = client.get("/admin/analytics/forecast/")

    assert page.status_code == 200
    assert "weekly seasonality" in page.content.decode()
    assert client.get("/admin/analytics/forecast/add/").status_code == 403


def test_the_histories_of_every_scope_are_read_in_two_queries(
    stored_history, django_assert_num_queries
):
    with django_assert_num_queries(2):
        histories = forecast_histories(END - 181 * DAY, END)
    assert len(histories) == 8


def test_a_stored_forecast_is_read_in_one_query(stored_history, django_assert_num_queries):
    forecasts_compute()
    with django_assert_num_queries(1):
        stored = forecast_get(metric="revenue", currency="USD")
    assert stored is not None and stored.origin == END


@pytest.mark.django_db
def test_the_nightly_forecast_starts_after_the_last_day_every_learner_has_finished():
    # The aggregates run on to today (partial counts); a forecast made from a half-counted
    # day would bend down. In UTC, the last finished day is yesterday.
    today = timezone.now().date()
    for back in range(40):
        DailyAggregate.objects.create(
            day=today - datetime.timedelta(days=back), dau=1 if back == 0 else 60 + back % 7
        )

    forecasts_compute()

    dau = Forecast.objects.get(course=None, metric="dau")
    assert dau.origin == today - datetime.timedelta(days=1)
    assert dau.points[0]["mean"] > 40
