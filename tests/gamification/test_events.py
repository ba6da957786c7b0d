"""XP from ingested behaviour events: the ingestion hook, in bulk and in the same transaction."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from engagement.catalogue import EVENT_TYPES
from engagement.services.ingestion import events_ingest
from gamification import defaults
from gamification.models import (
    AchievementUnlock,
    LearnerGameProfile,
    Moment,
    XpAction,
    XpRefusal,
    XpTransaction,
)
from gamification.selectors.levels import level_progress
from gamification.services.levels import level_thresholds
from gamification.services.xp import xp_award

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
_ids = itertools.count(1)


def ev(event_type: str, minutes: float = 0, user: str = "u1", **fields: Any) -> dict[str, Any]:
    """An event of `user` at T0 + `minutes`; `fields` add course, lesson, properties, id."""
    return {
        "id": f"e{next(_ids)}",
        "type": event_type,
        "user": user,
        "occurred_at": (T0 + datetime.timedelta(minutes=minutes)).isoformat(),
        **fields,
    }


def ingest(*items: dict[str, Any], source: str = "lms") -> None:
    result = events_ingest(source=source, items=list(items))
    assert not result.rejected, result.rejected


# Paid by the streaks and achievements services that ingestion runs after XP (their own tests
# say what they pay); these tests look at the XP the events themselves earn.
SERVICE_PAID = ("daily_streak", "streak_milestone", "achievement_unlocked", "league_promoted")


def event_rows(external_id: str = "u1"):
    return XpTransaction.objects.filter(user__external_id=external_id).exclude(
        action__code__in=SERVICE_PAID
    )


def xp_of(external_id: str = "u1") -> int:
    """The XP that `external_id`'s events earned."""
    return sum(event_rows(external_id).values_list("amount", flat=True))


def paid(external_id: str = "u1") -> list[tuple[str, int]]:
    return list(
        event_rows(external_id)
        .order_by("occurred_at", "action__code")
        .values_list("action__code", "amount")
    )


def ledger_total(external_id: str = "u1") -> int:
    rows = XpTransaction.objects.filter(user__external_id=external_id)
    return sum(rows.values_list("amount", flat=True))


# --- the catalogue ---------------------------------------------------------------------------


def test_the_default_catalogue_has_25_actions_with_the_promised_amounts_and_real_event_types():
    actions = {action.code: action for action in XpAction.objects.all()}

    assert len(actions) >= 25
    promised = {
        "lesson_completed": 50,
        "quiz_passed": 100,
        "quiz_perfect": 150,
        "course_completed": 500,
        "daily_streak": 20,
        "achievement_unlocked": 200,
        "first_review": 50,
        "discussion_post": 30,
    }
    assert {code: actions[code].amount for code in promised} == promised
    for action in actions.values():
        assert set(action.event_types) <= set(EVENT_TYPES), action.code
    earned_by_events = [a for a in actions.values() if a.event_types]
    assert len(earned_by_events) >= 20


def test_the_default_levels_run_from_novice_to_grandmaster_on_the_default_curve():
    from gamification.models import Level

    levels = list(Level.objects.values_list("number", "name", "threshold_xp"))

    assert [name for _, name, _ in levels][::9] == ["Novice", "Grandmaster"]
    assert [number for number, _, _ in levels] == list(range(1, 11))
    assert [t for _, _, t in levels] == list(defaults.LEVEL_THRESHOLDS)
    scheme = defaults.LEVEL_SCHEME
    assert list(defaults.LEVEL_THRESHOLDS) == level_thresholds(
        curve=scheme["curve"], base=scheme["base"], factor=scheme["factor"], count=10
    )


# --- awards from events ----------------------------------------------------------------------


def test_a_completed_lesson_pays_the_lesson_and_the_first_lesson_bonus_once():
    lesson = {"course": "c1", "lesson": "c1-l1"}

    ingest(ev("lesson_completed", 0, **lesson), ev("lesson_completed", 90, **lesson))
    ingest(ev("lesson_completed", 200, course="c1", lesson="c1-l2"))

    assert paid() == [("first_lesson", 100), ("lesson_completed", 50), ("lesson_completed", 50)]
    assert xp_of() == 200
    row = XpTransaction.objects.filter(action__code="lesson_completed").earliest("occurred_at")
    assert row.idempotency_key.startswith("event:lms:e") and row.idempotency_key.endswith(
        ":lesson_completed"
    )
    assert row.reference.startswith("lesson:") and row.course is not None
    # The second completion of the same lesson is no cheating: it is dropped, not refused.
    assert not XpRefusal.objects.exists()


def test_quiz_events_pay_by_their_conditions():
    quiz = {"course": "c1", "lesson": "c1-l1"}
    ingest(
        ev("quiz_submitted", 0, **quiz, properties={"score": 6, "max_score": 10, "quiz": "q1"}),
        ev(
            "quiz_submitted",
            10,
            **quiz,
            properties={"score": 10, "max_score": 10, "quiz": "q2", "passed": True},
        ),
        ev("quiz_passed", 20, course="c1", properties={"quiz": "q3"}),
    )

    assert sorted(paid()) == sorted(
        [
            ("quiz_attempted", 10),
            ("quiz_attempted", 10),
            ("quiz_perfect", 150),
            ("quiz_passed", 100),
            ("first_quiz_passed", 50),
            ("quiz_passed", 100),
        ]
    )
    assert xp_of() == 420


