"""Forecasting one daily series 30 days ahead with prediction intervals, and backtesting it.

A pure numerical core (no Django): a list of (day, value) pairs, one per consecutive day,
goes in; the forecast, the model that made it, its backtest and any warnings the fit raised
come out. The nightly service stores the result; pages and the API read what it stored.

The model is statsmodels' ETSModel, the state-space form of exponential smoothing, with
additive errors. Unlike `holtwinters.ExponentialSmoothing` it has a likelihood, so its
prediction intervals are analytic rather than simulated, and unlike SARIMAX it models level,
trend and weekly seasonality directly and fits in milliseconds. Additive (not multiplicative)
errors and seasonality because the series hold zeros (a quiet course, a day without a sale).
The trend is fitted damped and undamped and the lower AICc kept, as R's forecast::ets does;
the backtest refits the form chosen (4 fits a series would double the nightly cost).
Initial states come from the heuristic decomposition rather than being estimated, which keeps
a fit to four parameters (and ~10 ms) instead of twelve.
"""

from __future__ import annotations

import datetime
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from threadpoolctl import threadpool_limits

Series = list[tuple[datetime.date, float]]

HORIZON = 30
SEASON = 7  # weekly: learners study on some weekdays more than others
MIN_HISTORY = 14  # below this, no forecast (a reason is given instead)
# The weekly model needs two full seasons in what the backtest refits on: 14 + 14 days.
SEASONAL_HISTORY = 2 * SEASON + 14
BACKTEST_DAYS = 14
MIN_BACKTEST_DAYS = 7
MAX_ITERATIONS = 200  # per fit; a fit that stops here is recorded as not converged
LEVELS = (80, 95)


@dataclass(frozen=True)
class ForecastPoint:
    day: datetime.date
    mean: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float


@dataclass(frozen=True)
class Backtest:
    """The model refitted without the last `days` days, scored on them. `mape` is the mean
    absolute percentage error over the `mape_days` days whose actual value is not zero (a
    percentage of zero is undefined); None when every held-out day is zero. `mae` covers all
    days, in the metric's unit."""

    days: int
    mape: float | None
    mape_days: int
    mae: float
    covered_80: int
    covered_95: int


@dataclass(frozen=True)
class ForecastResult:
    model: str  # "" when there is no forecast
    points: list[ForecastPoint]
    backtest: Backtest | None
    reason: str  # why there is no forecast, or no backtest
    warnings: list[str]
    history_days: int


WEEKLY = "weekly seasonality"
NO_SEASON = "no seasonality (under 4 weeks of history)"


def _fit(series: pd.Series, *, seasonal: bool, damped: bool):
    options: dict = {"error": "add", "trend": "add", "damped_trend": damped}
    if seasonal:
        options.update(seasonal="add", seasonal_periods=SEASON)
    return ETSModel(series, initialization_method="heuristic", **options).fit(
        disp=False, maxiter=MAX_ITERATIONS
    )


def _fit_predict(
    values: np.ndarray,
    first_day: datetime.date,
    *,
    seasonal: bool,
    damped: bool | None,
    horizon: int,
    notes: list[str],
) -> tuple[bool, str, list[ForecastPoint]]:
    """Fit the trend (with weekly seasonality when `seasonal`) damped or not as `damped` says;
    with None fit both and keep the lower AICc (a damped trend underforecasts steady growth,
    an undamped one overshoots a levelling series). Predict `horizon` days after `values`,
    clipped at zero, and return whether the trend is damped, the model's name and the points;
    the fits' warnings are added to `notes`."""
    index = pd.date_range(first_day, periods=len(values), freq="D")
    series = pd.Series(values, index=index)
    forms = (True, False) if damped is None else (damped,)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fits = {form: _fit(series, seasonal=seasonal, damped=form) for form in forms}
        damped = min(fits, key=lambda d: fits[d].aicc if np.isfinite(fits[d].aicc) else np.inf)
        fit = fits[damped]
        prediction = fit.get_prediction(start=len(values), end=len(values) + horizon - 1)
        frames = {level: prediction.summary_frame(alpha=1 - level / 100) for level in LEVELS}
    for warning in caught:
        message = f"{warning.category.__name__}: {warning.message}"
        if message not in notes:
            notes.append(message)
    unconverged = f"The fit did not converge within {MAX_ITERATIONS} iterations."
    if not fit.mle_retvals.get("converged", True) and unconverged not in notes:
        notes.append(unconverged)
    name = f"ETS(A,{'Ad' if damped else 'A'},{'A' if seasonal else 'N'}), "
    name += WEEKLY if seasonal else NO_SEASON
    mean = np.clip(frames[95]["mean"].to_numpy(), 0, None)
    bounds = {
        level: (
            np.clip(frame["pi_lower"].to_numpy(), 0, None),
            np.clip(frame["pi_upper"].to_numpy(), 0, None),
        )
        for level, frame in frames.items()
    }
    start = first_day + datetime.timedelta(days=len(values))
    return (
        damped,
        name,
        [
            ForecastPoint(
                day=start + datetime.timedelta(days=i),
                mean=float(mean[i]),
                lower_80=float(bounds[80][0][i]),
                upper_80=float(bounds[80][1][i]),
                lower_95=float(bounds[95][0][i]),
                upper_95=float(bounds[95][1][i]),
            )
            for i in range(horizon)
        ],
    )


