"""What a differentiating factor says in plain words, and what to do about it.

Pure functions over a factor's figures; the recommendation follows from the signal's family
(what kind of behaviour it measures), with a generic one for the rest.
"""

from __future__ import annotations

import re

from engagement.scoring.signals import SIGNALS
from engagement.scoring.signals.sentences import format_value

_SIGNAL = {s.name: s for s in SIGNALS}
_SENTINEL_NOTE = re.compile(r" \((?:-1|0) if [^)]*\)")

# (signal name prefixes, recommendation): the first family whose prefix matches.
RECOMMENDATIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("video",),
        "Point lagging learners to the lesson videos: link the next video in reminders and "
        "put it at the top of the course page.",
    ),
    (
        ("quiz",),
        "Add short practice quizzes after each lesson and nudge lagging learners to take "
        "them; quick feedback is what stars get more of.",
    ),
    (
        ("lessons_", "lesson_"),
        "Make the next lesson the obvious step: smaller lessons, and a reminder that names "
        "the lesson a learner started but did not finish.",
    ),
    (
        ("social",),
        "Invite lagging learners into the discussions: a study group or a question to answer "
        "in the forum brings them in.",
    ),
    (
        ("assignments",),
        "Give lagging learners an assignment with a near deadline and a reminder two days "
        "before it.",
    ),
    (
        ("live_",),
        "Remind learners of the next live session the day before and an hour before it, and "
        "send the recording to those who missed one.",
    ),
    (
        ("session_",),
        "Suggest focused study blocks: a planned 30-minute session in the learner's best "
        "study hour.",
    ),
    (
        ("first_week",),
        "Strengthen onboarding: a welcome sequence that gets new learners through their "
        "first lessons in the first week.",
    ),
    (
        ("hour_entropy", "weekday_entropy", "top_weekday", "weekend_share"),
        "Help learners keep a fixed study time: reminders at the hour and on the days they "
        "usually study.",
    ),
    (
        ("current_gap", "longest_gap", "mean_gap", "recency", "cohort_pct_recency"),
        "Reach out early: a personal message after three inactive days, before the gap grows.",
    ),
    (
        (
            "active_",
            "events_",
            "sessions_",
            "decayed_",
            "activity_density",
            "current_streak",
            "longest_streak",
            "cohort_pct_",
            "trend_",
            "decline_",
            "max_daily",
            "page_views",
            "downloads",
        ),
        "Encourage a regular rhythm: a weekly study plan, streak reminders and a small goal "
        "for each week.",
    ),
)
GENERIC = (
    "Look at how star performers use the course here and make that path easier for the "
    "lagging ones (a reminder, a shortcut, an example)."
)


def recommendation(signal: str) -> str:
    """What to do about a difference in `signal`: its family's advice, or the generic one."""
    for prefixes, text in RECOMMENDATIONS:
        if signal.startswith(prefixes):
            return text
    return GENERIC


def signal_label(signal: str) -> str:
    """The signal's catalogue description without its sentinel note ("(-1 if none)": the
    means leave the sentinel out); its name when unknown."""
    sig = _SIGNAL.get(signal)
    return _SENTINEL_NOTE.sub("", sig.description) if sig is not None else signal


def value_text(signal: str, value: float) -> str:
    """A mean of `signal` as a person reads it ("3.2 videos watched", "45%", "12 min")."""
    sig = _SIGNAL.get(signal)
    if sig is None:
        return f"{value:.2f}"
    if sig.fmt in ("number", "count", "days", "days_left", "decimal") and not sig.noun[1]:
        if sig.fmt in ("days", "days_left"):
            return format_value(sig, value)
        return f"{value:.2f}" if abs(value) < 1 and value != 0 else f"{value:.1f}"
    return format_value(sig, value)


def factor_sentence(signal: str, star_mean: float, lagging_mean: float) -> str:
    """The difference in plain words: "<signal>: star performers <mean>, lagging ones
    <mean>." (both groups' means)."""
    return (
        f"{signal_label(signal)}: star performers {value_text(signal, star_mean)} on average, "
        f"lagging ones {value_text(signal, lagging_mean)}."
    )