def test_reviews_pay_per_course_and_the_first_review_once():
    ingest(
        ev("review_posted", 0, course="c1", properties={"rating": 5}),
        ev("review_posted", 30, course="c2", properties={"rating": 4}),
    )
    assert sorted(paid()) == [("first_review", 50), ("review_posted", 25), ("review_posted", 25)]


def test_daily_sign_in_pays_once_a_learner_local_day_and_refusals_are_kept():
    User.objects.create_user(email="t@example.com", external_id="tokyo", timezone="Asia/Tokyo")
    # Tokyo is UTC+9: 09:00Z and 13:00Z are the same local day, 15:30Z is the next.
    ingest(
        ev("login", 0, user="tokyo"),
        ev("login", 240, user="tokyo"),
        ev("login", 390, user="tokyo"),
    )

    assert paid("tokyo") == [("daily_login", 10), ("welcome", 25), ("daily_login", 10)]
    refusal = XpRefusal.objects.get()
    assert (refusal.action.code, refusal.reason) == ("daily_login", "daily_cap")
    assert refusal.idempotency_key.endswith(":daily_login")


def test_replayed_events_pay_nothing_more():
    items = [ev("course_completed", 0, course="c1"), ev("discussion_post", 5)]
    ingest(*items)
    before = xp_of()

    ingest(*items)

    assert before == 500 + 250 + 30 + 50
    assert xp_of() == before
    assert event_rows().count() == 4


def test_a_batch_levelling_a_learner_up_records_the_moment_once():
    ingest(ev("course_completed", 0, course="c1"))  # 750 XP and more: Explorer (level 3)
    ingest(ev("course_completed", 60, course="c2"))  # 1,250 XP and more: Scholar (level 4)

    profile = LearnerGameProfile.objects.get(user__external_id="u1")
    assert profile.total_xp == ledger_total() >= 1250
    assert profile.level == level_progress(profile.total_xp).level == 4
    assert list(
        Moment.objects.filter(kind="level_up")
        .order_by("occurred_at")
        .values_list("data__level", flat=True)
    ) == [3, 4]


def test_ingestion_applies_xp_then_streaks_and_achievements_in_one_transaction():
    ingest(ev("lesson_completed", 0, course="c1", lesson="c1-l1"))

    profile = LearnerGameProfile.objects.get(user__external_id="u1")
    codes = set(XpTransaction.objects.values_list("action__code", flat=True))
    assert {"lesson_completed", "first_lesson", "achievement_unlocked"} <= codes
    assert AchievementUnlock.objects.filter(achievement__code="first-steps").exists()
    assert profile.current_streak == 1
    assert profile.total_xp == ledger_total()


def test_switched_off_gamification_leaves_events_without_xp(settings):
    settings.STRIDE_GAMIFICATION_ENABLED = False
    ingest(ev("course_completed", 0, course="c1"))
    assert not XpTransaction.objects.exists()
    assert not LearnerGameProfile.objects.exists()
    assert not AchievementUnlock.objects.exists()


def test_the_number_of_queries_does_not_grow_with_the_batch():
    def batch(learners: int, offset: int) -> list[dict[str, Any]]:
        return [
            item
            for n in range(learners)
            for item in (
                ev("lesson_completed", offset + n, user=f"b{n}", course="c1", lesson=f"l{n}"),
                ev("login", offset + n, user=f"b{n}"),
                ev("discussion_post", offset + n + 1, user=f"b{n}"),
            )
        ]

    ingest(*batch(3, 0))
    ingest(*batch(40, 0))  # the learners, courses and lessons exist from here on
    counts = []
    for learners, offset in ((3, 600), (40, 660)):
        with CaptureQueriesContext(connection) as queries:
            ingest(*batch(learners, offset))
        # Ingestion's own statements are its business (SQLite splits a big insert by its
        # parameter limit); gamification's must not depend on the batch.
        counts.append(sum('"gamification_' in q["sql"] for q in queries.captured_queries))

    assert counts[0] == counts[1]
    # Lesson, first lesson, sign-in, welcome, two discussions each and their first's bonus.
    assert event_rows("b39").count() == 7
    assert XpRefusal.objects.filter(user__external_id="b39", reason="daily_cap").count() == 1


def test_a_large_batch_is_copied_in_and_a_key_stored_before_is_not_paid_twice():
    taken = User.objects.create_user(email="m7@example.com", external_id="m7")
    # An earlier writer holds the key one of the batch's awards will want.
    xp_award(
        user_id=taken.pk,
        action_code="bonus",
        amount=5,
        idempotency_key="event:lms:big-7:lesson_completed",
    )
    items = [
        ev("lesson_completed", n, user=f"m{n}", course="c1", lesson=f"c1-m{n}", id=f"big-{n}")
        for n in range(300)  # 600 awards and more: beyond one INSERT ... VALUES
    ]

    ingest(*items)

    assert paid("m8") == [("first_lesson", 100), ("lesson_completed", 50)]
    assert sorted(paid("m7")) == [("bonus", 5), ("first_lesson", 100)]
    for learner in ("m7", "m8", "m299"):
        profile = LearnerGameProfile.objects.get(user__external_id=learner)
        assert profile.total_xp == ledger_total(learner)
    assert XpTransaction.objects.filter(action__code="lesson_completed").count() == 299
