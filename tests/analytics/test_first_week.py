"""The first-week analysis on a generated history with planted weak first weeks: groups,
outcomes with intervals and separating signals equal to a direct computation; reruns."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analytics.models import FirstWeekSnapshot
from analytics.selectors.first_week import first_week_report
from analytics.services.first_week import first_week_compute, first_week_definition
from analytics.services.first_week_stats import rate_difference
from analytics.services.significance import proportion
from engagement.models import AlertRule
from engagement.services.alerts import alert_rule_update
from learning.models import Course
from tests.accounts.factories import InstructorFactory, UserFactory
from tests.engagement.factories import make_events
from tests.learning.factories import CourseFactory, EnrollmentFactory, LessonFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
ZONES = ["Asia/Tokyo", "America/New_York", "UTC", "Pacific/Honolulu", "Asia/Kolkata"]


@dataclass
class Planted:
    """One generated enrolment and what was planted in it."""

    user_id: int
    course: Course
    weak: bool
    dropped: bool
    completed: bool
    quizzes: int
    posts: int
    active_days: int


@dataclass
class Generated:
    courses: list[Course]
    now: datetime.datetime
    plan: list[Planted] = field(default_factory=list)

    def of(self, course: Course | None) -> list[Planted]:
        return [p for p in self.plan if course is None or p.course == course]


def local(day: datetime.date, hour: int, tz: str) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=ZoneInfo(tz))


def generate(*, learners: int = 48, seed: int = 15, plant_quizzes: bool = True) -> Generated:
    """`learners` students in five timezones and two courses, enrolled 25-30 local days ago.

    Every third learner's first week is weak (active on its first day only; some come back on
    day 7, outside the week); the others are active on 3-5 of its days, some of them only
    through a login naming no course. Planted: the weak drop off far more often (75% against
    20%) and, with `plant_quizzes`, pass a quiz in their first week far less often (10%
    against 85%). Not planted: a forum post on the first day, half of everyone. A few
    enrolments are withdrawn or completed; three recent enrolments are too young to analyse.
    """
    rng = random.Random(seed)
    now = timezone.now()
    instructor = InstructorFactory()
    courses = [
        CourseFactory(external_id="fw-algebra", title="Algebra", instructor=instructor),
        CourseFactory(external_id="fw-biology", title="Biology"),
    ]
    lessons = {c.pk: LessonFactory(course=c) for c in courses}
    generated = Generated(courses=courses, now=now)
    for i in range(learners):
        tz = ZONES[i % len(ZONES)]
        course = courses[i % 2]
        user = UserFactory(timezone=tz)
        start = now.astimezone(ZoneInfo(tz)).date() - (25 + i % 6) * DAY
        weak = i % 3 == 0
        withdrawn = i % 11 == 5
        dropped = withdrawn or rng.random() < (0.75 if weak else 0.2)
        completed = not dropped and not weak and i % 5 == 2
        status = "withdrawn" if withdrawn else "completed" if completed else "active"
        EnrollmentFactory(user=user, course=course, enrolled_at=local(start, 8, tz), status=status)
        days = [0] if weak else [0, *sorted(rng.sample(range(1, 7), 2 + i % 3))]
        quizzes = int(rng.random() < (0.1 if weak else 0.85)) if plant_quizzes else 0
        posts = int(rng.random() < 0.5)
        specs: list[tuple] = []
        for k, offset in enumerate(days):
            at = local(start + offset * DAY, 12, tz)
            if k == 1 and i % 4 == 1:  # this day's only activity names no course
                specs.append(("login", at, {}, {"course": None}))
                continue
            specs.append(("page_view", at))
            if not weak:
                specs.append(("lesson_completed", at, {}, {"lesson": lessons[course.pk]}))
        if quizzes:
            specs.append(("quiz_passed", local(start + days[-1] * DAY, 13, tz)))
        if posts:
            specs.append(("discussion_post", local(start, 14, tz)))
        if weak and i % 4 == 0:  # the day after the first week: still a weak one
            specs.append(("page_view", local(start + 7 * DAY, 12, tz)))
        if not dropped:
            specs.append(("page_view", now - 2 * DAY))
        make_events(user, specs, course=course)
        generated.plan.append(
            Planted(user.pk, course, weak, dropped, completed, quizzes, posts, len(days))
        )
    for _ in range(3):  # enrolled 12 days ago: the first week ended, the horizon has not
        user = UserFactory()
        EnrollmentFactory(user=user, course=courses[0], enrolled_at=now - 12 * DAY)
    return generated


@pytest.fixture
def planted() -> Generated:
    return generate()


def wilson(k: int, n: int) -> tuple[float, float]:
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    return float(low), float(high)


@pytest.mark.parametrize("scope", [None, 0, 1])
def test_groups_and_outcomes_equal_a_direct_count(planted, scope):
    first_week_compute(now=planted.now)
    course = None if scope is None else planted.courses[scope]
    rows = planted.of(course)
    report = first_week_report(course=course)
    weak = [p for p in rows if p.weak]
    rest = [p for p in rows if not p.weak]
    assert (report.analysed, report.weak, report.rest) == (len(rows), len(weak), len(rest))
    outcomes = {o.name: o for o in report.outcomes}
    for name, attr in (("dropped_off", "dropped"), ("completed", "completed")):
        k_weak = sum(getattr(p, attr) for p in weak)
        k_rest = sum(getattr(p, attr) for p in rest)
        outcome = outcomes[name]
        assert (outcome.weak.successes, outcome.weak.total) == (k_weak, len(weak))
        assert (outcome.rest.successes, outcome.rest.total) == (k_rest, len(rest))
        assert (outcome.weak.low, outcome.weak.high) == pytest.approx(wilson(k_weak, len(weak)))
        assert (outcome.rest.low, outcome.rest.high) == pytest.approx(wilson(k_rest, len(rest)))
        diff = outcome.difference
        assert diff.value == pytest.approx(k_weak / len(weak) - k_rest / len(rest))
        assert diff.low < diff.value < diff.high
    # The planted drop-off: the weak leave more, and the interval of the difference says so.
    drop = outcomes["dropped_off"]
    assert drop.weak.rate > drop.rest.rate
    if scope is None:
        assert drop.difference.low > 0
    # Their learners are the cohort the segment saves.
    snapshot = FirstWeekSnapshot.objects.get(course=course)
    assert snapshot.weak_learners == sorted({p.user_id for p in weak})


def test_the_planted_signal_separates_and_the_unplanted_one_does_not(planted):
    first_week_compute(now=planted.now)
    report = first_week_report(course=None)
    factors = {f.comparison.signal: f for f in report.factors}
    separating = {f.comparison.signal for f in report.separating}
    assert "quizzes_passed" in separating
    assert "discussion_posts" not in separating
    assert "active_days" not in factors  # the definition itself is no finding
    # Each comparison is scipy's Welch test on the planted values.
    weak = [p for p in planted.plan if p.weak]
    rest = [p for p in planted.plan if not p.weak]
    for signal, attr in (("quizzes_passed", "quizzes"), ("discussion_posts", "posts")):
        a = [getattr(p, attr) for p in weak]
        b = [getattr(p, attr) for p in rest]
        c = factors[signal].comparison
        assert c.mean_a == pytest.approx(sum(a) / len(a))
        assert c.mean_b == pytest.approx(sum(b) / len(b))
        assert c.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
        assert c.p_value_holm >= c.p_value
    quiz = factors["quizzes_passed"]
    assert quiz.comparison.cohen_d < -0.8  # the weak pass far fewer
    assert "quizzes passed" in quiz.text and "large difference" in quiz.text
    # The recommendation follows from the strongest separating signals.
    assert report.recommendation
    assert "quiz" in report.recommendation or "lesson" in report.recommendation


def test_without_a_planted_quiz_difference_no_quiz_factor(db):
    generated = generate(plant_quizzes=False, seed=3)
    first_week_compute(now=generated.now)
    report = first_week_report(course=None)
    separating = {f.comparison.signal for f in report.separating}
    assert "quizzes_passed" not in separating
    assert "discussion_posts" not in separating


def test_a_rerun_replaces_the_snapshots(planted):
    first = first_week_compute(now=planted.now)
    rows = list(FirstWeekSnapshot.objects.order_by("course_id").values())
    again = first_week_compute(now=planted.now)
    assert first == again
    assert first.stored == 3  # the platform and the two courses
    assert list(FirstWeekSnapshot.objects.order_by("course_id").values()) == rows
    # One course only: its snapshot is rewritten, the others stay.
    first_week_compute(now=planted.now, course=planted.courses[0])
    assert FirstWeekSnapshot.objects.count() == 3


def test_nothing_analysed_yet_is_an_empty_report(db):
    first_week_compute()
    report = first_week_report(course=None)
    assert report.computed_at is not None
    assert (report.analysed, report.weak, report.rest) == (0, 0, 0)
    assert not report.has_groups and report.separating == []
    assert first_week_report(course=CourseFactory()).computed_at is None


def test_the_definition_follows_the_rule_as_staff_set_it(planted):
    rule = AlertRule.objects.get_or_create(  # seeded by engagement's migration 0002
        code=AlertRule.Code.WEAK_FIRST_WEEK, defaults={"name": "Weak first week"}
    )[0]
    alert_rule_update(
        rule=rule,
        priority=rule.priority,
        cooldown_hours=rule.cooldown_hours,
        params={"min_active_days": 5},
        is_active=rule.is_active,
    )
    first_week_compute(now=planted.now)
    report = first_week_report(course=None)
    assert report.definition.min_active_days == 5
    assert "fewer than 5 of those days" in report.definition.text
    assert (
        report.weak
        == sum(p.active_days < 5 for p in planted.plan)
        > sum(p.weak for p in planted.plan)
    )


def test_the_definition_is_the_alert_rules(db):
    definition = first_week_definition()
    assert (definition.first_days, definition.min_active_days) == (7, 2)
    assert "fewer than 2 of those days" in definition.text


def test_the_difference_interval_is_newcombes():
    # Newcombe (1998), Statistics in Medicine 17:873, table II, example (a): 56/70 - 48/80,
    # method 10 gives 0.0524 to 0.3339.
    diff = rate_difference(proportion(56, 70), proportion(48, 80))
    assert diff.value == pytest.approx(0.2)
    assert (diff.low, diff.high) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_the_report_is_one_query(planted, django_assert_num_queries):
    first_week_compute(now=planted.now)
    course = planted.courses[0]
    with django_assert_num_queries(1):
        report = first_week_report(course=course)
    assert report.analysed == len(planted.of(course))


def test_the_computation_reads_three_queries_and_writes_a_row_per_scope(
    planted, django_assert_max_num_queries
):
    # Three reads, then per scope (the platform and two courses) one update_or_create: a few
    # statements each, never one per enrolment (there are 51).
    with django_assert_max_num_queries(3 + 3 * 8):
        first_week_compute(now=planted.now)


def test_first_weeks_are_the_learners_local_days_in_their_course(db):
    """Tokyo enrols at 23:00 local on 5 October: 23:30 that night and 23:50 on the 11th (a
    login naming no course) are two of their seven days: not weak. New York enrols at 20:00
    local on 5 October (00:00 UTC the 6th): 21:00 that evening counts, 00:30 local on the 12th
    is day eight, an event in their other course and a missed live session count for nothing:
    weak. New York's other course, from 1 September, had no activity in its first week."""
    algebra = CourseFactory(external_id="fw-a")
    biology = CourseFactory(external_id="fw-b")
    tokyo = UserFactory(timezone="Asia/Tokyo")
    ny = UserFactory(timezone="America/New_York")
    oct5 = datetime.date(2026, 10, 5)
    EnrollmentFactory(user=tokyo, course=algebra, enrolled_at=local(oct5, 23, "Asia/Tokyo"))
    EnrollmentFactory(user=ny, course=algebra, enrolled_at=local(oct5, 20, "America/New_York"))
    EnrollmentFactory(user=ny, course=biology, enrolled_at=local(oct5, 12, "UTC") - 34 * DAY)
    tk = ZoneInfo("Asia/Tokyo")
    make_events(
        tokyo,
        [
            ("page_view", datetime.datetime(2026, 10, 5, 23, 30, tzinfo=tk)),
            ("login", datetime.datetime(2026, 10, 11, 23, 50, tzinfo=tk), {}, {"course": None}),
        ],
        course=algebra,
    )
    nyz = ZoneInfo("America/New_York")
    make_events(
        ny,
        [
            ("page_view", datetime.datetime(2026, 10, 5, 21, 0, tzinfo=nyz)),
            ("page_view", datetime.datetime(2026, 10, 12, 0, 30, tzinfo=nyz)),
            (
                "page_view",
                datetime.datetime(2026, 10, 7, 12, 0, tzinfo=nyz),
                {},
                {"course": biology},
            ),
            ("live_session_missed", datetime.datetime(2026, 10, 8, 12, 0, tzinfo=nyz)),
        ],
        course=algebra,
    )
    first_week_compute()
    in_algebra = FirstWeekSnapshot.objects.get(course=algebra)
    assert (in_algebra.analysed, in_algebra.weak, in_algebra.weak_learners) == (2, 1, [ny.pk])
    in_biology = FirstWeekSnapshot.objects.get(course=biology)
    assert (in_biology.analysed, in_biology.weak) == (1, 1)
    platform = FirstWeekSnapshot.objects.get(course=None)
    assert (platform.analysed, platform.weak, platform.weak_learners) == (3, 2, [ny.pk])
