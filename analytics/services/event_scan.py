"""The metrics one scan of the events gives, on PostgreSQL: active learners (DAU, WAU, MAU),
new learners and starts, events, and reviews' ratings, per scope and learner-local day.

The scan reads the events of the range and of the 29 days before it (the MAU window of its
first day) and groups them two ways at once (GROUPING SETS): per (course, day), the events and
the ratings; per (learner, course), a bitmap of the days they were active: one row per learner
and course however many events they sent, for about the cost of a plain per-day rollup of the
same events. The windows are then counted on the bitmaps with numpy (a learner is in the WAU
of day d when a bit of d-6..d is set; in the MAU when one of d-29..d is); a learner's platform
bitmap is the OR of their courses' (and of their activity without a course), an instructor's
the OR of their rows in that instructor's courses (one more grouping of the same bitmaps: a
learner in two of the courses counts once; an instructor's events and ratings are their
courses' sums, an event being in one course at most). A learner is new on the local day of
their first activity (in a course, among an instructor's courses, or anywhere on the
platform) if nothing came before it: the learners whose first active day in the bitmaps
falls in the range are checked with one probe each on the (learner, time) index; a start is
a new learner in a course they are enrolled in (the platform's and an instructor's starts are
their courses').
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from accounts.models import User
from analytics.services.activity_store import (
    EPOCH,
    NO_COURSE,
    WORD_BITS,
    Rows,
    day_number,
    day_of,
    empty_rows,
    store_activity,
    stored_activity,
)
from core.bulk import fetch_rows
from core.localtime import utc_bounds_of_local_dates
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event
from learning.models import Course, Enrollment

DAY = datetime.timedelta(days=1)
WEEK_DAYS = 7
MONTH_DAYS = 30
REVIEW_TYPE = "review_posted"  # properties.rating: 1-5 stars

Scope = tuple[datetime.date, int | None, int | None]
"""(learner-local day, course id, instructor id): neither for the platform."""


@dataclass(frozen=True)
class Activity:
    """Who was active on which local day of `first`..`first + days - 1`, per learner and
    course: row i is learner `users[i]` in course `courses[i]` (NO_COURSE: activity without
    one), active on the days whose columns of `active[i]` are set."""

    first: datetime.date
    users: np.ndarray
    courses: np.ndarray
    active: np.ndarray


@dataclass(frozen=True)
class Counted:
    """What one scan of a range's events counts, per scope and day: (DAU, WAU, MAU) where MAU
    > 0, (new learners, starts), events of every type and (sum of ratings, reviews)."""

    active: dict[Scope, tuple[int, int, int]]
    new: dict[Scope, tuple[int, int]]
    events: dict[Scope, int]
    ratings: dict[Scope, tuple[float, int]]


def count_events(
    start: datetime.date,
    end: datetime.date,
    instructors: dict[int, int],
    *,
    reuse_stored: bool = True,
) -> Counted:
    """Scan the events of local days start..end (and the 29 days before: the MAU window of
    `start`) once and count everything the scan can see, per platform, course and instructor
    (`instructors`: {course id: instructor id}).

    With `reuse_stored`, who was active on the 29 days before comes from the activity the
    runs before stored (activity_store), where it covers them all; the scanned days' activity
    is stored in any case, for the next run."""
    first = start - (MONTH_DAYS - 1) * DAY
    before = stored_activity(first, start - DAY) if reuse_stored else None
    scan_first = first if before is None else start
    scanned, events, ratings = _scan(scan_first, end, start, instructors)
    store_activity(scan_first, end, scanned)
    rows = (
        scanned
        if before is None
        else tuple(np.concatenate([a, b]) for a, b in zip(scanned, before, strict=True))
    )
    activity = _bitmaps(first, (end - first).days + 1, rows)
    return Counted(
        active=_windows(activity, start, instructors),
        new=_new_learners(activity, start, instructors),
        events=events,
        ratings=ratings,
    )


def _scan(
    first: datetime.date, end: datetime.date, start: datetime.date, instructors: dict[int, int]
) -> tuple[Rows, dict[Scope, int], dict[Scope, tuple[float, int]]]:
    """One pass over the events of local days first..end, grouped two ways at once: per
    (learner, course, 64-day word: see activity_store) the bitmap of active days; per
    (course, day) from `start` on, the events and the reviews' ratings."""
    lo, hi = utc_bounds_of_local_dates(first, end)
    qn = _quote
    rows = fetch_rows(
        f"""
        SELECT GROUPING(x.user_id), x.user_id, x.course_id, x.d / {WORD_BITS}, x.d,
               BIT_OR(1::bigint << (x.d %% {WORD_BITS})) FILTER (WHERE x.active),
               COUNT(*),
               SUM((x.properties ->> 'rating')::float8) FILTER (WHERE x.review),
               COUNT(*) FILTER (WHERE x.review)
        FROM (
            SELECT e.user_id, e.course_id, e.properties,
                   (e.occurred_at AT TIME ZONE u.timezone)::date - %(epoch)s::date AS d,
                   NOT (e.type = ANY(%(non)s)) AS active,
                   e.type = %(review)s AND e.properties ? 'rating' AS review
            FROM {qn(Event)} e JOIN {qn(User)} u ON u.id = e.user_id
            WHERE e.occurred_at >= %(lo)s AND e.occurred_at < %(hi)s
        ) x
        WHERE x.d BETWEEN %(first)s AND %(last)s
        GROUP BY GROUPING SETS ((x.user_id, x.course_id, x.d / {WORD_BITS}), (x.course_id, x.d))
        """,
        {
            "epoch": EPOCH,
            "non": sorted(NON_ACTIVITY_TYPES),
            "review": REVIEW_TYPE,
            "lo": lo,
            "hi": hi,
            "first": day_number(first),
            "last": day_number(end),
        },
    )
    events: dict[Scope, int] = {}
    ratings: dict[Scope, tuple[float, int]] = {}
    bitmaps = []
    offset = day_number(start)
    for per_day, user_id, course_id, word, d, bits, n, rating_sum, reviews in rows:
        if not per_day:
            if bits is not None:
                bitmaps.append((user_id, NO_COURSE if course_id is None else course_id, word, bits))
            continue
        if d < offset:
            continue
        day = day_of(d)
        for key in _keys(day, course_id, instructors):
            events[key] = events.get(key, 0) + n
            if reviews:
                total, count = ratings.get(key, (0.0, 0))
                ratings[key] = (total + rating_sum, count + reviews)
    if not bitmaps:
        return empty_rows(), events, ratings
    columns = np.array(bitmaps, dtype=np.int64).T
    return (columns[0], columns[1], columns[2], columns[3]), events, ratings


