"""The leagues in the admin: browsable and searchable, read-only, closed through the service."""

from __future__ import annotations

import pytest
from django.utils import timezone

from gamification.models import League, LeagueMembership, LeagueWeek
from tests.accounts.factories import UserFactory
from tests.gamification.factories import XpActionFactory, award
from tests.gamification.test_leaderboards import wipe_boards

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_boards_left_behind():
    """The hand-over counts this module's XP into Redis too: leave nothing there after."""
    yield
    wipe_boards()


MODELS = {"leagueweek": LeagueWeek, "league": League, "leaguemembership": LeagueMembership}


@pytest.fixture
def week_with_members(django_capture_on_commit_callbacks):
    action = XpActionFactory(code="league-admin", amount=10)
    ada = UserFactory(email="ada@example.com")
    ben = UserFactory(email="ben@example.com")
    for user, amount in ((ada, 30), (ben, 20)):
        with django_capture_on_commit_callbacks(execute=True):
            award(user, action, amount=amount, at=timezone.now())
    return ada, ben


@pytest.mark.parametrize("model", list(MODELS))
def test_lists_and_pages_open_and_offer_no_edits(admin_client, week_with_members, model):
    obj = MODELS[model].objects.first()

    listing = admin_client.get(f"/admin/gamification/{model}/")
    page = admin_client.get(f"/admin/gamification/{model}/{obj.pk}/change/")

    assert listing.status_code == 200
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.get(f"/admin/gamification/{model}/add/").status_code == 403


def test_a_league_page_lists_its_members(admin_client, week_with_members):
    league = League.objects.get()

    body = admin_client.get(f"/admin/gamification/league/{league.pk}/change/").content.decode()

    assert "ada@example.com" in body and "ben@example.com" in body


def test_memberships_and_leagues_are_found_by_learner(admin_client, week_with_members):
    memberships = admin_client.get("/admin/gamification/leaguemembership/", {"q": "ada@example"})
    nobody = admin_client.get("/admin/gamification/league/", {"q": "nobody@example"})
    found = admin_client.get("/admin/gamification/league/", {"q": "ben@example"})

    assert "ada@example.com" in memberships.content.decode()
    assert "ben@example.com" not in memberships.content.decode()
    assert "Bronze league 1" in found.content.decode()
    assert "Bronze league 1" not in nobody.content.decode()


def test_the_close_action_leaves_a_week_that_is_not_due(admin_client, week_with_members):
    week = LeagueWeek.objects.get()

    response = admin_client.post(
        "/admin/gamification/leagueweek/",
        {"action": "close_due_weeks", "_selected_action": [week.pk]},
        follow=True,
    )

    week.refresh_from_db()
    assert week.status == LeagueWeek.Status.OPEN  # the week runs to Sunday
    assert "Nothing closed" in response.content.decode()


def test_weeks_are_found_by_date_and_show_their_status(admin_client, week_with_members):
    week = LeagueWeek.objects.get()

    found = admin_client.get("/admin/gamification/leagueweek/", {"q": str(week.starts_on)[:7]})
    missed = admin_client.get("/admin/gamification/leagueweek/", {"q": "1999-01"})

    assert f"{week.starts_on:%b}" in found.content.decode()
    assert "Open" in found.content.decode()
    assert "0 league weeks" in missed.content.decode() or "0 results" in missed.content.decode()
