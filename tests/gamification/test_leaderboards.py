"""Leaderboards: periods in the learner's calendar, order and ties, rank around me, privacy,
counting each ledger row once, and the rebuild agreeing with the live boards.

Every test that does not concern one backend runs on both: Redis sorted sets (when
REDIS_URL is set, as on the PostgreSQL run) and the database aggregation (REDIS_URL unset).
XP is earned through 9b's `xp_award`, whose after-commit hand-over feeds the boards.
"""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from core.records import XpEntryRecord
from gamification.models import LearnerGameProfile, XpTransaction
from gamification.selectors.leaderboards import (
    ALL_TIME,
    DAILY,
    MONTHLY,
    PERIODS,
    WEEKLY,
    Board,
    key_prefix,
    leaderboard_page,
    leaderboard_ranks,
    redis_client,
)
from gamification.services.leaderboards import (
    board_key,
    leaderboards_ensure_built,
    leaderboards_rebuild,
    leaderboards_record,
)
from gamification.services.xp import xp_revoke
from tests.accounts.factories import UserFactory
from tests.gamification.factories import XpActionFactory, award, next_key
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db


def wipe_boards() -> None:
    client = redis_client()
    if client is None:
        return
    keys = list(client.scan_iter(match=f"{key_prefix()}:*", count=1000))
    if keys:
        client.unlink(*keys)


def fresh_boards() -> None:
    """Empty Redis boards, built (as after the first rebuild of an empty ledger)."""
    wipe_boards()
    leaderboards_rebuild()


@pytest.fixture(autouse=True)
def _no_boards_left_behind():
    """The hand-over counts this module's XP into Redis too: leave nothing there after."""
    yield
    wipe_boards()


@pytest.fixture(params=["redis", "database"])
def backend(request, settings):
    """Run the test on Redis (skipped without REDIS_URL) and on the database backend."""
    if request.param == "redis":
        if not settings.REDIS_URL:
            pytest.skip("the Redis backend needs REDIS_URL")
        fresh_boards()
        yield "redis"
        wipe_boards()
    else:
        settings.REDIS_URL = ""
        yield "database"


@pytest.fixture
def redis_only(settings):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    fresh_boards()
    yield redis_client()
    wipe_boards()


@pytest.fixture
def action(db):
    return XpActionFactory(code="lb-test", amount=10)


@pytest.fixture
def earn(django_capture_on_commit_callbacks, action):
    """Award XP through xp_award and run its after-commit hand-over, as a request would."""

    def earn(user, amount, *, at=None, course=None, key=None):
        with django_capture_on_commit_callbacks(execute=True):
            result = award(
                user,
                action,
                amount=amount,
                at=at or timezone.now(),
                course_id=course.pk if course else None,
                key=key,
            )
        assert result.awarded == amount
        return result

    return earn


@pytest.fixture
def revoke(django_capture_on_commit_callbacks):
    """Revoke XP through xp_revoke, with its after-commit hand-over."""

    def revoke(user, amount):
        with django_capture_on_commit_callbacks(execute=True):
            xp_revoke(
                user_id=user.pk,
                amount=amount,
                reason="copied quiz answers",
                revoked_by_id=None,
                idempotency_key=next_key("revoke"),
            )

    return revoke


def today_utc() -> datetime.date:
    return timezone.now().astimezone(datetime.UTC).date()


def at_utc(day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=datetime.UTC)


def ranking(page) -> list[tuple[int, int | None, int]]:
    return [(row.rank, row.user_id, row.xp) for row in page.top]


# --- periods in the learner's calendar --------------------------------------------------------


def test_daily_board_counts_each_learners_own_day(backend, earn):
    yesterday = today_utc() - datetime.timedelta(days=1)
    instant = at_utc(yesterday, 16)  # Tokyo: 01:00 today; New York: 11:00 or 12:00 yesterday
    tokyo = UserFactory(timezone="Asia/Tokyo")
    new_york = UserFactory(timezone="America/New_York")
    earn(tokyo, 40, at=instant)
    earn(new_york, 30, at=instant)

    today_board = leaderboard_page(period=DAILY, on=today_utc())
    yesterday_board = leaderboard_page(period=DAILY, on=yesterday)

    assert ranking(today_board) == [(1, tokyo.pk, 40)]
    assert ranking(yesterday_board) == [(1, new_york.pk, 30)]
    assert today_board.starts_on == today_board.ends_on == today_utc()


def test_a_viewers_page_shows_their_own_today(backend, earn):
    """Late in the UTC day, a learner in Tokyo is already on tomorrow's board."""
    now = timezone.now()
    tokyo = UserFactory(timezone="Asia/Tokyo")
    earn(tokyo, 25, at=now)
    tokyo_today = now.astimezone(tokyo.tz).date()

    page = leaderboard_page(period=DAILY, around_user_id=tokyo.pk)

    assert page.starts_on == tokyo_today
    assert page.viewer is not None and page.viewer.xp == 25


