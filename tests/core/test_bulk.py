"""The bulk writer: inserts that skip stored keys, and fast bulk reads on PostgreSQL."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.utils import timezone as django_timezone

from accounts.services import users_ensure_provisional
from core.bulk import fetch_rows, rows_insert
from learning.models import Course, Enrollment
from learning.services import courses_ensure_provisional, enrollments_ensure_provisional

pytestmark = pytest.mark.django_db

COURSE_COLUMNS = (
    ("external_id", "text"),
    ("title", "text"),
    ("description", "text"),
    ("provisional", "boolean"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
)


def test_rows_insert_adds_new_keys_and_leaves_stored_rows_alone():
    courses_ensure_provisional(external_ids=["c1"])
    now = django_timezone.now()

    rows_insert(
        Course,
        COURSE_COLUMNS,
        [("c1", "Renamed", "", False, now, now), ("c2", "Second", "x", False, now, now)],
        conflict=("external_id",),
    )

    assert dict(Course.objects.values_list("external_id", "title")) == {
        "c1": "c1",
        "c2": "Second",
    }
    assert Course.objects.get(external_id="c2").created_at == now


def test_fetch_rows_reads_the_datetimes_the_orm_reads():
    if connection.vendor != "postgresql":
        pytest.skip("fetch_rows' fast timestamp loading is PostgreSQL's")
    users = users_ensure_provisional(external_ids={"u1", "u2"})
    course_id = courses_ensure_provisional(external_ids={"c1"})["c1"]
    plus_two = timezone(timedelta(hours=2))
    enrollments_ensure_provisional(
        first_seen={
            (users["u1"], course_id): datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=plus_two),
            (users["u2"], course_id): datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
        }
    )
    table = connection.ops.quote_name(Enrollment._meta.db_table)

    rows = fetch_rows(f"SELECT user_id, enrolled_at FROM {table} ORDER BY user_id")

    stored = Enrollment.objects.order_by("user_id").values_list("user_id", "enrolled_at")
    assert rows == list(stored)
    assert all(at.utcoffset() == timedelta(0) for _, at in rows)
