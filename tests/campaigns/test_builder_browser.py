"""The campaign builder in headless Chromium: a staff member builds a recurring campaign to a
custom audience, watches the live count and the next run times follow, saves and activates."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from campaigns.models import Campaign
from campaigns.services.segments import segments_predefined_install
from tests.accounts.factories import UserFactory
from tests.interventions.factories import MessageTemplateFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-staff-1234"  # the staff_user fixture's
# The builder's behaviour is our own script files and htmx: any inline script would be refused
# by the Content-Security-Policy, and reported here.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


def test_staff_build_a_campaign_see_its_audience_and_runs_then_activate_it(
    live_server, page: Page, staff_user
):
    segments_predefined_install()  # a transactional test's flush emptied them
    MessageTemplateFactory(slug="nudge", name="Weekly nudge", subject="Hello {{ first_name }}")
    for tz in ("Europe/Paris", "Europe/Paris", "Asia/Tokyo"):
        UserFactory(timezone=tz)

    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{live_server.url}/dashboard/campaigns/")
    page.fill("#id_username", staff_user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/campaigns/")
    expect(page.get_by_text("No campaigns yet")).to_be_visible()
    page.get_by_role("link", name="New campaign").click()
    page.wait_for_url(re.compile(r"/dashboard/campaigns/new/$"))

    page.locator("#id_name").fill("Paris Monday nudge")
    count = page.locator("#audience-preview [data-live-count]")

    # A custom filter: no condition yet is every learner; one condition narrows it, live.
    page.get_by_label("A custom filter").check()
    expect(page.locator("#id_segment")).to_be_hidden()
    expect(count).to_have_text("3")
    page.get_by_role("button", name="Add a condition").click()
    row = page.locator("[data-condition]")
    expect(row).to_have_count(1)
    _settled(page)  # htmx has wired the new row: a change of its field is heard
    with page.expect_response(re.compile(r"/builder/condition/")):  # the row is redrawn
        row.get_by_label("Field").select_option("timezone")
    # The row follows the field: text operators only.
    expect(row.get_by_label("Operator").locator("option[value=contains]")).to_have_count(1)
    expect(row.get_by_label("Operator").locator("option[value='>']")).to_have_count(0)
    _settled(page)  # the redrawn row is wired too before its operator changes
    with page.expect_response(re.compile(r"/builder/condition/")):  # the row is redrawn
        row.get_by_label("Operator").select_option("=")
    row.get_by_label("Value").fill("Europe/Paris")  # counted as typed, no need to leave
    expect(count).to_have_text("2")
    expect(page.locator("#audience-preview")).to_contain_text("2 learners match now")

    # A weekly schedule: the next five Mondays at 09:00 in Paris.
    page.get_by_label("Recurring").check()
    expect(page.locator("#id_at_date")).to_be_hidden()
    page.get_by_label("Repeats").select_option("weekly")
    page.get_by_label("Mon", exact=True).check()
    page.get_by_label("At", exact=True).fill("09:00")
    page.get_by_label("Starting").fill("2030-01-01")
    page.locator("#id_timezone").select_option("Europe/Paris")
    runs = page.locator("#schedule-preview [data-next-runs] li")
    expect(runs).to_have_count(5)
    expect(runs.first).to_contain_text("Mon 7 Jan 2030, 09:00 Europe/Paris")

    page.locator("#id_template").select_option("nudge")
    expect(page.locator("[data-template-preview]")).to_contain_text(
        f"Hello {staff_user.first_name}"
    )

    assert page.evaluate("window.__cspViolations") == []  # the builder's (each page starts anew)
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(r"/dashboard/campaigns/\d+/$"))
    expect(page.locator("h1")).to_have_text("Paris Monday nudge")
    expect(page.locator("[data-schedule]")).to_contain_text("Weekly on Mo at 09:00")
    expect(page.locator("[data-audience-size]")).to_have_text("2")

    page.get_by_role("button", name="Activate").click()
    expect(page.locator("[data-status]")).to_have_text("Active")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    assert page.evaluate("window.__cspViolations") == []
    campaign = Campaign.objects.get()
    assert campaign.status == "active"
    assert campaign.rrule == "FREQ=WEEKLY;BYDAY=MO"
    assert campaign.filter == {"all": [{"field": "timezone", "op": "=", "value": "Europe/Paris"}]}


def _settled(page) -> None:
    """Wait until htmx has finished swapping and settling what it last inserted (new content
    carries `htmx-added` until then, and its hx- attributes are live only after)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, "
        ".htmx-added')"
    )
