"""Analytics' models, a module per family; each is imported here so Django finds it."""

from analytics.models.activity import ActivityBitmap
from analytics.models.aggregates import AggregateRun, DailyAggregate
from analytics.models.first_week import FirstWeekSnapshot
from analytics.models.forecasts import Forecast
from analytics.models.funnels import FunnelProgress
from analytics.models.health import IngestionHour, TaskHealth
from analytics.models.insights import Insight, InsightRun
from analytics.models.no_show import NoShowModel, NoShowPrediction
from analytics.models.performers import (
    PerformerFactor,
    PerformerMember,
    PerformerRun,
    PerformerScope,
    PerformerSegment,
)
from analytics.models.reports import ReportKind, ReportSend, ReportSubscription
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
    "FirstWeekSnapshot",
    "Forecast",
    "FunnelProgress",
    "IngestionHour",
    "Insight",
    "InsightRun",
    "LifecycleWeek",
    "NoShowModel",
    "NoShowPrediction",
    "PerformerFactor",
    "PerformerMember",
    "PerformerRun",
    "PerformerScope",
    "PerformerSegment",
    "ReportKind",
    "ReportSend",
    "ReportSubscription",
    "RetentionCell",
    "TaskHealth",
]
