"""Regularity signals: the weekly trend, gaps and streaks of active days, and time of day."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engagement.scoring.signals.catalogue import RATE_SMOOTHING, TREND_SMOOTHING
from engagement.scoring.signals.window import ActivityWindow, Columns, ratio


def trailing_run(mask: np.ndarray) -> np.ndarray:
    """Return the number of consecutive True values at the end of each row."""
    rev = mask[:, ::-1]
    first_false = np.argmax(~rev, axis=1)
    return np.where(rev.all(axis=1), mask.shape[1], first_false).astype(np.float64)


def longest_run(mask: np.ndarray) -> np.ndarray:
    """Return the longest run of consecutive True values in each row."""
    if mask.shape[1] == 0:
        return np.zeros(mask.shape[0])
    csum = np.cumsum(mask, axis=1)
    # At each position, the cumulative count as of the most recent False resets the run.
    reset = np.maximum.accumulate(np.where(~mask, csum, 0), axis=1)
    return (csum - reset).max(axis=1).astype(np.float64)


def normalised_entropy(counts: np.ndarray) -> np.ndarray:
    """Return row-wise Shannon entropy of ``counts`` divided by log(#columns); 0 for empty rows."""
    total = counts.sum(axis=1, keepdims=True)
    p = ratio(counts, np.broadcast_to(total, counts.shape), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=1) / np.log(counts.shape[1])


def trend_signals(win: ActivityWindow, f: Mapping[str, np.ndarray]) -> Columns:
    """Last week against the three before it, the 4-week slope, and the 3-day decline."""
    n, w, ev, active = win.n, win.w, win.ev, win.active
    out: Columns = {}
    weekly = ev[:, w - 28 :].reshape(n, 4, 7).sum(axis=2)  # oldest -> latest week
    weekly_active = active[:, w - 28 :].reshape(n, 4, 7).sum(axis=2).astype(np.float64)
    out["trend_ratio_7v21"] = (weekly[:, 3] + TREND_SMOOTHING) / (
        weekly[:, :3].mean(axis=1) + TREND_SMOOTHING
    )
    out["trend_slope_4w"] = weekly @ np.array([-1.5, -0.5, 0.5, 1.5]) / 5.0
    out["active_days_trend_7v21"] = weekly_active[:, 3] - weekly_active[:, :3].mean(axis=1)
    out["decline_ratio_3v11"] = (win.last(ev, 3) / 3.0 + RATE_SMOOTHING) / (
        (win.last(ev, 14) - win.last(ev, 3)) / 11.0 + RATE_SMOOTHING
    )
    out["active_weeks_4w"] = (weekly_active > 0).sum(axis=1).astype(np.float64)
    return out


def gap_signals(win: ActivityWindow, f: Mapping[str, np.ndarray]) -> Columns:
    """Gaps between active days and streaks of them (needs ``active_days_window``)."""
    w, active = win.w, win.active
    first_idx, last_idx = win.first_idx, win.last_idx
    out: Columns = {}
    after_first = win.day[None, :] > first_idx[:, None]
    out["longest_gap_days"] = np.where(win.any_active, longest_run(~active & after_first), w)
    out["current_gap_days"] = win.window_gap
    n_active = f["active_days_window"]
    out["mean_gap_days"] = np.where(
        n_active >= 2, (last_idx - first_idx) / np.maximum(n_active - 1, 1), w
    )
    out["current_streak_days"] = trailing_run(active)
    out["longest_streak_days"] = longest_run(active)
    return out


def time_of_day_signals(win: ActivityWindow, f: Mapping[str, np.ndarray]) -> Columns:
    """Spread of activity over local hours and weekdays (needs ``events_28d``)."""
    a, w = win.activity, win.w
    out: Columns = {}
    out["hour_entropy"] = normalised_entropy(a.hour_hist.astype(np.float64))
    weekday = (a.as_of.weekday() - win.days_ago[w - 28 :].astype(np.int64)) % 7
    by_weekday = win.ev[:, w - 28 :] @ np.eye(7)[weekday]
    events_28 = f["events_28d"]
    out["weekday_entropy_28d"] = normalised_entropy(by_weekday)
    out["top_weekday_share_28d"] = ratio(by_weekday.max(axis=1), events_28, 0.0)
    out["weekend_share_28d"] = ratio(by_weekday[:, 5:].sum(axis=1), events_28, 0.0)
    return out