def test_week_month_and_all_time_sum_their_periods(backend, earn):
    today = today_utc()
    monday = today - datetime.timedelta(days=today.weekday())
    learner = UserFactory()
    earn(learner, 10, at=at_utc(today, 0))
    earn(learner, 20, at=at_utc(monday - datetime.timedelta(days=1), 10))  # last Sunday
    earn(learner, 40, at=at_utc(today.replace(day=1) - datetime.timedelta(days=40), 10))

    xp = {p: leaderboard_page(period=p, on=today).top[0].xp for p in PERIODS}

    month_has_sunday = (monday - datetime.timedelta(days=1)).month == today.month
    assert xp[DAILY] == 10
    assert xp[WEEKLY] == 10
    assert xp[MONTHLY] == 10 + (20 if month_has_sunday else 0)
    assert xp[ALL_TIME] == 70
    weekly = leaderboard_page(period=WEEKLY, on=today)
    assert (weekly.starts_on, weekly.ends_on) == (monday, monday + datetime.timedelta(days=6))


def test_periods_at_the_ends_of_the_calendar_are_empty_boards(backend, earn):
    earn(UserFactory(), 10)

    for day in (datetime.date.min, datetime.date.max):
        for period in PERIODS[:3]:
            page = leaderboard_page(period=period, on=day)
            assert (page.total, page.top) == (0, ())


def test_course_boards_count_only_that_courses_xp(backend, earn):
    course, other = CourseFactory(), CourseFactory()
    ada, ben = UserFactory(), UserFactory()
    earn(ada, 50, course=course)
    earn(ben, 30, course=course)
    earn(ben, 100, course=other)
    earn(ada, 5)

    in_course = leaderboard_page(period=WEEKLY, course_id=course.pk)
    overall = leaderboard_page(period=WEEKLY)

    assert ranking(in_course) == [(1, ada.pk, 50), (2, ben.pk, 30)]
    assert ranking(overall) == [(1, ben.pk, 130), (2, ada.pk, 55)]
    assert leaderboard_page(period=WEEKLY, course_id=other.pk).total == 1


def test_a_revocation_counts_against_its_day(backend, earn, revoke):
    ada, ben = UserFactory(), UserFactory()
    earn(ada, 50)
    earn(ben, 40)

    revoke(ada, 20)

    assert ranking(leaderboard_page(period=ALL_TIME)) == [(1, ben.pk, 40), (2, ada.pk, 30)]


# --- order, ties, rank around me -------------------------------------------------------------


def test_equal_xp_ranks_the_lower_user_id_first(backend, earn):
    first, second, third = UserFactory(), UserFactory(), UserFactory()
    earn(third, 30)  # reached 30 first, but ties go to the lower id
    earn(second, 30)
    earn(first, 30)
    earn(first, 1)

    assert ranking(leaderboard_page(period=DAILY)) == [
        (1, first.pk, 31),
        (2, second.pk, 30),
        (3, third.pk, 30),
    ]


def test_rank_around_me_far_below_the_top(backend, earn):
    learners = [UserFactory() for _ in range(40)]
    for index, learner in enumerate(learners):
        earn(learner, 1000 - 10 * index)  # learners[i] is rank i + 1
    me = learners[33]

    page = leaderboard_page(period=WEEKLY, limit=5, around_user_id=me.pk)

    assert [row.rank for row in page.top] == [1, 2, 3, 4, 5]
    assert page.total == 40
    assert page.viewer is not None
    assert (page.viewer.rank, page.viewer.xp, page.viewer.is_viewer) == (34, 670, True)
    assert [(row.rank, row.user_id) for row in page.around] == [
        (32, learners[31].pk),
        (33, learners[32].pk),
        (34, me.pk),
        (35, learners[34].pk),
        (36, learners[35].pk),
    ]


def test_rank_around_me_at_the_ends_of_the_board(backend, earn):
    learners = [UserFactory() for _ in range(4)]
    for index, learner in enumerate(learners):
        earn(learner, 100 - index)

    top = leaderboard_page(period=DAILY, around_user_id=learners[0].pk)
    bottom = leaderboard_page(period=DAILY, around_user_id=learners[3].pk)

    assert [row.rank for row in top.around] == [1, 2, 3]
    assert [row.rank for row in bottom.around] == [2, 3, 4]


def test_a_viewer_without_xp_on_the_board_has_no_rank(backend, earn):
    earn(UserFactory(), 10)
    newcomer = UserFactory()

    page = leaderboard_page(period=DAILY, around_user_id=newcomer.pk)

    assert page.viewer is None
    assert page.around == ()
    assert page.total == 1


