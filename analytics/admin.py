"""Admin for analytics: the daily aggregates and their runs, to look at (services write them)."""

from __future__ import annotations

from django.contrib import admin

from analytics.models import AggregateRun, Anomaly, DailyAggregate, Forecast, TaskHealth
from core.admin import ReadOnlyAdmin


@admin.register(DailyAggregate)
class DailyAggregateAdmin(ReadOnlyAdmin):
    list_display = [
        "day",
        "course",
        "dau",
        "wau",
        "mau",
        "stickiness_percent",
        "new_learners",
        "events",
        "enrollments",
        "completions",
        "computed_at",
    ]
    list_filter = [("course", admin.EmptyFieldListFilter)]
    search_fields = ["course__title", "=course__external_id"]
    list_select_related = ["course"]
    date_hierarchy = "day"
    ordering = ["-day", "course_id"]

    @admin.display(description="stickiness")
    def stickiness_percent(self, obj: DailyAggregate) -> str:
        return "-" if obj.stickiness is None else f"{obj.stickiness:.0%}"


@admin.register(AggregateRun)
class AggregateRunAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "kind",
        "status",
        "first_day",
        "last_day",
        "days",
        "received_until",
        "finished_at",
    ]
    list_filter = ["kind", "status"]
    ordering = ["-started_at"]


@admin.register(Anomaly)
class AnomalyAdmin(ReadOnlyAdmin):
    list_display = [
        "day",
        "course",
        "metric",
        "value",
        "baseline",
        "score",
        "detected_at",
        "notified_at",
    ]
    list_filter = ["metric", ("course", admin.EmptyFieldListFilter)]
    list_select_related = ["course"]
    date_hierarchy = "day"


@admin.register(Forecast)
class ForecastAdmin(ReadOnlyAdmin):
    list_display = [
        "origin",
        "course",
        "metric",
        "currency",
        "model",
        "history_days",
        "backtest_mape",
        "backtest_covered_95",
        "computed_at",
    ]
    list_filter = ["metric", "currency", ("course", admin.EmptyFieldListFilter)]
    search_fields = ["course__title", "=course__external_id"]
    list_select_related = ["course"]
    date_hierarchy = "origin"


@admin.register(TaskHealth)
class TaskHealthAdmin(ReadOnlyAdmin):
    list_display = [
        "task",
        "last_started_at",
        "last_success_at",
        "last_success_seconds",
        "last_failure_at",
        "last_error",
        "successes",
        "failures",
    ]
    search_fields = ["task"]
