"""The catalogue of the risk model's signals: 77 named, documented feature columns.

Every signal is finite for every row, including an enrolment with no activity at all: where a
quantity is undefined (no quiz taken, first sight before the window) the description names the
sentinel used instead, so models see a consistent value and can learn what "missing" means.
The order of ``SIGNALS`` is the column order of the signal matrix and of stored models.

Each signal also says what is known about it, as data the model reads:

* ``direction``: +1 when a higher value never lowers the drop-off risk (days since the last
  activity), -1 when it never raises it (active days, events), 0 when no direction is known or
  the signal has a sentinel that breaks the order (a quiz score of MISSING = "no quiz" is not
  "worse than 0 %"). Trained models are constrained to these directions.
* ``applies_if``: when the signal means something for a row at all (a trend needs activity to
  trend); the model never shows a driver that does not apply, though its points still count.
* ``text``: the sentence a person reads for a driver, ``{value}`` being the signal's value
  formatted by ``fmt`` (other signals' values by their names, e.g. ``{enrolment_age_days}``);
  ``zero`` and ``missing`` replace it when the value is 0 or MISSING, and ``typical`` adds the
  comparison with the course ("the course's typical gap is 3 days"). See ``sentences``.
"""

from __future__ import annotations

from dataclasses import dataclass

from engagement.scoring.activity import DEFAULT_WINDOW_DAYS

RECENCY_CAP_DAYS = 365.0  # a learner gone for longer counts as gone for a year
LIFETIME_CAP_DAYS = 3650.0
DAYS_LEFT_CAP = 365.0  # self-paced courses count as ending a year from now
MISSING = -1.0  # sentinel for ratios and scores that are undefined (no quiz, no video, ...)
TREND_SMOOTHING = 1.0  # events added to both sides of a ratio so 0 -> 1 event is not infinite
RATE_SMOOTHING = 0.5  # events per day, for the short-window decline ratio

RAISES = 1  # a higher value never lowers the risk
LOWERS = -1  # a higher value never raises the risk
TYPICAL = "{scope} typical learner: {typical}"
_WINDOW = f"{DEFAULT_WINDOW_DAYS // 7} weeks"


@dataclass(frozen=True)
class Signal:
    """One named, documented feature column of the risk model, and how a person reads it."""

    name: str
    description: str
    window_days: int | None  # None = not windowed (lifetime or a static attribute)
    unit: str
    direction: int = 0  # RAISES, LOWERS or 0 (unknown): see the module docstring
    text: str = ""  # driver sentence template; {value} = this signal's formatted value
    fmt: str = "count"  # how {value} and {typical} print, see sentences.format_value
    noun: tuple[str, str] = ("", "")  # singular and plural after a count ("1 quiz", "3 quizzes")
    zero: str = ""  # sentence when the value is 0 (empty: use ``text``)
    missing: str = ""  # sentence when the value is MISSING (empty: use ``text``)
    typical: str = TYPICAL  # comparison added in brackets; empty = none (flags)
    # Shown as a driver only when signal ``applies_if[0]`` is at least ``applies_if[1]``: a
    # trend or a weekday share of nothing says nothing, whatever its points.
    applies_if: tuple[str, float] | None = None


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
KIND_NOUNS: dict[str, tuple[str, str]] = {
    "sessions": ("session", "sessions"),
    "page_views": ("page view", "page views"),
    "lessons_completed": ("lesson completed", "lessons completed"),
    "video": ("video watched", "videos watched"),
    "quizzes": ("quiz", "quizzes"),
    "assignments": ("assignment", "assignments"),
    "social": ("social action", "social actions"),
    "lessons_started": ("lesson started", "lessons started"),
    "quizzes_passed": ("quiz passed", "quizzes passed"),
    "downloads": ("download", "downloads"),
    "live_attended": ("live session attended", "live sessions attended"),
    "live_missed": ("live session missed", "live sessions missed"),
    "purchases": ("purchase", "purchases"),
}
# Doing more of a kind never raises the risk, except missing live sessions; purchases have no
# known direction (a purchase can precede a refund as well as a commitment).
KIND_DIRECTION: dict[str, int] = {
    kind: (RAISES if kind == "live_missed" else 0 if kind == "purchases" else LOWERS)
    for kind in KIND_NOUNS
}
EVENTS = ("event", "events")


