"""Analytics' models, a module per family; each is imported here so Django finds it."""

from analytics.models.activity import ActivityBitmap
from analytics.models.aggregates import AggregateRun, DailyAggregate
from analytics.models.forecasts import Forecast
from analytics.models.funnels import FunnelProgress
from analytics.models.health import IngestionHour, TaskHealth
from analytics.models.no_show import NoShowModel, NoShowPrediction
from analytics.models.retention import Breakdown, CohortKind, LifecycleWeek, RetentionCell
from analytics.models.revenue import DailyRevenue
from analytics.models.trends import Anomaly

__all__ = [
    "ActivityBitmap",
    "AggregateRun",
    "Anomaly",
    "Breakdown",
    "CohortKind",
    "DailyAggregate",
    "DailyRevenue",
    "Forecast",
    "FunnelProgress",
    "IngestionHour",
    "LifecycleWeek",
    "NoShowModel",
    "NoShowPrediction",
    "RetentionCell",
    "TaskHealth",
]
