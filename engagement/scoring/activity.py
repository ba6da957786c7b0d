"""The learner-activity tensor that every scoring step consumes: one row per active enrolment.

The Django side fills it from one SQL aggregation of events grouped by learner, course,
learner-local date and kind; nothing here knows where the numbers came from.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

KINDS: tuple[str, ...] = (
    "events",
    "sessions",
    "page_views",
    "lessons_started",
    "lessons_completed",
    "video",
    "quizzes",
    "quizzes_passed",
    "assignments",
    "social",
    "downloads",
    "live_attended",
    "live_missed",
    "purchases",
)
KIND_INDEX: dict[str, int] = {kind: i for i, kind in enumerate(KINDS)}

DEFAULT_WINDOW_DAYS = 56
MIN_WINDOW_DAYS = 28


@dataclass(frozen=True)
class LearnerActivity:
    """Daily activity per enrolment (learner x course) over W days ending on ``as_of`` (inclusive).

    Row i is learner ``user_ids[i]`` in course ``course_ids[i]``; rows are sorted by (user,
    course). Day index ``W - 1`` is ``as_of``; day index 0 is ``as_of - (W - 1)`` days.
    ``daily[..., 0]`` ("events") counts every event, including custom ``x-*`` types, so it is
    the activity indicator; the other kinds are subsets of it.

    Course-specific arrays (daily counts, quality sums, first/last sight) hold the events of
    the row's course plus the learner's events that name no course (a login, a session: signs
    of life that belong to every enrolment). ``hour_hist`` is about the learner, not the
    course (their study rhythm): all their activity, repeated on each of their rows. A row
    with ``days_since_last`` = inf has no activity at all: a never-started enrolment.
    """

    as_of: datetime.date
    user_ids: np.ndarray  # int64 (n,)
    course_ids: np.ndarray  # int64 (n,)
    daily: np.ndarray  # float32 (n, W, len(KINDS))
    hour_hist: np.ndarray  # float32 (n, 24), learner-local hour
    quiz_score_sum: np.ndarray  # float32 (n, W), sum of score / max_score
    quiz_score_n: np.ndarray  # float32 (n, W), scored quizzes
    video_pct_sum: np.ndarray  # float32 (n, W), sum of video progress (0-1)
    session_seconds: np.ndarray  # float32 (n, W), 0 if unknown
    days_since_first: np.ndarray  # float32 (n,), may exceed W
    days_since_last: np.ndarray  # float32 (n,), may exceed W; inf if never active
    enrolment_age: np.ndarray  # float32 (n,), days since this enrolment began
    progress: np.ndarray  # float32 (n,), 0..1 of this course's lessons, nan if it has none
    course_days_left: np.ndarray  # float32 (n,), nan for self-paced
    withdrawn: np.ndarray  # bool (n,), False for an active enrolment
    cohort: np.ndarray  # int64 (n,), the course: rows are compared within it

    def __post_init__(self) -> None:
        n, w, k = self.daily.shape
        if k != len(KINDS):
            raise ValueError(f"daily has {k} kinds, expected {len(KINDS)}")
        if w < MIN_WINDOW_DAYS:
            raise ValueError(f"window of {w} days is shorter than {MIN_WINDOW_DAYS}")
        shapes = {
            "user_ids": (n,),
            "course_ids": (n,),
            "hour_hist": (n, 24),
            "quiz_score_sum": (n, w),
            "quiz_score_n": (n, w),
            "video_pct_sum": (n, w),
            "session_seconds": (n, w),
            "days_since_first": (n,),
            "days_since_last": (n,),
            "enrolment_age": (n,),
            "progress": (n,),
            "course_days_left": (n,),
            "withdrawn": (n,),
            "cohort": (n,),
        }
        for name, shape in shapes.items():
            actual = getattr(self, name).shape
            if actual != shape:
                raise ValueError(f"{name} has shape {actual}, expected {shape}")

    @property
    def n_learners(self) -> int:
        """Number of rows (enrolments; the name predates scores per enrolment)."""
        return int(self.daily.shape[0])

    @property
    def window_days(self) -> int:
        """Window length W in days."""
        return int(self.daily.shape[1])

    @property
    def never_started(self) -> np.ndarray:
        """bool (n,): rows with no activity at all on or before ``as_of``."""
        return ~np.isfinite(self.days_since_last)

    @classmethod
    def empty(
        cls, n: int, *, as_of: datetime.date, window_days: int = DEFAULT_WINDOW_DAYS
    ) -> LearnerActivity:
        """Return an all-zero activity block for ``n`` never-active rows (a builder's start).

        ``user_ids`` are 0..n-1 and ``course_ids`` 0 until the builder sets them.
        """
        w = window_days
        f32 = np.float32
        return cls(
            as_of=as_of,
            user_ids=np.arange(n, dtype=np.int64),
            course_ids=np.zeros(n, dtype=np.int64),
            daily=np.zeros((n, w, len(KINDS)), dtype=f32),
            hour_hist=np.zeros((n, 24), dtype=f32),
            quiz_score_sum=np.zeros((n, w), dtype=f32),
            quiz_score_n=np.zeros((n, w), dtype=f32),
            video_pct_sum=np.zeros((n, w), dtype=f32),
            session_seconds=np.zeros((n, w), dtype=f32),
            days_since_first=np.full(n, np.inf, dtype=f32),
            days_since_last=np.full(n, np.inf, dtype=f32),
            enrolment_age=np.full(n, np.nan, dtype=f32),
            progress=np.full(n, np.nan, dtype=f32),
            course_days_left=np.full(n, np.nan, dtype=f32),
            withdrawn=np.zeros(n, dtype=bool),
            cohort=np.zeros(n, dtype=np.int64),
        )
