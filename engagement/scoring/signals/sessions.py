"""Session and lesson signals: time spent per session, lesson velocity and completion."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engagement.scoring.activity import KIND_INDEX
from engagement.scoring.signals.catalogue import MISSING
from engagement.scoring.signals.window import ActivityWindow, Columns, ratio


def sorted_median(values: np.ndarray, valid: np.ndarray, default: float) -> np.ndarray:
    """Return the row-wise median of ``values`` over ``valid`` cells, ``default`` if none."""
    k = valid.sum(axis=1)
    srt = np.sort(np.where(valid, values, np.inf), axis=1)
    lo = np.clip((k - 1) // 2, 0, None)[:, None]
    hi = np.clip(k // 2, 0, srt.shape[1] - 1)[:, None]
    med = (np.take_along_axis(srt, lo, 1) + np.take_along_axis(srt, hi, 1))[:, 0] / 2.0
    return np.where(k > 0, med, default)


def session_signals(win: ActivityWindow, f: Mapping[str, np.ndarray]) -> Columns:
    """Session time over 7 and 28 days, mean and median length (needs ``sessions_28d``)."""
    w = win.w
    out: Columns = {}
    secs = win.activity.session_seconds.astype(np.float64, copy=False)
    sessions_daily = win.daily[:, w - 28 :, KIND_INDEX["sessions"]]
    out["session_seconds_7d"] = win.last(secs, 7)
    out["session_seconds_28d"] = win.last(secs, 28)
    out["session_mean_seconds_28d"] = ratio(out["session_seconds_28d"], f["sessions_28d"], 0.0)
    per_day_mean = ratio(secs[:, w - 28 :], sessions_daily, 0.0)
    out["session_median_seconds_28d"] = sorted_median(per_day_mean, sessions_daily > 0, 0.0)
    return out


def lesson_signals(win: ActivityWindow, f: Mapping[str, np.ndarray]) -> Columns:
    """Lessons completed per active week and completed / started (needs the lesson counts)."""
    out: Columns = {}
    out["lesson_velocity_4w"] = f["lessons_completed_28d"] / np.maximum(f["active_weeks_4w"], 1.0)
    lesson_den = np.maximum(f["lessons_started_28d"], f["lessons_completed_28d"])
    out["lesson_completion_ratio_28d"] = ratio(f["lessons_completed_28d"], lesson_den, MISSING)
    return out
