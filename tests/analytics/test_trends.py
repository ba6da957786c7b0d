"""Trend analysis finds a planted spike in a weekly series without flagging the weekly peaks,
and its averages, trend line and weekday profile match the series they describe."""

from __future__ import annotations

import datetime
import random

from analytics.services.trends import (
    find_anomalies,
    linear_trend,
    moving_average,
    weekday_profile,
)

START = datetime.date(2026, 1, 5)  # a Monday


def weekly_series(days: int = 84, spike_day: int | None = None, seed: int = 7):
    rng = random.Random(seed)
    series = []
    for i in range(days):
        day = START + datetime.timedelta(days=i)
        value = 100 + 0.5 * i + (60 if day.weekday() in (0, 1) else 0) + rng.gauss(0, 3)
        if i == spike_day:
            value += 80
        series.append((day, value))
    return series


def test_the_planted_spike_is_found_and_the_weekly_peaks_are_not():
    series = weekly_series(spike_day=60)

    anomalies = find_anomalies(series)

    assert [a.day for a in anomalies] == [series[60][0]]
    assert anomalies[0].score > 0


def test_a_regular_weekly_series_has_no_anomalies():
    assert find_anomalies(weekly_series()) == []


def test_a_short_series_has_no_anomalies_rather_than_an_error():
    assert find_anomalies(weekly_series(days=10)) == []


def test_moving_averages_start_once_a_full_window_exists():
    averages = moving_average([1, 2, 3, 4, 5, 6, 7, 8], 7)

    assert averages[:6] == [None] * 6
    assert averages[6:] == [4.0, 5.0]


def test_the_linear_trend_recovers_the_slope_and_its_band_contains_the_line():
    series = weekly_series()

    trend = linear_trend([v for _, v in series])

    assert abs(trend.slope - 0.5) < 0.15
    assert all(
        lo < fit < hi for lo, fit, hi in zip(trend.lower, trend.fitted, trend.upper, strict=True)
    )


def test_the_weekday_profile_shows_monday_and_tuesday_above_the_mean():
    profile = weekday_profile(weekly_series())

    assert profile[0] > 1.2 and profile[1] > 1.2
    assert all(p < 1 for p in profile[2:])
