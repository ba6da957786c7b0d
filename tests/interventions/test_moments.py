"""Gamification's moments arrive in the student's Messages, once each."""

from __future__ import annotations

import pytest

from gamification.services.moments import moment_record
from interventions.models import Delivery
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_level_up_becomes_an_in_app_message_once_and_at_risk_notices_do_not(
    client, django_capture_on_commit_callbacks
):
    learner = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        moment_record(
            user_id=learner.pk, kind="level_up", title="Level 3: Explorer", dedupe_key="lvl:3"
        )
        moment_record(user_id=learner.pk, kind="level_up", title="again", dedupe_key="lvl:3")
        moment_record(
            user_id=learner.pk, kind="streak_at_risk", title="Streak at risk", dedupe_key="r:1"
        )

    (message,) = Delivery.objects.filter(user=learner)
    assert (message.channel, message.status, message.subject) == (
        "in_app",
        "delivered",
        "Level 3: Explorer",
    )
    client.force_login(learner)
    html = client.get("/me/messages/").content.decode()
    assert "Level 3: Explorer" in html and 'aria-label="1 unread"' in html
