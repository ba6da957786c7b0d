"""The nightly analytics run: the aggregates' incremental refresh, then what reads them."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.models import AggregateRun
from analytics.services.aggregates import Progress, aggregates_refresh
from analytics.services.anomalies import anomalies_detect
from analytics.services.funnels import funnels_compute
from analytics.services.retention import RetentionComputed, retention_compute


@dataclass(frozen=True)
class Derived:
    """What `analytics_derive` recomputed from the aggregates and the raw tables."""

    funnel_rows: int
    anomalies: int
    retention: RetentionComputed


def analytics_derive() -> Derived:
    """Recompute the funnels and the retention cohorts and lifecycle, and store the latest
    days' anomalies (after the aggregates)."""
    return Derived(
        funnel_rows=funnels_compute(),
        anomalies=len(anomalies_detect()),
        retention=retention_compute(),
    )


def analytics_refresh(*, progress: Progress | None = None) -> AggregateRun | None:
    """Refresh the daily aggregates, then `analytics_derive`; return the aggregate run (None,
    and nothing else done, when another refresh is under way)."""
    run = aggregates_refresh(progress=progress)
    if run is None:
        return None
    analytics_derive()
    return run