def test_ranks_of_a_learner_on_every_period(backend, earn):
    ada, ben = UserFactory(), UserFactory()
    earn(ada, 10)
    earn(ben, 20)

    ranks = {r.period: (r.rank, r.xp, r.total) for r in leaderboard_ranks(user_id=ada.pk)}

    assert ranks == {period: (2, 10, 2) for period in PERIODS}
    newcomer = UserFactory()
    assert {r.rank for r in leaderboard_ranks(user_id=newcomer.pk)} == {None}


# --- privacy ---------------------------------------------------------------------------------


def test_an_opted_out_learner_is_ranked_but_shown_to_others_as_a_learner(backend, earn):
    shy = UserFactory(first_name="Greta", last_name="Garbo")
    open_ = UserFactory(first_name="Ada", last_name="Lovelace")
    earn(shy, 90)
    earn(open_, 50)
    LearnerGameProfile.objects.filter(user=shy).update(show_on_leaderboards=False)

    to_others = leaderboard_page(period=DAILY, around_user_id=open_.pk)
    to_herself = leaderboard_page(period=DAILY, around_user_id=shy.pk)

    hidden = to_others.top[0]
    assert (hidden.rank, hidden.xp, hidden.name, hidden.hidden) == (1, 90, "a learner", True)
    assert hidden.user_id is None and hidden.external_id is None
    assert to_others.top[1].name == "Ada L."
    mine = to_herself.viewer
    assert mine is not None
    assert (mine.rank, mine.name, mine.user_id, mine.is_viewer) == (1, "Greta G.", shy.pk, True)


# --- query counts ----------------------------------------------------------------------------


def test_a_page_on_redis_costs_one_query_for_the_names(redis_only, earn, django_assert_num_queries):
    for _ in range(5):
        earn(UserFactory(), 10)
    viewer = UserFactory()
    earn(viewer, 1)

    with django_assert_num_queries(1):
        page = leaderboard_page(period=WEEKLY, around_user_id=viewer.pk, on=today_utc())

    assert page.viewer is not None and page.viewer.rank == 6


def test_a_page_on_the_database_costs_a_fixed_number_of_queries(
    settings, earn, django_assert_num_queries
):
    settings.REDIS_URL = ""
    learners = [UserFactory() for _ in range(8)]
    for index, learner in enumerate(learners):
        earn(learner, 10 + index)

    with django_assert_num_queries(2):
        page = leaderboard_page(period=WEEKLY, around_user_id=learners[0].pk, on=today_utc())

    assert page.viewer is not None and page.viewer.rank == 8


# --- counting each row once (Redis) ---------------------------------------------------------


def _entries(user) -> list[XpEntryRecord]:
    return [
        XpEntryRecord(
            id=row.pk,
            user_id=row.user_id,
            kind=row.kind,
            action_code=None,
            amount=row.amount,
            course_id=row.course_id,
            occurred_at=row.occurred_at,
            local_date=row.local_date,
        )
        for row in XpTransaction.objects.filter(user=user)
    ]


def test_a_redelivered_record_counts_nothing_twice(redis_only, earn):
    learner = UserFactory()
    earn(learner, 10)
    earn(learner, 15)
    entries = _entries(learner)

    assert leaderboards_record(entries=entries) == 0
    assert leaderboards_record(entries=list(reversed(entries))) == 0

    assert leaderboard_page(period=ALL_TIME).top[0].xp == 25


def test_rows_the_hand_over_never_delivered_are_counted_once_they_are(
    redis_only, action, django_capture_on_commit_callbacks
):
    learner = UserFactory()
    with django_capture_on_commit_callbacks(execute=False) as lost:
        award(learner, action, amount=30)
    assert leaderboard_page(period=DAILY).total == 0

    for callback in lost:
        callback()
    for callback in lost:
        callback()

    assert ranking(leaderboard_page(period=DAILY)) == [(1, learner.pk, 30)]


def test_period_sets_expire_and_all_time_does_not(redis_only, earn):
    earn(UserFactory(), 10)
    client = redis_only
    today = today_utc()

    ttl = {p: client.ttl(board_key(Board.containing(p, today))) for p in PERIODS}

    assert ttl[ALL_TIME] == -1
    assert 0 < ttl[DAILY] <= 9 * 86400
    assert ttl[DAILY] < ttl[WEEKLY] < ttl[MONTHLY]


def test_an_unreachable_redis_neither_fails_the_award_nor_the_page(settings, earn):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    learner = UserFactory()

    earn(learner, 12)
    page = leaderboard_page(period=DAILY, around_user_id=learner.pk)

    assert page.viewer is not None and page.viewer.xp == 12  # answered from the ledger


# --- the rebuild agrees with the live boards --------------------------------------------------


