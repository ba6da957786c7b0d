"""Lifecycle signals: the first week after first sight, enrolment age, progress, course end."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engagement.scoring.signals.catalogue import DAYS_LEFT_CAP, LIFETIME_CAP_DAYS, MISSING
from engagement.scoring.signals.window import ActivityWindow, Columns


def lifecycle_signals(win: ActivityWindow, f: Mapping[str, np.ndarray]) -> Columns:
    """Where the learner stands in their own history and in their course."""
    a, n, w, rows = win.activity, win.n, win.w, win.rows
    out: Columns = {}
    since_first = a.days_since_first.astype(np.float64)
    seen = np.isfinite(since_first)
    since_first = np.clip(np.where(seen, since_first, 0.0), 0.0, LIFETIME_CAP_DAYS)
    first_sight = (w - 1 - since_first).astype(np.int64)
    in_window = seen & (first_sight >= 0)
    start = np.clip(first_sight, 0, w)
    stop = np.clip(first_sight + 7, 0, w)
    ev_cum = np.concatenate([np.zeros((n, 1)), np.cumsum(win.ev, axis=1)], axis=1)
    act_cum = np.concatenate([np.zeros((n, 1)), np.cumsum(win.active, axis=1)], axis=1)
    out["first_week_events"] = np.where(
        in_window, ev_cum[rows, stop] - ev_cum[rows, start], MISSING
    )
    out["first_week_active_days"] = np.where(
        in_window, act_cum[rows, stop] - act_cum[rows, start], MISSING
    )
    out["days_since_first"] = since_first
    age = a.enrolment_age.astype(np.float64)
    out["enrolment_age_days"] = np.where(
        np.isfinite(age), np.clip(age, 0.0, LIFETIME_CAP_DAYS), MISSING
    )
    progress = a.progress.astype(np.float64)
    out["progress"] = np.where(np.isfinite(progress), np.clip(progress, 0.0, 1.0), MISSING)
    left = a.course_days_left.astype(np.float64)
    self_paced = ~np.isfinite(left)
    out["course_days_left"] = np.clip(
        np.where(self_paced, DAYS_LEFT_CAP, left), -DAYS_LEFT_CAP, DAYS_LEFT_CAP
    )
    out["is_self_paced"] = self_paced.astype(np.float64)
    out["withdrawn"] = a.withdrawn.astype(np.float64)
    out["never_started"] = (~np.isfinite(a.days_since_last)).astype(np.float64)
    return out
