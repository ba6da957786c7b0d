"""The drop-off label: what "this learner dropped off" means for training and evaluation."""

from __future__ import annotations

import numpy as np

DEFAULT_HORIZON_DAYS = 10


def dropped_off(daily_total_after: np.ndarray, withdrawn_within: np.ndarray) -> np.ndarray:
    """Return 1 for learners with no event in the horizon after the cut-off or who withdrew in it.

    ``daily_total_after`` is (n, H): all events per day in the H days after the cut-off;
    ``withdrawn_within`` is (n,) bool: withdrew from every enrolment within those H days.
    """
    daily_total_after = np.asarray(daily_total_after)
    if daily_total_after.ndim != 2:
        raise ValueError("daily_total_after must be (n_learners, horizon_days)")
    silent = ~(daily_total_after > 0).any(axis=1)
    return (silent | np.asarray(withdrawn_within, dtype=bool)).astype(np.int8)
