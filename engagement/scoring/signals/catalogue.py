"""The catalogue of the risk model's signals: 76 named, documented feature columns.

Every signal is finite for every learner, including a learner with no activity at all: where a
quantity is undefined (no quiz taken, first sight before the window) the description names the
sentinel used instead, so models see a consistent value and can learn what "missing" means.
The order of ``SIGNALS`` is the column order of the signal matrix and of stored models.
"""

from __future__ import annotations

from dataclasses import dataclass

RECENCY_CAP_DAYS = 365.0  # a learner never seen, or gone for longer, counts as gone for a year
LIFETIME_CAP_DAYS = 3650.0
DAYS_LEFT_CAP = 365.0  # self-paced courses count as ending a year from now
MISSING = -1.0  # sentinel for ratios and scores that are undefined (no quiz, no video, ...)
TREND_SMOOTHING = 1.0  # events added to both sides of a ratio so 0 -> 1 event is not infinite
RATE_SMOOTHING = 0.5  # events per day, for the short-window decline ratio


@dataclass(frozen=True)
class Signal:
    """One named, documented feature column of the risk model."""

    name: str
    description: str
    window_days: int | None  # None = not windowed (lifetime or a static attribute)
    unit: str


# Kinds counted over the last 7 and 28 days (a column each); the minor ones over 28 days only.
MAIN_KINDS: tuple[str, ...] = (
    "sessions",
    "page_views",
    "lessons_completed",
    "video",
    "quizzes",
    "assignments",
    "social",
)
MINOR_KINDS: tuple[str, ...] = (
    "lessons_started",
    "quizzes_passed",
    "downloads",
    "live_attended",
    "live_missed",
    "purchases",
)
# Kinds that are specific product events; "events" minus these is custom/generic activity.
# quizzes_passed and live_missed are excluded: the first is a subset of quizzes, the second is
# recorded for the learner rather than done by them.
SPECIFIC_KINDS: tuple[str, ...] = (
    "sessions",
    "page_views",
    "lessons_started",
    "lessons_completed",
    "video",
    "quizzes",
    "assignments",
    "social",
    "downloads",
    "live_attended",
    "purchases",
)


