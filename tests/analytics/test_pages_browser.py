"""The analytics pages in headless Chromium: sign in, the charts draw, the tabs lead on, and a
phone's screen holds every page without sideways scrolling."""

from __future__ import annotations

import datetime
import os

import pytest
from playwright.sync_api import Page, expect

from analytics.models import DailyAggregate
from tests.learning.factories import CourseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-staff-1234"  # the staff_user fixture's
END = datetime.date(2026, 11, 30)


@pytest.fixture
def aggregates():
    course = CourseFactory(external_id="algebra-1", title="Algebra I")
    for back in range(60):
        day = END - datetime.timedelta(days=back)
        weekly = 8 if day.weekday() < 5 else 0
        DailyAggregate.objects.create(
            day=day, dau=20 + weekly + (40 if back == 3 else 0), wau=60, mau=90, events=300
        )
        DailyAggregate.objects.create(day=day, course=course, dau=3, wau=5, mau=8, events=7)
    return course


def _sign_in(page: Page, live_server, user) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/analytics/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/analytics/")


def _fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px"


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_staff_go_from_the_overview_to_trends_and_funnels(
    live_server, page, staff_user, aggregates, width, height
):
    page.set_viewport_size({"width": width, "height": height})
    _sign_in(page, live_server, staff_user)
    expect(page.locator("h1")).to_have_text("Analytics overview")
    expect(page.locator("#active-learners.js-plotly-plot")).to_be_visible()
    _fits(page)
    shots = os.environ.get("STRIDE_SCREENSHOTS")
    if shots:
        page.screenshot(path=f"{shots}/analytics-overview-{width}.png", full_page=True)

    page.get_by_role("link", name="Trends").click()
    page.wait_for_url(f"{live_server.url}/dashboard/analytics/trends/**")
    expect(page.locator(".js-plotly-plot")).to_have_count(2)
    # The planted spike (60 on 27 Nov against a weekday median of 28) is marked in the table.
    expect(page.locator("table")).to_contain_text("27 Nov")
    _fits(page)
    if shots:
        page.screenshot(path=f"{shots}/analytics-trends-{width}.png", full_page=True)

    page.get_by_role("link", name="Funnels").click()
    page.wait_for_url(f"{live_server.url}/dashboard/analytics/funnels/**")
    page.select_option("#id_course", "algebra-1")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**course=algebra-1**")
    expect(page.locator("main")).to_contain_text("Algebra I")
    _fits(page)
    if shots:
        page.screenshot(path=f"{shots}/analytics-funnels-{width}.png", full_page=True)
