"""Moments: recorded once per dedupe key, handed to the settings' handlers after the commit."""

from __future__ import annotations

import datetime
from dataclasses import FrozenInstanceError

import pytest
from django.db import transaction

from core.errors import DomainValidationError
from core.records import MomentRecord
from gamification.models import Moment
from gamification.services.moments import MomentDraft, moment_record, moments_record
from tests.accounts.factories import UserFactory
from tests.gamification.factories import award, learner_with_xp

pytestmark = pytest.mark.django_db

handled: list[list[MomentRecord]] = []
T0 = datetime.datetime(2026, 5, 4, 8, 30, tzinfo=datetime.UTC)


def collect(records: list[MomentRecord]) -> None:
    """A moment handler, as an app above gamification would register one."""
    handled.append(records)


def broken(records: list[MomentRecord]) -> None:
    raise RuntimeError("the message channel is down")


@pytest.fixture(autouse=True)
def handlers(settings):
    handled.clear()
    settings.STRIDE_MOMENT_HANDLERS = [
        "tests.gamification.test_moments.broken",
        "tests.gamification.test_moments.collect",
    ]
    yield
    handled.clear()


def test_a_moment_is_recorded_once_per_dedupe_key(django_capture_on_commit_callbacks):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = moment_record(
            user_id=user.pk,
            kind="streak_milestone",
            title="7-day streak",
            data={"days": 7},
            dedupe_key="milestone:7",
            occurred_at=T0,
        )
        again = moment_record(
            user_id=user.pk, kind="streak_milestone", title="again", dedupe_key="milestone:7"
        )

    assert again is None
    assert isinstance(first, MomentRecord)
    assert (first.kind, first.title, first.data, first.occurred_at) == (
        "streak_milestone",
        "7-day streak",
        {"days": 7},
        T0,
    )
    stored = Moment.objects.get()
    assert (stored.pk, stored.title, stored.data) == (first.id, "7-day streak", {"days": 7})
    with pytest.raises(FrozenInstanceError):
        first.title = "changed"  # type: ignore[misc]
    # Handlers ran after the commit with the new moment only; a failing one stopped no other.
    assert handled == [[first]]


def test_handlers_wait_for_the_commit_and_never_hear_of_a_rollback(
    django_capture_on_commit_callbacks,
):
    user = UserFactory()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        moment_record(user_id=user.pk, kind="level_up", title="Level 2", dedupe_key="a")
        assert handled == []  # recorded, not yet committed
        raise RuntimeError("the request failed")
    assert callbacks == []
    assert handled == []
    assert not Moment.objects.exists()


def test_a_batch_records_each_new_key_once_and_hands_over_one_list(
    django_capture_on_commit_callbacks,
):
    user, other = UserFactory(), UserFactory()
    moment_record(user_id=user.pk, kind="level_up", title="Level 2", dedupe_key="level:2")
    drafts = [
        MomentDraft(user_id=user.pk, kind="level_up", title="Level 2", dedupe_key="level:2"),
        MomentDraft(user_id=user.pk, kind="level_up", title="Level 3", dedupe_key="level:3"),
        MomentDraft(user_id=other.pk, kind="league_result", title="Up!", dedupe_key="lg:1"),
        MomentDraft(user_id=other.pk, kind="league_result", title="Twice", dedupe_key="lg:1"),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        recorded = moments_record(drafts)

    assert [(r.dedupe_key, r.title) for r in recorded] == [("level:3", "Level 3"), ("lg:1", "Up!")]
    assert handled == [recorded]
    assert Moment.objects.count() == 3


def test_a_malformed_moment_is_refused_naming_the_field():
    user = UserFactory()
    with pytest.raises(DomainValidationError) as caught:
        moment_record(user_id=user.pk, kind="party", title="", dedupe_key="x")
    assert set(caught.value.fields) == {"kind", "title"}
    with pytest.raises(DomainValidationError) as caught:
        moments_record(
            [
                MomentDraft(user_id=user.pk, kind="level_up", title="ok", dedupe_key="k1"),
                MomentDraft(user_id=user.pk, kind="level_up", title="ok", dedupe_key=""),
            ]
        )
    assert list(caught.value.fields["moments"]) == ["1"]
    assert list(caught.value.fields["moments"]["1"]) == ["dedupe_key"]
    assert not Moment.objects.exists()


def test_a_level_up_reaches_the_handlers_as_a_plain_record(django_capture_on_commit_callbacks):
    user = learner_with_xp(600)
    with django_capture_on_commit_callbacks(execute=True):
        award(user, "course_completed", reference="course:1", at=T0)  # 1,100 XP: level 3

    ((record,),) = handled
    assert (record.user_id, record.kind, record.dedupe_key) == (
        user.pk,
        "level_up",
        f"level_up:{user.pk}:3",
    )
    assert record.data == {"level": 3, "name": "Explorer", "previous_level": 2, "total_xp": 1100}
    assert record.occurred_at == T0
