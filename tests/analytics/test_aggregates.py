"""The daily aggregates agree with a plain recount of the raw events, on learner-local days,
stay the same when recomputed, and a refresh recomputes only the days that changed."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from analytics.models import AggregateRun, DailyAggregate
from analytics.services.aggregates import (
    aggregates_compute,
    aggregates_refresh,
    latest_local_day,
)
from learning.models import Enrollment
from tests.accounts.factories import UserFactory
from tests.analytics.history import (
    DAY,
    build_history,
    recount,
    recount_revenue,
    stored,
    stored_revenue,
    utc,
)
from tests.engagement.factories import make_events
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

NO_OVERLAP = datetime.timedelta(0)


def _covered() -> tuple[datetime.date, datetime.date]:
    days = DailyAggregate.objects.platform().values_list("day", flat=True)
    return min(days), max(days)


def test_refresh_agrees_with_a_recount_of_the_events_before_and_after_a_late_event():
    history = build_history()

    first = aggregates_refresh()

    assert first is not None and first.status == AggregateRun.Status.DONE
    start, end = _covered()
    # The first refresh covers everything: from the earliest enrollment (the history's
    # first row) to the latest day any learner lives today (Tokyo's, ahead of UTC).
    assert end == latest_local_day(timezone.now())
    assert first.days == (end - start).days + 1
    assert stored() == recount(start, end)
    assert stored_revenue() == recount_revenue(start, end)
    # Learners in several timezones, two courses: there is something to compare.
    platform_mau = DailyAggregate.objects.platform().order_by("-mau").first()
    assert platform_mau.mau >= 5
    assert DailyAggregate.objects.filter(course=history.courses[1]).exists()
    # Reviews and purchases in two currencies, with and without a course, are among them.
    assert DailyAggregate.objects.filter(course__isnull=False, rating_count__gt=0).exists()
    assert set(stored_revenue()) >= {
        key for key in recount_revenue(start, end) if key[1] is None and key[2] == "USD"
    }
    assert {key[2] for key in stored_revenue()} == {"EUR", "USD"}
    messages = DailyAggregate.objects.platform()
    assert sum(messages.values_list("messages_sent", flat=True)) == 5
    assert sum(messages.values_list("messages_converted", flat=True)) == 2
    assert DailyAggregate.objects.filter(course__isnull=False, messages_clicked__gt=0).exists()

    # A late event (sent today, occurred 45 days ago in Tokyo) makes that day the late
    # bloomer's first: the day gains a new learner and an active one, the day 35 days later
    # that was their first loses its new learner, and the 29 days after it gain a WAU/MAU.
    late_day = history.today - 45 * DAY
    old_first = history.today - 10 * DAY
    platform = DailyAggregate.objects.platform()
    before = {row.day: row for row in platform.filter(day__in=[late_day, old_first])}
    make_events(
        history.late_bloomer,
        [("login", utc(late_day, 12))],
        course=history.courses[1],
    )

    # No overlap: the whole history was received moments before the first refresh.
    second = aggregates_refresh(overlap=NO_OVERLAP)

    assert second is not None and second.days < first.days
    assert stored() == recount(*_covered())
    assert stored_revenue() == recount_revenue(*_covered())
    after = {row.day: row for row in platform.filter(day__in=[late_day, old_first])}
    assert after[late_day].dau == before[late_day].dau + 1
    assert after[late_day].new_learners == before[late_day].new_learners + 1
    assert after[old_first].new_learners == before[old_first].new_learners - 1

    # Late events long before: one in no course (the platform first moves), then one in the
    # instructor's other course, where the late bloomer was never active. The second moves
    # their first among the instructor's courses 35 days earlier though no course's or the
    # platform's known first moves: the old instructor day, outside the new event's 30-day
    # windows, is recounted too.
    make_events(history.late_bloomer, [("login", utc(late_day - 40 * DAY, 12))])
    assert aggregates_refresh(overlap=NO_OVERLAP) is not None
    instructor = history.courses[0].instructor
    mine = DailyAggregate.objects.filter(instructor=instructor)
    new_before = mine.get(day=late_day).new_learners
    make_events(
        history.late_bloomer, [("login", utc(late_day - 35 * DAY, 12))], course=history.courses[0]
    )

    third = aggregates_refresh(overlap=NO_OVERLAP)

    assert third is not None
    assert mine.get(day=late_day).new_learners == new_before - 1
    assert stored() == recount(*_covered())
    assert stored_revenue() == recount_revenue(*_covered())


def test_an_instructors_learners_are_distinct_over_their_courses():
    """A learner active in two courses of one instructor is one active learner of theirs; the
    instructor's figures are recounted from the raw rows, not summed from course rows."""
    history = build_history()
    aggregates_refresh()

    instructor = history.courses[0].instructor
    both = [user for user in history.learners.values() if len(history.enrolled[user.pk]) == 2]
    assert both
    rows = {row.day: row for row in DailyAggregate.objects.filter(instructor=instructor)}
    courses = {
        (row.day, row.course_id): row
        for row in DailyAggregate.objects.filter(course__in=history.courses)
    }
    # On some day the course MAUs add up to more than the instructor's: the learners of both.
    assert any(
        row.mau < sum(courses[day, c.pk].mau for c in history.courses if (day, c.pk) in courses)
        for day, row in rows.items()
    )
    # Every learner of the history is in one of the instructor's courses.
    assert max(row.mau for row in rows.values()) == len(history.learners) + 1
    # Enrollments, unlike learners, are per course: the instructor's are the courses' sum.
    assert sum(row.enrollments for row in rows.values()) == Enrollment.objects.count()
    assert DailyAggregate.objects.filter(instructor=instructor, course__isnull=False).count() == 0


