"""`manage.py rebuild_leaderboards`: rebuilds from the ledger, shows progress, agrees with live."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from gamification.selectors.leaderboards import PERIODS, leaderboard_page
from tests.accounts.factories import UserFactory
from tests.gamification.factories import XpActionFactory, award
from tests.gamification.test_leaderboards import backend, wipe_boards  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_boards_left_behind():
    """The hand-over counts this module's XP into Redis too: leave nothing there after."""
    yield
    wipe_boards()


def _ranks() -> dict:
    return {
        period: [(row.rank, row.user_id, row.xp) for row in leaderboard_page(period=period).top]
        for period in PERIODS
    }


def test_the_command_rebuilds_boards_that_agree_with_the_live_ones(
    backend,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    action = XpActionFactory(code="lb-command", amount=10)
    learners = [UserFactory() for _ in range(6)]
    for index, learner in enumerate(learners):
        with django_capture_on_commit_callbacks(execute=True):
            award(learner, action, amount=10 * (index % 3 + 1), at=timezone.now())
    live = _ranks()
    out = io.StringIO()

    call_command("rebuild_leaderboards", stdout=out)

    text = out.getvalue()
    assert _ranks() == live
    assert live["daily"][0] == (1, learners[2].pk, 30)
    if backend == "redis":
        assert "read: 6" in text
        assert "Rebuilt" in text and "from 6 ledger rows" in text
    else:
        assert "nothing to rebuild" in text
