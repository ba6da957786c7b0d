"""Achievements: the twelve defaults, criteria (also within a course), unlocking exactly once
(also under concurrent evaluation), progress, rarity and unlocking by hand."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainValidationError
from gamification.models import Achievement, AchievementUnlock, Moment, XpTransaction
from gamification.selectors.achievements import achievement_progress, rarity_for
from gamification.services.achievements import (
    achievement_unlock,
    achievements_evaluate,
    achievements_evaluate_all,
    achievements_rarity_recompute,
    achievements_unlock,
)
from gamification.services.streaks import streaks_record_events
from tests.accounts.factories import UserFactory
from tests.gamification.factories import (
    AchievementFactory,
    event_record,
    install_defaults,
    install_rewards_and_achievements,
    learner_with_xp,
)
from tests.learning.factories import (
    CourseFactory,
    EnrollmentFactory,
    LessonFactory,
    LessonProgressFactory,
)
from tests.locks import backend_pid, needs_postgresql, wait_until_blocked

pytestmark = pytest.mark.django_db

Criterion = Achievement.Criterion


def unlocked(user) -> set[str]:
    return set(
        AchievementUnlock.objects.filter(user=user).values_list("achievement__code", flat=True)
    )


def achievement_xp(user) -> list[tuple[str, int]]:
    return sorted(
        XpTransaction.objects.filter(user=user, action__code="achievement_unlocked").values_list(
            "idempotency_key", "amount"
        )
    )


def complete_lessons(user, count: int, course=None) -> None:
    course = course or CourseFactory()
    for _ in range(count):
        LessonProgressFactory(user=user, lesson=LessonFactory(course=course), completed=True)


def test_the_twelve_default_achievements_come_from_the_data_migration():
    defaults = {a.code: a for a in Achievement.objects.all()}

    assert {a.name for a in defaults.values()} >= {
        "First Steps",
        "Learning Enthusiast",
        "Knowledge Seeker",
        "Course Graduate",
        "Multi-Skilled",
        "Master Learner",
        "Committed",
        "Dedicated",
        "Unstoppable",
        "Level 5",
        "Level 10",
        "Grandmaster",
    }
    assert len(defaults) == 12
    assert (defaults["first-steps"].criterion, defaults["first-steps"].threshold) == (
        Criterion.LESSONS_COMPLETED,
        1,
    )
    assert (defaults["committed"].criterion, defaults["committed"].threshold) == (
        Criterion.STREAK_DAYS,
        7,
    )
    assert {a.tier for a in defaults.values()} == {"bronze", "silver", "gold", "platinum"}


def test_an_achievement_unlocks_once_with_its_xp_and_moment():
    learner = UserFactory()
    complete_lessons(learner, 1)

    made = achievements_evaluate(user_ids=[learner.pk])

    assert [m.achievement_code for m in made] == ["first-steps"]
    assert unlocked(learner) == {"first-steps"}
    assert achievement_xp(learner) == [(f"achievement:{learner.pk}:first-steps", 100)]
    moment = Moment.objects.get(user=learner, kind="achievement_unlocked")
    assert moment.title == "Achievement unlocked: First Steps"

    # Evaluating again (a retried task, the nightly sweep) changes nothing.
    assert achievements_evaluate(user_ids=[learner.pk]) == []
    assert achievements_evaluate_all() == 0
    assert AchievementUnlock.objects.filter(user=learner).count() == 1
    assert len(achievement_xp(learner)) == 1


def test_lessons_and_courses_count_distinct_completions_optionally_within_one_course():
    python, other = CourseFactory(), CourseFactory()
    python_fan = AchievementFactory(
        code="python-fan", criterion=Criterion.LESSONS_COMPLETED, threshold=2, course=python
    )
    learner = UserFactory()
    lesson = LessonFactory(course=python)
    LessonProgressFactory(user=learner, lesson=lesson, completed=True)
    LessonProgressFactory(user=learner, lesson=lesson, completed=True)  # the same lesson again
    complete_lessons(learner, 3, course=other)

    achievements_evaluate(user_ids=[learner.pk])
    assert "python-fan" not in unlocked(learner)
    progress = {p.code: p for p in achievement_progress(learner.pk)}
    assert (progress["python-fan"].current, progress["python-fan"].threshold) == (1, 2)
    assert progress["first-steps"].current == 4 and progress["first-steps"].unlocked

    complete_lessons(learner, 1, course=python)
    EnrollmentFactory(user=learner, course=other, status="completed")
    achievements_evaluate(user_ids=[learner.pk])
    assert {"python-fan", "course-graduate"} <= unlocked(learner)
    assert python_fan.unlocks.count() == 1


def test_event_counts_and_perfect_quizzes_are_counted_from_ingested_events():
    course = CourseFactory()
    AchievementFactory(
        code="chatty", criterion=Criterion.EVENT_COUNT, event_type="discussion_post", threshold=2
    )
    AchievementFactory(code="ace", criterion=Criterion.PERFECT_QUIZZES, threshold=1, course=course)
    learner = UserFactory()
    now = timezone.now()

    def ingest(*events):
        streaks_record_events(events=list(events))
        achievements_evaluate(user_ids=[learner.pk], events=list(events))

    ingest(
        event_record(learner, now, "discussion_post"),
        event_record(
            learner,
            now,
            "quiz_submitted",
            properties={"score": 9, "max_score": 10},
            course_id=course.pk,
        ),
        # Full marks, but in another course.
        event_record(learner, now, "quiz_submitted", properties={"score": 5, "max_score": 5}),
    )
    assert unlocked(learner) == set()
    progress = {p.code: p for p in achievement_progress(learner.pk)}
    assert (progress["chatty"].current, progress["ace"].current) == (1, 0)

    ingest(
        event_record(learner, now, "discussion_post"),
        event_record(
            learner,
            now,
            "quiz_submitted",
            properties={"score": 10, "max_score": 10},
            course_id=course.pk,
        ),
    )
    assert unlocked(learner) == {"chatty", "ace"}


def test_an_unlock_from_imported_history_is_dated_by_the_learners_events_not_today():
    AchievementFactory(
        code="chatty", criterion=Criterion.EVENT_COUNT, event_type="discussion_post", threshold=2
    )
    learner = UserFactory()
    last_week = timezone.now() - datetime.timedelta(days=7)
    events = [
        event_record(learner, last_week, "discussion_post"),
        event_record(learner, last_week + datetime.timedelta(hours=2), "discussion_post"),
    ]

    achievements_evaluate(user_ids=[learner.pk], events=events)

    unlock = AchievementUnlock.objects.get(user=learner, achievement__code="chatty")
    assert unlock.unlocked_at == last_week + datetime.timedelta(hours=2)
    moment = Moment.objects.get(user=learner, kind="achievement_unlocked", data__code="chatty")
    assert moment.occurred_at == unlock.unlocked_at
    paid = XpTransaction.objects.get(idempotency_key=f"achievement:{learner.pk}:chatty")
    assert paid.occurred_at == unlock.unlocked_at


def test_xp_from_an_unlock_that_lifts_a_level_unlocks_the_level_achievement_too():
    learner = learner_with_xp(2000)  # level 5 starts at 2,032 XP
    complete_lessons(learner, 1)

    achievements_evaluate(user_ids=[learner.pk])

    assert unlocked(learner) == {"first-steps", "level-5"}
    assert learner.game_profile.__class__.objects.get(user=learner).level == 5


def test_a_seven_day_streak_unlocks_committed():
    learner = UserFactory()
    start = datetime.datetime(2026, 3, 2, 12, tzinfo=datetime.UTC)
    events = [
        event_record(learner, start + datetime.timedelta(days=n), "page_view") for n in range(7)
    ]
    streaks_record_events(events=events)
    achievements_evaluate(user_ids=[learner.pk], events=events)

    assert "committed" in unlocked(learner)
    progress = {p.code: p for p in achievement_progress(learner.pk)}
    assert (progress["dedicated"].current, progress["dedicated"].threshold) == (7, 30)
    assert progress["dedicated"].percent == 23


def test_rarity_bands_from_the_share_of_learners_holding_each():
    assert [rarity_for(s) for s in (1.0, 0.35, 0.349, 0.10, 0.0999, 0.02, 0.0199, 0)] == [
        "common",
        "common",
        "rare",
        "rare",
        "epic",
        "epic",
        "legendary",
        "legendary",
    ]
    learners = [learner_with_xp(0) for _ in range(50)]
    for learner in learners:
        achievements_evaluate(user_ids=[learner.pk])  # a profile for each, nothing unlocked
    widespread, uncommon, scarce = (
        AchievementFactory(code=code, criterion=Criterion.TOTAL_XP, threshold=10**6)
        for code in ("widespread", "uncommon", "scarce")
    )
    staff = UserFactory(is_staff=True)
    for achievement, holders in ((widespread, 20), (uncommon, 5), (scarce, 1)):
        for learner in learners[:holders]:
            achievement_unlock(
                user_id=learner.pk,
                achievement_code=achievement.code,
                granted_by_id=staff.pk,
                reason="test",
            )

    achievements_rarity_recompute()

    rarity = dict(Achievement.objects.values_list("code", "rarity"))
    share = dict(Achievement.objects.values_list("code", "holders_share"))
    assert (rarity["widespread"], share["widespread"]) == ("common", pytest.approx(0.4))
    assert (rarity["uncommon"], rarity["scarce"], rarity["grandmaster"]) == (
        "rare",
        "epic",
        "legendary",
    )
    assert achievements_rarity_recompute() == 0


def test_staff_unlock_by_hand_with_a_reason_once():
    staff = UserFactory(is_staff=True)
    learner = UserFactory()
    with pytest.raises(DomainValidationError) as error:
        achievement_unlock(
            user_id=learner.pk,
            achievement_code="master-learner",
            granted_by_id=staff.pk,
            reason=" ",
        )
    assert "reason" in error.value.fields
    with pytest.raises(DomainValidationError) as error:
        achievement_unlock(
            user_id=learner.pk, achievement_code="nope", granted_by_id=staff.pk, reason="x"
        )
    assert "achievement" in error.value.fields

    made = achievement_unlock(
        user_id=learner.pk,
        achievement_code="master-learner",
        granted_by_id=staff.pk,
        reason="Finished ten courses on the old platform",
    )
    again = achievement_unlock(
        user_id=learner.pk,
        achievement_code="master-learner",
        granted_by_id=staff.pk,
        reason="again",
    )

    assert made is not None and again is None
    unlock = AchievementUnlock.objects.get(user=learner)
    assert (unlock.granted_by, unlock.reason) == (staff, "Finished ten courses on the old platform")
    assert achievement_xp(learner) == [(f"achievement:{learner.pk}:master-learner", 1000)]


def test_unlocking_by_hand_for_many_learners_costs_the_queries_one_does():
    staff = UserFactory(is_staff=True)
    holder = UserFactory()
    achievement_unlock(
        user_id=holder.pk, achievement_code="dedicated", granted_by_id=staff.pk, reason="x"
    )

    def unlock(learners) -> tuple[list, int]:
        with CaptureQueriesContext(connection) as queries:
            made = achievements_unlock(
                user_ids=[learner.pk for learner in learners],
                achievement_code="dedicated",
                granted_by_id=staff.pk,
                reason="Streak lost in an outage",
            )
        return made, len(queries)

    one, one_cost = unlock([UserFactory()])
    many = [UserFactory() for _ in range(6)]
    made, many_cost = unlock([*many, holder])

    assert len(one) == 1
    assert [record.user_id for record in made] == [learner.pk for learner in many]  # not holder
    assert many_cost == one_cost
    for learner in many:
        assert achievement_xp(learner) == [(f"achievement:{learner.pk}:dedicated", 300)]
    stranger = UserFactory()
    with pytest.raises(DomainValidationError) as error:
        achievements_unlock(
            user_ids=[stranger.pk, 10**12],
            achievement_code="dedicated",
            granted_by_id=staff.pk,
            reason="x",
        )
    assert "user" in error.value.fields
    assert unlocked(stranger) == set()  # one learner unknown: nobody is unlocked


@pytest.mark.django_db(transaction=True)
def test_two_workers_evaluating_one_learner_unlock_once_and_pay_once():
    needs_postgresql()
    install_defaults()
    install_rewards_and_achievements()
    learner = UserFactory()
    complete_lessons(learner, 1)
    evaluated, commit = threading.Event(), threading.Event()
    second_pid: list[int] = []
    made: dict[str, Any] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                made["first"] = achievements_evaluate(user_ids=[learner.pk])
                evaluated.set()
                commit.wait(timeout=30)
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            made["first"] = exc
        finally:
            evaluated.set()
            connection.close()

    def second() -> None:
        try:
            second_pid.append(backend_pid())
            made["second"] = achievements_evaluate(user_ids=[learner.pk])
        except Exception as exc:  # pragma: no cover
            made["second"] = exc
        finally:
            connection.close()

    one, two = threading.Thread(target=first), threading.Thread(target=second)
    one.start()
    try:
        evaluated.wait(timeout=30)
        two.start()
        while not second_pid:
            pass
        wait_until_blocked(second_pid[0])  # the second waits for the first's commit
    finally:
        commit.set()
        one.join(timeout=30)
        two.join(timeout=30)

    assert [m.achievement_code for m in made["first"]] == ["first-steps"]
    assert made["second"] == []
    assert AchievementUnlock.objects.filter(user=learner).count() == 1
    assert len(achievement_xp(learner)) == 1


@pytest.fixture
def admin_client(client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    return client


def test_staff_unlock_from_the_admin_through_the_service(admin_client, staff_user):
    learner = UserFactory()
    add = reverse("admin:gamification_achievementunlock_add")
    achievement = Achievement.objects.get(code="dedicated")

    missing_reason = admin_client.post(
        add, {"user": learner.pk, "achievement": achievement.pk, "reason": " "}
    )
    assert missing_reason.status_code == 200
    assert b"a written reason is required" in missing_reason.content

    done = admin_client.post(
        add, {"user": learner.pk, "achievement": achievement.pk, "reason": "Streak lost in outage"}
    )
    assert done.status_code == 302
    assert unlocked(learner) == {"dedicated"}
    assert achievement_xp(learner) == [(f"achievement:{learner.pk}:dedicated", 300)]
    unlock = AchievementUnlock.objects.get(user=learner)
    assert (unlock.granted_by, unlock.reason) == (staff_user, "Streak lost in outage")
    # Unlocks are read-only once made.
    change = reverse("admin:gamification_achievementunlock_change", args=[unlock.pk])
    assert admin_client.post(change, {"reason": "edited"}).status_code == 403

    # The action on the achievements list unlocks for many learners at once, once each.
    other = UserFactory(external_id="ext-7")
    url = reverse("admin:gamification_achievement_changelist")
    form = {
        "action": "unlock_for_learners",
        "_selected_action": [achievement.pk],
        "apply": "1",
        "learners": f"{learner.email}, ext-7",
        "reason": "Migrated from the old platform",
        "request_key": "k",
    }
    assert admin_client.post(url, form).status_code == 302
    assert unlocked(other) == {"dedicated"}
    assert AchievementUnlock.objects.filter(achievement=achievement).count() == 2


def test_the_achievement_admin_keeps_rarity_read_only_and_checks_the_criterion(admin_client):
    achievement = Achievement.objects.get(code="first-steps")
    change = reverse("admin:gamification_achievement_change", args=[achievement.pk])
    page = admin_client.get(change)
    assert page.status_code == 200
    assert "rarity" not in page.context["adminform"].form.fields

    data = {
        "code": "chatty",
        "name": "Chatty",
        "description": "",
        "icon": "💬",
        "tier": "bronze",
        "is_active": "on",
        "criterion": "event_count",
        "threshold": 5,
        "event_type": "",
        "course": "",
        "xp_reward": 50,
    }
    refused = admin_client.post(reverse("admin:gamification_achievement_add"), data)
    assert refused.status_code == 200
    assert "event_type" in refused.context["adminform"].form.errors
    saved = admin_client.post(
        reverse("admin:gamification_achievement_add"), {**data, "event_type": "discussion_post"}
    )
    assert saved.status_code == 302
    assert Achievement.objects.get(code="chatty").rarity == "common"  # until the nightly count


def test_streak_days_are_searchable_by_learner_in_the_admin(admin_client):
    learner, other = UserFactory(), UserFactory()
    now = timezone.now()
    streaks_record_events(events=[event_record(learner, now), event_record(other, now)])

    page = admin_client.get(
        reverse("admin:gamification_streakday_changelist"), {"q": learner.email}
    )

    assert page.status_code == 200
    assert learner.email.encode() in page.content and other.email.encode() not in page.content


def test_progress_reads_a_fixed_number_of_queries_whatever_the_history(
    django_assert_num_queries,
):
    learner = UserFactory()
    course = CourseFactory()
    complete_lessons(learner, 3, course=course)
    EnrollmentFactory(user=learner, course=course, status="completed")
    achievements_evaluate(user_ids=[learner.pk])

    # The unlocks, the achievements, then profiles, lesson progress and enrollments.
    with django_assert_num_queries(5):
        progress = achievement_progress(learner.pk)

    by_code = {p.code: p for p in progress}
    assert len(progress) == 12
    assert (by_code["learning-enthusiast"].current, by_code["learning-enthusiast"].percent) == (
        3,
        30,
    )
    assert by_code["course-graduate"].unlocked and by_code["first-steps"].unlocked
