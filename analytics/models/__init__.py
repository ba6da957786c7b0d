"""Analytics' models, a module per family; each is imported here so Django finds it."""

from analytics.models.aggregates import AggregateRun, DailyAggregate
from analytics.models.funnels import FunnelProgress

__all__ = ["AggregateRun", "DailyAggregate", "FunnelProgress"]
