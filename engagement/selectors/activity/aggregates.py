"""What the database hands back for the activity tensor, whichever vendor computed it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engagement.catalogue import EVENT_TYPES, KIND_OF_TYPE

# Types whose properties feed the quality sums, found from the catalogue's property schema so a
# new type with the same properties is picked up without touching this module.
QUIZ_TYPES: tuple[str, ...] = tuple(
    t for t, et in EVENT_TYPES.items() if {"score", "max_score"} <= set(et.by_name)
)
VIDEO_TYPES: tuple[str, ...] = tuple(
    t for t, et in EVENT_TYPES.items() if "percent" in et.by_name and KIND_OF_TYPE.get(t) == "video"
)
SESSION_END_TYPE = "session_end"  # its duration_seconds is the session length
NO_COURSE = 0  # the course id of rows from events that name no course (ids start at 1)


@dataclass(frozen=True)
class ActivityAggregates:
    """Rows per learner and course from the database, before they are scattered into the tensor.

    Course columns hold NO_COURSE for events that name no course. The hour rows are per
    learner only: study rhythm is not course-specific.
    """

    # (user, course) pairs with activity before the window (PostgreSQL) or on or before as_of
    # (SQLite): the builder takes the earliest and latest of these and of the day rows.
    life_user: np.ndarray
    life_course: np.ndarray
    life_first: np.ndarray  # local date of their first activity, days before as_of
    life_last: np.ndarray  # local date of their last activity, days before as_of
    day_user: np.ndarray  # (user, course, day) rows inside the window
    day_course: np.ndarray
    day_index: np.ndarray  # 0 = window start
    day_counts: np.ndarray  # (rows, len(KINDS))
    day_quiz_sum: np.ndarray
    day_quiz_n: np.ndarray
    day_video_sum: np.ndarray
    day_session_seconds: np.ndarray
    hour_user: np.ndarray  # (user, local hour) rows inside the window, every course
    hour: np.ndarray
    hour_count: np.ndarray
