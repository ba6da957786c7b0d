"""The signal catalogue and its vectorised computation from a LearnerActivity block.

Every signal is finite for every learner, including a learner with no activity at all: where a
quantity is undefined (no quiz taken, first sight before the window) the catalogue documents the
sentinel used instead, so models see a consistent value and can learn what "missing" means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engagement.scoring.activity import KIND_INDEX, LearnerActivity

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


_MAIN_KINDS = (
    "sessions",
    "page_views",
    "lessons_completed",
    "video",
    "quizzes",
    "assignments",
    "social",
)
_MINOR_KINDS = (
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
_SPECIFIC_KINDS = (
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
    for kind in _MAIN_KINDS:
        for w in (7, 28):
            s.append(
                Signal(
                    f"{kind}_{w}d",
                    f"Count of {kind.replace('_', ' ')} in the last {w} days",
                    w,
                    "events",
                )
            )
    for kind in _MINOR_KINDS:
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


def _ratio(num: np.ndarray, den: np.ndarray, default: float) -> np.ndarray:
    """Return num / den where den > 0, else ``default``."""
    out = np.full(np.broadcast(num, den).shape, default, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _normalised_entropy(counts: np.ndarray) -> np.ndarray:
    """Return row-wise Shannon entropy of ``counts`` divided by log(#columns); 0 for empty rows."""
    total = counts.sum(axis=1, keepdims=True)
    p = _ratio(counts, np.broadcast_to(total, counts.shape), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=1) / np.log(counts.shape[1])


def _trailing_run(mask: np.ndarray) -> np.ndarray:
    """Return the number of consecutive True values at the end of each row."""
    rev = mask[:, ::-1]
    first_false = np.argmax(~rev, axis=1)
    return np.where(rev.all(axis=1), mask.shape[1], first_false).astype(np.float64)


def _longest_run(mask: np.ndarray) -> np.ndarray:
    """Return the longest run of consecutive True values in each row."""
    if mask.shape[1] == 0:
        return np.zeros(mask.shape[0])
    csum = np.cumsum(mask, axis=1)
    # At each position, the cumulative count as of the most recent False resets the run.
    reset = np.maximum.accumulate(np.where(~mask, csum, 0), axis=1)
    return (csum - reset).max(axis=1).astype(np.float64)


def _cohort_percentile(values: np.ndarray, cohort: np.ndarray) -> np.ndarray:
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


def _sorted_median(values: np.ndarray, valid: np.ndarray, default: float) -> np.ndarray:
    """Return the row-wise median of ``values`` over ``valid`` cells, ``default`` if none."""
    k = valid.sum(axis=1)
    srt = np.sort(np.where(valid, values, np.inf), axis=1)
    lo = np.clip((k - 1) // 2, 0, None)[:, None]
    hi = np.clip(k // 2, 0, srt.shape[1] - 1)[:, None]
    med = (np.take_along_axis(srt, lo, 1) + np.take_along_axis(srt, hi, 1))[:, 0] / 2.0
    return np.where(k > 0, med, default)


def compute_signals(activity: LearnerActivity) -> np.ndarray:
    """Return the (n_learners, n_signals) float64 matrix of SIGNALS, all finite, in order."""
    a = activity
    n, w = a.n_learners, a.window_days
    daily = a.daily.astype(np.float64, copy=False)
    ev = daily[:, :, KIND_INDEX["events"]]
    active = ev > 0
    day = np.arange(w)
    days_ago = (w - 1 - day).astype(np.float64)

    def kind(name: str, days: int) -> np.ndarray:
        return daily[:, w - days :, KIND_INDEX[name]].sum(axis=1)

    def last(x: np.ndarray, days: int) -> np.ndarray:
        return x[:, w - days :].sum(axis=1)

    f: dict[str, np.ndarray] = {}
    any_active = active.any(axis=1)
    last_idx = np.where(any_active, w - 1 - np.argmax(active[:, ::-1], axis=1), -1)
    first_idx = np.where(any_active, np.argmax(active, axis=1), w)
    window_gap = np.where(any_active, w - 1 - last_idx, w).astype(np.float64)

    since_last = a.days_since_last.astype(np.float64)
    since_last = np.where(np.isfinite(since_last), since_last, RECENCY_CAP_DAYS)
    # The window is ground truth for recent days even if the lifetime field lags behind.
    since_last = np.where(any_active, np.minimum(since_last, window_gap), since_last)
    f["recency_days"] = np.clip(since_last, 0.0, RECENCY_CAP_DAYS)
    for d in (3, 7, 14, 28):
        f[f"active_days_{d}d"] = last(active, d).astype(np.float64)
    for d in (3, 7, 14, 28):
        f[f"events_{d}d"] = last(ev, d)
    f["active_days_window"] = active.sum(axis=1).astype(np.float64)
    f["events_window"] = ev.sum(axis=1)
    for k in _MAIN_KINDS:
        for d in (7, 28):
            f[f"{k}_{d}d"] = kind(k, d)
    for k in _MINOR_KINDS:
        f[f"{k}_28d"] = kind(k, 28)

    weekly = ev[:, w - 28 :].reshape(n, 4, 7).sum(axis=2)  # oldest -> latest week
    weekly_active = active[:, w - 28 :].reshape(n, 4, 7).sum(axis=2).astype(np.float64)
    f["trend_ratio_7v21"] = (weekly[:, 3] + TREND_SMOOTHING) / (
        weekly[:, :3].mean(axis=1) + TREND_SMOOTHING
    )
    f["trend_slope_4w"] = weekly @ np.array([-1.5, -0.5, 0.5, 1.5]) / 5.0
    f["active_days_trend_7v21"] = weekly_active[:, 3] - weekly_active[:, :3].mean(axis=1)
    f["decline_ratio_3v11"] = (last(ev, 3) / 3.0 + RATE_SMOOTHING) / (
        (last(ev, 14) - last(ev, 3)) / 11.0 + RATE_SMOOTHING
    )

    after_first = day[None, :] > first_idx[:, None]
    f["longest_gap_days"] = np.where(any_active, _longest_run(~active & after_first), w)
    f["current_gap_days"] = window_gap
    n_active = f["active_days_window"]
    f["mean_gap_days"] = np.where(
        n_active >= 2, (last_idx - first_idx) / np.maximum(n_active - 1, 1), w
    )
    f["current_streak_days"] = _trailing_run(active)
    f["longest_streak_days"] = _longest_run(active)
    active_weeks = (weekly_active > 0).sum(axis=1).astype(np.float64)
    f["active_weeks_4w"] = active_weeks

    secs = a.session_seconds.astype(np.float64, copy=False)
    sessions_daily = daily[:, w - 28 :, KIND_INDEX["sessions"]]
    f["session_seconds_7d"] = last(secs, 7)
    f["session_seconds_28d"] = last(secs, 28)
    f["session_mean_seconds_28d"] = _ratio(f["session_seconds_28d"], f["sessions_28d"], 0.0)
    per_day_mean = _ratio(secs[:, w - 28 :], sessions_daily, 0.0)
    f["session_median_seconds_28d"] = _sorted_median(per_day_mean, sessions_daily > 0, 0.0)

    f["lesson_velocity_4w"] = f["lessons_completed_28d"] / np.maximum(active_weeks, 1.0)
    lesson_den = np.maximum(f["lessons_started_28d"], f["lessons_completed_28d"])
    f["lesson_completion_ratio_28d"] = _ratio(f["lessons_completed_28d"], lesson_den, MISSING)

    q_sum = a.quiz_score_sum.astype(np.float64, copy=False)
    q_n = a.quiz_score_n.astype(np.float64, copy=False)
    f["quiz_scored_28d"] = last(q_n, 28)
    f["quiz_mean_score"] = _ratio(q_sum.sum(axis=1), q_n.sum(axis=1), MISSING)
    has_quiz = q_n > 0
    last_q = w - 1 - np.argmax(has_quiz[:, ::-1], axis=1)
    rows = np.arange(n)
    f["quiz_last_score"] = np.where(
        has_quiz.any(axis=1), _ratio(q_sum[rows, last_q], q_n[rows, last_q], MISSING), MISSING
    )
    recent_q = _ratio(last(q_sum, 14), last(q_n, 14), np.nan)
    early_q = _ratio(q_sum[:, : w - 14].sum(axis=1), q_n[:, : w - 14].sum(axis=1), np.nan)
    f["quiz_score_trend"] = np.nan_to_num(recent_q - early_q, nan=0.0)
    f["quiz_pass_rate_28d"] = _ratio(f["quizzes_passed_28d"], f["quizzes_28d"], MISSING)
    video_pct = last(a.video_pct_sum.astype(np.float64, copy=False), 28)
    f["video_completion_28d"] = np.clip(_ratio(video_pct, f["video_28d"], MISSING), MISSING, 1.0)
    live_total = f["live_attended_28d"] + f["live_missed_28d"]
    f["live_attendance_rate_28d"] = _ratio(f["live_attended_28d"], live_total, MISSING)

    f["hour_entropy"] = _normalised_entropy(a.hour_hist.astype(np.float64))
    weekday = (a.as_of.weekday() - days_ago[w - 28 :].astype(np.int64)) % 7
    by_weekday = ev[:, w - 28 :] @ np.eye(7)[weekday]
    events_28 = f["events_28d"]
    f["weekday_entropy_28d"] = _normalised_entropy(by_weekday)
    f["top_weekday_share_28d"] = _ratio(by_weekday.max(axis=1), events_28, 0.0)
    f["weekend_share_28d"] = _ratio(by_weekday[:, 5:].sum(axis=1), events_28, 0.0)

    since_first = a.days_since_first.astype(np.float64)
    seen = np.isfinite(since_first)
    since_first = np.clip(np.where(seen, since_first, 0.0), 0.0, LIFETIME_CAP_DAYS)
    first_sight = (w - 1 - since_first).astype(np.int64)
    in_window = seen & (first_sight >= 0)
    start = np.clip(first_sight, 0, w)
    stop = np.clip(first_sight + 7, 0, w)
    ev_cum = np.concatenate([np.zeros((n, 1)), np.cumsum(ev, axis=1)], axis=1)
    act_cum = np.concatenate([np.zeros((n, 1)), np.cumsum(active, axis=1)], axis=1)
    f["first_week_events"] = np.where(in_window, ev_cum[rows, stop] - ev_cum[rows, start], MISSING)
    f["first_week_active_days"] = np.where(
        in_window, act_cum[rows, stop] - act_cum[rows, start], MISSING
    )
    f["days_since_first"] = since_first
    age = a.enrolment_age.astype(np.float64)
    f["enrolment_age_days"] = np.where(
        np.isfinite(age), np.clip(age, 0.0, LIFETIME_CAP_DAYS), MISSING
    )
    progress = a.progress.astype(np.float64)
    f["progress"] = np.where(np.isfinite(progress), np.clip(progress, 0.0, 1.0), MISSING)
    left = a.course_days_left.astype(np.float64)
    self_paced = ~np.isfinite(left)
    f["course_days_left"] = np.clip(
        np.where(self_paced, DAYS_LEFT_CAP, left), -DAYS_LEFT_CAP, DAYS_LEFT_CAP
    )
    f["is_self_paced"] = self_paced.astype(np.float64)
    f["withdrawn"] = a.withdrawn.astype(np.float64)

    f["activity_density_28d"] = f["active_days_28d"] / np.minimum(28.0, since_first + 1.0)
    f["activity_density_28d"] = np.clip(f["activity_density_28d"], 0.0, 1.0)
    f["events_per_active_day_28d"] = _ratio(events_28, f["active_days_28d"], 0.0)
    f["max_daily_events_28d"] = ev[:, w - 28 :].max(axis=1) if n else np.zeros(0)
    specific = sum(kind(k, 28) for k in _SPECIFIC_KINDS)
    f["custom_share_28d"] = np.clip(_ratio(events_28 - specific, events_28, 0.0), 0.0, 1.0)
    f["decayed_events_hl3"] = ev @ (0.5 ** (days_ago / 3.0))
    f["decayed_active_days_hl7"] = active @ (0.5 ** (days_ago / 7.0))

    cohort = a.cohort.astype(np.int64)
    f["cohort_pct_events_7d"] = _cohort_percentile(f["events_7d"], cohort)
    f["cohort_pct_events_28d"] = _cohort_percentile(events_28, cohort)
    f["cohort_pct_active_days_14d"] = _cohort_percentile(f["active_days_14d"], cohort)
    f["cohort_pct_recency"] = _cohort_percentile(f["recency_days"], cohort)

    if set(f) != set(SIGNAL_NAMES):
        raise RuntimeError(
            f"signal computation and catalogue disagree: {set(f) ^ set(SIGNAL_NAMES)}"
        )
    out = np.empty((n, len(SIGNALS)), dtype=np.float64)
    for j, name in enumerate(SIGNAL_NAMES):
        out[:, j] = f[name]
    return out
