"""The insights page in headless Chromium: the cards and the movements chart draw, a status
button marks an insight, and a phone's screen holds the page without sideways scrolling."""

from __future__ import annotations

import datetime
import os

import pytest
from playwright.sync_api import Page, expect

from analytics.models import DailyAggregate, Insight
from analytics.services.findings import WEEK, week_just_ended
from analytics.services.insights import weekly_insights_write
from tests.analytics.test_insights import EVENTS, LAST_WEEK_DAU, THIS_WEEK_DAU

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-staff-1234"  # the staff_user fixture's


@pytest.fixture
def insights(settings):
    settings.ANTHROPIC_API_KEY = ""
    week = week_just_ended()
    for i, (dau, events) in enumerate(zip(LAST_WEEK_DAU + THIS_WEEK_DAU, EVENTS * 2, strict=True)):
        DailyAggregate.objects.create(
            day=week - WEEK + datetime.timedelta(days=i), dau=dau, events=events
        )
    return weekly_insights_write(week=week)


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_staff_read_the_weeks_insights_and_acknowledge_one(
    live_server, page: Page, staff_user, insights, width, height
):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/insights/")
    page.fill("#id_username", staff_user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/insights/")

    expect(page.locator("h1")).to_have_text("Weekly insights")
    expect(page.locator("#movements.js-plotly-plot")).to_be_visible()
    card = page.locator("article.insight-card").first
    expect(card).to_contain_text("Daily active learners rose week on week")
    expect(card.get_by_role("link", name="See chart")).to_have_attribute(
        "href",
        f"/dashboard/analytics/trends/?metric=dau&range=custom&from="
        f"{insights.week - WEEK}&to={insights.week + WEEK - datetime.timedelta(days=1)}",
    )
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"
    shots = os.environ.get("STRIDE_SCREENSHOTS")
    if shots:
        page.screenshot(path=f"{shots}/insights-{width}.png", full_page=True)

    card.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".messages")).to_contain_text("marked Acknowledged")
    expect(page.locator("article.insight-card").first.locator(".badge")).to_have_text(
        "Acknowledged"
    )
    assert Insight.objects.get(key="metric:dau").status == "acknowledged"
