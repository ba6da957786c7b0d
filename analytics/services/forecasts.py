"""The nightly forecasts: every scope's DAU, enrollments and revenue per currency, 30 days
ahead of the latest aggregated day, stored so that pages and the API only read them."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

from django.db import transaction

from analytics.models import DailyAggregate, Forecast
from analytics.selectors.forecasts import forecast_histories
from analytics.services.aggregates import latest_complete_day
from analytics.services.forecast_models import forecast

# How far back a model looks: half a year holds enough weeks for the weekly pattern and
# forgets the seasons before it; it also bounds a fit's cost.
HISTORY_DAYS = 182
# Earlier nights' forecasts stay this long (the admin shows what was forecast against what
# happened); pages and the API read only the latest, and a row a night per scope adds up.
KEEP_DAYS = 90


@dataclass(frozen=True)
class ForecastRun:
    origin: datetime.date | None
    stored: int
    with_forecast: int
    seconds: float


def forecasts_compute(end: datetime.date | None = None) -> ForecastRun:
    """Forecast every scope's series from the history up to `end` (by default the latest
    aggregated day that has ended for every learner) and store one row per scope, metric
    and currency, replacing what an earlier run stored for the same `end` and dropping
    the forecasts made more than KEEP_DAYS before it."""
    started = time.perf_counter()
    if end is None:
        last = DailyAggregate.objects.order_by("-day").values_list("day", flat=True).first()
        if last is None:
            return ForecastRun(None, 0, 0, 0.0)
        # Not today's partial figures: a half-counted day would pull every forecast down.
        end = min(last, latest_complete_day())
    start = end - datetime.timedelta(days=HISTORY_DAYS - 1)
    rows = []
    for (metric, course_id, currency), series in forecast_histories(start, end).items():
        result = forecast(series)
        backtest = result.backtest
        rows.append(
            Forecast(
                origin=end,
                course_id=course_id,
                metric=metric,
                currency=currency,
                model=result.model,
                reason=result.reason,
                history_days=result.history_days,
                points=[
                    {
                        "date": p.day.isoformat(),
                        "mean": p.mean,
                        "lower_80": p.lower_80,
                        "upper_80": p.upper_80,
                        "lower_95": p.lower_95,
                        "upper_95": p.upper_95,
                    }
                    for p in result.points
                ],
                backtest_days=backtest.days if backtest else None,
                backtest_mape=backtest.mape if backtest else None,
                backtest_mape_days=backtest.mape_days if backtest else None,
                backtest_mae=backtest.mae if backtest else None,
                backtest_covered_80=backtest.covered_80 if backtest else None,
                backtest_covered_95=backtest.covered_95 if backtest else None,
                warnings=result.warnings,
            )
        )
    # The fits run outside the transaction; the swap is atomic, so a page never sees half
    # of a night's forecasts and a rerun replaces rather than duplicates.
    with transaction.atomic():
        Forecast.objects.filter(origin=end).delete()
        Forecast.objects.filter(origin__lt=end - datetime.timedelta(days=KEEP_DAYS)).delete()
        Forecast.objects.bulk_create(rows)
    return ForecastRun(
        origin=end,
        stored=len(rows),
        with_forecast=sum(1 for row in rows if row.points),
        seconds=time.perf_counter() - started,
    )
