"""The live-sessions page in headless Chromium: the tab leads there, the chart draws, the
riskiest learner is on top, and a phone's screen holds it without sideways scrolling."""

from __future__ import annotations

import datetime
import os

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from analytics.services.no_show import no_shows_predict
from tests.accounts.factories import UserFactory
from tests.analytics.live_history import attend, register, schedule
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-staff-1234"  # the staff_user fixture's
H = datetime.timedelta(hours=1)
D = datetime.timedelta(days=1)


@pytest.fixture
def upcoming():
    now = timezone.now()
    course = CourseFactory(external_id="py101", title="Python 101")
    ann = UserFactory(email="ann@example.com", external_id="ann", first_name="Ann")
    learners = [ann] + [UserFactory(first_name=f"Learner {i}") for i in range(5)]
    for user in learners:
        EnrollmentFactory(user=user, course=course, enrolled_at=now - 30 * D)
    for i in range(3):
        past = schedule(course, f"past-{i}", now - (5 - i) * D)
        register(past, learners, at=now - 10 * D)
        attend(past, course, {u: u is not ann for u in learners}, now - (5 - i) * D + H)
    register(
        schedule(course, "next", now + 6 * H, title="Python office hour"), learners, at=now - D
    )
    no_shows_predict(now=now)


def _fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px"


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_staff_open_the_live_sessions_tab_and_see_the_riskiest_first(
    live_server, page, staff_user, upcoming, width, height
):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/analytics/")
    page.fill("#id_username", staff_user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/analytics/")

    page.get_by_role("link", name="Live sessions").click()
    page.wait_for_url(f"{live_server.url}/dashboard/analytics/live-sessions/")

    expect(page.locator("h1")).to_have_text("Live sessions")
    expect(page.locator("#no-show-chart.js-plotly-plot")).to_be_visible()
    first = page.locator("section.live-session tbody tr").first
    expect(first).to_contain_text("Ann")
    expect(first).to_contain_text("missed 3 of 3 earlier sessions")
    expect(page.locator("section.live-session tbody tr")).to_have_count(6)
    _fits(page)
    shots = os.environ.get("STRIDE_SCREENSHOTS")
    if shots:
        page.screenshot(path=f"{shots}/analytics-live-sessions-{width}.png", full_page=True)
