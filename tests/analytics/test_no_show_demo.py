"""The demo's live sessions: past sessions with attendance, tomorrow's with predictions, and
a second seeding that changes none of it."""

from __future__ import annotations

import pytest

from analytics.models import NoShowModel, NoShowPrediction
from demo.services import demo_seed
from learning.models import LiveSession, LiveSessionRegistration

pytestmark = pytest.mark.django_db


def _state() -> tuple:
    return (
        LiveSession.objects.count(),
        sorted(
            LiveSessionRegistration.objects.values_list(
                "session__external_id", "user__external_id", "attended"
            )
        ),
        NoShowModel.objects.count(),
        sorted(NoShowPrediction.objects.values_list("registration_id", "probability", "reasons")),
    )


def test_the_demo_schedules_attends_and_predicts_and_a_rerun_changes_nothing(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    demo_seed(students=40, days=30, seed=4)
    first = _state()
    demo_seed(students=40, days=30, seed=4)

    assert _state() == first
    sessions, registrations, cards, predictions = first
    assert sessions == 3 * 9
    assert any(attended is False for *_, attended in registrations)
    assert any(attended is True for *_, attended in registrations)
    assert cards == 1 and predictions
    assert all(reasons for *_, reasons in predictions)
