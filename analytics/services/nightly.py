"""The nightly analytics run: the aggregates' incremental refresh, then what reads them."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.models import AggregateRun
from analytics.services.aggregates import Progress, aggregates_refresh
from analytics.services.anomalies import anomalies_detect
from analytics.services.anomaly_alerts import anomaly_alerts_send
from analytics.services.first_week import FirstWeekComputed, first_week_compute
from analytics.services.forecasts import forecasts_compute
from analytics.services.funnels import funnels_compute
from analytics.services.retention import RetentionComputed, retention_compute


@dataclass(frozen=True)
class Derived:
    """What `analytics_derive` recomputed from the aggregates and the raw tables."""

    funnel_rows: int
    anomalies: int
    alerted: int  # anomalies staff were newly told of
    retention: RetentionComputed
    forecasts: int
    first_week: FirstWeekComputed


def analytics_derive() -> Derived:
    """Recompute what reads the aggregates and the raw tables (after the aggregates): the
    funnels, the latest days' anomalies (telling staff of the new ones), the retention
    cohorts and lifecycle, the forecasts and the first-week analysis."""
    funnel_rows = funnels_compute()
    found = anomalies_detect()
    alerted = anomaly_alerts_send([a.pk for a in found])
    return Derived(
        funnel_rows=funnel_rows,
        anomalies=len(found),
        alerted=alerted,
        retention=retention_compute(),
        forecasts=forecasts_compute().stored,
        first_week=first_week_compute(),
    )


def analytics_refresh(*, progress: Progress | None = None) -> AggregateRun | None:
    """Refresh the daily aggregates, then `analytics_derive`; return the aggregate run (None,
    and nothing else done, when another refresh is under way)."""
    run = aggregates_refresh(progress=progress)
    if run is None:
        return None
    analytics_derive()
    return run
