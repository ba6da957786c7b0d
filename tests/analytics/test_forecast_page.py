"""The forecasts section of the trends page: chart, model, backtest in words, metric picker,
CSV export, empty states and who sees which course's forecast."""

from __future__ import annotations

import csv
import datetime
import io
import os
import random
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import User
from analytics.models import DailyAggregate, DailyRevenue, Forecast
from analytics.services.forecasts import forecasts_compute
from tests.accounts.factories import UserFactory
from tests.analytics.test_pages_overview import signed_in, staff
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
END = datetime.date(2026, 11, 30)
PAGE = "/dashboard/analytics/trends/"


@pytest.fixture
def forecasts():
    """Eight weeks of platform DAU and EUR revenue and of one course's DAU, 10 days of a new
    course, forecast by the nightly service."""
    rng = random.Random(2)
    algebra = CourseFactory(external_id="algebra-1", title="Algebra I")
    newcomer = CourseFactory(external_id="new-1", title="Newcomer")
    for back in range(56):
        day = END - back * DAY
        monday = day.weekday() == 0
        DailyAggregate.objects.create(
            day=day, dau=int(200 + (60 if monday else 0) + rng.gauss(0, 6)), enrollments=5
        )
        DailyAggregate.objects.create(day=day, course=algebra, dau=rng.randint(20, 30))
        DailyRevenue.objects.create(day=day, currency="EUR", amount=Decimal(rng.randint(80, 120)))
        if back < 10:
            DailyAggregate.objects.create(day=day, course=newcomer, dau=3)
    forecasts_compute()
    return algebra, newcomer


def test_staff_see_the_forecast_chart_model_and_backtest_in_words(forecasts):
    page = staff().get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    stored = Forecast.objects.get(course=None, metric="dau")
    assert 'id="forecast"' in html
    assert "weekly seasonality, fitted with statsmodels" in html
    assert (
        f"Backtest over the last 14 days: MAPE {stored.backtest_mape:.1f} %" in html
        and f"95 % interval covered {stored.backtest_covered_95} of 14 days" in html
    )
    first = END + DAY
    assert first.strftime("%a %-d %b") in html  # the table starts the day after the history


def test_the_picker_offers_revenue_per_currency_and_shows_it(forecasts):
    html = staff().get(f"{PAGE}?forecast=revenue:EUR").content.decode()
    assert '<option value="revenue:EUR" selected>Revenue (EUR)</option>' in html
    assert 'id="forecast"' in html


def test_an_unknown_forecast_says_so_and_shows_dau(forecasts):
    html = staff().get(f"{PAGE}?forecast=revenue:XYZ").content.decode()
    assert "Unknown forecast; showing DAU." in html


def test_the_forecast_exports_as_csv_with_both_intervals(forecasts):
    response = staff().get(f"{PAGE}?format=csv&table=forecast&forecast=dau")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 30
    assert rows[0]["date"] == (END + DAY).isoformat()
    for row in rows:
        low95, low80, mean = float(row["lower_95"]), float(row["lower_80"]), float(row["forecast"])
        assert 0 <= low95 <= low80 <= mean <= float(row["upper_80"]) <= float(row["upper_95"])


def test_a_short_history_gets_its_reason_and_what_to_do(forecasts):
    html = staff().get(f"{PAGE}?course=new-1").content.decode()
    assert "No DAU forecast for Newcomer" in html
    assert "Needs 14 days of history; has 10." in html
    assert "python manage.py aggregate_analytics" in html


def test_before_the_first_nightly_run_the_section_says_what_to_do():
    html = staff().get(PAGE).content.decode()
    assert "No DAU forecast" in html
    assert (
        "A forecast needs 14 days of history; run <code>python manage.py aggregate_analytics"
        in html
    )


def test_instructors_see_their_own_courses_forecast_and_never_another(forecasts):
    algebra, _ = forecasts
    instructor = UserFactory(role=User.Role.INSTRUCTOR)
    algebra.instructor = instructor
    algebra.save()
    client = signed_in(instructor)

    own = list(
        csv.DictReader(
            io.StringIO(client.get(f"{PAGE}?format=csv&table=forecast").content.decode())
        )
    )
    stored = Forecast.objects.get(course=algebra, metric="dau")
    assert [float(r["forecast"]) for r in own] == [round(p["mean"], 2) for p in stored.points]

    other = client.get(f"{PAGE}?course=new-1")
    assert other.status_code in (403, 404) or "Newcomer" not in other.content.decode()


def test_students_get_a_403(forecasts):
    assert signed_in(UserFactory()).get(PAGE).status_code == 403


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_the_forecast_chart_draws_and_fits_a_phone(live_server, page, staff_user, width, height):
    for back in range(56):
        day = END - back * DAY
        DailyAggregate.objects.create(day=day, dau=200 + (60 if day.weekday() == 0 else 0))
    DailyAggregate.objects.filter(day=END - 5 * DAY).update(dau=230)
    forecasts_compute()
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server.url}/accounts/login/?next={PAGE}")
    page.fill("#id_username", staff_user.email)
    page.fill("#id_password", "pw-staff-1234")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{PAGE}")

    expect(page.locator("#forecast.js-plotly-plot")).to_be_visible()
    expect(page.locator("#forecasts")).to_contain_text("Backtest over the last 14 days")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the trends page scrolls sideways by {overflow}px"
    shots = os.environ.get("STRIDE_SCREENSHOTS")
    if shots:
        page.locator("#forecasts").screenshot(path=f"{shots}/analytics-forecast-{width}.png")
