"""The LearnerActivity tensor of the scored population, and per-day event counts for labels.

Both scatter the vendor's aggregate rows into numpy arrays (``np.bincount`` over flat cell
indices); there is no query or Python loop per learner or enrolment.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import numpy as np
from django.db import connection

from engagement.scoring.activity import DEFAULT_WINDOW_DAYS, LearnerActivity
from engagement.selectors.activity.aggregates import NO_COURSE, ActivityAggregates
from engagement.selectors.activity.enrolment import enrolment_rows, pair_index
from engagement.selectors.activity.postgresql import postgresql_aggregates
from engagement.selectors.activity.sqlite import sqlite_aggregates


def activity_aggregates(
    as_of: datetime.date, start: datetime.date, user_ids: Sequence[int] | None
) -> ActivityAggregates:
    """Return the aggregates of local dates start..as_of from this database's implementation."""
    if connection.vendor == "postgresql":
        return postgresql_aggregates(as_of, start, user_ids)
    return sqlite_aggregates(as_of, start, user_ids)


def _target_rows(
    row_users: np.ndarray,
    row_courses: np.ndarray,
    users: np.ndarray,
    courses: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Map aggregate rows (users, courses) to tensor rows; return (source index, target row).

    A row of a course goes to that enrolment's row (none if the learner has no active
    enrolment in it); a row of NO_COURSE goes to every row of the learner, so one source index
    may appear several times. ``row_users`` must be sorted (the tensor's order).
    """
    users = np.asarray(users, dtype=np.int64)
    courses = np.asarray(courses, dtype=np.int64)
    general = courses == NO_COURSE
    specific = np.flatnonzero(~general)
    pos = pair_index(row_users, row_courses, users[specific], courses[specific])
    src = [specific[pos >= 0]]
    dst = [pos[pos >= 0]]
    gen = np.flatnonzero(general)
    if gen.size and row_users.size:
        lo = np.searchsorted(row_users, users[gen], side="left")
        hi = np.searchsorted(row_users, users[gen], side="right")
        count = hi - lo
        src.append(np.repeat(gen, count))
        # Each source's run of targets: lo, lo + 1, ..., hi - 1.
        starts = np.repeat(lo - np.cumsum(count) + count, count)
        dst.append(starts + np.arange(int(count.sum())))
    return np.concatenate(src), np.concatenate(dst)


def _summed(cells: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Return float32 totals of ``values`` per flat cell index (np.bincount: many times faster
    than np.add.at on millions of rows)."""
    return np.bincount(cells, weights=values, minlength=size).astype(np.float32)


def learner_activity(
    *,
    as_of: datetime.date,
    user_ids: Sequence[int] | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> LearnerActivity:
    """Return the activity tensor of every enrolment active as of ``as_of``, one row each.

    The population is every enrolment begun by the end of the as-of day (UTC) and neither
    completed nor withdrawn by then, whether or not the learner has any activity: an
    enrolment with none is a row too (``days_since_last`` = inf, the never-started). Rows are
    sorted by (user, course), see ``LearnerActivity.user_ids`` / ``course_ids``; ``user_ids``
    narrows the population. Learners with events but no active enrolment are not scored.

    Per row, the course-specific arrays count the events of that course and the learner's
    events that name no course (they count toward every active enrolment of the learner);
    events of a course the learner is not actively enrolled in count nowhere. ``hour_hist``
    counts all of the learner's activity and is the same on each of their rows. Events after
    the as-of day (in each learner's timezone) are ignored. Five queries in all.
    """
    start = as_of - datetime.timedelta(days=window_days - 1)
    rows = enrolment_rows(as_of, user_ids)
    n, w = len(rows.user_ids), window_days
    act = LearnerActivity.empty(n, as_of=as_of, window_days=w)
    act.user_ids[:] = rows.user_ids
    act.course_ids[:] = rows.course_ids
    act.cohort[:] = rows.course_ids
    act.enrolment_age[:] = rows.age
    act.progress[:] = rows.progress
    act.course_days_left[:] = rows.days_left
    if n == 0:
        return act
    agg = activity_aggregates(as_of, start, user_ids)
    uids, cids = rows.user_ids, rows.course_ids

    src, dst = _target_rows(uids, cids, agg.day_user, agg.day_course)
    d = agg.day_index[src]
    ok = (d >= 0) & (d < w)
    day_src, day_dst = src[ok], dst[ok]
    src, cell = day_src, day_dst * w + d[ok]  # flat (row, day) cell
    for j in range(act.daily.shape[2]):
        act.daily[:, :, j] += _summed(cell, agg.day_counts[src, j], n * w).reshape(n, w)
    for target, values in (
        (act.quiz_score_sum, agg.day_quiz_sum),
        (act.quiz_score_n, agg.day_quiz_n),
        (act.video_pct_sum, agg.day_video_sum),
        (act.session_seconds, agg.day_session_seconds),
    ):
        target[:] += _summed(cell, values[src], n * w).reshape(n, w)

    # Study rhythm is the learner's, whatever the course: their hours go to each of their rows.
    hour_src, hour_dst = _target_rows(
        uids, cids, agg.hour_user, np.full(len(agg.hour_user), NO_COURSE)
    )
    h = agg.hour[hour_src]
    ok = (h >= 0) & (h < 24)
    cell = hour_dst[ok] * 24 + h[ok]
    act.hour_hist[:] += _summed(cell, agg.hour_count[hour_src[ok]], n * 24).reshape(n, 24)

    # First sight is the earliest of the course's and the course-less events, last the latest,
    # from the history before the window and from the window's active days; both are stored as
    # days before as_of.
    first = np.full(n, -np.inf)
    last = np.full(n, np.inf)
    src, dst = _target_rows(uids, cids, agg.life_user, agg.life_course)
    np.maximum.at(first, dst, agg.life_first[src].astype(np.float64))
    np.minimum.at(last, dst, agg.life_last[src].astype(np.float64))
    active = agg.day_counts[day_src, 0] > 0
    ago = (w - 1 - agg.day_index[day_src[active]]).astype(np.float64)
    np.maximum.at(first, day_dst[active], ago)
    np.minimum.at(last, day_dst[active], ago)
    act.days_since_first[:] = np.where(np.isfinite(first), first, np.inf)
    act.days_since_last[:] = last
    return act


def enrolment_daily_events(
    *,
    start: datetime.date,
    end: datetime.date,
    user_ids: np.ndarray,
    course_ids: np.ndarray,
) -> np.ndarray:
    """Return (rows, days) activity-event counts per enrolment and learner-local day start..end.

    Row i is learner ``user_ids[i]`` in course ``course_ids[i]`` (sorted by user, then course,
    as ``learner_activity`` gives them); it counts the events of that course and the learner's
    events that name no course, like the tensor. Rows without events are zero. For labels.
    """
    days = (end - start).days + 1
    out = np.zeros((len(user_ids), max(days, 0)), dtype=np.float32)
    if days <= 0 or len(user_ids) == 0:
        return out
    agg = activity_aggregates(end, start, None)
    uids = np.asarray(user_ids, dtype=np.int64)
    src, dst = _target_rows(
        uids, np.asarray(course_ids, dtype=np.int64), agg.day_user, agg.day_course
    )
    d = agg.day_index[src]
    ok = (d >= 0) & (d < days)
    cells = dst[ok] * days + d[ok]
    out += _summed(cells, agg.day_counts[src[ok], 0], out.size).reshape(out.shape)
    return out
