"""Active and new learners of a range of local days on PostgreSQL, from one scan of the events.

The scan reads each learner's activity of the range and the 29 days before it (the MAU window
of its first day) and groups it per (learner, course) into a bitmap of the days they were
active: one row per learner and course, however many events they sent, for about the cost of
a plain per-day rollup of the same events. The windows are then counted on those bitmaps with
numpy (a learner is in the WAU of day d when a bit of d-6..d is set; in the MAU when one of
d-29..d is): the platform's bitmap of a learner is the OR of their courses' (and of their
activity without a course), an instructor's the OR of their rows in that instructor's courses
(one more grouping of the same bitmaps: a learner in two of the courses counts once). A
learner is new on the local day of their first activity (in a course, among an instructor's
courses, or anywhere on the platform) if nothing came before it: the learners whose first
active day in the bitmap falls in the range are checked with one probe each on the
(learner, time) index, and a start is a new learner in a course they are enrolled in (the
platform's and an instructor's starts are their courses').
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from accounts.models import User
from core.bulk import fetch_rows
from core.localtime import utc_bounds_of_local_dates
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event
from learning.models import Course, Enrollment

DAY = datetime.timedelta(days=1)
WEEK_DAYS = 7
MONTH_DAYS = 30
NO_COURSE = -1  # the course of activity that names none, in the bitmaps' arrays
WORD_BITS = 64

Scope = tuple[datetime.date, int | None, int | None]
"""(learner-local day, course id, instructor id): neither for the platform."""


@dataclass(frozen=True)
class Activity:
    """Who was active on which local day of `first`..`first + days - 1`, per learner and
    course: row i is learner `users[i]` in course `courses[i]` (NO_COURSE: activity without
    one), active on the days whose columns of `active[i]` are set, first at `first_at[i]`."""

    first: datetime.date
    users: np.ndarray
    courses: np.ndarray
    active: np.ndarray
    first_at: list[datetime.datetime]


@dataclass(frozen=True)
class Counted:
    """What the activity of a range counts: per scope and day, (DAU, WAU, MAU) and
    (new learners, starts)."""

    active: dict[Scope, tuple[int, int, int]]
    new: dict[Scope, tuple[int, int]]


def count_learners(
    start: datetime.date, end: datetime.date, instructors: dict[int, int]
) -> Counted:
    """DAU/WAU/MAU (where MAU > 0), new learners and starts of local days start..end, per
    platform, course and instructor (`instructors`: {course id: instructor id})."""
    activity = load_activity(start - (MONTH_DAYS - 1) * DAY, end)
    return Counted(
        active=_windows(activity, start, instructors),
        new=_new_learners(activity, start, instructors),
    )


def load_activity(first: datetime.date, end: datetime.date) -> Activity:
    """The activity bitmaps of local days first..end (one query)."""
    days = (end - first).days + 1
    words = -(-days // WORD_BITS)
    lo, hi = utc_bounds_of_local_dates(first, end)
    qn = _quote
    rows = fetch_rows(
        f"""
        SELECT x.user_id, x.course_id, x.p / {WORD_BITS}, BIT_OR(1::bigint << (x.p %% {WORD_BITS})),
               MIN(x.occurred_at)
        FROM (
            SELECT e.user_id, e.course_id, e.occurred_at,
                   (e.occurred_at AT TIME ZONE u.timezone)::date - %s::date AS p
            FROM {qn(Event)} e JOIN {qn(User)} u ON u.id = e.user_id
            WHERE e.occurred_at >= %s AND e.occurred_at < %s AND NOT (e.type = ANY(%s))
        ) x
        WHERE x.p BETWEEN 0 AND %s
        GROUP BY 1, 2, 3
        ORDER BY 1, 2
        """,
        [first, lo, hi, sorted(NON_ACTIVITY_TYPES), days - 1],
    )
    if not rows:
        none = np.empty(0, np.int64)
        return Activity(first, none, none, np.zeros((0, days), bool), [])
    keys = np.array([(r[0], NO_COURSE if r[1] is None else r[1]) for r in rows], dtype=np.int64)
    # Rows come sorted by (learner, course): a new pair starts wherever the key changes.
    changes = np.r_[True, np.any(keys[1:] != keys[:-1], axis=1)]
    starts = np.flatnonzero(changes)
    pair = np.cumsum(changes) - 1
    masks = np.zeros((len(starts), words), dtype=np.int64)
    masks[pair, [r[2] for r in rows]] = [r[3] for r in rows]
    active = np.unpackbits(masks.view(np.uint8), axis=1, bitorder="little")[:, :days].astype(bool)
    first_at: list[datetime.datetime] = [rows[i][4] for i in starts]
    for i, row in enumerate(rows):
        if row[4] < first_at[pair[i]]:
            first_at[pair[i]] = row[4]
    return Activity(first, keys[starts, 0], keys[starts, 1], active, first_at)


def _quote(model: type) -> str:
    from django.db import connection

    return connection.ops.quote_name(model._meta.db_table)


def _scopes(
    activity: Activity, instructors: dict[int, int]
) -> Iterator[tuple[int | None, int | None, np.ndarray, np.ndarray]]:
    """(course id, instructor id, the rows' learners, their bitmaps) per scope: each
    course's rows; each instructor's (one row per learner, the OR of their rows in the
    instructor's courses); then the platform's (one row per learner, the OR of all theirs)."""
    courses = activity.courses
    with_course = np.flatnonzero(courses != NO_COURSE)
    if len(with_course):
        order = with_course[np.argsort(courses[with_course], kind="stable")]
        bounds = np.flatnonzero(np.r_[True, courses[order][1:] != courses[order][:-1]])
        for rows in np.split(order, bounds[1:]):
            yield int(courses[rows[0]]), None, activity.users[rows], activity.active[rows]
        taught = np.array([instructors.get(int(c), NO_COURSE) for c in courses], np.int64)
        rows = np.flatnonzero(taught != NO_COURSE)
        if len(rows):
            rows = rows[np.lexsort((activity.users[rows], taught[rows]))]
            by = np.flatnonzero(np.r_[True, taught[rows][1:] != taught[rows][:-1]])
            for mine in np.split(rows, by[1:]):
                users = activity.users[mine]
                first = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
                merged = np.logical_or.reduceat(activity.active[mine], first, axis=0)
                yield None, int(taught[mine[0]]), users[first], merged
    if len(courses):
        users = activity.users  # sorted: the query orders by learner
        bounds = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
        yield None, None, users[bounds], np.logical_or.reduceat(activity.active, bounds, axis=0)


def _in_window(active: np.ndarray, width: int) -> np.ndarray:
    """Per row and day: was any of the `width` days ending that day active?"""
    running = np.zeros((active.shape[0], active.shape[1] + 1), np.int32)
    np.cumsum(active, axis=1, out=running[:, 1:])
    days = np.arange(active.shape[1])
    return running[:, days + 1] - running[:, np.maximum(days + 1 - width, 0)] > 0


def _windows(
    activity: Activity, start: datetime.date, instructors: dict[int, int]
) -> dict[Scope, tuple[int, int, int]]:
    offset = (start - activity.first).days
    out: dict[Scope, tuple[int, int, int]] = {}
    for course_id, instructor_id, _, active in _scopes(activity, instructors):
        dau = active.sum(axis=0)
        wau = _in_window(active, WEEK_DAYS).sum(axis=0)
        mau = _in_window(active, MONTH_DAYS).sum(axis=0)
        for j in range(offset, active.shape[1]):
            if mau[j]:
                key = (activity.first + j * DAY, course_id, instructor_id)
                out[key] = (int(dau[j]), int(wau[j]), int(mau[j]))
    return out


Probe = tuple[int, int | None, int | None, datetime.datetime, int]
"""(learner, course id, instructor id, first activity in the scope, its day's column)."""


def _new_learners(
    activity: Activity, start: datetime.date, instructors: dict[int, int]
) -> dict[Scope, tuple[int, int]]:
    """New learners and starts per scope and day: the learners first active in the range
    with nothing before it (probed on the (learner, time) index).

    A learner active in one course only of an instructor (in the bitmaps) is new for the
    instructor only if new in that course, so they are probed for the instructor (any of
    their courses, before the bitmaps too) only then: a second, small batch of probes."""
    offset = (start - activity.first).days
    first_at = _first_times(activity, instructors)
    rows_per_pair: dict[tuple[int, int], list[int]] = {}
    for user_id, course_id in zip(activity.users.tolist(), activity.courses.tolist(), strict=True):
        if course_id in instructors:
            rows_per_pair.setdefault((user_id, instructors[course_id]), []).append(course_id)
    probes: list[Probe] = []
    deferred: dict[tuple[int, int], Probe] = {}  # (learner, course) -> instructor probe
    for course_id, instructor_id, users, active in _scopes(activity, instructors):
        firsts = np.argmax(active, axis=1)
        for i in np.flatnonzero(firsts >= offset):
            user_id = int(users[i])
            at = first_at[user_id, course_id, instructor_id]
            probe = (user_id, course_id, instructor_id, at, int(firsts[i]))
            mine = rows_per_pair.get((user_id, instructor_id or 0), [])
            if instructor_id is not None and len(mine) == 1:
                deferred[user_id, mine[0]] = probe
            else:
                probes.append(probe)
    found = _probe(probes)
    again = [deferred[u, c] for u, _, c, i, _ in found if c is not None and (u, c) in deferred]
    found += _probe(again)
    new: dict[Scope, list[int]] = {}
    for _, day, course_id, instructor_id, enrolled in found:
        date = activity.first + day * DAY
        counts = new.setdefault((date, course_id, instructor_id), [0, 0])
        counts[0] += 1
        if course_id is not None and enrolled:
            counts[1] += 1
            new.setdefault((date, None, None), [0, 0])[1] += 1
            if course_id in instructors:
                new.setdefault((date, None, instructors[course_id]), [0, 0])[1] += 1
    return {scope: (n, started) for scope, (n, started) in new.items()}


def _probe(probes: list[Probe]) -> list[tuple[int, int, int | None, int | None, bool]]:
    """The probes with no activity in their scope before their first (learner, day, course,
    instructor, enrolled in the course), in one query."""
    if not probes:
        return []
    qn = _quote
    return fetch_rows(
        f"""
        SELECT c.user_id, c.day, c.course_id, c.instructor_id, EXISTS (
                   SELECT 1 FROM {qn(Enrollment)} n
                   WHERE n.user_id = c.user_id AND n.course_id = c.course_id)
        FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::timestamptz[], %s::int[])
             AS c(user_id, course_id, instructor_id, first_at, day)
        -- A probe per learner on the (learner, time) index: LIMIT keeps the planner from
        -- hashing the whole event table for an anti-join.
        LEFT JOIN LATERAL (
            SELECT 1 AS hit FROM {qn(Event)} p
            WHERE p.user_id = c.user_id AND p.occurred_at < c.first_at
              AND NOT (p.type = ANY(%s))
              AND CASE
                  WHEN c.course_id IS NOT NULL THEN p.course_id = c.course_id
                  WHEN c.instructor_id IS NOT NULL THEN p.course_id IN (
                      SELECT pc.id FROM {qn(Course)} pc WHERE pc.instructor_id = c.instructor_id)
                  ELSE true
              END
            LIMIT 1
        ) prior ON true
        WHERE prior.hit IS NULL
        """,
        [
            [p[0] for p in probes],
            [p[1] for p in probes],
            [p[2] for p in probes],
            [p[3] for p in probes],
            [p[4] for p in probes],
            sorted(NON_ACTIVITY_TYPES),
        ],
    )


FirstKey = tuple[int, int | None, int | None]


def _first_times(
    activity: Activity, instructors: dict[int, int]
) -> dict[FirstKey, datetime.datetime]:
    """Each (learner, course) pair's first activity in the bitmaps, each (learner,
    instructor) pair's (over the instructor's courses), and each learner's."""
    out: dict[FirstKey, datetime.datetime] = {}

    def keep(key: FirstKey, at: datetime.datetime) -> None:
        if key not in out or at < out[key]:
            out[key] = at

    for user_id, course_id, at in zip(
        activity.users.tolist(), activity.courses.tolist(), activity.first_at, strict=True
    ):
        if course_id != NO_COURSE:
            out[user_id, course_id, None] = at
            if course_id in instructors:
                keep((user_id, None, instructors[course_id]), at)
        keep((user_id, None, None), at)
    return out
