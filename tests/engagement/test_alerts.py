"""Alert rules on constructed histories, cooldown, de-duplication, and the alerts API."""

import datetime
import threading
import time
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from core.errors import DomainValidationError
from engagement.models import Alert, AlertRule
from engagement.services.alerts import alert_acknowledge, alert_resolve, alerts_evaluate
from learning.models import Enrollment
from tests.accounts.factories import UserFactory
from tests.engagement.factories import AlertRuleFactory, make_events, make_run, make_score
from tests.learning.factories import CourseFactory, EnrollmentFactory, LessonFactory
from tests.locks import backend_pid, needs_postgresql, wait_until_blocked

pytestmark = pytest.mark.django_db

# Tuesday 10 March 2026, 19:30 UTC (New York is on daylight time since 8 March: 15:30 there).
NOW = datetime.datetime(2026, 3, 10, 19, 30, tzinfo=datetime.UTC)
TODAY = NOW.date()


def ago(days: float = 0, hours: float = 0) -> datetime.datetime:
    return NOW - datetime.timedelta(days=days, hours=hours)


def evaluate(code: str, now: datetime.datetime = NOW) -> dict[int, Alert]:
    alerts_evaluate(now=now, codes=[code])
    return {a.user_id: a for a in Alert.objects.filter(rule__code=code)}


def evaluate_pairs(code: str, now: datetime.datetime = NOW) -> dict[tuple[int, int | None], Alert]:
    """The rule's alerts keyed by (learner, course): one learner may have one per course."""
    alerts_evaluate(now=now, codes=[code])
    return {(a.user_id, a.course_id): a for a in Alert.objects.filter(rule__code=code)}


def enrolled(tz: str = "UTC", *, course=None, **enrollment) -> User:
    user = UserFactory(timezone=tz)
    EnrollmentFactory(user=user, course=course or CourseFactory(), **enrollment)
    return user


def test_the_nine_rules_are_seeded_with_priorities_and_cooldowns():
    rules = {r.code: r for r in AlertRule.objects.all()}

    assert set(rules) == set(AlertRule.Code.values)
    assert all(
        0 <= r.priority <= 100 and r.cooldown_hours > 0 and r.is_active for r in rules.values()
    )
    assert rules["critical_risk"].priority > rules["streak_at_risk"].priority
    assert rules["inactive_14_days"].params == {"days": 14, "active_within_days": 60}


def test_critical_risk_fires_on_the_latest_run_only():
    critical, high, was_critical = UserFactory(), UserFactory(), UserFactory()
    old = make_run(TODAY - datetime.timedelta(days=8))
    make_score(old, was_critical, 92)
    latest = make_run(TODAY - datetime.timedelta(days=1))
    make_score(latest, critical, 90, drivers=[{"signal": "recency_days"}])
    make_score(latest, high, 79)
    make_score(latest, was_critical, 30)

    alerts = evaluate("critical_risk")

    assert set(alerts) == {critical.pk}
    alert = alerts[critical.pk]
    assert alert.priority == 95
    assert "90/100" in alert.message
    assert alert.context["drop_off_risk"] == 90
    assert alert.context["run_id"] == latest.pk


def test_critical_risk_is_raised_per_enrolment():
    learner, other = UserFactory(), UserFactory()
    py, js, art = CourseFactory(), CourseFactory(), CourseFactory()
    run = make_run(TODAY - datetime.timedelta(days=1))
    make_score(run, learner, 91, course=py)
    make_score(run, learner, 85, course=js, never_started=True)
    make_score(run, learner, 20, course=art)
    make_score(run, other, 15, course=py)

    alerts = evaluate_pairs("critical_risk")

    assert set(alerts) == {(learner.pk, py.pk), (learner.pk, js.pk)}
    assert alerts[learner.pk, js.pk].message.endswith("(never started)")
    assert alerts[learner.pk, js.pk].context["never_started"] is True
    # Evaluated again: both enrolments already have their unresolved alert.
    assert alerts_evaluate(now=NOW + datetime.timedelta(hours=1), codes=["critical_risk"]) == 0


