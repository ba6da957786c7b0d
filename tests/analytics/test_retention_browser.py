"""The cohorts page in headless Chromium: the charts draw, a phone's screen holds the page
without sideways scrolling (the matrix scrolls in its own box), and one click saves a row."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from analytics.services.retention import retention_compute
from campaigns.models import Segment
from tests.analytics.test_pages_browser import _fits, _sign_in
from tests.analytics.test_retention import TODAY
from tests.analytics.test_retention import history as history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOVEMBER = "range=custom&from=2026-11-01&to=2026-11-29"


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_staff_read_the_cohorts_and_save_a_row_as_a_segment(
    live_server, page: Page, staff_user, history, width, height
):
    retention_compute(today=TODAY)
    page.set_viewport_size({"width": width, "height": height})
    _sign_in(page, live_server, staff_user)
    page.goto(f"{live_server.url}/dashboard/analytics/cohorts/?{NOVEMBER}")
    expect(page.locator("h1")).to_have_text("Retention cohorts")
    expect(page.locator("#retention-curves.js-plotly-plot")).to_be_visible()
    expect(page.locator("#lifecycle.js-plotly-plot")).to_be_visible()
    expect(page.locator("table.retention-matrix tbody tr")).to_have_count(2)
    _fits(page)

    page.select_option("#id_breakdown", "streak7")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**breakdown=streak7**")
    expect(page.locator("table.retention-matrix")).to_contain_text("7-day streak")
    page.get_by_role(
        "button", name="Save the cohort of the week of 9 Nov 2026, 7-day streak as a segment"
    ).click()
    page.wait_for_url(f"{live_server.url}/dashboard/campaigns/segments/**")
    expect(page.locator("[data-live-count]")).to_have_text("1")
    assert Segment.objects.filter(is_predefined=False).count() == 1
    _fits(page)
