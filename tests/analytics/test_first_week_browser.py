"""The first-week page in headless Chromium: the outcomes chart draws, a phone's screen holds
the page without sideways scrolling, and one click saves the weak cohort as a segment."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from analytics.services.first_week import first_week_compute
from campaigns.models import Segment
from tests.analytics.test_first_week import planted as planted
from tests.analytics.test_pages_browser import _fits, _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_staff_read_the_first_weeks_and_save_the_weak_cohort(
    live_server, page: Page, staff_user, planted, width, height
):
    first_week_compute(now=planted.now)
    weak = {p.user_id for p in planted.plan if p.weak}
    page.set_viewport_size({"width": width, "height": height})
    _sign_in(page, live_server, staff_user)
    page.goto(f"{live_server.url}/dashboard/analytics/first-week/")
    expect(page.locator("h1")).to_have_text("First-week analysis")
    expect(page.locator("#first-week-outcomes.js-plotly-plot")).to_be_visible()
    expect(page.locator(".fw-factors")).to_contain_text("quizzes passed")
    _fits(page)

    page.select_option("#id_course", planted.courses[0].external_id)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**course={planted.courses[0].external_id}**")
    expect(page.locator(".page-head")).to_contain_text(planted.courses[0].title)

    page.goto(f"{live_server.url}/dashboard/analytics/first-week/")
    page.get_by_role("button", name="Save as segment").click()
    page.wait_for_url(f"{live_server.url}/dashboard/campaigns/segments/**")
    expect(page.locator("[data-live-count]")).to_have_text(str(len(weak)))
    assert Segment.objects.filter(is_predefined=False).count() == 1
    _fits(page)
