"""Enrolment reads for the activity tensor: the active enrolments with their state, withdrawals.

Dates here are UTC dates (enrolment timestamps are not tied to a learner's local day).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db.models import Count

from learning.models import Enrollment, Lesson, LessonProgress


def _end_of_day_utc(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time(), datetime.UTC
    )


@dataclass(frozen=True)
class EnrolmentRows:
    """The active enrolments as of a date, one per row, sorted by (user, course)."""

    user_ids: np.ndarray  # int64
    course_ids: np.ndarray  # int64
    age: np.ndarray  # float64: days since the enrolment began (UTC dates)
    progress: np.ndarray  # float64: completed / lessons of the course, nan if it has none
    days_left: np.ndarray  # float64: course end minus as_of, nan = self-paced


def enrolment_rows(as_of: datetime.date, user_ids: Sequence[int] | None) -> EnrolmentRows:
    """Return every enrolment active as of ``as_of``: begun by the end of that (UTC) day and
    neither completed nor withdrawn by then; ``user_ids`` narrows them.

    Three queries (enrolments, lesson counts per course, completed lessons per learner and
    course), whatever the number of learners.
    """
    end = _end_of_day_utc(as_of)
    enrolments = (
        Enrollment.objects.filter(enrolled_at__lt=end)
        .exclude(completed_at__lt=end)
        .exclude(withdrawn_at__lt=end)
    )
    if user_ids is not None:
        enrolments = enrolments.filter(user_id__in=list(user_ids))
    enr = pd.DataFrame.from_records(
        enrolments.order_by("user_id", "course_id").values_list(
            "user_id", "course_id", "enrolled_at", "course__ends_on"
        ),
        columns=["user_id", "course_id", "enrolled_at", "ends_on"],
    )
    n = len(enr)
    if n == 0:
        empty = np.zeros(0)
        return EnrolmentRows(
            np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), empty, empty, empty
        )
    uids = enr["user_id"].to_numpy(dtype=np.int64)
    cids = enr["course_id"].to_numpy(dtype=np.int64)
    enrolled = pd.to_datetime(enr["enrolled_at"], utc=True).dt.normalize()
    age = (pd.Timestamp(as_of, tz="UTC") - enrolled).dt.days.to_numpy(dtype=np.float64)
    ends = pd.to_datetime(enr["ends_on"])
    days_left = (ends - pd.Timestamp(as_of)).dt.days.to_numpy(dtype=np.float64)  # NaT -> nan

    courses = np.unique(cids).tolist()
    lessons = dict(
        Lesson.objects.filter(course_id__in=courses)
        .values("course_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("course_id", "n")
    )
    done = LessonProgress.objects.filter(lesson__course_id__in=courses, completed_at__lt=end)
    if user_ids is not None:
        done = done.filter(user_id__in=list(user_ids))
    done_rows = pd.DataFrame.from_records(
        done.values("user_id", "lesson__course_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("user_id", "lesson__course_id", "n"),
        columns=["user_id", "course_id", "n"],
    )
    completed = np.zeros(n)
    if not done_rows.empty:
        pos = pair_index(
            uids, cids, done_rows["user_id"].to_numpy(), done_rows["course_id"].to_numpy()
        )
        ok = pos >= 0
        completed[pos[ok]] = done_rows["n"].to_numpy(dtype=np.float64)[ok]
    total = pd.Series(cids).map(lessons).fillna(0).to_numpy(dtype=np.float64)
    progress = np.full(n, np.nan)
    has = total > 0
    progress[has] = np.clip(completed[has] / total[has], 0.0, 1.0)
    return EnrolmentRows(uids, cids, age, progress, days_left)


def pair_index(
    users: np.ndarray, courses: np.ndarray, find_users: np.ndarray, find_courses: np.ndarray
) -> np.ndarray:
    """Return the row of each (find_user, find_course) pair among (users, courses), -1 if absent.

    ``users``/``courses`` must be unique pairs; vectorised (a pandas MultiIndex), no loop.
    """
    if len(users) == 0 or len(find_users) == 0:
        return np.full(len(find_users), -1, dtype=np.int64)
    index = pd.MultiIndex.from_arrays([np.asarray(users), np.asarray(courses)])
    wanted = pd.MultiIndex.from_arrays(
        [np.asarray(find_users, dtype=np.int64), np.asarray(find_courses, dtype=np.int64)]
    )
    return index.get_indexer(wanted).astype(np.int64)


def enrolment_withdrawals(
    *, start: datetime.date, end: datetime.date, user_ids: np.ndarray, course_ids: np.ndarray
) -> np.ndarray:
    """Return, per (user, course) row, whether that enrolment was withdrawn between ``start``
    and ``end`` (UTC dates, inclusive). One query."""
    out = np.zeros(len(user_ids), dtype=bool)
    if len(user_ids) == 0:
        return out
    # Few enrolments are withdrawn in a span of days: read those, then match them to the rows.
    rows = np.array(
        Enrollment.objects.filter(
            withdrawn_at__gte=datetime.datetime.combine(start, datetime.time(), datetime.UTC),
            withdrawn_at__lt=_end_of_day_utc(end),
        ).values_list("user_id", "course_id"),
        dtype=np.int64,
    ).reshape(-1, 2)
    pos = pair_index(user_ids, course_ids, rows[:, 0], rows[:, 1])
    out[pos[pos >= 0]] = True
    return out