def test_an_old_learner_level_alert_covers_the_learners_enrolments():
    """After the upgrade: an unresolved alert from before scores per enrolment (no course)
    stands for the learner, so the same rule does not alert each course on top of it."""
    learner = UserFactory()
    py = CourseFactory()
    rule = AlertRule.objects.get(code="critical_risk")
    Alert.objects.create(rule=rule, user=learner, priority=95, message="Risk 90 (old)")
    run = make_run(TODAY - datetime.timedelta(days=1))
    make_score(run, learner, 95, course=py)

    assert evaluate_pairs("critical_risk").keys() == {(learner.pk, None)}


def test_the_database_keeps_one_unresolved_alert_per_rule_and_enrolment():
    learner = UserFactory()
    py, js = CourseFactory(), CourseFactory()
    rule = AlertRule.objects.get(code="critical_risk")
    streak = AlertRule.objects.get(code="streak_at_risk")
    Alert.objects.create(rule=rule, user=learner, course=py, priority=1, message="a")
    Alert.objects.create(rule=rule, user=learner, course=js, priority=1, message="b")
    Alert.objects.create(rule=streak, user=learner, priority=1, message="c")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(rule=rule, user=learner, course=py, priority=1, message="again")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(rule=streak, user=learner, priority=1, message="again")
    Alert.objects.filter(message="a").update(status=Alert.Status.RESOLVED)
    Alert.objects.create(rule=rule, user=learner, course=py, priority=1, message="a again")


def test_risk_rising_compares_the_same_enrolment_with_a_run_at_least_six_days_older():
    rose, almost, rose_since_recent = UserFactory(), UserFactory(), UserFactory()
    course, other = CourseFactory(), CourseFactory()
    week_ago = make_run(TODAY - datetime.timedelta(days=8))
    for user, risk in [(rose, 40), (almost, 50), (rose_since_recent, 30)]:
        make_score(week_ago, user, risk, course=course)
    make_score(week_ago, rose, 90, course=other)  # fell in the other course
    recent = make_run(TODAY - datetime.timedelta(days=4))  # too recent to compare with
    make_score(recent, rose_since_recent, 10, course=course)
    latest = make_run(TODAY - datetime.timedelta(days=1))
    for user, risk in [(rose, 60), (almost, 69), (rose_since_recent, 45)]:
        make_score(latest, user, risk, course=course)
    make_score(latest, rose, 30, course=other)

    alerts = evaluate_pairs("risk_rising")

    assert set(alerts) == {(rose.pk, course.pk)}
    alert = alerts[rose.pk, course.pk]
    assert alert.context["increase"] == 20
    assert alert.message == "Risk up 20 points in 7 days (40 → 60)"


def test_inactive_14_days():
    course = CourseFactory()
    gone = enrolled(course=course)
    lesson = {"lesson": LessonFactory(course=course)}
    make_events(gone, [("page_view", ago(30)), ("lesson_completed", ago(16, 2), {}, lesson)])
    # A missed live session is recorded for the learner, not done by them.
    gone_but_missed = enrolled()
    make_events(gone_but_missed, [("page_view", ago(20)), ("live_session_missed", ago(2))])
    recent = enrolled()
    make_events(recent, [("page_view", ago(13))])
    long_gone = enrolled()
    make_events(long_gone, [("page_view", ago(61))])
    withdrawn = enrolled(status=Enrollment.Status.WITHDRAWN)
    make_events(withdrawn, [("page_view", ago(16))])

    alerts = evaluate("inactive_14_days")

    assert set(alerts) == {gone.pk, gone_but_missed.pk}
    assert alerts[gone.pk].message == "No activity for 16 days"
    assert alerts[gone.pk].course_id == course.pk
    assert alerts[gone.pk].context["days_since_activity"] == 16
    assert alerts[gone_but_missed.pk].message == "No activity for 20 days"


