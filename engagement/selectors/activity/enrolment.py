"""Enrolment reads for the activity tensor: each learner's enrolment state, and withdrawals.

Dates here are UTC dates (enrolment timestamps are not tied to a learner's local day).
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
from django.db.models import Count, Max, Q

from learning.models import Enrollment, Lesson, LessonProgress


def _end_of_day_utc(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time(), datetime.UTC
    )


def enrolment_state(uids: np.ndarray, as_of: datetime.date) -> dict[str, np.ndarray]:
    """Return per-learner enrolment facts as of ``as_of`` (UTC dates), vectorised in pandas.

    Keys: age (days since the earliest active enrolment, nan if none), all_completed, withdrawn
    (withdrew from every enrolment), cohort (main course: the latest active enrolment, else the
    latest of any status, else 0), days_left (main course end minus as_of, nan = self-paced),
    progress (completed lessons / lessons of the active courses, nan if no lessons).
    """
    n = len(uids)
    out = {
        "age": np.full(n, np.nan),
        "all_completed": np.zeros(n, dtype=bool),
        "withdrawn": np.zeros(n, dtype=bool),
        "cohort": np.zeros(n, dtype=np.int64),
        "days_left": np.full(n, np.nan),
        "progress": np.full(n, np.nan),
    }
    if n == 0:
        return out
    end = _end_of_day_utc(as_of)
    ids = uids.tolist()
    enr = pd.DataFrame.from_records(
        Enrollment.objects.filter(user_id__in=ids, enrolled_at__lt=end).values_list(
            "user_id", "course_id", "enrolled_at", "completed_at", "withdrawn_at", "course__ends_on"
        ),
        columns=["user_id", "course_id", "enrolled_at", "completed_at", "withdrawn_at", "ends_on"],
    )
    if enr.empty:
        return out
    for col in ("enrolled_at", "completed_at", "withdrawn_at"):
        enr[col] = pd.to_datetime(enr[col], utc=True)
    end_ts = pd.Timestamp(end)
    enr["completed"] = enr["completed_at"].notna() & (enr["completed_at"] < end_ts)
    enr["withdrawn"] = enr["withdrawn_at"].notna() & (enr["withdrawn_at"] < end_ts)
    enr["active"] = ~(enr["completed"] | enr["withdrawn"])
    row = np.searchsorted(uids, enr["user_id"].to_numpy())
    enr["row"] = row
    per_user = enr.groupby("row").agg(
        n=("active", "size"),
        completed=("completed", "sum"),
        withdrawn=("withdrawn", "sum"),
    )
    r = per_user.index.to_numpy()
    out["all_completed"][r] = (per_user["completed"] == per_user["n"]).to_numpy()
    out["withdrawn"][r] = (per_user["withdrawn"] == per_user["n"]).to_numpy()
    active = enr[enr["active"]]
    first = active.groupby("row")["enrolled_at"].min()
    as_of_ts = pd.Timestamp(as_of, tz="UTC")
    out["age"][first.index.to_numpy()] = (as_of_ts - first.dt.normalize()).dt.days.to_numpy()
    # Main course: latest active enrolment first, then latest of any status.
    ranked = enr.sort_values(["row", "active", "enrolled_at", "course_id"])
    main = ranked.groupby("row").tail(1)
    out["cohort"][main["row"].to_numpy()] = main["course_id"].to_numpy()
    ends = pd.to_datetime(main["ends_on"])
    left = (ends - pd.Timestamp(as_of)).dt.days.to_numpy(dtype=np.float64)
    out["days_left"][main["row"].to_numpy()] = left  # NaT (self-paced) -> nan

    if not active.empty:
        courses = active["course_id"].unique().tolist()
        lessons = dict(
            Lesson.objects.filter(course_id__in=courses)
            .values("course_id")
            .annotate(n=Count("id"))
            .values_list("course_id", "n")
        )
        done = pd.DataFrame.from_records(
            LessonProgress.objects.filter(
                user_id__in=ids, lesson__course_id__in=courses, completed_at__lt=end
            )
            .values("user_id", "lesson__course_id")
            .annotate(n=Count("id"))
            .values_list("user_id", "lesson__course_id", "n"),
            columns=["user_id", "course_id", "n"],
        )
        act = active[["row", "user_id", "course_id"]].copy()
        act["lessons"] = act["course_id"].map(lessons).fillna(0)
        act = act.merge(done, on=["user_id", "course_id"], how="left").fillna({"n": 0})
        tot = act.groupby("row")[["lessons", "n"]].sum()
        tot = tot[tot["lessons"] > 0]
        out["progress"][tot.index.to_numpy()] = (tot["n"] / tot["lessons"]).clip(0, 1).to_numpy()
    return out


def learner_withdrawals(
    *, start: datetime.date, end: datetime.date, user_ids: np.ndarray
) -> np.ndarray:
    """Return, per sorted user id, whether they withdrew from their last active enrolment
    between ``start`` and ``end`` (UTC dates, inclusive) and so from every enrolment."""
    out = np.zeros(len(user_ids), dtype=bool)
    if len(user_ids) == 0:
        return out
    rows = Enrollment.objects.filter(user_id__in=user_ids.tolist()).values("user_id")
    rows = rows.annotate(
        n=Count("id"),
        n_withdrawn=Count("id", filter=Q(withdrawn_at__isnull=False)),
        last=Max("withdrawn_at"),
    ).filter(
        last__gte=datetime.datetime.combine(start, datetime.time(), datetime.UTC),
        last__lt=_end_of_day_utc(end),
    )
    hits = np.array([r["user_id"] for r in rows if r["n"] == r["n_withdrawn"]], dtype=np.int64)
    if hits.size:
        out[np.isin(user_ids, hits)] = True
    return out
