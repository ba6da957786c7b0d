"""Cohort signals: where a learner's activity ranks among learners of the same main course."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engagement.scoring.signals.window import ActivityWindow, Columns


def cohort_percentile(values: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """Return each value's mid-rank percentile (0-1) within its cohort; ties share a rank."""
    n = values.shape[0]
    if n == 0:
        return np.zeros(0)
    order = np.lexsort((values, cohort))
    v, c = values[order], cohort[order]
    new_group = np.r_[True, c[1:] != c[:-1]]
    new_tie = new_group | np.r_[True, v[1:] != v[:-1]]
    pos = np.arange(n)
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
    group_id = np.cumsum(new_group) - 1
    group_size = np.bincount(group_id)[group_id]
    tie_start = np.maximum.accumulate(np.where(new_tie, pos, 0))
    tie_id = np.cumsum(new_tie) - 1
    tie_size = np.bincount(tie_id)[tie_id]
    mid_rank = (tie_start - group_start) + (tie_size - 1) / 2.0
    out = np.empty(n)
    out[order] = (mid_rank + 0.5) / group_size
    return out


def cohort_signals(win: ActivityWindow, f: Mapping[str, np.ndarray]) -> Columns:
    """Cohort percentiles of recent events, active days and recency (needs those columns)."""
    cohort = win.activity.cohort.astype(np.int64)
    return {
        "cohort_pct_events_7d": cohort_percentile(f["events_7d"], cohort),
        "cohort_pct_events_28d": cohort_percentile(f["events_28d"], cohort),
        "cohort_pct_active_days_14d": cohort_percentile(f["active_days_14d"], cohort),
        "cohort_pct_recency": cohort_percentile(f["recency_days"], cohort),
    }