def test_inactive_14_days_is_per_enrolment():
    keen, dropped = CourseFactory(), CourseFactory()
    learner = enrolled(course=keen)
    EnrollmentFactory(user=learner, course=dropped)
    make_events(learner, [("page_view", ago(2))], course=keen)
    make_events(learner, [("page_view", ago(20))], course=dropped)
    # A login names no course: it is a sign of life in every course of the learner.
    logs_in = enrolled(course=keen)
    EnrollmentFactory(user=logs_in, course=dropped)
    make_events(logs_in, [("page_view", ago(20))], course=dropped)
    make_events(logs_in, [("login", ago(1))])

    alerts = evaluate_pairs("inactive_14_days")

    assert set(alerts) == {(learner.pk, dropped.pk)}
    assert alerts[learner.pk, dropped.pk].message == "No activity for 20 days"


def test_inactive_threshold_comes_from_the_rule_params():
    gone = enrolled()
    make_events(gone, [("page_view", ago(16))])
    AlertRule.objects.filter(code="inactive_14_days").update(params={"days": 20})

    assert evaluate("inactive_14_days") == {}


def test_no_login_7_days_needs_a_running_enrollment_and_a_past_login():
    away = enrolled()
    make_events(away, [("login", ago(8)), ("page_view", ago(8))])
    logged_in = enrolled()
    make_events(logged_in, [("login", ago(10)), ("session_start", ago(6))])
    course_over = enrolled(course=CourseFactory(ends_on=TODAY - datetime.timedelta(days=1)))
    make_events(course_over, [("login", ago(8))])
    never_logs_in = enrolled()
    make_events(never_logs_in, [("page_view", ago(1))])

    alerts = evaluate("no_login_7_days")

    assert set(alerts) == {away.pk}
    assert alerts[away.pk].message == "No login for 8 days"


def quiz(score: float, days: float, max_score: float = 10) -> tuple:
    return ("quiz_submitted", ago(days), {"score": score, "max_score": max_score})


def test_low_quiz_scores_uses_the_last_three_quizzes():
    course = CourseFactory()
    failing = UserFactory()
    make_events(failing, [quiz(10, 9), quiz(2, 3), quiz(5, 2), quiz(6, 1)], course=course)
    borderline = UserFactory()
    make_events(borderline, [quiz(4, 3), quiz(5, 2), quiz(7, 1)])
    too_few = UserFactory()
    make_events(too_few, [quiz(1, 2), quiz(1, 1)])
    recovered = UserFactory()
    make_events(recovered, [quiz(0, 6), quiz(0, 5), quiz(10, 3), quiz(9, 2), quiz(10, 1)])

    alerts = evaluate("low_quiz_scores")

    assert set(alerts) == {failing.pk}
    assert alerts[failing.pk].context["mean_score"] == pytest.approx(13 / 30, abs=1e-4)
    assert alerts[failing.pk].message == "Last 3 quizzes averaged 43%"
    assert alerts[failing.pk].course_id == course.pk


def test_weak_first_week_counts_local_days():
    enrolled_at = datetime.datetime(2026, 3, 1, 10, 0, tzinfo=datetime.UTC)  # 9 days ago
    course = CourseFactory()
    weak = enrolled(course=course, enrolled_at=enrolled_at)
    lesson = {"lesson": LessonFactory(course=course)}
    make_events(weak, [("page_view", enrolled_at), ("lesson_started", enrolled_at, {}, lesson)])
    fine = enrolled(enrolled_at=enrolled_at)
    make_events(fine, [("page_view", enrolled_at), ("page_view", ago(7))])
    old_hand = enrolled(enrolled_at=ago(20))
    # 14:30 and 15:30 UTC on 3 March are 23:30 on the 3rd and 00:30 on the 4th in Tokyo:
    # two study days there, one in UTC.
    two_evenings = [
        ("page_view", datetime.datetime(2026, 3, 3, 14, 30, tzinfo=datetime.UTC)),
        ("page_view", datetime.datetime(2026, 3, 3, 15, 30, tzinfo=datetime.UTC)),
    ]
    tokyo = enrolled("Asia/Tokyo", enrolled_at=enrolled_at)
    make_events(tokyo, two_evenings)
    utc_twin = enrolled(enrolled_at=enrolled_at)
    make_events(utc_twin, two_evenings)

    alerts = evaluate("weak_first_week")

    assert set(alerts) == {weak.pk, utc_twin.pk}
    assert old_hand.pk not in alerts
    assert alerts[weak.pk].message == "Active on 1 of the first 7 days after enrolling"
    assert alerts[weak.pk].course_id == course.pk


