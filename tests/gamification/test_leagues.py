"""Weekly leagues: who joins, how they are grouped, and the week's close, once.

XP is earned through 9b's `xp_award`, whose after-commit hand-over (the leaderboards'
`leaderboards_record`) places a learner in a league on their first XP of the week.
"""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from core.records import XpEntryRecord
from gamification.models import (
    League,
    LeagueMembership,
    LeagueWeek,
    LearnerGameProfile,
    Moment,
    XpTransaction,
)
from gamification.selectors.leagues import (
    DEMOTION,
    PROMOTION,
    SAFE,
    league_history,
    league_standing,
    week_closes_at,
    week_start,
    zone_sizes,
)
from gamification.services.leagues import league_week_close, leagues_record, leagues_rollover
from tests.accounts.factories import UserFactory
from tests.gamification.factories import XpActionFactory, award, install_defaults
from tests.gamification.test_leaderboards import backend, wipe_boards  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_boards_left_behind():
    """The hand-over counts this module's XP into Redis too: leave nothing there after."""
    yield
    wipe_boards()


@pytest.fixture
def action(db):
    return XpActionFactory(code="league-test", amount=10)


@pytest.fixture
def earn(django_capture_on_commit_callbacks, action):
    def earn(user, amount, *, at=None):
        with django_capture_on_commit_callbacks(execute=True):
            result = award(user, action, amount=amount, at=at or timezone.now())
        assert result.awarded == amount

    return earn


def this_monday() -> datetime.date:
    return week_start(timezone.now().astimezone(datetime.UTC).date())


def learners_in(tier: str, count: int, **fields) -> list:
    """Learners whose tier an earlier week's close left at `tier`."""
    users = [UserFactory(**fields) for _ in range(count)]
    LearnerGameProfile.objects.bulk_create(
        [LearnerGameProfile(user=user, league_tier=tier) for user in users]
    )
    return users


def tier_of(user) -> str:
    return LearnerGameProfile.objects.get(user=user).league_tier


# --- joining -----------------------------------------------------------------------------------


def test_first_xp_of_the_week_puts_a_learner_in_one_league_of_their_tier(earn):
    (ada,) = learners_in("gold", 1)

    earn(ada, 10)
    earn(ada, 20)

    membership = LeagueMembership.objects.select_related("league", "week").get(user=ada)
    assert membership.week.starts_on == this_monday()
    assert membership.league.tier == "gold"
    assert LeagueMembership.objects.filter(user=ada).count() == 1


def test_xp_of_a_learner_already_in_the_weeks_league_costs_one_query(
    earn, django_assert_num_queries
):
    ada = UserFactory()
    earn(ada, 10)
    row = XpTransaction.objects.get(user=ada)
    entry = XpEntryRecord(
        id=row.pk,
        user_id=ada.pk,
        kind=row.kind,
        action_code="league-test",
        amount=row.amount,
        course_id=None,
        occurred_at=row.occurred_at,
        local_date=row.local_date,
    )

    with django_assert_num_queries(1):
        assert leagues_record(entries=[entry] * 3) == 0


def test_leagues_hold_at_most_thirty(earn):
    learners = [UserFactory() for _ in range(65)]

    for learner in learners:
        earn(learner, 10)

    per_league = sorted(
        LeagueMembership.objects.filter(league=league).count() for league in League.objects.all()
    )
    assert LeagueMembership.objects.filter(week__starts_on=this_monday()).count() == 65
    assert per_league == [5, 30, 30]
    assert set(League.objects.values_list("tier", flat=True)) == {"bronze"}


def test_revocations_and_rows_of_other_weeks_enter_nobody(earn):
    ada = UserFactory()
    earn(ada, 30, at=timezone.now() - datetime.timedelta(days=14))

    assert not LeagueMembership.objects.exists()
    revocation = XpEntryRecord(
        id=10**9,
        user_id=ada.pk,
        kind="revoke",
        action_code=None,
        amount=-5,
        course_id=None,
        occurred_at=timezone.now(),
        local_date=timezone.now().date(),
    )
    assert leagues_record(entries=[revocation]) == 0
    assert not LeagueMembership.objects.exists()