def _catalogue() -> tuple[Signal, ...]:
    s: list[Signal] = [
        Signal(
            "recency_days",
            f"Days since the last event (capped at {RECENCY_CAP_DAYS:.0f}; never active = cap)",
            None,
            "days",
        ),
    ]
    for w in (3, 7, 14, 28):
        s.append(
            Signal(f"active_days_{w}d", f"Days with any event in the last {w} days", w, "days")
        )
    for w in (3, 7, 14, 28):
        s.append(
            Signal(f"events_{w}d", f"All events (incl. custom) in the last {w} days", w, "events")
        )
    s.append(Signal("active_days_window", "Days with any event in the whole window", 0, "days"))
    s.append(Signal("events_window", "All events in the whole window", 0, "events"))
    for kind in MAIN_KINDS:
        for w in (7, 28):
            s.append(
                Signal(
                    f"{kind}_{w}d",
                    f"Count of {kind.replace('_', ' ')} in the last {w} days",
                    w,
                    "events",
                )
            )
    for kind in MINOR_KINDS:
        s.append(
            Signal(
                f"{kind}_28d",
                f"Count of {kind.replace('_', ' ')} in the last 28 days",
                28,
                "events",
            )
        )
    s += [
        Signal(
            "trend_ratio_7v21",
            "(events last 7 days + 1) / (mean weekly events of the 3 weeks "
            "before + 1); < 1 = slowing down",
            28,
            "ratio",
        ),
        Signal(
            "trend_slope_4w",
            "Least-squares slope of weekly events over the last 4 weeks",
            28,
            "events/week per week",
        ),
        Signal(
            "active_days_trend_7v21",
            "Active days last 7 days minus mean weekly active days of the 3 weeks before",
            28,
            "days",
        ),
        Signal(
            "decline_ratio_3v11",
            f"(events/day last 3 days + {RATE_SMOOTHING}) / "
            f"(events/day of the 11 days before + {RATE_SMOOTHING})",
            14,
            "ratio",
        ),
        Signal(
            "longest_gap_days",
            "Longest run of inactive days after the first active day in "
            "the window (window length if inactive all window)",
            0,
            "days",
        ),
        Signal(
            "current_gap_days",
            "Inactive days at the end of the window (window length if inactive all window)",
            0,
            "days",
        ),
        Signal(
            "mean_gap_days",
            "Mean spacing between consecutive active days in the window "
            "(window length if fewer than 2 active days)",
            0,
            "days",
        ),
        Signal("current_streak_days", "Consecutive active days ending on the as-of day", 0, "days"),
        Signal(
            "longest_streak_days", "Longest run of consecutive active days in the window", 0, "days"
        ),
        Signal(
            "active_weeks_4w", "Weeks (of the last 4) with at least one active day", 28, "weeks"
        ),
        Signal("session_seconds_7d", "Total session time in the last 7 days", 7, "seconds"),
        Signal("session_seconds_28d", "Total session time in the last 28 days", 28, "seconds"),
        Signal(
            "session_mean_seconds_28d",
            "Mean session length in the last 28 days (0 if no session)",
            28,
            "seconds",
        ),
        Signal(
            "session_median_seconds_28d",
            "Median over session days of that day's mean session "
            "length, last 28 days (0 if no session)",
            28,
            "seconds",
        ),
        Signal(
            "lesson_velocity_4w",
            "Lessons completed per active week over the last 4 weeks",
            28,
            "lessons/week",
        ),
        Signal(
            "lesson_completion_ratio_28d",
            "Lessons completed / max(started, completed) in the "
            f"last 28 days ({MISSING:g} if no lesson activity)",
            28,
            "ratio",
        ),
        Signal("quiz_scored_28d", "Scored quizzes in the last 28 days", 28, "quizzes"),
        Signal(
            "quiz_mean_score",
            f"Mean quiz score over the window ({MISSING:g} if none)",
            0,
            "score 0-1",
        ),
        Signal(
            "quiz_last_score",
            f"Mean score on the most recent day with a scored quiz ({MISSING:g} if none)",
            0,
            "score 0-1",
        ),
        Signal(
            "quiz_score_trend",
            "Mean quiz score in the last 14 days minus before it in the "
            "window (0 if either side has no quiz)",
            0,
            "score 0-1",
        ),
        Signal(
            "quiz_pass_rate_28d",
            f"Quizzes passed / quizzes in the last 28 days ({MISSING:g} if none)",
            28,
            "ratio",
        ),
        Signal(
            "video_completion_28d",
            f"Mean video progress per video event in the last 28 days ({MISSING:g} if none)",
            28,
            "score 0-1",
        ),
        Signal(
            "live_attendance_rate_28d",
            "Live sessions attended / (attended + missed) in the "
            f"last 28 days ({MISSING:g} if none)",
            28,
            "ratio",
        ),
        Signal(
            "hour_entropy",
            "Entropy of events by local hour, normalised to 0-1 (0 = one hour or no events)",
            0,
            "ratio",
        ),
        Signal(
            "weekday_entropy_28d",
            "Entropy of events by weekday over 28 days, normalised to 0-1",
            28,
            "ratio",
        ),
        Signal(
            "top_weekday_share_28d",
            "Share of the last 28 days' events on the busiest weekday (0 if none)",
            28,
            "ratio",
        ),
        Signal(
            "weekend_share_28d",
            "Share of the last 28 days' events on Saturday or Sunday",
            28,
            "ratio",
        ),
        Signal(
            "first_week_events",
            "Events in days 0-6 after first sight (partial if seen < 7 "
            f"days ago; {MISSING:g} if first seen before the window)",
            7,
            "events",
        ),
        Signal(
            "first_week_active_days",
            "Active days in days 0-6 after first sight "
            f"({MISSING:g} if first seen before the window)",
            7,
            "days",
        ),
        Signal(
            "days_since_first",
            f"Days since first sight (capped at {LIFETIME_CAP_DAYS:.0f}; 0 if never seen)",
            None,
            "days",
        ),
        Signal(
            "enrolment_age_days",
            f"Days since the earliest active enrolment ({MISSING:g} if none)",
            None,
            "days",
        ),
        Signal(
            "progress",
            f"Share of the learner's course lessons completed ({MISSING:g} if unknown)",
            None,
            "ratio",
        ),
        Signal(
            "course_days_left",
            f"Days until the course ends (capped at +/-{DAYS_LEFT_CAP:.0f}; self-paced = cap)",
            None,
            "days",
        ),
        Signal("is_self_paced", "1 if the course has no end date", None, "flag"),
        Signal("withdrawn", "1 if the learner withdrew from every enrolment", None, "flag"),
        Signal(
            "activity_density_28d",
            "Active days in the last 28 days / days seen in them (min(28, days since first + 1))",
            28,
            "ratio",
        ),
        Signal(
            "events_per_active_day_28d",
            "Events per active day, last 28 days (0 if none)",
            28,
            "events/day",
        ),
        Signal("max_daily_events_28d", "Most events on a single day, last 28 days", 28, "events"),
        Signal(
            "custom_share_28d",
            "Share of the last 28 days' events that are custom/generic "
            "(not a specific product kind)",
            28,
            "ratio",
        ),
        Signal(
            "decayed_events_hl3",
            "Events weighted by 0.5 ** (days ago / 3) over the window",
            0,
            "events",
        ),
        Signal(
            "decayed_active_days_hl7",
            "Active days weighted by 0.5 ** (days ago / 7) over the window",
            0,
            "days",
        ),
        Signal(
            "cohort_pct_events_7d",
            "Percentile (0-1, mid-rank) of events_7d within the learner's cohort",
            7,
            "percentile",
        ),
        Signal(
            "cohort_pct_events_28d", "Percentile of events_28d within the cohort", 28, "percentile"
        ),
        Signal(
            "cohort_pct_active_days_14d",
            "Percentile of active_days_14d within the cohort",
            14,
            "percentile",
        ),
        Signal(
            "cohort_pct_recency",
            "Percentile of recency_days within the cohort (1 = longest gone)",
            None,
            "percentile",
        ),
    ]
    return tuple(s)


SIGNALS: tuple[Signal, ...] = _catalogue()
SIGNAL_NAMES: tuple[str, ...] = tuple(sig.name for sig in SIGNALS)
SIGNAL_INDEX: dict[str, int] = {name: i for i, name in enumerate(SIGNAL_NAMES)}
