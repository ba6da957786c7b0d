"""The drop-off label and the training population: who dropped off, who was already gone, and
how much each example counts.

A row is one enrolment at one cut-off date. It *dropped off* when it has no activity in the H
days after the cut-off or was withdrawn in them. It was *already gone* when, at the cut-off,
it had been silent for at least the H days before it (or was withdrawn): its outcome is no
longer a prediction, so it is not an example at that cut-off (it would be an easy positive
that flatters every validation figure). An enrolment that never started counts as an example
for its first NEVER_STARTED_EXAMPLE_DAYS: the model must learn how risky a weeks-old
enrolment without a single event is.
"""

from __future__ import annotations

import numpy as np

DEFAULT_HORIZON_DAYS = 10
NEVER_STARTED_EXAMPLE_DAYS = 28
# Each course's examples weigh n_enrolments ** COURSE_WEIGHT_POWER in all: between counting
# every enrolment alike (1.0, the biggest course dominates) and every course alike (0.0, a
# course of ten learners counts as much as one of four thousand).
COURSE_WEIGHT_POWER = 0.5


def dropped_off(daily_total_after: np.ndarray, withdrawn_within: np.ndarray) -> np.ndarray:
    """Return 1 for rows with no event in the horizon after the cut-off or withdrawn in it.

    ``daily_total_after`` is (n, H): all events per day in the H days after the cut-off;
    ``withdrawn_within`` is (n,) bool: the enrolment was withdrawn within those H days.
    """
    daily_total_after = np.asarray(daily_total_after)
    if daily_total_after.ndim != 2:
        raise ValueError("daily_total_after must be (n_rows, horizon_days)")
    silent = ~(daily_total_after > 0).any(axis=1)
    return (silent | np.asarray(withdrawn_within, dtype=bool)).astype(np.int8)


def already_gone(
    *,
    days_since_last: np.ndarray,
    enrolment_age: np.ndarray,
    withdrawn: np.ndarray,
    horizon_days: int,
) -> np.ndarray:
    """Return True for rows that had dropped off by the cut-off (not examples there).

    ``days_since_last`` is inf for an enrolment never started; that one is gone once it is
    older than NEVER_STARTED_EXAMPLE_DAYS (an unknown age counts as new).
    """
    since = np.asarray(days_since_last, dtype=np.float64)
    age = np.asarray(enrolment_age, dtype=np.float64)
    started = np.isfinite(since)
    silent = started & (since >= horizon_days)
    stale = ~started & np.isfinite(age) & (age > NEVER_STARTED_EXAMPLE_DAYS)
    return silent | stale | np.asarray(withdrawn, dtype=bool)


def example_weights(user_ids: np.ndarray, course_ids: np.ndarray) -> np.ndarray:
    """Return a weight per example so neither long histories nor big courses dominate.

    Rows are (user, course) examples, an enrolment appearing once per cut-off it was an
    example at. Each enrolment's examples share a weight of 1 (a learner seen at 19 weekly
    cut-offs counts as much as one seen at 2); each course's total is then
    n_enrolments ** COURSE_WEIGHT_POWER; the weights are scaled to a mean of 1 so that
    regularisation strengths mean the same whatever the data.
    """
    users = np.asarray(user_ids, dtype=np.int64)
    courses = np.asarray(course_ids, dtype=np.int64)
    n = len(users)
    if n == 0:
        return np.zeros(0)
    pairs = np.stack([users, courses], axis=1)
    _, pair_id, per_pair = np.unique(pairs, axis=0, return_inverse=True, return_counts=True)
    pair_id = pair_id.ravel()
    w = 1.0 / per_pair[pair_id]
    uniq_courses, course_id = np.unique(courses, return_inverse=True)
    course_id = course_id.ravel()
    # Enrolments per course: the number of distinct pairs of that course.
    pair_course = np.zeros(len(per_pair), dtype=np.int64)
    pair_course[pair_id] = course_id
    enrolments = np.bincount(pair_course, minlength=len(uniq_courses)).astype(np.float64)
    w = w * (enrolments ** (COURSE_WEIGHT_POWER - 1.0))[course_id]
    return w * (n / w.sum())