def _snapshot(viewers) -> dict:
    pages = {}
    for period in PERIODS:
        for course_id in (None, *sorted({c for _, c in viewers})):
            for viewer_id, _ in viewers:
                page = leaderboard_page(
                    period=period,
                    course_id=course_id,
                    limit=100,
                    around_user_id=viewer_id,
                    on=today_utc(),
                )
                pages[period, course_id, viewer_id] = (
                    page.total,
                    [(r.rank, r.user_id, r.xp) for r in page.top],
                    [(r.rank, r.user_id, r.xp) for r in page.around],
                )
    return pages


def _varied_history(earn, revoke):
    today = today_utc()
    courses = [CourseFactory(), CourseFactory()]
    zones = ["UTC", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati"]
    learners = [UserFactory(timezone=zones[i % 4]) for i in range(12)]
    for index, learner in enumerate(learners):
        for day_back in range(0, 40, 7 + index % 5):
            course = courses[(index + day_back) % 2] if day_back % 3 else None
            earn(
                learner,
                5 + (index * 7 + day_back) % 23,
                at=at_utc(today - datetime.timedelta(days=day_back), (index * 5) % 24),
                course=course,
            )
    revoke(learners[0], 3)
    return learners, courses


def test_rebuild_agrees_with_the_live_boards(redis_only, earn, revoke):
    learners, courses = _varied_history(earn, revoke)
    viewers = [(learners[i].pk, courses[i % 2].pk) for i in (0, 5, 11)]
    live = _snapshot(viewers)

    result = leaderboards_rebuild()

    assert result.backend == "redis"
    assert result.rows == XpTransaction.objects.count()
    assert _snapshot(viewers) == live
    assert live[ALL_TIME, None, learners[0].pk][0] == 12


def test_redis_and_the_database_rank_alike(redis_only, settings, earn, revoke):
    learners, courses = _varied_history(earn, revoke)
    viewers = [(learners[i].pk, courses[i % 2].pk) for i in (1, 6, 10)]
    in_redis = _snapshot(viewers)

    settings.REDIS_URL = ""
    in_database = _snapshot(viewers)

    assert in_redis == in_database


def test_rebuild_counts_rows_never_handed_over_and_ignores_their_late_delivery(
    redis_only, action, earn, django_capture_on_commit_callbacks
):
    counted, lost_one = UserFactory(), UserFactory()
    earn(counted, 10)
    with django_capture_on_commit_callbacks(execute=False) as lost:
        award(lost_one, action, amount=40)

    leaderboards_rebuild()
    for callback in lost:  # the hand-over arrives after all
        callback()
    earn(counted, 5)  # and live counting goes on in the new generation

    assert ranking(leaderboard_page(period=DAILY)) == [(1, lost_one.pk, 40), (2, counted.pk, 15)]


def test_xp_earned_while_a_rebuild_runs_is_counted_once(redis_only, earn):
    early, during = UserFactory(), UserFactory()
    earn(early, 10)

    def progress(stage: str, count: int) -> None:
        if stage == "read":  # the ledger has been read; the new boards are not live yet
            earn(during, 25)  # counted live into the boards about to be replaced
            earn(early, 5)

    leaderboards_rebuild(progress=progress)

    assert ranking(leaderboard_page(period=ALL_TIME)) == [(1, during.pk, 25), (2, early.pk, 15)]
    assert ranking(leaderboard_page(period=DAILY)) == [(1, during.pk, 25), (2, early.pk, 15)]


def test_rebuild_replaces_a_board_that_drifted(redis_only, earn):
    learner = UserFactory()
    earn(learner, 10)
    client = redis_only
    client.zincrby(board_key(Board.containing(ALL_TIME, today_utc())), -500, f"{99:019d}")
    assert leaderboard_page(period=ALL_TIME).total == 2

    old = board_key(Board.containing(ALL_TIME, today_utc()))

    leaderboards_rebuild()

    assert ranking(leaderboard_page(period=ALL_TIME)) == [(1, learner.pk, 10)]
    assert board_key(Board.containing(ALL_TIME, today_utc())) != old
    assert not client.exists(old)


def test_lost_boards_are_read_from_the_ledger_until_built_again(redis_only, earn):
    learner = UserFactory()
    earn(learner, 10)
    wipe_boards()  # Redis restarted without its data
    earn(learner, 5)

    assert leaderboard_page(period=ALL_TIME).top[0].xp == 15  # from the ledger
    assert leaderboards_ensure_built() is True
    assert leaderboards_ensure_built() is False
    assert redis_only.exists(board_key(Board.containing(ALL_TIME, today_utc())))
    assert leaderboard_page(period=ALL_TIME).top[0].xp == 15


def test_rebuild_on_the_database_backend_has_nothing_to_do(settings, earn):
    settings.REDIS_URL = ""
    earn(UserFactory(), 10)

    result = leaderboards_rebuild()

    assert (result.backend, result.rows, result.boards) == ("database", 1, 0)