def backtest_score(actual: list[float], points: list[ForecastPoint]) -> Backtest:
    """Score forecast `points` against the `actual` values of the same days."""
    errors = [abs(a - p.mean) for a, p in zip(actual, points, strict=True)]
    percentages = [e / abs(a) for e, a in zip(errors, actual, strict=True) if a != 0]
    return Backtest(
        days=len(actual),
        mape=100 * float(np.mean(percentages)) if percentages else None,
        mape_days=len(percentages),
        mae=float(np.mean(errors)),
        covered_80=sum(p.lower_80 <= a <= p.upper_80 for a, p in zip(actual, points, strict=True)),
        covered_95=sum(p.lower_95 <= a <= p.upper_95 for a, p in zip(actual, points, strict=True)),
    )


def forecast(series: Series, *, horizon: int = HORIZON) -> ForecastResult:
    """Forecast the `horizon` days after `series` (consecutive days, oldest first, starting
    where the scope's history starts) with 80% and 95% prediction intervals, and backtest the
    chosen model on the last BACKTEST_DAYS days (fewer for a short history, none below
    MIN_BACKTEST_DAYS). Under MIN_HISTORY days there is no forecast, only the reason."""
    # The fits are tiny (4 parameters): multithreaded BLAS only adds thread hand-offs, which
    # made a fit 6x slower on a busy 2-core machine.
    with threadpool_limits(limits=1):
        return _forecast(series, horizon=horizon)


def _forecast(series: Series, *, horizon: int) -> ForecastResult:
    n = len(series)
    if n < MIN_HISTORY:
        return ForecastResult(
            model="",
            points=[],
            backtest=None,
            reason=f"Needs {MIN_HISTORY} days of history; has {n}.",
            warnings=[],
            history_days=n,
        )
    values = np.asarray([value for _, value in series], dtype=float)
    first_day = series[0][0]
    if np.ptp(values) == 0:
        return ForecastResult(
            model="",
            points=[],
            backtest=None,
            reason=f"Every day of the history is {values[0]:g}; a model needs some variation.",
            warnings=[],
            history_days=n,
        )
    seasonal = n >= SEASONAL_HISTORY
    notes: list[str] = []
    try:
        damped, model, points = _fit_predict(
            values, first_day, seasonal=seasonal, damped=None, horizon=horizon, notes=notes
        )
    except (ValueError, np.linalg.LinAlgError) as error:
        return ForecastResult(
            model="",
            points=[],
            backtest=None,
            reason=f"The model could not be fitted: {error}",
            warnings=notes,
            history_days=n,
        )
    held_out = min(BACKTEST_DAYS, n - MIN_HISTORY)
    backtest = None
    reason = ""
    if held_out < MIN_BACKTEST_DAYS:
        reason = f"No backtest: needs {MIN_HISTORY + MIN_BACKTEST_DAYS} days of history."
    else:
        try:
            *_, predicted = _fit_predict(
                values[:-held_out],
                first_day,
                seasonal=seasonal,
                damped=damped,
                horizon=held_out,
                notes=notes,
            )
            backtest = backtest_score(values[-held_out:].tolist(), predicted)
        except (ValueError, np.linalg.LinAlgError) as error:
            reason = f"No backtest: the refit failed ({error})."
    return ForecastResult(
        model=model,
        points=points,
        backtest=backtest,
        reason=reason,
        warnings=notes,
        history_days=n,
    )
