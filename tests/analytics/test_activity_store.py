"""The active days kept between aggregate runs (PostgreSQL) agree with the events, and the
incremental refresh, which reads them instead of rescanning the month before its days,
still agrees with a recount."""

from __future__ import annotations

import datetime
from collections import defaultdict
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.db import connection

from analytics.models import ActivityBitmap, DailyAggregate
from analytics.services.activity_store import (
    NO_COURSE,
    day_number,
    stored_activity,
    word_mask,
)
from analytics.services.aggregates import aggregates_backfill, aggregates_refresh
from engagement.models import Event
from tests.analytics.history import DAY, NON_ACTIVITY, build_history, recount, stored, utc
from tests.engagement.factories import make_events

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the store is PostgreSQL's"),
]

NO_OVERLAP = datetime.timedelta(0)


def _events_active(first: datetime.date, last: datetime.date) -> set[tuple[int, int, int]]:
    """(learner, course or NO_COURSE, day number) of every activity event in first..last."""
    out = set()
    for user_id, tz, course_id, kind, at in Event.objects.values_list(
        "user_id", "user__timezone", "course_id", "type", "occurred_at"
    ):
        day = at.astimezone(ZoneInfo(tz)).date()
        if kind not in NON_ACTIVITY and first <= day <= last:
            out.add((user_id, NO_COURSE if course_id is None else course_id, day_number(day)))
    return out


def _decoded(first: datetime.date, last: datetime.date) -> set[tuple[int, int, int]]:
    rows = stored_activity(first, last)
    assert rows is not None, "the days should be covered"
    out = set()
    # The store answers whole 64-day words: only the days asked for count (a learner far east
    # of UTC is already in tomorrow, past `last`, in the afternoon).
    lo, hi = day_number(first), day_number(last)
    for learner, course, word, bits in zip(*rows, strict=True):
        for bit in range(64):
            if int(bits) >> bit & 1 and lo <= int(word) * 64 + bit <= hi:
                out.add((int(learner), int(course), int(word) * 64 + bit))
    return out


def test_word_masks_cover_exactly_the_days_asked():
    assert word_mask(2, 128, 191) == -1  # the whole word: every bit, bit 63 too (signed)
    assert word_mask(2, 130, 131) == 0b1100
    assert word_mask(2, 0, 128) == 1
    assert word_mask(2, 200, 300) == 0
    assert np.int64(word_mask(2, 191, 191)) == np.int64(-(2**63))


def test_the_stored_days_are_the_events_days_after_refreshes_and_late_events():
    history = build_history()
    assert aggregates_refresh() is not None
    # The aggregates run to the latest local day (tomorrow already, far east of UTC).
    days = DailyAggregate.objects.values_list("day", flat=True)
    start, end = min(days), max(days)
    assert _decoded(start, end) == _events_active(start, end)

    # A late event 20 days back: the refresh reads the month before from the store, scans
    # the 30 days it changes, and stores them again.
    make_events(history.late_bloomer, [("login", utc(history.today - 20 * DAY, 5))])
    ActivityBitmap.objects.filter(course=None).update(computed_at=utc(history.today, 0))
    assert aggregates_refresh(overlap=NO_OVERLAP) is not None

    assert _decoded(start, end) == _events_active(start, end)
    assert stored() == recount(start, end)
    rewritten = ActivityBitmap.objects.filter(course=None).order_by("word")
    assert any(row.computed_at > utc(history.today, 0) for row in rewritten)


def test_the_refresh_reads_the_month_before_from_the_store():
    # Proof that the stored days are what the refresh reads: a learner erased from the store
    # (and from nowhere else) is missing from the MAU of the next refresh's days, where they
    # were active only in the month before those days.
    history = build_history()
    assert aggregates_refresh() is not None
    day = history.today - 2 * DAY
    other = next(iter(history.learners.values()))
    make_events(other, [("login", utc(day, 5))])
    wiped = 0
    for row in ActivityBitmap.objects.all():
        learners = np.frombuffer(bytes(row.learners), "<i8")
        bits = np.frombuffer(bytes(row.bits), "<i8")
        keep = learners != history.late_bloomer.pk
        wiped += int((~keep).sum())
        row.learners, row.bits = learners[keep].tobytes(), bits[keep].tobytes()
        row.save()
    assert wiped

    assert aggregates_refresh(overlap=NO_OVERLAP) is not None

    # The late bloomer was active 10 and 3 days ago, both before `day`: read from the store.
    true_mau = recount(day, day)[day, None][2]
    assert DailyAggregate.objects.platform().get(day=day).mau == true_mau - 1


def test_a_backfill_scans_the_month_before_rather_than_trust_the_store():
    history = build_history()
    assert aggregates_refresh() is not None
    start = history.today - 5 * DAY
    ActivityBitmap.objects.all().delete()

    aggregates_backfill(start, history.today)

    assert stored() == recount(*_covered())
    # It stored what it scanned: the month before its days and its days.
    assert _decoded(start - 29 * DAY, history.today) == _events_active(
        start - 29 * DAY, history.today
    )


def _covered() -> tuple[datetime.date, datetime.date]:
    days = DailyAggregate.objects.platform().values_list("day", flat=True)
    return min(days), max(days)


def test_stored_days_that_are_not_covered_are_not_used():
    build_history()
    assert stored_activity(datetime.date(2001, 1, 1), datetime.date(2001, 1, 5)) is None
    per_word = defaultdict(int)
    for row in ActivityBitmap.objects.all():
        per_word[row.word, row.course_id] += 1
    assert all(n == 1 for n in per_word.values())