def test_a_week_takes_nobody_while_the_one_before_is_not_closed(earn):
    ada, ben = UserFactory(), UserFactory()
    earn(ada, 10)  # opens this week's leagues
    following = this_monday() + datetime.timedelta(days=7)
    early = datetime.datetime.combine(following, datetime.time(9), tzinfo=datetime.UTC)
    earn(ben, 40, at=early)  # XP of next week, recorded before this week closes
    entry = XpTransaction.objects.get(user=ben)
    record = XpEntryRecord(
        id=entry.pk,
        user_id=ben.pk,
        kind=entry.kind,
        action_code="league-test",
        amount=entry.amount,
        course_id=None,
        occurred_at=entry.occurred_at,
        local_date=entry.local_date,
    )

    assert leagues_record(entries=[record], now=early) == 0
    assert not LeagueMembership.objects.filter(user=ben).exists()

    (closed,) = leagues_rollover(now=week_closes_at(this_monday()))

    assert closed.week_starts_on == this_monday()
    ben_now = LeagueMembership.objects.select_related("week", "league").get(user=ben)
    assert ben_now.week.starts_on == following
    assert LeagueWeek.objects.get(starts_on=following).status == LeagueWeek.Status.OPEN


# --- the week is learner-local ---------------------------------------------------------------


def test_the_league_week_is_each_learners_own_monday_to_sunday(earn):
    monday = this_monday()
    sunday_night_la = datetime.datetime.combine(
        monday + datetime.timedelta(days=7), datetime.time(6), tzinfo=datetime.UTC
    )  # 22:00 or 23:00 on Sunday in Los Angeles, Monday already in UTC
    los_angeles = UserFactory(timezone="America/Los_Angeles")
    kiritimati = UserFactory(timezone="Pacific/Kiritimati")
    # Monday 12:00 UTC: Monday 04:00 in Los Angeles, Tuesday 02:00 in Kiritimati.
    mid_monday = datetime.datetime.combine(monday, datetime.time(12), tzinfo=datetime.UTC)
    earn(los_angeles, 10, at=mid_monday)
    earn(kiritimati, 10, at=mid_monday)
    earn(los_angeles, 100, at=sunday_night_la)
    earn(kiritimati, 100, at=sunday_night_la)  # 20:00 on Monday in Kiritimati: next week

    leagues_rollover(now=week_closes_at(monday))

    points = dict(LeagueMembership.objects.filter(week__starts_on=monday).values_list("user", "xp"))
    assert points == {los_angeles.pk: 110, kiritimati.pk: 10}


def test_a_week_closes_on_monday_13_utc_after_it():
    monday = datetime.date(2026, 11, 30)

    assert week_closes_at(monday) == datetime.datetime(2026, 12, 7, 13, tzinfo=datetime.UTC)


# --- closing -------------------------------------------------------------------------------------


def test_the_close_promotes_the_top_demotes_the_bottom_and_tells_everyone(earn):
    learners = learners_in("silver", 12)
    for index, learner in enumerate(learners):
        earn(learner, 200 - 10 * index)  # learners[i] finishes (i + 1)th
    before = {u.pk: LearnerGameProfile.objects.get(user=u).total_xp for u in learners}

    (closed,) = leagues_rollover(now=week_closes_at(this_monday()))

    assert zone_sizes(12) == (2, 2)
    assert (closed.members, closed.promoted, closed.demoted) == (12, 2, 2)
    result = {
        m.user_id: (m.final_rank, m.outcome, m.xp)
        for m in LeagueMembership.objects.filter(week__starts_on=this_monday())
    }
    assert result[learners[0].pk] == (1, "promoted", 200)
    assert result[learners[1].pk] == (2, "promoted", 190)
    assert result[learners[2].pk] == (3, "stayed", 180)
    assert result[learners[10].pk] == (11, "demoted", 100)
    assert result[learners[11].pk] == (12, "demoted", 90)
    assert [tier_of(u) for u in learners] == ["gold"] * 2 + ["silver"] * 8 + ["bronze"] * 2
    moments = {m.user_id: m for m in Moment.objects.filter(kind=Moment.Kind.LEAGUE_RESULT)}
    assert len(moments) == 12
    first = moments[learners[0].pk]
    assert first.title == "Promoted to the Gold league"
    assert first.body.startswith("You finished 1st of 12 with 200 XP")
    assert first.data["new_tier"] == "gold"
    assert moments[learners[11].pk].title == "Moved down to the Bronze league"
    assert moments[learners[5].pk].title == "You stay in the Silver league"
    # Promotion pays the catalogue's league_promoted XP, once.
    after = {u.pk: LearnerGameProfile.objects.get(user=u).total_xp for u in learners}
    assert after[learners[0].pk] - before[learners[0].pk] == first.data["bonus_xp"] > 0
    assert after[learners[5].pk] == before[learners[5].pk]