def test_weak_first_week_is_per_enrolment():
    old, new = CourseFactory(), CourseFactory()
    learner = enrolled(course=old, enrolled_at=ago(40))
    EnrollmentFactory(user=learner, course=new, enrolled_at=ago(9))
    # Busy in the old course during the new one's first week, but not in the new one.
    make_events(learner, [("page_view", ago(d)) for d in (3, 4, 5, 6)], course=old)

    alerts = evaluate_pairs("weak_first_week")

    assert set(alerts) == {(learner.pk, new.pk)}
    assert alerts[learner.pk, new.pk].context["active_days"] == 0


def days_active(*days_ago: int, hour: int = 12) -> list[tuple]:
    return [
        ("page_view", NOW.replace(hour=hour, minute=0) - datetime.timedelta(days=d))
        for d in days_ago
    ]


def test_streak_at_risk_in_the_evening_of_the_learners_day():
    at_risk = UserFactory()
    make_events(at_risk, days_active(1, 2, 3, 4))
    short = UserFactory()
    make_events(short, days_active(1, 2))
    done_today = UserFactory()
    make_events(done_today, days_active(0, 1, 2, 3))
    afternoon_in_new_york = UserFactory(timezone="America/New_York")  # 15:30 there
    make_events(afternoon_in_new_york, days_active(1, 2, 3, 4, hour=16))

    alerts = evaluate("streak_at_risk")

    assert set(alerts) == {at_risk.pk}
    assert alerts[at_risk.pk].context["streak_days"] == 4
    assert alerts[at_risk.pk].message == "4-day streak ends tonight: no activity yet today"

    # Two hours later it is 17:30 in New York: still not evening there.
    assert set(evaluate("streak_at_risk", now=NOW + datetime.timedelta(hours=2))) == {at_risk.pk}
    later = evaluate("streak_at_risk", now=NOW + datetime.timedelta(hours=3))
    assert set(later) == {at_risk.pk, afternoon_in_new_york.pk}


def progress(percent: float, days: float, video: str | None = None, **fields) -> tuple:
    props = {"percent": percent} | ({"video": video} if video else {})
    return ("video_progress", ago(days), props, fields)


def test_abandoned_videos_by_video_id_or_lesson():
    course = CourseFactory()
    quitter = UserFactory()
    make_events(
        quitter,
        [
            progress(40, 5, "v1"),
            progress(50, 4, "v2"),
            progress(95, 10, "v3"),
            progress(10, 40, "v4"),
        ],
        course=course,
    )
    finished_later = UserFactory()
    make_events(
        finished_later, [progress(40, 5, "v1"), progress(95, 4, "v1"), progress(30, 5, "v2")]
    )
    still_watching = UserFactory()
    make_events(still_watching, [progress(40, 1, "v1"), progress(30, 5, "v2")])
    by_lesson = UserFactory()
    lesson_a, lesson_b = LessonFactory(course=course), LessonFactory(course=course)
    make_events(by_lesson, [progress(50, 5, lesson=lesson_a), progress(60, 6, lesson=lesson_b)])

    alerts = evaluate("abandoned_videos")

    assert set(alerts) == {quitter.pk, by_lesson.pk}
    assert alerts[quitter.pk].message == "2 videos left unfinished"
    assert {v["video"] for v in alerts[quitter.pk].context["videos"]} == {"v1", "v2"}
    assert alerts[quitter.pk].course_id == course.pk


def test_missed_live_sessions_in_14_days():
    course = CourseFactory()
    misser = UserFactory()
    make_events(
        misser, [("live_session_missed", ago(10)), ("live_session_missed", ago(2))], course=course
    )
    once = UserFactory()
    make_events(once, [("live_session_missed", ago(20)), ("live_session_missed", ago(2))])

    alerts = evaluate("missed_live_sessions")

    assert set(alerts) == {misser.pk}
    assert alerts[misser.pk].message == "Missed 2 live sessions in 14 days"
    assert alerts[misser.pk].course_id == course.pk


