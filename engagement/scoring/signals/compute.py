"""The signal matrix: every family's columns for a LearnerActivity block, in catalogue order."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from engagement.scoring.activity import LearnerActivity
from engagement.scoring.signals.assessments import media_signals, quiz_signals
from engagement.scoring.signals.catalogue import SIGNAL_NAMES, SIGNALS
from engagement.scoring.signals.cohort import cohort_signals
from engagement.scoring.signals.lifecycle import lifecycle_signals
from engagement.scoring.signals.regularity import gap_signals, time_of_day_signals, trend_signals
from engagement.scoring.signals.sessions import lesson_signals, session_signals
from engagement.scoring.signals.window import (
    ActivityWindow,
    Columns,
    intensity_signals,
    volume_signals,
)

SignalFamily = Callable[[ActivityWindow, Mapping[str, np.ndarray]], Columns]

# Each family may read the columns of the families before it (e.g. lesson velocity divides
# lessons_completed_28d by active_weeks_4w), so the order matters.
SIGNAL_FAMILIES: tuple[SignalFamily, ...] = (
    volume_signals,
    trend_signals,
    gap_signals,
    session_signals,
    lesson_signals,
    quiz_signals,
    media_signals,
    time_of_day_signals,
    lifecycle_signals,
    intensity_signals,
    cohort_signals,
)


def compute_signals(activity: LearnerActivity) -> np.ndarray:
    """Return the (n_learners, n_signals) float64 matrix of SIGNALS, all finite, in order."""
    win = ActivityWindow.of(activity)
    f: Columns = {}
    for family in SIGNAL_FAMILIES:
        f.update(family(win, f))
    if set(f) != set(SIGNAL_NAMES):
        raise RuntimeError(
            f"signal computation and catalogue disagree: {set(f) ^ set(SIGNAL_NAMES)}"
        )
    out = np.empty((win.n, len(SIGNALS)), dtype=np.float64)
    for j, name in enumerate(SIGNAL_NAMES):
        out[:, j] = f[name]
    return out