def _keys(day: datetime.date, course_id: int | None, instructors: dict[int, int]) -> list[Scope]:
    """The scopes a day's row of `course_id` counts in: the platform's, the course's and its
    instructor's."""
    if course_id is None:
        return [(day, None, None)]
    if course_id in instructors:
        return [(day, None, None), (day, course_id, None), (day, None, instructors[course_id])]
    return [(day, None, None), (day, course_id, None)]


def _bitmaps(first: datetime.date, days: int, rows: Rows) -> Activity:
    """The Activity of local days first..first + days - 1 from (learner, course, word, bits)
    rows; several rows of a learner, course and word (stored and scanned days) are ORed."""
    users, courses, words, bits = rows
    if not len(users):
        none = np.empty(0, np.int64)
        return Activity(first, none, none, np.zeros((0, days), bool))
    order = np.lexsort((courses, users))
    users, courses, words, bits = users[order], courses[order], words[order], bits[order]
    # Sorted by (learner, course): a new pair starts wherever the key changes.
    changes = np.r_[True, (users[1:] != users[:-1]) | (courses[1:] != courses[:-1])]
    starts = np.flatnonzero(changes)
    pair = np.cumsum(changes) - 1
    lo = day_number(first)
    w0 = lo // WORD_BITS
    masks = np.zeros((len(starts), (lo + days - 1) // WORD_BITS - w0 + 1), dtype=np.int64)
    np.bitwise_or.at(masks, (pair, words - w0), bits)
    skip = lo - w0 * WORD_BITS
    active = np.unpackbits(masks.view(np.uint8), axis=1, bitorder="little")[:, skip : skip + days]
    return Activity(first, users[starts], courses[starts], active.astype(bool))


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
        users = activity.users  # sorted by learner (see _bitmaps)
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


Probe = tuple[int, int | None, int | None, int]
"""(learner, course id, instructor id, the column of their first active day)."""


def _new_learners(
    activity: Activity, start: datetime.date, instructors: dict[int, int]
) -> dict[Scope, tuple[int, int]]:
    """New learners and starts per scope and day: the learners whose first active day in the
    bitmaps falls in the range, with no activity before the bitmaps' first day (the window
    holds all of it from there).

    First one probe per such learner on the (learner, time) index, bounded by the learner's
    local midnight of that day: a learner with no activity at all before it (most of them:
    the truly new, and everyone in a backfill of the whole history) is new in every scope
    whose first active day is in the range. Only the others are probed per scope (course,
    instructor).

    A learner active in only one of an instructor's courses in the bitmaps is new for the
    instructor only if new in that course, so they are probed for the instructor (any of
    their courses) only then: a second, small batch of probes."""
    offset = (start - activity.first).days
    rows_per_pair: dict[tuple[int, int], list[int]] = {}
    for user_id, course_id in zip(activity.users.tolist(), activity.courses.tolist(), strict=True):
        if course_id in instructors:
            rows_per_pair.setdefault((user_id, instructors[course_id]), []).append(course_id)
    probes: list[Probe] = []
    deferred: dict[tuple[int, int], Probe] = {}  # (learner, course) -> the instructor's probe
    for course_id, instructor_id, users, active in _scopes(activity, instructors):
        firsts = np.argmax(active, axis=1)
        for i in np.flatnonzero(firsts >= offset):
            user_id = int(users[i])
            probe = (user_id, course_id, instructor_id, int(firsts[i]))
            mine = rows_per_pair.get((user_id, instructor_id or 0), [])
            if instructor_id is not None and len(mine) == 1:
                deferred[user_id, mine[0]] = probe
            else:
                probes.append(probe)
    learners = sorted({p[0] for p in probes} | {p[0] for p in deferred.values()})
    fresh = {
        row[0]
        for row in _probe([(u, None, None, 0) for u in learners], activity.first, enrolled=False)
    }
    found = _probe(
        [p for p in probes if p[0] in fresh] + [p for p in deferred.values() if p[0] in fresh],
        activity.first,
        prior=False,
    )
    seen = [p for p in probes if p[0] not in fresh]
    found_seen = _probe(seen, activity.first)
    again = [deferred[u, c] for u, _, c, _, _ in found_seen if c is not None and (u, c) in deferred]
    found += found_seen + _probe(again, activity.first)
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


def _int_array(values: list[int | None]) -> str:
    """A PostgreSQL array literal of integers: psycopg's adaptation of a list of 100,000
    ints costs more than the query it feeds."""
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def _probe(
    probes: list[Probe], first: datetime.date, *, prior: bool = True, enrolled: bool = True
) -> list[tuple[int, int, int | None, int | None, bool]]:
    """The probes with no activity in their scope before local day `first` (learner, day,
    course, instructor, enrolled in the course), in one query. Without `prior` every probe
    is answered (its learner is known to have no earlier activity); without `enrolled` the
    last column is false (not asked)."""
    if not probes:
        return []
    qn = _quote
    enrolment = (
        f"""EXISTS (SELECT 1 FROM {qn(Enrollment)} n
                    WHERE n.user_id = c.user_id AND n.course_id = c.course_id)"""
        if enrolled
        else "false"
    )
    params = {
        "users": _int_array([p[0] for p in probes]),
        "courses": _int_array([p[1] for p in probes]),
        "instructors": _int_array([p[2] for p in probes]),
        "days": _int_array([p[3] for p in probes]),
    }
    columns = f"""
        SELECT c.user_id, c.day, c.course_id, c.instructor_id, {enrolment}
        FROM unnest(%(users)s::bigint[], %(courses)s::bigint[], %(instructors)s::bigint[],
                    %(days)s::int[])
             AS c(user_id, course_id, instructor_id, day)"""
    if not prior:
        return fetch_rows(columns, params)
    return fetch_rows(
        f"""{columns}
        JOIN {qn(User)} u ON u.id = c.user_id
        -- LIMIT keeps the planner from hashing the whole event table for an anti-join.
        LEFT JOIN LATERAL (
            SELECT 1 AS hit FROM {qn(Event)} p
            WHERE p.user_id = c.user_id
              AND p.occurred_at < (%(first)s::timestamp AT TIME ZONE u.timezone)
              AND NOT (p.type = ANY(%(non)s))
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
        {**params, "first": first, "non": sorted(NON_ACTIVITY_TYPES)},
    )
