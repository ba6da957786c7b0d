"""Schedules: recurrence in wall-clock time across daylight-saving changes, learner-local
times, and the rules the builder and the API refuse."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from campaigns.schedules import Schedule, ScheduleError, describe, local_due, rrule_parse

UTC = datetime.UTC


def _weekly(time: str, tz: str, start: datetime.date, rule: str = "FREQ=WEEKLY;BYDAY=MO"):
    return Schedule(
        kind="recurring",
        timezone=tz,
        rule=rule,
        start_date=start,
        time=datetime.time.fromisoformat(time),
    )


def test_weekly_at_nine_london_stays_at_nine_across_the_autumn_change():
    schedule = _weekly("09:00", "Europe/London", datetime.date(2026, 10, 12))
    runs = schedule.upcoming(datetime.datetime(2026, 10, 1, tzinfo=UTC), 3)
    # Clocks go back on Sunday 25 October 2026: 09:00 BST is 08:00 UTC, 09:00 GMT is 09:00 UTC.
    assert [run.astimezone(UTC).strftime("%m-%d %H:%M") for run in runs] == [
        "10-12 08:00",
        "10-19 08:00",
        "10-26 09:00",
    ]
    assert {run.astimezone(ZoneInfo("Europe/London")).hour for run in runs} == {9}


def test_daily_new_york_across_the_spring_change():
    schedule = _weekly("09:00", "America/New_York", datetime.date(2027, 3, 13), "FREQ=DAILY")
    found = schedule.next_after(datetime.datetime(2027, 3, 13, 0, tzinfo=UTC))
    assert found[1] == datetime.datetime(2027, 3, 13, 14, tzinfo=UTC)  # EST, UTC-5
    after = schedule.next_after(found[1])
    assert after[1] == datetime.datetime(2027, 3, 14, 13, tzinfo=UTC)  # EDT, UTC-4


def test_a_time_in_the_spring_gap_is_sent_an_hour_later_on_the_new_clock():
    # 01:30 does not exist in London on 28 March 2027 (01:00 GMT -> 02:00 BST).
    schedule = _weekly("01:30", "Europe/London", datetime.date(2027, 3, 27), "FREQ=DAILY")
    first = schedule.next_after(datetime.datetime(2027, 3, 27, tzinfo=UTC))
    second = schedule.next_after(first[1])
    assert first[1] == datetime.datetime(2027, 3, 27, 1, 30, tzinfo=UTC)
    assert second[1] == datetime.datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert second[1].astimezone(ZoneInfo("Europe/London")).strftime("%H:%M") == "02:30"


def test_a_repeated_hour_in_autumn_sends_once_at_the_first():
    schedule = _weekly("01:30", "Europe/London", datetime.date(2026, 10, 24), "FREQ=DAILY")
    first = schedule.next_after(datetime.datetime(2026, 10, 24, 12, tzinfo=UTC))
    assert first[1] == datetime.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
    following = schedule.next_after(first[1])
    assert following[1] == datetime.datetime(2026, 10, 26, 1, 30, tzinfo=UTC)  # next day, GMT


def test_count_and_until_end_a_rule():
    counted = _weekly("09:00", "UTC", datetime.date(2026, 1, 5), "FREQ=WEEKLY;BYDAY=MO;COUNT=2")
    assert len(counted.upcoming(datetime.datetime(2026, 1, 1, tzinfo=UTC), 5)) == 2
    until = _weekly("09:00", "UTC", datetime.date(2026, 1, 1), "FREQ=DAILY;UNTIL=20260103T235959Z")
    assert len(until.upcoming(datetime.datetime(2026, 1, 1, tzinfo=UTC), 5)) == 3
    assert counted.next_after(datetime.datetime(2026, 1, 13, tzinfo=UTC)) is None


def test_monthly_on_the_31st_skips_short_months():
    schedule = _weekly("10:00", "UTC", datetime.date(2027, 1, 1), "FREQ=MONTHLY;BYMONTHDAY=31")
    runs = schedule.upcoming(datetime.datetime(2027, 1, 1, tzinfo=UTC), 3)
    assert [run.strftime("%m-%d") for run in runs] == ["01-31", "03-31", "05-31"]


def test_learner_local_run_starts_when_the_first_zone_reaches_the_time():
    schedule = Schedule(
        kind="one_time",
        timezone="Europe/London",
        at=datetime.datetime(2027, 1, 4, 9, tzinfo=ZoneInfo("Europe/London")),
        learner_local=True,
    )
    wall = next(schedule.walls())
    assert schedule.instant(wall) == datetime.datetime(2027, 1, 3, 19, tzinfo=UTC)  # UTC+14
    assert schedule.last_instant(wall) == datetime.datetime(2027, 1, 4, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "due"),
    [
        ("Asia/Tokyo", datetime.datetime(2027, 7, 5, 0, tzinfo=UTC)),
        ("Europe/Berlin", datetime.datetime(2027, 7, 5, 7, tzinfo=UTC)),
        ("America/Los_Angeles", datetime.datetime(2027, 7, 5, 16, tzinfo=UTC)),
        ("Not/AZone", datetime.datetime(2027, 7, 5, 9, tzinfo=UTC)),
    ],
)
def test_each_learner_is_due_at_nine_on_their_own_clock(zone, due):
    assert local_due(datetime.datetime(2027, 7, 5, 9), zone) == due


@pytest.mark.parametrize(
    ("rule", "wording"),
    [
        ("", "Give a recurrence rule"),
        ("FREQ=HOURLY", "at most daily"),
        ("FREQ=MINUTELY;INTERVAL=5", "at most daily"),
        ("DTSTART:20260101T000000\nFREQ=DAILY", "DTSTART"),
        ("FREQ=SOMETIMES", "RFC 5545"),
        ("BYDAY=XX", "RFC 5545"),
    ],
)
def test_rules_that_are_refused_say_why(rule, wording):
    with pytest.raises(ScheduleError) as caught:
        rrule_parse(rule, start=datetime.datetime(2026, 1, 1))
    assert caught.value.field == "rrule"
    assert wording in caught.value.message


def test_an_unknown_timezone_is_named():
    schedule = _weekly("09:00", "Mars/Olympus", datetime.date(2026, 1, 1))
    with pytest.raises(ScheduleError) as caught:
        schedule.upcoming(datetime.datetime(2026, 1, 1, tzinfo=UTC))
    assert caught.value.field == "timezone"


def test_rules_read_as_words():
    assert describe("FREQ=WEEKLY;BYDAY=MO,WE,FR") == "weekly on Mo, We, Fr"
    assert describe("FREQ=DAILY;INTERVAL=2;COUNT=5") == "every 2 days 5 times"
    assert describe("FREQ=MONTHLY;BYMONTHDAY=15") == "monthly on day 15"