def test_evaluating_twice_raises_one_alert():
    gone = enrolled()
    make_events(gone, [("page_view", ago(16))])

    assert alerts_evaluate(now=NOW) == 1
    assert alerts_evaluate(now=NOW + datetime.timedelta(hours=1)) == 0
    assert Alert.objects.filter(user=gone).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_unique_constraint_deduplicates_concurrent_runs():
    """Two real runs: the second reads "no alert yet" while the first has not committed, so
    only the partial unique constraint can stop it raising the same alert again."""
    needs_postgresql()
    AlertRuleFactory(code=AlertRule.Code.INACTIVE_14_DAYS)
    gone = enrolled()
    make_events(gone, [("page_view", ago(16))])
    inserted, commit = threading.Event(), threading.Event()
    second_pid: list[int] = []
    created: dict[str, Any] = {}

    def first_run() -> None:
        try:
            with transaction.atomic():
                created["first"] = alerts_evaluate(now=NOW, codes=["inactive_14_days"])
                inserted.set()
                commit.wait(timeout=30)
        except Exception as exc:
            created["first"] = exc
        finally:
            inserted.set()
            connection.close()

    def second_run() -> None:
        try:
            second_pid.append(backend_pid())
            later = NOW + datetime.timedelta(minutes=1)
            created["second"] = alerts_evaluate(now=later, codes=["inactive_14_days"])
        except Exception as exc:
            created["second"] = exc
        finally:
            connection.close()

    first = threading.Thread(target=first_run)
    second = threading.Thread(target=second_run)
    first.start()
    try:
        inserted.wait(timeout=30)
        assert created == {"first": 1}  # raised, not yet committed
        second.start()
        while not second_pid and second.is_alive():
            time.sleep(0.001)
        wait_until_blocked(second_pid[0])  # past its checks, its insert waits for the first run
    finally:
        commit.set()
        first.join()
        if second.is_alive():
            second.join()

    assert created == {"first": 1, "second": 0}
    assert Alert.objects.filter(user=gone).count() == 1


def test_cooldown_applies_after_resolving(staff_user):
    gone = enrolled()
    make_events(gone, [("page_view", ago(16))])
    alerts_evaluate(now=NOW, codes=["inactive_14_days"])
    alert_resolve(alert=Alert.objects.get(user=gone), by=staff_user)
    cooldown = AlertRule.objects.get(code="inactive_14_days").cooldown_hours

    inside = NOW + datetime.timedelta(hours=cooldown - 1)
    assert alerts_evaluate(now=inside, codes=["inactive_14_days"]) == 0
    after = NOW + datetime.timedelta(hours=cooldown + 1)
    assert alerts_evaluate(now=after, codes=["inactive_14_days"]) == 1
    assert Alert.objects.filter(user=gone, status="open").count() == 1


def test_inactive_rules_and_unknown_codes():
    gone = enrolled()
    make_events(gone, [("page_view", ago(16))])
    AlertRule.objects.filter(code="inactive_14_days").update(is_active=False)

    assert alerts_evaluate(now=NOW) == 0
    with pytest.raises(DomainValidationError) as excinfo:
        alerts_evaluate(now=NOW, codes=["nope"])
    assert "codes" in excinfo.value.fields


def test_evaluation_cost_does_not_grow_with_learners():
    def add_learners(n: int) -> None:
        for _ in range(n):
            user = enrolled()
            make_events(
                user,
                [
                    ("page_view", ago(16)),
                    ("live_session_missed", ago(3)),
                    ("live_session_missed", ago(2)),
                ],
            )
            make_events(user, [quiz(1, 17), quiz(1, 16.5), quiz(1, 16)])

    add_learners(2)
    with CaptureQueriesContext(connection) as few:
        assert alerts_evaluate(now=NOW) == 6
    add_learners(8)
    later = NOW + datetime.timedelta(minutes=5)
    with CaptureQueriesContext(connection) as many:
        assert alerts_evaluate(now=later) == 24

    assert len(many) == len(few)


