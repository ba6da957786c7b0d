"""The activity aggregates on SQLite (the embedded default) and any database but PostgreSQL.

The raw events of the window are fetched and converted to each learner's local time in pandas,
one distinct timezone at a time, and grouped like PostgreSQL's (per learner, course and local
date; per learner and local hour); slower than PostgreSQL's SQL but the same numbers.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from django.db.models import Max, Min

from accounts.models import User
from core.localtime import naive_local_series, utc_bounds_of_local_dates
from engagement.catalogue import KIND_OF_TYPE, NON_ACTIVITY_TYPES
from engagement.models import Event
from engagement.scoring.activity import KIND_INDEX, KINDS
from engagement.selectors.activity.aggregates import (
    NO_COURSE,
    QUIZ_TYPES,
    SESSION_END_TYPE,
    VIDEO_TYPES,
    ActivityAggregates,
)


def _prop(props: pd.Series, key: str) -> np.ndarray:
    """Return a numeric JSON property per row, nan when absent or not a number."""

    def one(p: Any) -> float:
        v = p.get(key) if isinstance(p, dict) else None
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else np.nan

    return props.map(one).to_numpy(dtype=np.float64) if len(props) else np.zeros(0)


def sqlite_aggregates(
    as_of: datetime.date, start: datetime.date, user_ids: Sequence[int] | None
) -> ActivityAggregates:
    """Return the aggregates by fetching raw rows and converting timezones in pandas."""
    lo, hi = utc_bounds_of_local_dates(start, as_of)
    events = Event.objects.all()
    if user_ids is not None:
        events = events.filter(user_id__in=list(user_ids))
    activity = events.exclude(type__in=NON_ACTIVITY_TYPES)
    # Events before `lo` are surely before the window (and before as_of) in any timezone.
    before = activity.filter(occurred_at__lt=lo).values("user_id", "course_id")
    before = before.annotate(first=Min("occurred_at"), last=Max("occurred_at")).order_by()
    zone = pd.DataFrame.from_records(
        events.filter(occurred_at__gte=lo, occurred_at__lt=hi).values_list(
            "user_id", "course_id", "occurred_at", "type", "properties"
        ),
        columns=["user_id", "course_id", "occurred_at", "type", "properties"],
    )
    before = pd.DataFrame.from_records(
        before.values_list("user_id", "course_id", "first", "last"),
        columns=["user_id", "course_id", "first", "last"],
    )
    for frame in (before, zone):
        frame["course_id"] = frame["course_id"].fillna(NO_COURSE).astype(np.int64)
    users = set(zone["user_id"]) | set(before["user_id"])
    tz_of_user = dict(User.objects.filter(id__in=users).values_list("id", "timezone"))
    for frame, column in ((before, "first"), (before, "last"), (zone, "occurred_at")):
        frame[column + "_local"] = naive_local_series(frame[column], frame["user_id"], tz_of_user)
    as_of_ts, start_ts = pd.Timestamp(as_of), pd.Timestamp(start)
    zone["date"] = zone["occurred_at_local"].dt.normalize()
    zone = zone[zone["date"] <= as_of_ts]
    zone_act = zone[~zone["type"].isin(NON_ACTIVITY_TYPES)]
    life = pd.concat(
        [
            before[["user_id", "course_id", "first_local", "last_local"]].rename(
                columns={"first_local": "first", "last_local": "last"}
            ),
            zone_act.groupby(["user_id", "course_id"])["occurred_at_local"]
            .agg(["min", "max"])
            .reset_index()
            .rename(columns={"min": "first", "max": "last"}),
        ]
    )
    life = (
        life.groupby(["user_id", "course_id"])
        .agg(first=("first", "min"), last=("last", "max"))
        .sort_index()
    )

    def days_before(col: str) -> np.ndarray:
        local = pd.to_datetime(life[col])
        return (as_of_ts - local.dt.normalize()).dt.days.to_numpy(dtype=np.int64)

    win = zone[zone["date"] >= start_ts].copy()
    win["d"] = (win["date"] - start_ts).dt.days
    win["kind"] = win["type"].map(KIND_OF_TYPE).map(KIND_INDEX).fillna(-1).astype(np.int64)
    win["act"] = (~win["type"].isin(NON_ACTIVITY_TYPES)).astype(np.float64)
    score, max_score = _prop(win["properties"], "score"), _prop(win["properties"], "max_score")
    with np.errstate(divide="ignore", invalid="ignore"):
        quiz = np.where(max_score > 0, np.clip(score / max_score, 0, 1), np.nan)
    is_quiz = win["type"].isin(QUIZ_TYPES).to_numpy()
    win["q"] = np.where(is_quiz & np.isfinite(quiz), quiz, 0.0)
    win["qn"] = (is_quiz & np.isfinite(quiz)).astype(np.float64)
    pct = np.clip(_prop(win["properties"], "percent") / 100.0, 0, 1)
    win["v"] = np.where(win["type"].isin(VIDEO_TYPES).to_numpy(), np.nan_to_num(pct), 0.0)
    secs = np.clip(np.nan_to_num(_prop(win["properties"], "duration_seconds")), 0, None)
    win["s"] = np.where((win["type"] == SESSION_END_TYPE).to_numpy(), secs, 0.0)
    win["h"] = win["occurred_at_local"].dt.hour
    for j, kind in enumerate(KINDS):
        win[kind] = win["act"] if j == 0 else (win["kind"] == j).astype(np.float64)
    by_day = (
        win.groupby(["user_id", "course_id", "d"])[[*KINDS, "q", "qn", "v", "s"]]
        .sum()
        .reset_index()
    )
    by_hour = win[win["act"] > 0].groupby(["user_id", "h"]).size().reset_index(name="n")
    return ActivityAggregates(
        life_user=life.index.get_level_values("user_id").to_numpy(dtype=np.int64),
        life_course=life.index.get_level_values("course_id").to_numpy(dtype=np.int64),
        life_first=days_before("first"),
        life_last=days_before("last"),
        day_user=by_day["user_id"].to_numpy(dtype=np.int64),
        day_course=by_day["course_id"].to_numpy(dtype=np.int64),
        day_index=by_day["d"].to_numpy(dtype=np.int64),
        day_counts=by_day[list(KINDS)].to_numpy(dtype=np.float64),
        day_quiz_sum=by_day["q"].to_numpy(dtype=np.float64),
        day_quiz_n=by_day["qn"].to_numpy(dtype=np.float64),
        day_video_sum=by_day["v"].to_numpy(dtype=np.float64),
        day_session_seconds=by_day["s"].to_numpy(dtype=np.float64),
        hour_user=by_hour["user_id"].to_numpy(dtype=np.int64),
        hour=by_hour["h"].to_numpy(dtype=np.int64),
        hour_count=by_hour["n"].to_numpy(dtype=np.float64),
    )
