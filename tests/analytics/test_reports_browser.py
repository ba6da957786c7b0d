"""The reports page in headless Chromium: staff go there from the tabs, switch the daily
summary on, read its preview, and a phone's screen holds the page without sideways scrolling."""

from __future__ import annotations

import datetime
import os

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from analytics.models import DailyAggregate, ReportSubscription

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-staff-1234"  # the staff_user fixture's


def _fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px"


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_staff_switch_the_daily_summary_on_and_read_its_preview(
    live_server, page, staff_user, width, height
):
    yesterday = timezone.now().date() - datetime.timedelta(days=1)
    for back in range(9):
        DailyAggregate.objects.create(
            day=yesterday - datetime.timedelta(days=back),
            dau=80 - 3 * back,
            enrollments=12 + back,
            completions=3,
            messages_sent=40,
            messages_opened=22,
        )
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/analytics/")
    page.fill("#id_username", staff_user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/analytics/")

    page.get_by_role("link", name="Reports").click()
    page.wait_for_url(f"{live_server.url}/dashboard/analytics/reports/")
    expect(page.locator("h1")).to_have_text("Staff reports")
    daily = page.locator("#report-daily_summary")
    expect(daily.locator("[data-figure=dau]")).to_contain_text("80")
    expect(daily.locator("[data-figure=dau]")).to_contain_text("+3 (+3.9 %)")
    daily.get_by_role("button", name="Email it to me").click()
    expect(page.locator(".messages")).to_contain_text(
        "You will get the daily executive summary by email."
    )
    expect(daily.get_by_role("button", name="Stop emailing me")).to_be_visible()
    assert ReportSubscription.objects.get(user=staff_user).is_active
    _fits(page)
    shots = os.environ.get("STRIDE_SCREENSHOTS")
    if shots:
        page.screenshot(path=f"{shots}/analytics-reports-{width}.png", full_page=True)
