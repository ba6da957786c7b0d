"""Trend analysis of one daily series: moving averages, a linear trend with its confidence
interval, day-of-week seasonality and robust anomaly scores.

Pure functions over a list of (day, value) pairs, one per consecutive day; nothing here reads
or writes the database, so a page or the nightly run can call them on stored aggregates.
"""

from __future__ import annotations

import datetime
import statistics
from dataclasses import dataclass

import numpy as np
from scipy import stats

METRICS = ("dau", "wau", "mau", "events", "enrollments", "completions", "new_learners")
DEFAULT_METRIC = "dau"
ANOMALY_THRESHOLD = 3.5
MAD_TO_SIGMA = 1.4826
# How many earlier same-weekday values form a day's baseline, and how many are needed at all.
BASELINE_WEEKS = 4
MIN_BASELINE_WEEKS = 3

Series = list[tuple[datetime.date, float]]


@dataclass(frozen=True)
class LinearTrend:
    slope: float  # per day
    intercept: float  # value at the first day
    fitted: list[float]
    lower: list[float]  # 95% confidence band of the fitted mean
    upper: list[float]


@dataclass(frozen=True)
class Anomaly:
    day: datetime.date
    value: float
    baseline: float
    score: float


def moving_average(values: list[float], window: int) -> list[float | None]:
    """Trailing mean over `window` days; None until a full window exists."""
    out: list[float | None] = []
    total = 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / window if i >= window - 1 else None)
    return out


def linear_trend(values: list[float], confidence: float = 0.95) -> LinearTrend | None:
    """OLS line through the series (x = day index) with the confidence band of its mean."""
    n = len(values)
    if n < 3:
        return None
    x = np.arange(n, dtype=float)
    y = np.asarray(values, dtype=float)
    fit = stats.linregress(x, y)
    fitted = fit.intercept + fit.slope * x
    residual_sd = np.sqrt(np.sum((y - fitted) ** 2) / (n - 2))
    t = stats.t.ppf((1 + confidence) / 2, n - 2)
    sxx = np.sum((x - x.mean()) ** 2)
    half = t * residual_sd * np.sqrt(1 / n + (x - x.mean()) ** 2 / sxx)
    return LinearTrend(
        slope=float(fit.slope),
        intercept=float(fit.intercept),
        fitted=fitted.tolist(),
        lower=(fitted - half).tolist(),
        upper=(fitted + half).tolist(),
    )


def weekday_profile(series: Series) -> list[float | None]:
    """Mean per weekday (Monday first) relative to the overall mean: 1.2 is 20% above."""
    if not series:
        return [None] * 7
    overall = statistics.fmean(value for _, value in series)
    by_weekday: list[list[float]] = [[] for _ in range(7)]
    for day, value in series:
        by_weekday[day.weekday()].append(value)
    return [
        (statistics.fmean(values) / overall if values and overall else None)
        for values in by_weekday
    ]


def anomaly_scores(series: Series) -> list[float | None]:
    """Each day's robust score: its distance from the median of the previous
    BASELINE_WEEKS same weekdays, over the scaled MAD of those residuals across the series.
    None while a day has fewer than MIN_BASELINE_WEEKS earlier same weekdays."""
    values = [value for _, value in series]
    baselines: list[float | None] = []
    for i in range(len(values)):
        earlier = [values[j] for j in range(i - 7, -1, -7)][:BASELINE_WEEKS]
        baselines.append(statistics.median(earlier) if len(earlier) >= MIN_BASELINE_WEEKS else None)
    residuals = [v - b for v, b in zip(values, baselines, strict=True) if b is not None]
    if not residuals:
        return [None] * len(values)
    centre = statistics.median(residuals)
    scale = statistics.median(abs(r - centre) for r in residuals) * MAD_TO_SIGMA
    if scale == 0:
        # A perfectly regular series: fall back to the mean absolute deviation, then to 1.
        scale = statistics.fmean(abs(r - centre) for r in residuals) or 1.0
    return [
        None if b is None else (v - b - centre) / scale
        for v, b in zip(values, baselines, strict=True)
    ]


def find_anomalies(series: Series, threshold: float = ANOMALY_THRESHOLD) -> list[Anomaly]:
    """Days whose robust score is beyond the threshold (spikes and drops)."""
    scores = anomaly_scores(series)
    found = []
    for i, ((day, value), score) in enumerate(zip(series, scores, strict=True)):
        if score is not None and abs(score) > threshold:
            earlier = [series[j][1] for j in range(i - 7, -1, -7)][:BASELINE_WEEKS]
            found.append(Anomaly(day, value, statistics.median(earlier), score))
    return found