def test_a_day_is_the_learners_own():
    """23:30 UTC is the next morning in Tokyo and the same evening in New York."""
    tokyo = UserFactory(timezone="Asia/Tokyo")
    new_york = UserFactory(timezone="America/New_York")
    course = CourseFactory()
    day = timezone.now().date() - 10 * DAY
    make_events(tokyo, [("login", utc(day, 23, 30))], course=course)
    make_events(new_york, [("login", utc(day, 23, 30)), ("live_session_missed", utc(day, 2))])

    aggregates_compute(day - DAY, day + DAY)

    rows = {
        (row.day, row.course_id): row
        for row in DailyAggregate.objects.filter(day__range=(day - DAY, day + DAY))
    }
    # New York: 23:30 UTC is 18:30 on `day`; the missed session at 02:00 UTC is 21:00 the
    # evening before and counts as an event but not as activity.
    assert rows[day - DAY, None].events == 1
    assert rows[day - DAY, None].dau == 0
    assert (rows[day, None].dau, rows[day, None].new_learners) == (1, 1)
    assert (rows[day + DAY, None].dau, rows[day + DAY, None].wau) == (1, 2)
    assert rows[day + DAY, None].mau == 2
    assert rows[day + DAY, None].stickiness == 0.5
    assert (rows[day + DAY, course.pk].dau, rows[day + DAY, course.pk].new_learners) == (1, 1)
    # Tokyo's course has nothing to count on `day` (its learner's event is the next day).
    assert (day, course.pk) not in rows
    assert (day - DAY, course.pk) not in rows


def test_wau_and_mau_windows_end_on_their_day():
    learner = UserFactory(timezone="UTC")
    today = timezone.now().date()
    active_on = today - 40 * DAY
    make_events(learner, [("login", utc(active_on, 12))])

    aggregates_compute(active_on, active_on + 31 * DAY)

    figures = {row.day: (row.dau, row.wau, row.mau) for row in DailyAggregate.objects.platform()}
    assert figures[active_on] == (1, 1, 1)
    assert figures[active_on + 6 * DAY] == (0, 1, 1)
    assert figures[active_on + 7 * DAY] == (0, 0, 1)
    assert figures[active_on + 29 * DAY] == (0, 0, 1)
    assert figures[active_on + 30 * DAY] == (0, 0, 0)
    assert DailyAggregate.objects.get(day=active_on + 30 * DAY, course=None).stickiness is None


def test_recomputing_gives_the_same_rows_and_no_duplicates():
    history = build_history(days=20)
    start, end = history.today - 25 * DAY, history.today

    aggregates_compute(start, end)
    first, count = stored(), DailyAggregate.objects.count()
    aggregates_compute(start, end)
    aggregates_compute(start + 5 * DAY, end - 5 * DAY)

    assert stored() == first
    assert DailyAggregate.objects.count() == count
    assert DailyAggregate.objects.platform().count() == 26
    assert first == recount(start, end)