# --- service: acknowledge and resolve -----------------------------------------------------


@pytest.fixture
def alert() -> Alert:
    course = CourseFactory(external_id="py101")
    gone = enrolled(course=course)
    make_events(gone, [("page_view", ago(16))])
    alerts_evaluate(now=NOW, codes=["inactive_14_days"])
    return Alert.objects.get(user=gone)


def test_acknowledge_then_resolve(alert, staff_user):
    acknowledged = alert_acknowledge(alert=alert, by=staff_user)
    assert acknowledged.status == "acknowledged"
    assert acknowledged.acknowledged_by == staff_user

    resolved = alert_resolve(alert=alert, by=None)
    assert resolved.status == "resolved" and resolved.resolved_at is not None

    for service in (alert_resolve, alert_acknowledge):
        with pytest.raises(DomainValidationError) as excinfo:
            service(alert=alert, by=staff_user)
        assert "status" in excinfo.value.fields


# --- API ----------------------------------------------------------------------------------

LIST = "/api/v1/engagement/alerts/"


def test_list_with_filters(alert, staff_client):
    other = UserFactory()
    make_events(other, [("live_session_missed", ago(3)), ("live_session_missed", ago(2))])
    alerts_evaluate(now=NOW, codes=["missed_live_sessions"])

    body = staff_client.get(LIST).json()
    assert body["count"] == 2
    assert [a["rule"] for a in body["results"]] == ["inactive_14_days", "missed_live_sessions"]
    first = body["results"][0]
    assert first["user"] == alert.user.external_id
    assert first["course"] == "py101"
    assert first["message"] == "No activity for 16 days"

    def ids(**query) -> list[int]:
        response = staff_client.get(LIST, query)
        assert response.status_code == 200, response.json()
        return [a["id"] for a in response.json()["results"]]

    assert ids(rule="missed_live_sessions") != [alert.pk]
    assert ids(user=alert.user.external_id) == [alert.pk]
    assert ids(course="py101") == [alert.pk]
    assert ids(min_priority=70) == [alert.pk]
    assert ids(status="resolved") == []

    bad = staff_client.get(LIST, {"status": "closed"})
    assert bad.status_code == 400
    assert "status" in bad.json()["fields"]


def test_staff_session_acknowledges_and_resolves(alert, staff_client, staff_user):
    response = staff_client.post(f"{LIST}{alert.pk}/acknowledge/")
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    alert.refresh_from_db()
    assert alert.acknowledged_by == staff_user

    assert staff_client.post(f"{LIST}{alert.pk}/resolve/").json()["status"] == "resolved"

    again = staff_client.post(f"{LIST}{alert.pk}/resolve/")
    assert again.status_code == 400
    assert again.json()["fields"] == {"status": ["This alert is already resolved."]}
    assert staff_client.post(f"{LIST}{alert.pk}/acknowledge/").status_code == 400


def test_alerts_write_key_resolves(alert, make_key):
    client = make_key("alerts:write")

    response = client.post(f"{LIST}{alert.pk}/resolve/")

    assert response.status_code == 200
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by is None


def test_unknown_alert_is_404_in_the_common_shape(staff_client):
    response = staff_client.post(f"{LIST}999999/acknowledge/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found.", "fields": {}}


def test_permissions(alert, api_client, make_key):
    student = alert.user
    api_client.force_login(student)
    assert api_client.get(LIST).status_code == 403
    assert api_client.post(f"{LIST}{alert.pk}/acknowledge/").status_code == 403

    events_key = make_key("events:write")
    assert events_key.get(LIST).status_code == 403
    assert events_key.post(f"{LIST}{alert.pk}/resolve/").status_code == 403

    reader = make_key("scores:read")
    assert reader.get(LIST).status_code == 200
    assert reader.post(f"{LIST}{alert.pk}/resolve/").status_code == 403

    alert.refresh_from_db()
    assert alert.status == "open"
