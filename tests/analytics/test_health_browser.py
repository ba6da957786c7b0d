"""The health page in headless Chromium: staff reach it from the tabs, the charts draw, and a
phone's screen holds it without sideways scrolling."""

from __future__ import annotations

import datetime
import os

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from analytics.services.aggregates import aggregates_refresh
from analytics.services.health import task_health_failed, task_health_succeeded
from engagement.services.scoring import scoring_run_start
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-staff-1234"  # the staff_user fixture's


@pytest.fixture
def history():
    now = timezone.now()
    EnrollmentFactory(course=CourseFactory())
    make_events(UserFactory(), [("login", now - datetime.timedelta(minutes=5))])
    aggregates_refresh()
    scoring_run_start(execute_now=True)
    task_health_succeeded(task="accounts.clear_expired_sessions", at=now, seconds=0.2)
    task_health_failed(
        task="engagement.score_all",
        at=now,
        seconds=4.0,
        exception=RuntimeError("the risk model file is missing " + "and a long tail " * 20),
    )


def _fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px"


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_staff_open_the_health_tab(live_server, page, staff_user, history, width, height):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/analytics/")
    page.fill("#id_username", staff_user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/analytics/")

    page.get_by_role("link", name="Health").click()
    page.wait_for_url(f"{live_server.url}/dashboard/analytics/health/")
    expect(page.locator("h1")).to_have_text("System health")
    expect(page.locator("#ingestion-rate.js-plotly-plot")).to_be_visible()
    expect(page.locator("#run-durations.js-plotly-plot")).to_be_visible()
    expect(page.locator('[data-state="failing"]')).to_have_count(1)
    expect(page.locator("main")).to_contain_text("RuntimeError: the risk model file is missing")
    _fits(page)
    shots = os.environ.get("STRIDE_SCREENSHOTS")
    if shots:
        page.screenshot(path=f"{shots}/analytics-health-{width}.png", full_page=True)
