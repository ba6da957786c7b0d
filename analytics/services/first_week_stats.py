"""The numbers of the first-week analysis, without Django: a learner's first-week signals from
their events, the weak-first-week test, the outcome differences with intervals, and the plain
words and recommendation drawn from the comparisons (`analytics.services.significance`).

A first week is the first `first_days` (7) local days of an enrolment: the learner-local day
of enrolling and the following ones. Its events are the learner's activity events in the
course and those that name no course, as engagement's `weak_first_week` alert rule counts them.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from analytics.services.significance import Comparison, Proportion

# Signals of a first week: name -> (what is counted, the event types counted). The first
# three are special (computed from the days, not counted by type).
ACTIVE_DAYS = "active_days"
DAYS_TO_FIRST = "days_to_first_activity"
EVENTS = "events"
COUNTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "lessons_started": ("lessons started", ("lesson_started",)),
    "lessons_completed": ("lessons completed", ("lesson_completed",)),
    "videos_watched": ("video progress updates", ("video_progress",)),
    "quizzes_submitted": ("quizzes submitted", ("quiz_submitted",)),
    "quizzes_passed": ("quizzes passed", ("quiz_passed",)),
    "assignments_submitted": ("assignments submitted", ("assignment_submitted",)),
    "discussion_posts": ("forum posts and replies", ("discussion_post", "discussion_reply")),
    "live_sessions_attended": ("live sessions attended", ("live_session_attended",)),
    "sessions": ("study sessions", ("session_start",)),
}
LABELS: dict[str, str] = {
    ACTIVE_DAYS: "active days",
    EVENTS: "learning events",
    DAYS_TO_FIRST: "days from enrolling to the first activity",
    **{name: label for name, (label, _) in COUNTED.items()},
}
# The signals compared between the groups. Active days are the definition itself: that weak
# weeks have fewer of them is true by construction, not a finding.
COMPARED: tuple[str, ...] = (EVENTS, DAYS_TO_FIRST, *COUNTED)

# What to do when the learners with a good first week do more of a signal than the weak ones
# (for DAYS_TO_FIRST: when the weak ones start later).
ADVICE: dict[str, str] = {
    EVENTS: "Give newcomers a concrete plan for their first week (what to do on days 1, 3 "
    "and 5) so that each visit has something to finish.",
    DAYS_TO_FIRST: "Reach learners the day after they enrol if they have not started yet: "
    "the later the first activity, the weaker the first week.",
    "lessons_started": "Link the first lesson from the welcome message and the course page, "
    "so that starting takes one click.",
    "lessons_completed": "Make the first lesson short enough to finish on day one, and nudge "
    "learners who have not completed a lesson within two days of enrolling.",
    "videos_watched": "Open the course with a short video and send it to newcomers who have "
    "not watched anything after two days.",
    "quizzes_submitted": "Put a short, low-stakes quiz in the first lessons and invite "
    "newcomers to take it in their first days.",
    "quizzes_passed": "Put an easy quiz early in the course and invite newcomers to pass it in "
    "their first days: passing one in week one goes with staying.",
    "assignments_submitted": "Set a small first assignment due in the first week, with a "
    "reminder on day four.",
    "discussion_posts": "Ask newcomers to introduce themselves in the forum in their first "
    "days, and have the instructor answer.",
    "live_sessions_attended": "Invite every new learner to a live session in their first week "
    "and send a reminder the day before.",
    "sessions": "Suggest a fixed study time to newcomers and remind them at it during their "
    "first week.",
}
DEFAULT_ADVICE = (
    "Contact learners as soon as their first week looks weak (the weak first week alert rule "
    "flags them 7 to 14 days after enrolling) with a personal message and one concrete next "
    "step, and keep the course's first lesson short."
)


@dataclass(frozen=True)
class FirstWeekEvent:
    """One activity event of the enrolment's learner, as the analysis needs it."""

    local_day: datetime.date
    type: str