def test_equal_points_go_to_the_lower_user_id(earn):
    first, second = UserFactory(), UserFactory()
    earn(second, 50)
    earn(first, 50)

    leagues_rollover(now=week_closes_at(this_monday()))

    ranks = dict(LeagueMembership.objects.values_list("user", "final_rank"))
    assert ranks == {first.pk: 1, second.pk: 2}


def test_diamond_has_nowhere_up_and_bronze_nowhere_down(earn):
    top = learners_in("diamond", 6)
    bottom = learners_in("bronze", 6)
    for index, learner in enumerate(top + bottom):
        earn(learner, 100 - index)

    leagues_rollover(now=week_closes_at(this_monday()))

    assert {tier_of(u) for u in top[:5]} == {"diamond"}
    assert tier_of(top[5]) == "ruby"
    assert tier_of(bottom[0]) == "silver"
    assert {tier_of(u) for u in bottom[1:]} == {"bronze"}


def test_nothing_closes_before_the_week_is_due(earn):
    earn(UserFactory(), 10)
    due = week_closes_at(this_monday())

    assert leagues_rollover(now=due - datetime.timedelta(seconds=1)) == []
    assert LeagueWeek.objects.get().status == LeagueWeek.Status.OPEN
    assert len(leagues_rollover(now=due)) == 1


def test_a_redelivered_rollover_promotes_once(earn):
    learners = learners_in("bronze", 6)
    for index, learner in enumerate(learners):
        earn(learner, 60 - index)
    due = week_closes_at(this_monday())

    first = leagues_rollover(now=due)
    again = leagues_rollover(now=due)
    week = LeagueWeek.objects.get(starts_on=this_monday())
    once_more = league_week_close(week_id=week.pk, now=due)

    assert len(first) == 1 and again == [] and once_more is None
    assert tier_of(learners[0]) == "silver"
    assert Moment.objects.filter(kind=Moment.Kind.LEAGUE_RESULT).count() == 6
    assert XpTransaction.objects.filter(action__code="league_promoted").count() == 1
    assert week.status == LeagueWeek.Status.CLOSED and week.closed_at == due


def test_a_week_a_worker_is_closing_is_left_to_it_until_the_claim_goes_stale(earn):
    earn(UserFactory(), 10)
    due = week_closes_at(this_monday())
    # What a worker leaves while it closes the week (or when it died doing so).
    LeagueWeek.objects.update(status=LeagueWeek.Status.CLOSING, closing_started_at=timezone.now())

    assert leagues_rollover(now=due) == []

    LeagueWeek.objects.update(closing_started_at=timezone.now() - datetime.timedelta(hours=2))
    assert len(leagues_rollover(now=due)) == 1
    assert LeagueWeek.objects.get(starts_on=this_monday()).status == LeagueWeek.Status.CLOSED


def test_missed_weeks_close_in_order(earn):
    ada = UserFactory()
    monday = this_monday()
    earn(ada, 10)
    for weeks in (1, 2):
        day = monday + datetime.timedelta(days=7 * weeks)
        earn(ada, 10, at=datetime.datetime.combine(day, datetime.time(15), tzinfo=datetime.UTC))

    closed = leagues_rollover(now=week_closes_at(monday + datetime.timedelta(days=14)))

    assert [c.week_starts_on for c in closed] == [
        monday,
        monday + datetime.timedelta(days=7),
        monday + datetime.timedelta(days=14),
    ]
    assert tier_of(ada) == "sapphire"  # won three one-learner leagues, one tier at a time
    assert [r.tier for r in league_history(user_id=ada.pk)] == ["gold", "silver", "bronze"]


def test_late_xp_for_a_closed_week_changes_no_result(earn):
    ada, ben = UserFactory(), UserFactory()
    earn(ada, 20)
    earn(ben, 10)
    leagues_rollover(now=week_closes_at(this_monday()))

    earn(ben, 500, at=timezone.now())

    ranks = dict(LeagueMembership.objects.values_list("user", "final_rank"))
    assert ranks == {ada.pk: 1, ben.pk: 2}


