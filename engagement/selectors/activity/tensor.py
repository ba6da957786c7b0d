"""The LearnerActivity tensor of the scored population, and per-day event counts for labels.

Both scatter the vendor's aggregate rows into numpy arrays (``np.add.at``); there is no query
or Python loop per learner.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import numpy as np
from django.db import connection

from engagement.scoring.activity import DEFAULT_WINDOW_DAYS, LearnerActivity
from engagement.selectors.activity.aggregates import ActivityAggregates
from engagement.selectors.activity.enrolment import enrolment_state
from engagement.selectors.activity.postgresql import postgresql_aggregates
from engagement.selectors.activity.sqlite import sqlite_aggregates


def activity_aggregates(
    as_of: datetime.date, start: datetime.date, user_ids: Sequence[int] | None
) -> ActivityAggregates:
    """Return the aggregates of local dates start..as_of from this database's implementation."""
    if connection.vendor == "postgresql":
        return postgresql_aggregates(as_of, start, user_ids)
    return sqlite_aggregates(as_of, start, user_ids)


def learner_activity(
    *,
    as_of: datetime.date,
    user_ids: Sequence[int] | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> tuple[np.ndarray, LearnerActivity]:
    """Return the scored population as of ``as_of`` (sorted user ids) and its activity tensor.

    The population is every user with at least one activity event on or before ``as_of``
    (local date), except learners whose every enrolment was completed by then; ``user_ids``
    narrows it further. Events after the as-of day (in each learner's timezone) are ignored.
    """
    start = as_of - datetime.timedelta(days=window_days - 1)
    agg = activity_aggregates(as_of, start, user_ids)
    uids = agg.life_user
    state = enrolment_state(uids, as_of)
    keep = ~state["all_completed"]
    uids = uids[keep]
    first, last = agg.life_first[keep], agg.life_last[keep]
    n, w = len(uids), window_days
    act = LearnerActivity.empty(n, as_of=as_of, window_days=w)

    def rows_of(users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.clip(np.searchsorted(uids, users), 0, max(n - 1, 0))
        ok = (pos < n) & (uids[pos] == users) if n else np.zeros(len(users), dtype=bool)
        return pos, ok

    pos, ok = rows_of(agg.day_user)
    ok &= (agg.day_index >= 0) & (agg.day_index < w)
    r, d = pos[ok], agg.day_index[ok]
    np.add.at(act.daily, (r, d), agg.day_counts[ok].astype(np.float32))
    np.add.at(act.quiz_score_sum, (r, d), agg.day_quiz_sum[ok])
    np.add.at(act.quiz_score_n, (r, d), agg.day_quiz_n[ok])
    np.add.at(act.video_pct_sum, (r, d), agg.day_video_sum[ok])
    np.add.at(act.session_seconds, (r, d), agg.day_session_seconds[ok])
    pos, ok = rows_of(agg.hour_user)
    ok &= (agg.hour >= 0) & (agg.hour < 24)
    np.add.at(act.hour_hist, (pos[ok], agg.hour[ok]), agg.hour_count[ok])

    act.days_since_first[:] = first
    act.days_since_last[:] = last
    act.enrolment_age[:] = state["age"][keep]
    act.progress[:] = state["progress"][keep]
    act.course_days_left[:] = state["days_left"][keep]
    act.withdrawn[:] = state["withdrawn"][keep]
    act.cohort[:] = state["cohort"][keep]
    return uids, act


def learner_daily_events(
    *, start: datetime.date, end: datetime.date, user_ids: np.ndarray
) -> np.ndarray:
    """Return (len(user_ids), days) activity-event counts per learner-local day start..end.

    ``user_ids`` must be sorted; learners without events get zero rows. Used for labels.
    """
    days = (end - start).days + 1
    out = np.zeros((len(user_ids), max(days, 0)), dtype=np.float32)
    if days <= 0 or len(user_ids) == 0:
        return out
    agg = activity_aggregates(end, start, None)
    pos = np.clip(np.searchsorted(user_ids, agg.day_user), 0, len(user_ids) - 1)
    ok = (user_ids[pos] == agg.day_user) & (agg.day_index >= 0) & (agg.day_index < days)
    np.add.at(out, (pos[ok], agg.day_index[ok]), agg.day_counts[ok, 0])
    return out
