"""Learner-local time: day bounds across DST and far-off zones, local dates near midnight, and
the database and Python conversions agreeing on the same rows."""

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from django.db import connection

from core.localtime import (
    local_date,
    local_datetime,
    local_day_bounds,
    local_hour,
    local_times,
    naive_local_series,
)
from engagement.models import Event
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "tz_name", "start", "end"),
    [
        # Berlin springs forward on 29 Mar 2026 (a 23-hour day) and falls back on 25 Oct (25 h).
        (date(2026, 3, 29), "Europe/Berlin", utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)),
        (date(2026, 10, 25), "Europe/Berlin", utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)),
        (date(2026, 3, 8), "America/New_York", utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)),
        (date(2026, 11, 1), "America/New_York", utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)),
        # +14:00: the local day starts at 10:00 UTC the day before.
        (date(2026, 1, 1), "Pacific/Kiritimati", utc(2025, 12, 31, 10), utc(2026, 1, 1, 10)),
        # -11:00: the local day ends at 11:00 UTC the day after.
        (date(2026, 1, 1), "Pacific/Pago_Pago", utc(2026, 1, 1, 11), utc(2026, 1, 2, 11)),
    ],
)
def test_local_day_bounds(day, tz_name, start, end):
    assert local_day_bounds(day, tz_name) == (start, end)
    # The instants just inside and just outside fall on the right local dates.
    tick = timedelta(microseconds=1)
    assert local_date(start, tz_name) == day
    assert local_date(end - tick, tz_name) == day
    assert local_date(start - tick, tz_name) == day - timedelta(days=1)
    assert local_date(end, tz_name) == day + timedelta(days=1)


def test_day_whose_midnight_does_not_exist_starts_at_the_jump():
    # Chile springs forward at 00:00 on Sunday 6 Sep 2026: that day has no midnight.
    start, end = local_day_bounds(date(2026, 9, 6), "America/Santiago")
    assert end - start == timedelta(hours=23)
    assert local_date(start, "America/Santiago") == date(2026, 9, 6)
    assert local_date(start - timedelta(microseconds=1), "America/Santiago") == date(2026, 9, 5)


@pytest.mark.parametrize(
    ("tz_name", "expected_date", "expected_hour"),
    [
        ("UTC", date(2026, 1, 13), 23),
        ("Asia/Tokyo", date(2026, 1, 14), 8),
        ("Pacific/Kiritimati", date(2026, 1, 14), 13),
        ("America/New_York", date(2026, 1, 13), 18),
        ("Pacific/Pago_Pago", date(2026, 1, 13), 12),
    ],
)
def test_local_date_and_hour_near_midnight(tz_name, expected_date, expected_hour):
    instant = utc(2026, 1, 13, 23, 30)
    assert local_date(instant, tz_name) == expected_date
    assert local_hour(instant, tz_name) == expected_hour
    assert local_datetime(instant, tz_name) == datetime.combine(
        expected_date, datetime.min.time()
    ).replace(hour=expected_hour, minute=30)


@pytest.fixture
def learners():
    """Learners in far-apart zones with events at midnight, across DST and with microseconds."""
    berlin = UserFactory(timezone="Europe/Berlin")
    kiritimati = UserFactory(timezone="Pacific/Kiritimati")
    pago = UserFactory(timezone="Pacific/Pago_Pago")
    make_events(
        berlin,
        [
            ("page_view", utc(2026, 3, 28, 22, 59, 59)),  # Sat 28 Mar 23:59:59 CET
            ("page_view", utc(2026, 3, 28, 23, 0, 0)),  # Sun 29 Mar 00:00 CET
            ("page_view", utc(2026, 3, 29, 1, 30, 0)),  # 03:30 CEST (after the jump)
            ("page_view", utc(2026, 3, 29, 1, 45, 0, 123456)),  # 03:45:00.123456 CEST
        ],
    )
    make_events(
        kiritimati,
        [
            ("page_view", utc(2026, 1, 13, 9, 59)),  # Tue 13 Jan 23:59
            ("page_view", utc(2026, 1, 13, 10, 0)),  # Wed 14 Jan 00:00
            ("page_view", utc(2026, 1, 13, 10, 0)),  # the same instant again
        ],
    )
    make_events(pago, [("page_view", utc(2026, 1, 14, 10, 59))])  # Tue 13 Jan 23:59
    return berlin, kiritimati, pago


def _rows(**kwargs):
    events = Event.objects.all()
    return sorted(
        local_times(events, key="user_id", at="occurred_at", tz="user__timezone", **kwargs)
    )


@pytest.mark.django_db
def test_local_times_gives_wall_times_and_counts(learners):
    berlin, kiritimati, pago = learners
    # The default path: SQL on PostgreSQL, Python on SQLite; both must give these rows.
    assert _rows() == sorted(
        [
            (berlin.pk, "Europe/Berlin", datetime(2026, 3, 28, 23, 59, 59), 1),
            (berlin.pk, "Europe/Berlin", datetime(2026, 3, 29, 0, 0), 1),
            (berlin.pk, "Europe/Berlin", datetime(2026, 3, 29, 3, 30), 1),
            (berlin.pk, "Europe/Berlin", datetime(2026, 3, 29, 3, 45, 0, 123456), 1),
            (kiritimati.pk, "Pacific/Kiritimati", datetime(2026, 1, 13, 23, 59), 1),
            (kiritimati.pk, "Pacific/Kiritimati", datetime(2026, 1, 14, 0, 0), 2),
            (pago.pk, "Pacific/Pago_Pago", datetime(2026, 1, 13, 23, 59), 1),
        ]
    )
    assert _rows(per="day") == sorted(
        [
            (berlin.pk, "Europe/Berlin", datetime(2026, 3, 28), 1),
            (berlin.pk, "Europe/Berlin", datetime(2026, 3, 29), 3),
            (kiritimati.pk, "Pacific/Kiritimati", datetime(2026, 1, 13), 1),
            (kiritimati.pk, "Pacific/Kiritimati", datetime(2026, 1, 14), 2),
            (pago.pk, "Pacific/Pago_Pago", datetime(2026, 1, 13), 1),
        ]
    )
    berlin_hours = [(r.local, r.count) for r in _rows(per="hour") if r.key == berlin.pk]
    assert berlin_hours == [
        (datetime(2026, 3, 28, 23), 1),
        (datetime(2026, 3, 29, 0), 1),
        (datetime(2026, 3, 29, 3), 2),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("per", ["instant", "hour", "day"])
def test_database_and_python_paths_agree(learners, per):
    if connection.vendor != "postgresql":
        pytest.skip("the SQL path is PostgreSQL's; on SQLite the default path is the Python one")
    in_sql = _rows(per=per, in_database=True)
    assert in_sql == _rows(per=per, in_database=False)
    assert len(in_sql) >= 5


def test_pandas_conversion_matches_local_datetime():
    instants = pd.Series([utc(2026, 3, 28, 23, 0), utc(2026, 1, 13, 10, 0), utc(2026, 1, 1)])
    keys = pd.Series([1, 2, 99])  # 99 has no known timezone: UTC
    tz_of_key = {1: "Europe/Berlin", 2: "Pacific/Kiritimati"}

    local = naive_local_series(instants, keys, tz_of_key)

    assert list(local) == [
        pd.Timestamp(local_datetime(instants[0], "Europe/Berlin")),
        pd.Timestamp(local_datetime(instants[1], "Pacific/Kiritimati")),
        pd.Timestamp(datetime(2026, 1, 1)),
    ]
