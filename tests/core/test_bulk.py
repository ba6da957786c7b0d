"""The bulk writer: inserts that skip stored keys, and fast bulk reads on PostgreSQL."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.utils import timezone as django_timezone

from accounts.services import users_ensure_provisional
from core.bulk import VALUES_MAX_ROWS, fetch_rows, rows_insert, rows_update
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


@pytest.mark.parametrize("count", [3, VALUES_MAX_ROWS + 50])
def test_rows_insert_says_which_rows_were_new_in_a_small_batch_or_a_staged_one(count):
    courses_ensure_provisional(external_ids=["c1"])
    now = django_timezone.now()
    rows = [(f"c{n}", f"Course {n}", "", False, now, now) for n in range(count)]

    returned = rows_insert(Course, COURSE_COLUMNS, rows, returning=("external_id", "title"))

    assert sorted(returned) == sorted((f"c{n}", f"Course {n}") for n in range(count) if n != 1)
    assert Course.objects.get(external_id="c1").title == "c1"
    assert Course.objects.count() == count


@pytest.mark.parametrize("clash", [False, True])
def test_rows_insert_of_rows_expected_new_returns_their_ids_even_after_a_clash(clash):
    if clash:
        courses_ensure_provisional(external_ids=["c7"])
    now = django_timezone.now()
    rows = [(f"c{n}", f"Course {n}", "", False, now, now) for n in range(VALUES_MAX_ROWS + 50)]

    returned = rows_insert(
        Course, COURSE_COLUMNS, rows, returning=("id", "external_id"), expect_new=True
    )

    stored = dict(
        Course.objects.filter(title__startswith="Course").values_list("pk", "external_id")
    )
    assert dict(returned) == stored
    assert len(stored) == len(rows) - clash
    assert Course.objects.get(external_id="c7").title == ("c7" if clash else "Course 7")


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


def test_rows_update_sets_the_named_columns_of_the_rows_by_primary_key_only():
    courses_ensure_provisional(external_ids=["u1", "u2", "u3"])
    ids = dict(Course.objects.values_list("external_id", "pk"))

    rows_update(
        Course,
        (("id", "bigint"), ("title", "varchar"), ("description", "text")),
        [(ids["u1"], "First", "one"), (ids["u3"], "Third", "")],
    )

    got = {
        c: (t, d) for c, t, d in Course.objects.values_list("external_id", "title", "description")
    }
    assert got == {"u1": ("First", "one"), "u2": ("u2", ""), "u3": ("Third", "")}
    rows_update(Course, (("id", "bigint"), ("title", "varchar")), [])  # nothing to do
