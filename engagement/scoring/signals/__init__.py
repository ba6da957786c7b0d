"""The signal catalogue and its vectorised computation from a LearnerActivity block.

Every signal is finite for every learner, including a learner with no activity at all: where a
quantity is undefined (no quiz taken, first sight before the window) the catalogue documents the
sentinel used instead, so models see a consistent value and can learn what "missing" means.

``catalogue`` names and documents the 77 signals (with their known direction and the sentence
a person reads for each); ``sentences`` words a signal's value; ``window`` holds the shared
per-day arrays and the volume signals; ``regularity``, ``sessions``, ``assessments``,
``lifecycle`` and ``cohort`` compute one family each; ``compute`` assembles the matrix. Callers
import from here.
"""

from engagement.scoring.signals.catalogue import (
    DAYS_LEFT_CAP,
    LIFETIME_CAP_DAYS,
    MISSING,
    RATE_SMOOTHING,
    RECENCY_CAP_DAYS,
    SIGNAL_DIRECTIONS,
    SIGNAL_INDEX,
    SIGNAL_NAMES,
    SIGNALS,
    TREND_SMOOTHING,
    Signal,
)
from engagement.scoring.signals.compute import compute_signals
from engagement.scoring.signals.sentences import COURSE_SCOPE, MODEL_SCOPE, signal_sentence

__all__ = [
    "COURSE_SCOPE",
    "DAYS_LEFT_CAP",
    "LIFETIME_CAP_DAYS",
    "MISSING",
    "MODEL_SCOPE",
    "RATE_SMOOTHING",
    "RECENCY_CAP_DAYS",
    "SIGNALS",
    "SIGNAL_DIRECTIONS",
    "SIGNAL_INDEX",
    "SIGNAL_NAMES",
    "TREND_SMOOTHING",
    "Signal",
    "compute_signals",
    "signal_sentence",
]
