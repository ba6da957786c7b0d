"""Builders for gamification tests: the catalogue, learners with XP, awards and moments.

The actions catalogue and the levels are configuration that staff edit in the admin, so their
factories write rows (`django_get_or_create` on the natural key: the data migration's rows are
reused, and a transactional test's flush does not leave them missing). Everything a learner
has (XP, levels, moments) is written through the services, as the app itself writes it.
"""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from typing import Any

import factory

from accounts.models import User
from core.records import EventRecord
from gamification import defaults, defaults_achievements, defaults_rewards
from gamification.defaults_rewards import STREAK_FREEZE
from gamification.models import (
    Achievement,
    Level,
    LevelScheme,
    Reward,
    StreakMilestone,
    XpAction,
)
from gamification.services.rewards import RewardGrantResult, reward_grant
from gamification.services.xp import XpAwardResult, xp_award, xp_grant
from tests.accounts.factories import UserFactory

_keys = itertools.count(1)


def next_key(prefix: str = "test") -> str:
    """A fresh idempotency key."""
    return f"{prefix}:{next(_keys)}"


def install_defaults() -> None:
    """Make sure the data migration's actions, levels and scheme exist (a transactional test's
    flush empties them); rows present are left as they are."""
    for action in defaults.XP_ACTIONS:
        XpAction.objects.get_or_create(code=action["code"], defaults=action)
    scheme = LevelScheme.objects.order_by("pk").first() or LevelScheme.objects.create(
        curve=defaults.LEVEL_SCHEME["curve"],
        base=defaults.LEVEL_SCHEME["base"],
        factor=Decimal(defaults.LEVEL_SCHEME["factor"]),
    )
    for number, (name, threshold) in enumerate(
        zip(defaults.LEVEL_NAMES, defaults.LEVEL_THRESHOLDS, strict=True), start=1
    ):
        Level.objects.get_or_create(
            number=number, defaults={"scheme": scheme, "name": name, "threshold_xp": threshold}
        )


class XpActionFactory(factory.django.DjangoModelFactory):
    """An XP action; by default one without limits, paid every time (for arithmetic tests)."""

    class Meta:
        model = XpAction
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"test-action-{n}")
    name = factory.LazyAttribute(lambda action: action.code.replace("-", " ").capitalize())
    amount = 10
    event_types: Any = factory.LazyFunction(list)
    condition = XpAction.Condition.ANY
    repeat = XpAction.Repeat.EACH
    daily_cap = None
    min_interval_seconds = 0
    burst_limit = None
    burst_window_seconds = 60
    is_active = True


def award(
    user: User,
    action: XpAction | str,
    *,
    amount: int | None = None,
    reference: str = "",
    at: datetime.datetime | None = None,
    key: str | None = None,
    course_id: int | None = None,
) -> XpAwardResult:
    """Award `user` an action through `xp_award`, with a fresh key unless one is given."""
    return xp_award(
        user_id=user.pk,
        action_code=action if isinstance(action, str) else action.code,
        amount=amount,
        reference=reference,
        idempotency_key=key or next_key("award"),
        occurred_at=at,
        course_id=course_id,
    )


def learner_with_xp(xp: int, **user_fields: Any) -> User:
    """A learner holding `xp` XP, granted by staff through `xp_grant` (0: no ledger row)."""
    user = UserFactory(**user_fields)
    if xp:
        xp_grant(
            user_id=user.pk,
            amount=xp,
            reason="test set-up",
            granted_by_id=None,
            idempotency_key=next_key("grant"),
        )
    return user


# --- streaks, rewards and achievements (9c) ---------------------------------------------------

_event_ids = itertools.count(1)


def event_record(
    user: User,
    occurred_at: datetime.datetime,
    event_type: str = "lesson_completed",
    *,
    course_id: int | None = None,
    lesson_id: int | None = None,
    properties: dict[str, Any] | None = None,
) -> EventRecord:
    """A newly stored event as ingestion hands it to gamification (ids are made up)."""
    n = next(_event_ids)
    return EventRecord(
        id=n,
        source="test",
        client_id=f"test-event-{n}",
        type=event_type,
        user_id=user.pk,
        course_id=course_id,
        lesson_id=lesson_id,
        occurred_at=occurred_at,
        received_at=occurred_at,
        session_id="",
        device="",
        platform="",
        properties=properties or {},
    )


def freezes_grant(user: User, quantity: int = 1, *, key: str | None = None) -> RewardGrantResult:
    """Give `user` streak freezes through `reward_grant`, as staff would (capped at 2 held)."""
    return reward_grant(
        user_id=user.pk,
        reward_code=STREAK_FREEZE,
        quantity=quantity,
        source="staff",
        reason="test set-up",
        idempotency_key=key or next_key("freeze"),
    )


def install_rewards_and_achievements() -> None:
    """Make sure the data migrations' rewards, milestones and achievements exist (a
    transactional test's flush empties them); rows present are left as they are."""
    for reward in defaults_rewards.REWARDS:
        Reward.objects.get_or_create(code=reward["code"], defaults=reward)
    for milestone in defaults_rewards.MILESTONES:
        StreakMilestone.objects.get_or_create(days=milestone["days"], defaults=milestone)
    for achievement in defaults_achievements.ACHIEVEMENTS:
        Achievement.objects.get_or_create(code=achievement["code"], defaults=achievement)


class AchievementFactory(factory.django.DjangoModelFactory):
    """An achievement staff set up in the admin (configuration, so written as a row)."""

    class Meta:
        model = Achievement
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"test-achievement-{n}")
    name = factory.LazyAttribute(lambda a: a.code.replace("-", " ").capitalize())
    criterion = Achievement.Criterion.LESSONS_COMPLETED
    threshold = 1
    event_type = ""
    course = None
    tier = Achievement.Tier.BRONZE
    icon = "star"
    xp_reward = 50
