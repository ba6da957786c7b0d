"""The Content-Security-Policy in headless Chromium: every page works with no violation.

The browser itself reports violations (the `securitypolicyviolation` event, and a console
error); a page that needed an inline script, an eval or a foreign host would show one here.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.cache import cache
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.accounts.factories import AdminFactory, UserFactory
from tests.engagement.factories import make_run, make_score

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-admin-1234"
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""
DRIVERS = [
    {"signal": "recency_days", "label": "Inactive for 12 days", "value": 12, "contribution": 1.4},
    {"signal": "events_7d", "label": "Few events this week", "value": 1, "contribution": 0.8},
]


@pytest.fixture
def watched(page: Page) -> tuple[Page, list[str]]:
    """The page, recording every CSP violation the browser reports (events and console)."""
    console: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            console.append(message.text)
            if "Content Security Policy" in message.text
            or "Content-Security-Policy" in message.text
            else None
        ),
    )
    return page, console


def violations(page: Page, console: list[str]) -> list[str]:
    return page.evaluate("window.__cspViolations || []") + console


def visit(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy, (url, policy)
    assert "unsafe-inline" not in re.search(r"script-src[^;]*", policy).group(0)


@pytest.fixture
def admin_user(db) -> User:
    return AdminFactory(email="admin@example.com", password=PASSWORD, is_superuser=True)


@pytest.fixture
def scored_learner(db):
    cache.clear()  # run summaries are cached per run id
    learner = UserFactory(email="ada@example.com", first_name="Ada", last_name="Learner")
    old = make_run(datetime.date(2026, 3, 1))
    make_score(old, learner, 50, drivers=DRIVERS)
    run = make_run(datetime.date(2026, 3, 2))
    make_score(run, learner, 92, drivers=DRIVERS)
    yield learner
    cache.clear()


def test_site_pages_run_under_the_policy_with_no_violation(
    live_server, watched, admin_user, scored_learner
):
    page, console = watched

    visit(page, f"{live_server.url}/accounts/login/")
    page.fill("#id_username", admin_user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    # The dashboard: Plotly charts drawn from their JSON by our script, htmx filters.
    visit(page, f"{live_server.url}/dashboard/engagement/")
    expect(page.locator("#risk-histogram.js-plotly-plot")).to_be_visible()
    expect(page.locator("#risk-trend .main-svg").first).to_be_visible()
    page.locator("#id_threshold").fill("95")
    expect(page.locator("#threshold-value")).to_have_text("95")
    expect(page.locator("#at-risk-list")).to_contain_text("No enrolments with risk at or above 95")

    visit(page, f"{live_server.url}/dashboard/engagement/learners/{scored_learner.pk}/")
    # Drivers read as sentences with a bar each (no inline style); the history is a chart.
    expect(page.locator("#drivers .drivers li").first).to_be_visible()
    expect(page.locator("#history .js-plotly-plot").first).to_be_visible()

    visit(page, f"{live_server.url}/admin/")
    expect(page.locator("#site-name")).to_contain_text("Stride administration")
    visit(page, f"{live_server.url}/admin/accounts/user/")
    expect(page.locator("#result_list")).to_be_visible()

    visit(page, f"{live_server.url}/no-such-page/")
    expect(page.locator("h1")).to_have_text("Page not found")

    assert violations(page, console) == []


def test_api_docs_run_under_the_policy_with_no_violation(live_server, watched, admin_user):
    page, console = watched

    visit(page, f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Stride API")
    expect(page.locator(".opblock").first).to_be_visible()

    visit(page, f"{live_server.url}/api/redoc/")
    # Redoc lays out the whole schema before it shows anything: seconds on a busy machine.
    expect(page.locator("h1").first).to_contain_text("Stride API", timeout=60_000)
    expect(page.locator("[role=menuitem]").first).to_be_visible()

    assert violations(page, console) == []