def test_a_refresh_recomputes_only_the_days_a_late_event_can_change():
    learner = UserFactory(timezone="UTC")
    today = timezone.now().date()
    make_events(
        learner,
        [("login", utc(today - 60 * DAY, 9)), ("login", utc(today - 38 * DAY, 9))],
    )
    aggregates_refresh()
    computed = dict(DailyAggregate.objects.values_list("day", "computed_at").filter(course=None))
    assert min(computed) == today - 60 * DAY

    late_day = today - 50 * DAY
    make_events(learner, [("page_view", utc(late_day, 9))])
    run = aggregates_refresh(overlap=NO_OVERLAP)

    assert run is not None and run.days == 30
    assert (run.first_day, run.last_day) == (late_day, late_day + 29 * DAY)
    recomputed = dict(DailyAggregate.objects.values_list("day", "computed_at").filter(course=None))
    for day, at in recomputed.items():
        if late_day <= day <= late_day + 29 * DAY:
            assert at > computed[day], day
        else:
            assert at == computed[day], day
    assert DailyAggregate.objects.get(day=late_day, course=None).dau == 1
    assert DailyAggregate.objects.get(day=late_day + 29 * DAY, course=None).mau == 1
    assert stored() == recount(today - 60 * DAY, max(recomputed))

    # Nothing received since: nothing to recompute.
    quiet = aggregates_refresh(overlap=NO_OVERLAP)
    assert quiet is not None and quiet.days == 0
    assert dict(DailyAggregate.objects.values_list("day", "computed_at").filter(course=None)) == (
        recomputed
    )


def test_an_event_committed_after_a_refresh_but_received_before_it_is_counted_next_time():
    """Ingestion stamps received_at when its transaction begins; one that commits after a
    refresh began carries an instant before that refresh's watermark."""
    learner = UserFactory(timezone="UTC")
    today = timezone.now().date()
    make_events(learner, [("login", utc(today - 3 * DAY, 9))])
    aggregates_refresh(now=timezone.now() + datetime.timedelta(minutes=1))
    make_events(learner, [("login", utc(today - 40 * DAY, 9))])

    run = aggregates_refresh()

    assert run is not None and run.first_day == today - 40 * DAY
    assert DailyAggregate.objects.get(day=today - 40 * DAY, course=None).dau == 1


def test_a_refresh_under_way_is_not_started_twice_and_a_stale_one_is_taken_over():
    learner = UserFactory()
    make_events(learner, [("login", timezone.now() - DAY)])
    AggregateRun.objects.create(status=AggregateRun.Status.RUNNING)

    assert aggregates_refresh() is None
    assert not DailyAggregate.objects.exists()

    AggregateRun.objects.update(started_at=timezone.now() - datetime.timedelta(hours=3))
    run = aggregates_refresh()

    assert run is not None and run.status == AggregateRun.Status.DONE
    assert DailyAggregate.objects.filter(course=None, dau=1).count() == 1
    assert AggregateRun.objects.filter(status=AggregateRun.Status.FAILED).count() == 1


def test_the_nightly_refresh_is_on_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["analytics.refresh"]
    assert entry["task"] == "analytics.refresh"


def test_a_completion_synced_later_recounts_its_day_alone():
    learner = UserFactory(timezone="America/New_York")
    course = CourseFactory()
    today = timezone.now().date()
    enrolled_at = utc(today - 20 * DAY, 15)
    EnrollmentFactory(user=learner, course=course, enrolled_at=enrolled_at)
    make_events(learner, [("login", utc(today - 20 * DAY, 16))], course=course)
    aggregates_refresh()
    assert DailyAggregate.objects.get(day=today - 20 * DAY, course=course).enrollments == 1

    # Completed at 02:00 UTC: still the evening before in New York.
    EnrollmentFactory(
        user=learner,
        course=course,
        enrolled_at=enrolled_at,
        status=Enrollment.Status.COMPLETED,
        completed_at=utc(today - 4 * DAY, 2),
    )
    run = aggregates_refresh(overlap=NO_OVERLAP)

    assert run is not None
    # The enrollment's row changed: its enrolled and completed days are recounted, no others.
    assert (run.days, run.first_day, run.last_day) == (2, today - 20 * DAY, today - 5 * DAY)
    completed = DailyAggregate.objects.get(day=today - 5 * DAY, course=course)
    assert completed.completions == 1
    assert DailyAggregate.objects.get(day=today - 5 * DAY, course=None).completions == 1
    assert stored() == recount(*_covered())