def test_the_following_week_is_grouped_by_tier_and_last_weeks_pace(earn):
    monday = this_monday()
    learners = [UserFactory() for _ in range(40)]
    for index, learner in enumerate(learners):
        earn(learner, 400 - index)  # two bronze leagues this week (30 + 10)
    next_day = datetime.datetime.combine(
        monday + datetime.timedelta(days=7), datetime.time(15), tzinfo=datetime.UTC
    )
    for learner in learners:
        earn(learner, 5, at=next_day)

    leagues_rollover(now=week_closes_at(monday))

    following = LeagueMembership.objects.filter(
        week__starts_on=monday + datetime.timedelta(days=7)
    ).select_related("league")
    by_league: dict[int, list[int]] = {}
    for membership in following:
        by_league.setdefault(membership.league_id, []).append(membership.user_id)
    tiers = {m.user_id: m.league.tier for m in following}
    promoted = {learners[i].pk for i in (0, 1, 2, 3, 4, 30, 31)}  # 5 of 30, 2 of 10
    assert {uid for uid, tier in tiers.items() if tier == "silver"} == promoted
    bronze = [sorted(users) for users in by_league.values() if tiers[users[0]] == "bronze"]
    assert sorted(len(users) for users in bronze) == [3, 30]
    fastest = {learners[i].pk for i in range(5, 30)} | {learners[i].pk for i in range(32, 37)}
    assert any(set(users) == fastest for users in bronze)


# --- two workers at once (PostgreSQL) -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_closing_the_same_week_at_once_close_it_once():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs concurrent writers one after the other")
    install_defaults()
    action = XpActionFactory(code="league-race", amount=10)
    learners = [UserFactory() for _ in range(12)]
    for index, learner in enumerate(learners):
        award(learner, action, amount=100 - index)  # commits: the hand-over places them
    assert LeagueMembership.objects.count() == 12
    due = week_closes_at(this_monday())
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = leagues_rollover(now=due)
        except Exception as exc:  # asserted below: an error would show here
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(len(r) for r in results) == [0, 1], results
    assert Moment.objects.filter(kind=Moment.Kind.LEAGUE_RESULT).count() == 12
    assert XpTransaction.objects.filter(action__code="league_promoted").count() == 2
    assert [tier_of(u) for u in learners[:3]] == ["silver", "silver", "bronze"]


# --- what the pages read -------------------------------------------------------------------------


def test_standing_shows_live_points_zones_and_hides_who_opted_out(
    backend,  # noqa: F811
    earn,
    django_assert_max_num_queries,
):
    learners = learners_in("silver", 7, first_name="Lee")
    for index, learner in enumerate(learners):
        earn(learner, 70 - index)
    LearnerGameProfile.objects.filter(user=learners[0]).update(show_on_leaderboards=False)
    earn(learners[6], 100)  # now first

    with django_assert_max_num_queries(4):
        standing = league_standing(user_id=learners[3].pk)

    assert standing is not None
    assert (standing.tier, standing.size, standing.final) == ("silver", 7, False)
    assert (standing.promote_count, standing.demote_count) == (2, 1)
    rows = [(r.rank, r.xp, r.zone) for r in standing.rows]
    assert rows == [
        (1, 164, PROMOTION),
        (2, 70, PROMOTION),
        (3, 69, SAFE),
        (4, 68, SAFE),
        (5, 67, SAFE),
        (6, 66, SAFE),
        (7, 65, DEMOTION),
    ]
    assert standing.rows[1].name == "a learner" and standing.rows[1].user_id is None
    assert standing.viewer.rank == 5 and standing.viewer.is_viewer
    assert league_standing(user_id=UserFactory().pk) is None


def test_standing_after_the_close_shows_the_final_table(earn):
    ada, ben = UserFactory(), UserFactory()
    earn(ada, 30)
    earn(ben, 20)
    leagues_rollover(now=week_closes_at(this_monday()))
    earn(ben, 100)  # after the close: not in the final table

    standing = league_standing(user_id=ben.pk, on=this_monday())

    assert standing is not None and standing.final
    assert [(r.rank, r.xp, r.outcome) for r in standing.rows] == [
        (1, 30, "promoted"),
        (2, 20, "stayed"),
    ]
    (result,) = league_history(user_id=ada.pk)
    assert (result.tier, result.new_tier, result.final_rank, result.members) == (
        "bronze",
        "silver",
        1,
        2,
    )


def test_the_beat_closes_league_weeks_hourly_and_expires_missed_runs(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["gamification.close_league_weeks"]

    assert entry["task"] == "gamification.close_league_weeks"
    assert 0 < entry["options"]["expire_seconds"] < 3600
    from gamification.tasks import close_league_weeks

    assert close_league_weeks() == 0  # nothing due