def _catalogue() -> tuple[Signal, ...]:
    s: list[Signal] = [
        Signal(
            "recency_days",
            f"Days since the last event (capped at {RECENCY_CAP_DAYS:.0f}); for an enrolment "
            "never started, days since enrolling (the cap if unknown)",
            None,
            "days",
            RAISES,
            "No activity for {value}",
            fmt="days",
            zero="Active today",
            typical="{scope} typical gap is {typical}",
        ),
    ]
    for w in (3, 7, 14, 28):
        s.append(
            Signal(
                f"active_days_{w}d",
                f"Days with any event in the last {w} days",
                w,
                "days",
                LOWERS,
                f"Active on {{value}} of the last {w} days",
                fmt="number",
                zero=f"No active day in the last {w} days",
            )
        )
    for w in (3, 7, 14, 28):
        s.append(
            Signal(
                f"events_{w}d",
                f"All events (incl. custom) in the last {w} days",
                w,
                "events",
                LOWERS,
                f"{{value}} in the last {w} days",
                noun=EVENTS,
                zero=f"No activity in the last {w} days",
            )
        )
    s.append(
        Signal(
            "active_days_window",
            "Days with any event in the whole window",
            0,
            "days",
            LOWERS,
            f"Active on {{value}} in the last {_WINDOW}",
            fmt="days",
            zero=f"No active day in the last {_WINDOW}",
        )
    )
    s.append(
        Signal(
            "events_window",
            "All events in the whole window",
            0,
            "events",
            LOWERS,
            f"{{value}} in the last {_WINDOW}",
            noun=EVENTS,
            zero=f"No activity in the last {_WINDOW}",
        )
    )
    for kind in MAIN_KINDS:
        for w in (7, 28):
            s.append(
                Signal(
                    f"{kind}_{w}d",
                    f"Count of {kind.replace('_', ' ')} in the last {w} days",
                    w,
                    "events",
                    KIND_DIRECTION[kind],
                    f"{{value}} in the last {w} days",
                    noun=KIND_NOUNS[kind],
                    zero=f"No {KIND_NOUNS[kind][1]} in the last {w} days",
                )
            )
    for kind in MINOR_KINDS:
        s.append(
            Signal(
                f"{kind}_28d",
                f"Count of {kind.replace('_', ' ')} in the last 28 days",
                28,
                "events",
                KIND_DIRECTION[kind],
                "{value} in the last 28 days",
                noun=KIND_NOUNS[kind],
                zero=f"No {KIND_NOUNS[kind][1]} in the last 28 days",
            )
        )
    s += [
        Signal(
            "trend_ratio_7v21",
            "(events last 7 days + 1) / (mean weekly events of the 3 weeks "
            "before + 1); < 1 = slowing down",
            28,
            "ratio",
            LOWERS,
            "Activity this week at {value} of the three weeks before",
            fmt="percent",
            applies_if=("events_28d", 1),
        ),
        Signal(
            "trend_slope_4w",
            "Least-squares slope of weekly events over the last 4 weeks",
            28,
            "events/week per week",
            LOWERS,
            "Weekly activity changing by {value} a week over 4 weeks",
            fmt="signed",
            noun=EVENTS,
            zero="Weekly activity flat over 4 weeks",
            applies_if=("events_28d", 1),
        ),
        Signal(
            "active_days_trend_7v21",
            "Active days last 7 days minus mean weekly active days of the 3 weeks before",
            28,
            "days",
            LOWERS,
            "{value} this week than in the weeks before",
            fmt="more_fewer",
            noun=("active day", "active days"),
            zero="As many active days this week as in the weeks before",
            applies_if=("events_28d", 1),
        ),
        Signal(
            "decline_ratio_3v11",
            f"(events/day last 3 days + {RATE_SMOOTHING}) / "
            f"(events/day of the 11 days before + {RATE_SMOOTHING})",
            14,
            "ratio",
            LOWERS,
            "Activity in the last 3 days at {value} of the 11 days before",
            fmt="percent",
            applies_if=("events_14d", 1),
        ),
        Signal(
            "longest_gap_days",
            "Longest run of inactive days after the first active day in "
            "the window (window length if inactive all window)",
            0,
            "days",
            RAISES,
            "Longest break recently: {value}",
            fmt="days",
            zero="No break recently",
            typical="{scope} typical break: {typical}",
            # Inactive all window (never started, or silent for longer): the value is the
            # window's length, not a break; recency_days says how long it has really been.
            applies_if=("active_days_window", 1),
        ),
        Signal(
            "current_gap_days",
            "Inactive days at the end of the window (window length if inactive all window)",
            0,
            "days",
            RAISES,
            "No activity for {value}",
            fmt="days",
            zero="Active today",
            typical="{scope} typical gap is {typical}",
            applies_if=("active_days_window", 1),  # as longest_gap_days
        ),
        Signal(
            "mean_gap_days",
            "Mean spacing between consecutive active days in the window "
            "(window length if fewer than 2 active days)",
            0,
            "days",
            RAISES,
            "Active days {value} apart on average",
            fmt="days",
            applies_if=("active_days_window", 2),
        ),
        Signal(
            "current_streak_days",
            "Consecutive active days ending on the as-of day",
            0,
            "days",
            LOWERS,
            "On a streak of {value}",
            fmt="days",
            zero="No current streak",
        ),
        Signal(
            "longest_streak_days",
            "Longest run of consecutive active days in the window",
            0,
            "days",
            LOWERS,
            "Longest streak recently: {value}",
            fmt="days",
            zero="No active day recently",
        ),
        Signal(
            "active_weeks_4w",
            "Weeks (of the last 4) with at least one active day",
            28,
            "weeks",
            LOWERS,
            "Active in {value} of the last 4 weeks",
            fmt="number",
            zero="No activity in any of the last 4 weeks",
        ),
        Signal(
            "session_seconds_7d",
            "Total session time in the last 7 days",
            7,
            "seconds",
            LOWERS,
            "{value} of study in the last 7 days",
            fmt="duration",
            zero="No recorded study time in the last 7 days",
        ),
        Signal(
            "session_seconds_28d",
            "Total session time in the last 28 days",
            28,
            "seconds",
            LOWERS,
            "{value} of study in the last 28 days",
            fmt="duration",
            zero="No recorded study time in the last 28 days",
        ),
        Signal(
            "session_mean_seconds_28d",
            "Mean session length in the last 28 days (0 if no session)",
            28,
            "seconds",
            LOWERS,
            "Sessions last {value} on average",
            fmt="duration",
            zero="No session in the last 28 days",
            applies_if=("sessions_28d", 1),
        ),
        Signal(
            "session_median_seconds_28d",
            "Median over session days of that day's mean session "
            "length, last 28 days (0 if no session)",
            28,
            "seconds",
            LOWERS,
            "A typical session lasts {value}",
            fmt="duration",
            zero="No session in the last 28 days",
            applies_if=("sessions_28d", 1),
        ),
        Signal(
            "lesson_velocity_4w",
            "Lessons completed per active week over the last 4 weeks",
            28,
            "lessons/week",
            LOWERS,
            "{value} a week over the last 4 weeks",
            fmt="decimal",
            noun=("lesson completed", "lessons completed"),
            zero="No lesson completed in the last 4 weeks",
        ),
        Signal(
            "lesson_completion_ratio_28d",
            "Lessons completed / max(started, completed) in the "
            f"last 28 days ({MISSING:g} if no lesson activity)",
            28,
            "ratio",
            0,
            "Finished {value} of the lessons started in the last 28 days",
            fmt="percent",
            missing="No lesson started in the last 28 days",
        ),
        Signal(
            "quiz_scored_28d",
            "Scored quizzes in the last 28 days",
            28,
            "quizzes",
            LOWERS,
            "{value} in the last 28 days",
            noun=("scored quiz", "scored quizzes"),
            zero="No scored quiz in the last 28 days",
        ),
        Signal(
            "quiz_mean_score",
            f"Mean quiz score over the window ({MISSING:g} if none)",
            0,
            "score 0-1",
            0,
            "Quiz scores average {value}",
            fmt="percent",
            missing="No scored quiz yet",
        ),
        Signal(
            "quiz_last_score",
            f"Mean score on the most recent day with a scored quiz ({MISSING:g} if none)",
            0,
            "score 0-1",
            0,
            "Scored {value} on the latest quiz",
            fmt="percent",
            missing="No scored quiz yet",
        ),
        Signal(
            "quiz_score_trend",
            "Mean quiz score in the last 14 days minus before it in the "
            "window (0 if either side has no quiz)",
            0,
            "score 0-1",
            0,
            "Quiz scores {value} in the last 2 weeks",
            fmt="points_change",
            zero="Quiz scores steady (or too few quizzes to tell)",
        ),
        Signal(
            "quiz_pass_rate_28d",
            f"Quizzes passed / quizzes in the last 28 days ({MISSING:g} if none)",
            28,
            "ratio",
            0,
            "Passed {value} of quizzes in the last 28 days",
            fmt="percent",
            missing="No quiz in the last 28 days",
        ),
        Signal(
            "video_completion_28d",
            f"Mean video progress per video event in the last 28 days ({MISSING:g} if none)",
            28,
            "score 0-1",
            0,
            "Watches {value} of each video on average",
            fmt="percent",
            missing="No video watched in the last 28 days",
        ),
        Signal(
            "live_attendance_rate_28d",
            "Live sessions attended / (attended + missed) in the "
            f"last 28 days ({MISSING:g} if none)",
            28,
            "ratio",
            0,
            "Attended {value} of live sessions in the last 28 days",
            fmt="percent",
            missing="No live session in the last 28 days",
        ),
        Signal(
            "hour_entropy",
            "Entropy of events by local hour, normalised to 0-1 (0 = one hour or no events)",
            0,
            "ratio",
            0,
            "Study hours spread {value} over the day (0% = always the same hour)",
            fmt="percent",
            typical="",
            applies_if=("events_window", 1),
        ),
        Signal(
            "weekday_entropy_28d",
            "Entropy of events by weekday over 28 days, normalised to 0-1",
            28,
            "ratio",
            0,
            "Study days spread {value} over the week (100% = every weekday alike)",
            fmt="percent",
            typical="",
            applies_if=("events_28d", 1),
        ),
        Signal(
            "top_weekday_share_28d",
            "Share of the last 28 days' events on the busiest weekday (0 if none)",
            28,
            "ratio",
            0,
            "{value} of the last 28 days' activity on one weekday",
            fmt="percent",
            zero="No weekday pattern in the last 28 days",
            applies_if=("events_28d", 1),
        ),
        Signal(
            "weekend_share_28d",
            "Share of the last 28 days' events on Saturday or Sunday",
            28,
            "ratio",
            0,
            "{value} of the last 28 days' activity at weekends",
            fmt="percent",
            applies_if=("events_28d", 1),
        ),
        Signal(
            "first_week_events",
            "Events in days 0-6 after first sight (partial if seen < 7 "
            f"days ago; {MISSING:g} if first seen before the window or never)",
            7,
            "events",
            0,
            "{value} in the first week",
            noun=EVENTS,
            missing="First week not in view (started long ago, or not yet)",
        ),
        Signal(
            "first_week_active_days",
            "Active days in days 0-6 after first sight "
            f"({MISSING:g} if first seen before the window or never)",
            7,
            "days",
            0,
            "Active on {value} of the first 7 days",
            fmt="number",
            missing="First week not in view (started long ago, or not yet)",
        ),
        Signal(
            "days_since_first",
            f"Days since first sight (capped at {LIFETIME_CAP_DAYS:.0f}; 0 if never seen)",
            None,
            "days",
            0,
            "First active {value} ago",
            fmt="days",
            zero="First active today (or not yet)",
        ),
        Signal(
            "enrolment_age_days",
            f"Days since the enrolment began ({MISSING:g} if unknown)",
            None,
            "days",
            0,
            "Enrolled {value} ago",
            fmt="days",
            zero="Enrolled today",
            missing="Enrolment date unknown",
        ),
        Signal(
            "progress",
            f"Share of the course's lessons completed ({MISSING:g} if unknown)",
            None,
            "ratio",
            0,
            "Completed {value} of the course",
            fmt="percent",
            zero="No lesson of the course completed yet",
            missing="Course progress unknown (the course has no lessons)",
        ),
        Signal(
            "course_days_left",
            f"Days until the course ends (capped at +/-{DAYS_LEFT_CAP:.0f}; self-paced = cap)",
            None,
            "days",
            0,
            "The course ends in {value}",
            fmt="days_left",
            zero="The course ends today",
            typical="",
        ),
        Signal(
            "is_self_paced",
            "1 if the course has no end date",
            None,
            "flag",
            0,
            "The course is self-paced (no end date)",
            zero="The course has an end date",
            typical="",
        ),
        Signal(
            "withdrawn",
            "1 if the enrolment was withdrawn (always 0 among active enrolments)",
            None,
            "flag",
            RAISES,
            "Withdrew from the course",
            zero="Still enrolled",
            typical="",
        ),
        Signal(
            "never_started",
            "1 if the enrolment has no activity at all yet",
            None,
            "flag",
            0,
            "Not started yet, {enrolment_age_days} after enrolling",
            zero="Has started the course",
            typical="",
        ),
        Signal(
            "activity_density_28d",
            "Active days in the last 28 days / days seen in them (min(28, days since first + 1))",
            28,
            "ratio",
            LOWERS,
            "Active on {value} of the days since joining (last 28 days)",
            fmt="percent",
        ),
        Signal(
            "events_per_active_day_28d",
            "Events per active day, last 28 days (0 if none)",
            28,
            "events/day",
            LOWERS,
            "{value} per active day",
            fmt="decimal",
            noun=EVENTS,
            zero="No active day in the last 28 days",
            applies_if=("events_28d", 1),
        ),
        Signal(
            "max_daily_events_28d",
            "Most events on a single day, last 28 days",
            28,
            "events",
            LOWERS,
            "At most {value} in a day (last 28 days)",
            noun=EVENTS,
            zero="No activity in the last 28 days",
            applies_if=("events_28d", 1),
        ),
        Signal(
            "custom_share_28d",
            "Share of the last 28 days' events that are custom/generic "
            "(not a specific product kind)",
            28,
            "ratio",
            0,
            "{value} of the last 28 days' activity is custom events",
            fmt="percent",
            applies_if=("events_28d", 1),
        ),
        Signal(
            "decayed_events_hl3",
            "Events weighted by 0.5 ** (days ago / 3) over the window",
            0,
            "events",
            LOWERS,
            "Recent activity (3-day half-life): {value}",
            fmt="decimal",
            noun=EVENTS,
            zero="No recent activity",
        ),
        Signal(
            "decayed_active_days_hl7",
            "Active days weighted by 0.5 ** (days ago / 7) over the window",
            0,
            "days",
            LOWERS,
            "Recent active days (weekly half-life): {value}",
            fmt="decimal",
            zero="No recent active day",
        ),
        Signal(
            "cohort_pct_events_7d",
            "Percentile (0-1, mid-rank) of events_7d within the course",
            7,
            "percentile",
            LOWERS,
            "More activity this week than {value} of the course",
            fmt="percent",
            typical="",
        ),
        Signal(
            "cohort_pct_events_28d",
            "Percentile of events_28d within the course",
            28,
            "percentile",
            LOWERS,
            "More activity in the last 28 days than {value} of the course",
            fmt="percent",
            typical="",
        ),
        Signal(
            "cohort_pct_active_days_14d",
            "Percentile of active_days_14d within the course",
            14,
            "percentile",
            LOWERS,
            "More active days in the last 14 days than {value} of the course",
            fmt="percent",
            typical="",
        ),
        Signal(
            "cohort_pct_recency",
            "Percentile of recency_days within the course (1 = longest gone)",
            None,
            "percentile",
            RAISES,
            "Gone longer than {value} of the course",
            fmt="percent",
            typical="",
        ),
    ]
    return tuple(s)


SIGNALS: tuple[Signal, ...] = _catalogue()
SIGNAL_NAMES: tuple[str, ...] = tuple(sig.name for sig in SIGNALS)
SIGNAL_INDEX: dict[str, int] = {name: i for i, name in enumerate(SIGNAL_NAMES)}
SIGNAL_DIRECTIONS: tuple[int, ...] = tuple(sig.direction for sig in SIGNALS)
