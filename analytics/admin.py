"""Admin for analytics: the daily aggregates and their runs, to look at (services write them)."""

from __future__ import annotations

from django.contrib import admin

from analytics.models import (
    ActivityBitmap,
    AggregateRun,
    Anomaly,
    DailyAggregate,
    Forecast,
    NoShowModel,
    NoShowPrediction,
    TaskHealth,
)
from analytics.services.activity_store import WORD_BITS, day_of
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


@admin.register(ActivityBitmap)
class ActivityBitmapAdmin(ReadOnlyAdmin):
    list_display = ["word", "first_day", "course", "learners_count", "covered_days", "computed_at"]
    list_select_related = ["course"]
    exclude = ["learners", "bits"]
    readonly_fields = ["first_day", "learners_count", "covered_days"]
    ordering = ["-word", "course_id"]

    @admin.display(description="first day")
    def first_day(self, obj: ActivityBitmap) -> object:
        return day_of(obj.word * WORD_BITS)

    @admin.display(description="learners")
    def learners_count(self, obj: ActivityBitmap) -> int:
        return len(obj.learners) // 8

    @admin.display(description="days covered (row without a course)")
    def covered_days(self, obj: ActivityBitmap) -> int:
        return (obj.covered % (1 << 64)).bit_count()


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


@admin.register(NoShowModel)
class NoShowModelAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "trained_at",
        "in_use",
        "n_outcomes",
        "n_no_shows",
        "n_holdout",
        "model_auc",
        "baseline_auc",
        "model_log_loss",
        "baseline_log_loss",
        "note",
    ]
    list_filter = ["in_use"]
    exclude = ["fitted"]
    ordering = ["-trained_at", "-id"]


@admin.register(NoShowPrediction)
class NoShowPredictionAdmin(ReadOnlyAdmin):
    list_display = ["registration", "probability", "source", "model", "predicted_at"]
    list_filter = ["source"]
    search_fields = [
        "=registration__user__external_id",
        "registration__user__email",
        "=registration__session__external_id",
    ]
    list_select_related = ["registration__user", "registration__session", "model"]
    ordering = ["-probability", "id"]
