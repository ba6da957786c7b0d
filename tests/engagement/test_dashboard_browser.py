"""The at-risk dashboard in headless Chromium: log in, charts render, filters update the list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from engagement.models import ScoringRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-staff-1234"  # the staff_user fixture's


def _rows(page: Page):
    return page.locator("#at-risk-list tbody tr")


def test_staff_filter_the_at_risk_list_and_open_a_learner(live_server, page, staff_user, scored):
    page.goto(f"{live_server.url}/dashboard/engagement/")
    # Anonymous: the login form, which brings us back to the dashboard.
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.fill("#id_username", staff_user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/engagement/")

    # Stats cards and Plotly charts rendered by plotly.js from our static files.
    expect(page.locator('[data-stat="total"]')).to_have_text("6")
    expect(page.locator('[data-stat="critical"]')).to_have_text("1")
    expect(page.locator("#risk-histogram.js-plotly-plot")).to_be_visible()
    expect(page.locator("#risk-trend .main-svg").first).to_be_visible()

    # Default threshold 60: ada, ben, cy.
    expect(_rows(page)).to_have_count(3)
    expect(_rows(page).first).to_contain_text("Ada Learner")

    # Sliding the threshold down to 40 brings in dee (45), through htmx, without a reload.
    page.evaluate("window.__marker = 'same page'")
    page.locator("#id_threshold").fill("40")
    expect(_rows(page)).to_have_count(4)
    expect(page.locator("#threshold-value")).to_have_text("40")
    expect(page.locator('[data-stat="at-risk-share"]')).to_have_text("66.7%")
    assert page.evaluate("window.__marker") == "same page"

    # Choosing a level narrows the list further; the address bar follows.
    page.select_option("#id_level", "high")
    expect(_rows(page)).to_have_count(2)
    expect(_rows(page).first).to_contain_text("Ben Learner")
    expect(page).to_have_url(re.compile(r"threshold=40&level=high"))

    # And a course: only cy (61, high) is in py101 among the high ones. The cards and both
    # charts follow the course (swapped in and drawn again).
    page.select_option("#id_course", "py101")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_contain_text("Cy Learner")
    expect(page.locator('[data-stat="total"]')).to_have_text("3")
    expect(page.locator("#risk-histogram.js-plotly-plot")).to_be_visible()
    bars = "document.getElementById('risk-histogram').data[0].y.reduce((a, b) => a + b, 0)"
    page.wait_for_function(f"{bars} === 3")
    expect(page.locator("#risk-trend.js-plotly-plot")).to_be_visible()

    # The learner page of that enrolment: its risk, drivers as sentences, history chart.
    page.click("text=Cy Learner")
    page.wait_for_url(re.compile(r"/dashboard/engagement/learners/\d+/\?course=py101$"))
    expect(page.locator("h1")).to_have_text("Cy Learner")
    expect(page.locator('[data-stat="risk"]')).to_have_text("61")
    expect(page.locator("#drivers")).to_contain_text(
        "No activity for 12 days (the course's typical gap is 3)"
    )
    expect(page.locator("#history-chart.js-plotly-plot")).to_be_visible()


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_the_at_risk_table_fits_its_card(live_server, page, staff_user, scored, width, height):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/engagement/")
    page.fill("#id_username", staff_user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/engagement/")
    page.goto(f"{live_server.url}/dashboard/engagement/?threshold=0")
    expect(_rows(page)).to_have_count(6)

    # Nothing to scroll sideways: not the table inside its card, not the page.
    wrap = page.locator("#at-risk-list .table-wrap")
    assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # Drivers are shown whole, never cut off with an ellipsis.
    chip = page.locator("#at-risk-list .chip").first
    assert chip.evaluate("c => c.scrollWidth <= c.clientWidth")


def test_empty_dashboard_and_recalculate_all(live_server, page, staff_user):
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/engagement/")
    page.fill("#id_username", staff_user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/engagement/")

    expect(page.locator("main")).to_contain_text(
        "No enrolments have been scored yet — run Recalculate all"
    )

    # No worker runs in tests: the new run stays pending and its progress bar keeps polling.
    page.get_by_role("button", name="Recalculate all").click()
    progress = page.locator("#run-progress")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("data-status", "pending")
    expect(progress).to_contain_text("0%")
    run = ScoringRun.objects.get()
    assert run.requested_by == staff_user

    # The worker gets going: the next poll (every second) shows its percent, then the end.
    ScoringRun.objects.filter(pk=run.pk).update(status="running", total=200, processed=150)
    expect(progress.locator(".run-percent")).to_have_text("75%", timeout=5000)
    ScoringRun.objects.filter(pk=run.pk).update(status="done", processed=200)
    expect(page.locator("#run-progress")).to_contain_text("Show the new results", timeout=5000)