def first_week_signals(
    *, start: datetime.date, events: Iterable[FirstWeekEvent], first_days: int
) -> dict[str, float]:
    """The signals of one first week: the local days `start` .. `start + first_days - 1`;
    events outside them are ignored. DAYS_TO_FIRST is `first_days` without any activity."""
    end = start + datetime.timedelta(days=first_days - 1)
    counts = dict.fromkeys(COUNTED, 0.0)
    by_type = {t: name for name, (_, types) in COUNTED.items() for t in types}
    days: set[datetime.date] = set()
    total = 0
    for event in events:
        if not start <= event.local_day <= end:
            continue
        days.add(event.local_day)
        total += 1
        name = by_type.get(event.type)
        if name is not None:
            counts[name] += 1
    first = min(days) if days else None
    return {
        ACTIVE_DAYS: float(len(days)),
        EVENTS: float(total),
        DAYS_TO_FIRST: float((first - start).days if first else first_days),
        **counts,
    }


def is_weak(signals: dict[str, float], *, min_active_days: int) -> bool:
    """A weak first week: active on fewer than `min_active_days` of its days."""
    return signals[ACTIVE_DAYS] < min_active_days


@dataclass(frozen=True)
class Difference:
    """Group A's rate minus group B's, with Newcombe's 95% interval (from the two Wilson
    intervals, his method 10)."""

    value: float
    low: float
    high: float


def rate_difference(a: Proportion, b: Proportion) -> Difference:
    """A's rate minus B's with its interval; with an empty group the interval spans -1..1."""
    if not a.total or not b.total:
        return Difference(a.rate - b.rate, -1.0, 1.0)
    diff = a.rate - b.rate
    low = diff - math.sqrt((a.rate - a.low) ** 2 + (b.high - b.rate) ** 2)
    high = diff + math.sqrt((a.high - a.rate) ** 2 + (b.rate - b.low) ** 2)
    return Difference(diff, max(-1.0, low), min(1.0, high))


def _number(value: float) -> str:
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def factor_text(c: Comparison) -> str:
    """One comparison (A: the weak first weeks, B: the rest) in plain words."""
    label = LABELS.get(c.signal, c.signal.replace("_", " "))
    if c.signal == DAYS_TO_FIRST:
        head = (
            f"Learners with a weak first week took {_number(c.mean_a)} days on average to "
            f"start, the others {_number(c.mean_b)}"
        )
    else:
        head = (
            f"In their first week, learners with a weak start had {_number(c.mean_a)} "
            f"{label} on average, the others {_number(c.mean_b)}"
        )
    d = f"{abs(c.cohen_d):.2f}" if math.isfinite(c.cohen_d) else "∞"
    interval = ""
    if math.isfinite(c.d_low) and math.isfinite(c.d_high) and c.d_low != c.d_high:
        # The size of the difference, whichever group is ahead (`head` says which).
        low, high = sorted((c.d_low, c.d_high) if c.cohen_d >= 0 else (-c.d_high, -c.d_low))
        interval = f", 95% CI {low:.2f} to {high:.2f}"
    return (
        f"{head}: a {c.effect_size} difference (Cohen's d = {d}{interval}; "
        f"Holm-corrected {_p(c.p_value_holm)})."
    )


def recommendation(factors: Sequence[Comparison]) -> str:
    """What to do, from the strongest separating signals (`factors`: the significant ones,
    largest |d| first): the advice of the first two pointing the expected way (the weak
    doing less, or starting later), else DEFAULT_ADVICE."""
    chosen = []
    for c in factors:
        expected = c.mean_a > c.mean_b if c.signal == DAYS_TO_FIRST else c.mean_a < c.mean_b
        if expected and c.signal in ADVICE:
            chosen.append(ADVICE[c.signal])
        if len(chosen) == 2:
            break
    return " ".join(chosen) if chosen else DEFAULT_ADVICE