def test_revenue_is_kept_per_currency_on_the_learners_day_and_recomputed_in_place():
    tokyo = UserFactory(timezone="Asia/Tokyo")
    course = CourseFactory()
    day = timezone.now().date() - 10 * DAY
    make_events(
        tokyo,
        [
            # 23:30 UTC is the next morning in Tokyo.
            ("purchase", utc(day, 23, 30), {"amount": 10.5, "currency": "EUR"}),
            ("purchase", utc(day + DAY, 1), {"amount": 4.25, "currency": "EUR"}),
            ("purchase", utc(day + DAY, 2), {"amount": 3, "currency": "JPY"}),
            ("review_posted", utc(day + DAY, 3), {"rating": 4}),
            ("review_posted", utc(day + DAY, 4), {"rating": 2}),
        ],
        course=course,
    )

    aggregates_compute(day - DAY, day + 2 * DAY)
    aggregates_compute(day - DAY, day + 2 * DAY)

    revenue = stored_revenue()
    assert revenue == {
        (day + DAY, None, "EUR"): (Decimal("14.75"), 2),
        (day + DAY, course.pk, "EUR"): (Decimal("14.75"), 2),
        (day + DAY, None, "JPY"): (Decimal("3"), 1),
        (day + DAY, course.pk, "JPY"): (Decimal("3"), 1),
    }
    row = DailyAggregate.objects.get(day=day + DAY, course=course)
    assert (row.rating_count, row.average_rating) == (2, 3.0)
    assert DailyAggregate.objects.get(day=day, course=None).average_rating is None


def test_the_median_time_to_complete_is_of_the_days_completions():
    course = CourseFactory()
    day = timezone.now().date() - 3 * DAY
    for days_taken in (2, 3, 10, 20):
        EnrollmentFactory(
            user=UserFactory(timezone="UTC"),
            course=course,
            enrolled_at=utc(day - days_taken * DAY, 12),
            status=Enrollment.Status.COMPLETED,
            completed_at=utc(day, 12),
        )

    aggregates_compute(day - DAY, day)

    assert DailyAggregate.objects.get(day=day, course=course).median_days_to_complete == 6.5
    assert DailyAggregate.objects.get(day=day, course=None).median_days_to_complete == 6.5
    assert DailyAggregate.objects.get(day=day - DAY, course=None).median_days_to_complete is None


def test_a_start_is_the_day_of_an_enrolled_learners_first_activity_in_the_course():
    learner = UserFactory(timezone="America/New_York")
    course = CourseFactory()
    today = timezone.now().date()
    first = today - 15 * DAY
    enrolled_on = first - 5 * DAY
    EnrollmentFactory(user=learner, course=course, enrolled_at=utc(enrolled_on, 15))
    # 02:00 UTC is still the evening before in New York.
    make_events(
        learner,
        [("page_view", utc(first + DAY, 2)), ("page_view", utc(first + 2 * DAY, 10))],
        course=course,
    )
    aggregates_refresh()

    starts = dict(
        DailyAggregate.objects.filter(course=course, starts__gt=0).values_list("day", "starts")
    )
    assert starts == {first: 1}
    assert DailyAggregate.objects.get(day=first, course=None).starts == 1
    assert DailyAggregate.objects.get(day=enrolled_on, course=course).enrollments == 1
    assert stored() == recount(*_covered())


def test_a_learner_seen_long_before_is_new_only_in_the_courses_they_start():
    # Active in one course two months ago (before any refresh's 30-day window), then in two
    # others, one of them the first course's instructor's: the late refresh, which reads only
    # the last weeks, must still tell "new in the course" from "new on the platform".
    history = build_history()
    learner = UserFactory(timezone="Asia/Tokyo")
    first, other = history.courses[0], history.courses[1]
    third = CourseFactory(instructor=first.instructor)
    for course in (first, other, third):
        EnrollmentFactory(user=learner, course=course, enrolled_at=utc(history.today - 70 * DAY, 9))
    make_events(learner, [("login", utc(history.today - 60 * DAY, 12))], course=first)
    assert aggregates_refresh() is not None
    back = history.today - 2 * DAY
    platform = DailyAggregate.objects.filter(day=back, course=None, instructor=None)
    mine = DailyAggregate.objects.filter(day=back, instructor=first.instructor)
    platform_new, instructor_new = platform.get().new_learners, mine.get().new_learners
    make_events(learner, [("page_view", utc(back, 3))], course=other)
    make_events(learner, [("page_view", utc(back, 4))], course=third)

    assert aggregates_refresh(overlap=NO_OVERLAP) is not None

    assert stored() == recount(*_covered())
    row = DailyAggregate.objects.get(day=back, course=other)
    assert (row.new_learners, row.starts) == (1, 1)
    assert DailyAggregate.objects.get(day=back, course=third).new_learners == 1
    # Not new on the platform, nor among the instructor's courses (active in `first` before).
    assert platform.get().new_learners == platform_new
    assert mine.get().new_learners == instructor_new
