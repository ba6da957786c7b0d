"""The window every signal family reads, and the volume signals: recency, counts, intensity.

``ActivityWindow`` derives, once per LearnerActivity, the arrays that several families need
(events per day, the active-day mask, first and last active day); each family then adds its
columns from it and from the columns computed before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from engagement.scoring.activity import KIND_INDEX, LearnerActivity
from engagement.scoring.signals.catalogue import (
    MAIN_KINDS,
    MINOR_KINDS,
    RECENCY_CAP_DAYS,
    SPECIFIC_KINDS,
)

Columns = dict[str, np.ndarray]


def ratio(num: np.ndarray, den: np.ndarray, default: float) -> np.ndarray:
    """Return num / den where den > 0, else ``default``."""
    out = np.full(np.broadcast(num, den).shape, default, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


@dataclass(frozen=True)
class ActivityWindow:
    """A LearnerActivity block with the per-day arrays the signal families share.

    Day index ``w - 1`` is the as-of day. ``first_idx`` is ``w`` and ``last_idx`` is -1 for a
    learner with no active day in the window.
    """

    activity: LearnerActivity
    n: int
    w: int
    daily: np.ndarray  # float64 (n, w, kinds)
    ev: np.ndarray  # float64 (n, w): all events per day
    active: np.ndarray  # bool (n, w): any event that day
    day: np.ndarray  # day indices 0..w-1
    days_ago: np.ndarray  # float64 (w,): w-1..0
    rows: np.ndarray  # learner row indices 0..n-1
    any_active: np.ndarray  # bool (n,)
    first_idx: np.ndarray  # first active day index
    last_idx: np.ndarray  # last active day index
    window_gap: np.ndarray  # float64 (n,): inactive days at the end (w if never active)

    @classmethod
    def of(cls, activity: LearnerActivity) -> ActivityWindow:
        """Return the window of ``activity`` with its shared arrays computed."""
        n, w = activity.n_learners, activity.window_days
        daily = activity.daily.astype(np.float64, copy=False)
        ev = daily[:, :, KIND_INDEX["events"]]
        active = ev > 0
        day = np.arange(w)
        any_active = active.any(axis=1)
        last_idx = np.where(any_active, w - 1 - np.argmax(active[:, ::-1], axis=1), -1)
        return cls(
            activity=activity,
            n=n,
            w=w,
            daily=daily,
            ev=ev,
            active=active,
            day=day,
            days_ago=(w - 1 - day).astype(np.float64),
            rows=np.arange(n),
            any_active=any_active,
            first_idx=np.where(any_active, np.argmax(active, axis=1), w),
            last_idx=last_idx,
            window_gap=np.where(any_active, w - 1 - last_idx, w).astype(np.float64),
        )

    def kind(self, name: str, days: int) -> np.ndarray:
        """Return each learner's count of kind ``name`` over the last ``days`` days."""
        return self.daily[:, self.w - days :, KIND_INDEX[name]].sum(axis=1)

    def last(self, x: np.ndarray, days: int) -> np.ndarray:
        """Return the row sums of per-day array ``x`` over its last ``days`` days."""
        return x[:, self.w - days :].sum(axis=1)


def volume_signals(win: ActivityWindow, f: Mapping[str, np.ndarray]) -> Columns:
    """Recency, active days and events per window, and the per-kind counts."""
    a = win.activity
    out: Columns = {}
    since_last = a.days_since_last.astype(np.float64)
    # An enrolment never started has had no activity since it began: its silence is its age,
    # so a three-week-old one reads (and scores) like three weeks without activity.
    age = a.enrolment_age.astype(np.float64)
    silent_since = np.where(np.isfinite(age) & (age >= 0), age, RECENCY_CAP_DAYS)
    since_last = np.where(np.isfinite(since_last), since_last, silent_since)
    # The window is ground truth for recent days even if the lifetime field lags behind.
    since_last = np.where(win.any_active, np.minimum(since_last, win.window_gap), since_last)
    out["recency_days"] = np.clip(since_last, 0.0, RECENCY_CAP_DAYS)
    for d in (3, 7, 14, 28):
        out[f"active_days_{d}d"] = win.last(win.active, d).astype(np.float64)
    for d in (3, 7, 14, 28):
        out[f"events_{d}d"] = win.last(win.ev, d)
    out["active_days_window"] = win.active.sum(axis=1).astype(np.float64)
    out["events_window"] = win.ev.sum(axis=1)
    for k in MAIN_KINDS:
        for d in (7, 28):
            out[f"{k}_{d}d"] = win.kind(k, d)
    for k in MINOR_KINDS:
        out[f"{k}_28d"] = win.kind(k, 28)
    return out


def intensity_signals(win: ActivityWindow, f: Mapping[str, np.ndarray]) -> Columns:
    """Density of active days, events per active day, custom share and time-decayed volume.

    Needs ``days_since_first``, ``active_days_28d`` and ``events_28d``.
    """
    n, w, ev = win.n, win.w, win.ev
    out: Columns = {}
    events_28 = f["events_28d"]
    out["activity_density_28d"] = f["active_days_28d"] / np.minimum(
        28.0, f["days_since_first"] + 1.0
    )
    out["activity_density_28d"] = np.clip(out["activity_density_28d"], 0.0, 1.0)
    out["events_per_active_day_28d"] = ratio(events_28, f["active_days_28d"], 0.0)
    out["max_daily_events_28d"] = ev[:, w - 28 :].max(axis=1) if n else np.zeros(0)
    specific = sum(win.kind(k, 28) for k in SPECIFIC_KINDS)
    out["custom_share_28d"] = np.clip(ratio(events_28 - specific, events_28, 0.0), 0.0, 1.0)
    out["decayed_events_hl3"] = ev @ (0.5 ** (win.days_ago / 3.0))
    out["decayed_active_days_hl7"] = win.active @ (0.5 ** (win.days_ago / 7.0))
    return out
