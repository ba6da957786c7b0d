"""The student's pages in headless Chromium: a learner signs in and sees their XP, level and
streak; one student cannot open another's pages; staff view a learner's pages as theirs."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.services import sign_in_link_create
from gamification import defaults_rewards
from gamification.models import Reward
from gamification.selectors.leaderboards import key_prefix, redis_client
from gamification.services.rewards import reward_grant
from gamification.services.streaks import streak_record_activity
from tests.accounts.factories import LEARNER_PASSWORD, AdminFactory
from tests.gamification.factories import award, install_defaults, learner_with_xp, next_key

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def _fresh_boards():
    """Redis outlives each test's flushed database: start every test with empty boards."""
    client = redis_client()
    if client is not None:
        keys = list(client.scan_iter(match=f"{key_prefix()}:*", count=1000))
        if keys:
            client.unlink(*keys)


@pytest.fixture
def learners(db):
    """Ada (390 XP, level 2, a two-day streak, one freeze) and Ben (900 XP), as services make
    them; a transactional test's flush took the data migrations' rows, so they come back first."""
    install_defaults()
    for reward in defaults_rewards.REWARDS:
        Reward.objects.get_or_create(code=reward["code"], defaults=reward)
    now = timezone.now()
    ada = learner_with_xp(
        300, first_name="Ada", last_name="Lopez", email="ada@example.com", external_id="ext-ada"
    )
    streak_record_activity(user_id=ada.pk, occurred_at=now - 2 * DAY)
    streak_record_activity(user_id=ada.pk, occurred_at=now - DAY)
    award(ada, "lesson_completed", reference="lesson:1", at=now - DAY)
    reward_grant(
        user_id=ada.pk,
        reward_code="streak_freeze",
        source="staff",
        idempotency_key=next_key("freeze"),
    )
    ben = learner_with_xp(
        900, first_name="Ben", last_name="Okafor", email="ben@example.com", external_id="ext-ben"
    )
    return ada, ben


def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/?next=/me/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_a_student_sees_their_xp_level_and_streak(live_server, page, learners):
    ada, _ = learners
    _sign_in(page, live_server.url, ada.email, LEARNER_PASSWORD)
    page.wait_for_url(f"{live_server.url}/me/")

    expect(page.locator("h1")).to_have_text("My progress")
    expect(page.locator('[data-stat="level"]')).to_have_text("2")
    expect(page.locator('[data-stat="xp"]')).to_have_text("390")
    expect(page.locator('[data-stat="streak"]')).to_contain_text("2")
    expect(page.locator("#level-progress")).to_have_attribute("value", "37")
    expect(page.locator(".heatmap-days .hm-day")).to_have_count(84)
    expect(page.locator(".heatmap-days .hm-active")).to_have_count(2)
    expect(page.get_by_text("ends tonight unless you study today")).to_be_visible()
    expect(page.locator("[data-freezes]")).to_have_text("1 of 2 freezes")
    # The heat-map's text alternative opens to list the active days.
    page.get_by_text("The calendar as a list (2 days)").click()
    expect(page.locator(".heatmap-text li")).to_have_count(2)

    # News: the level-up is a notice until dismissed.
    notice = page.locator(".moment", has_text="level 2")
    expect(notice).to_be_visible()
    notice.get_by_role("button", name=re.compile("Dismiss")).click()
    page.wait_for_url(f"{live_server.url}/me/")
    expect(page.locator(".moment", has_text="level 2")).to_have_count(0)

    # The leaderboard marks her row; Ben leads.
    page.get_by_role("link", name="Leaderboards").click()
    page.get_by_role("link", name="All time").click()
    expect(page.locator("tr.is-me")).to_contain_text("Ada L.")
    expect(page.locator("tr.is-me .rank")).to_have_text("2")
    expect(page.locator("[data-my-rank]")).to_contain_text("You are #2 of 2")


def test_one_student_cannot_open_anothers_pages(live_server, page, learners):
    _, ben = learners
    _sign_in(page, live_server.url, ben.email, LEARNER_PASSWORD)
    page.wait_for_url(f"{live_server.url}/me/")
    expect(page.locator('[data-stat="xp"]')).to_have_text("900")

    response = page.goto(f"{live_server.url}/me/?as=ext-ada")

    assert response is not None and response.status == 403
    expect(page.locator("main")).not_to_contain_text("Ada")
    expect(page.locator("main")).not_to_contain_text("390")
    api = page.goto(f"{live_server.url}/api/v1/users/ext-ada/gamification/")
    assert api is not None and api.status == 403


def test_staff_view_a_learners_pages_as_the_learner_does(live_server, page, learners):
    staff = AdminFactory(email="coach@example.com")
    _sign_in(page, live_server.url, staff.email, "pw-staff-1234")
    page.goto(f"{live_server.url}/me/")
    page.fill("#id_as", "ext-ada")
    page.get_by_role("button", name="View as learner").click()

    expect(page.locator(".viewing-as")).to_contain_text("Viewing as Ada Lopez")
    expect(page.locator('[data-stat="xp"]')).to_have_text("390")
    expect(page.get_by_role("button", name=re.compile("Dismiss"))).to_have_count(0)
    page.get_by_role("link", name="League").click()
    expect(page).to_have_url(re.compile(r"/me/league/\?as=ext-ada$"))
    expect(page.locator("tr.is-me")).to_contain_text("Ada L.")


def test_a_one_time_link_opens_the_students_pages(live_server, page, learners):
    ada, _ = learners
    _, token = sign_in_link_create(user=ada)

    page.goto(f"{live_server.url}/accounts/sign-in/{token}/")

    page.wait_for_url(f"{live_server.url}/me/")
    expect(page.locator('[data-stat="xp"]')).to_have_text("390")
    expect(page.get_by_role("link", name="My progress").first).to_be_visible()


RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


def test_the_pages_run_under_the_content_security_policy(live_server, page, learners):
    ada, _ = learners
    console: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    _sign_in(page, live_server.url, ada.email, LEARNER_PASSWORD)
    page.wait_for_url(f"{live_server.url}/me/")

    for path in ("/me/", "/me/achievements/", "/me/leaderboards/", "/me/league/", "/me/xp/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        # The icons (an SVG sprite) and the stylesheet load from our own static files.
        expect(page.locator(".me-tabs")).to_be_visible()
        assert page.evaluate("window.__cspViolations") == [], path
    assert console == []  # nor a refusal the browser reported only in its console
