"""The performers page in headless Chromium: staff reach it by its tab, both charts draw, and a
phone's screen holds it without sideways scrolling."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from analytics.services.performers import performers_compute
from tests.analytics.performers_history import make_performers_history
from tests.analytics.test_pages_browser import _fits, _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_staff_open_the_performers_tab_and_read_the_factors(
    live_server, page: Page, staff_user, width, height
):
    make_performers_history()
    performers_compute()
    page.set_viewport_size({"width": width, "height": height})
    _sign_in(page, live_server, staff_user)
    page.get_by_role("link", name="Performers").click()
    page.wait_for_url(f"{live_server.url}/dashboard/analytics/performers/**")
    expect(page.locator("h1")).to_have_text("Star performers")
    expect(page.locator("#score-distribution.js-plotly-plot")).to_be_visible()
    expect(page.locator("#factor-effects.js-plotly-plot")).to_be_visible()
    expect(page.locator("#factors")).to_contain_text("Recommendation:")
    expect(page.locator("#instructors")).to_contain_text("Ada Teacher")
    _fits(page)
    shots = os.environ.get("STRIDE_SCREENSHOTS")
    if shots:
        page.screenshot(path=f"{shots}/analytics-performers-{width}.png", full_page=True)

    page.select_option("#id_course", "algebra-1")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**course=algebra-1**")
    expect(page.locator("main")).to_contain_text("Algebra I: its 50 enrollments in progress")
    expect(page.locator("#instructors")).to_have_count(0)
    _fits(page)
    if shots:
        page.screenshot(path=f"{shots}/analytics-performers-course-{width}.png", full_page=True)
