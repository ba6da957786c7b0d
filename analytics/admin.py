"""Admin for analytics: the daily aggregates and their runs, to look at (services write them)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from analytics.models import (
    ActivityBitmap,
    AggregateRun,
    Anomaly,
    DailyAggregate,
    DailyRevenue,
    FirstWeekSnapshot,
    Forecast,
    FunnelProgress,
    IngestionHour,
    Insight,
    InsightRun,
    LifecycleWeek,
    NoShowModel,
    NoShowPrediction,
    PerformerFactor,
    PerformerMember,
    PerformerRun,
    ReportSend,
    ReportSubscription,
    RetentionCell,
    TaskHealth,
)
from analytics.services.activity_store import WORD_BITS, day_of
from analytics.services.insights import insight_status_set
from analytics.services.reports import report_subscriber_check, report_subscription_set
from core.admin import ReadOnlyAdmin
from core.errors import DomainValidationError


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


class ReportSubscriptionForm(forms.ModelForm):
    """Refuses a subscription for anyone but active staff, in the service's words."""

    class Meta:
        model = ReportSubscription
        fields = ["user", "kind", "is_active"]

    def clean_user(self) -> Any:
        user = self.cleaned_data["user"]
        try:
            report_subscriber_check(user)
        except DomainValidationError as error:
            raise forms.ValidationError(error.fields["user"]) from error
        return user


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    form = ReportSubscriptionForm
    list_display = ["user", "kind", "is_active", "updated_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]

    def save_model(
        self, request: HttpRequest, obj: ReportSubscription, form: Any, change: bool
    ) -> None:
        saved = report_subscription_set(user=obj.user, kind=obj.kind, active=obj.is_active)
        obj.pk = saved.pk


@admin.register(ReportSend)
class ReportSendAdmin(ReadOnlyAdmin):
    list_display = ["period", "kind", "user", "status", "attempts", "sent_at", "error"]
    list_filter = ["kind", "status"]
    search_fields = ["user__email", "to"]
    list_select_related = ["user"]
    date_hierarchy = "period"
    ordering = ["-period", "-created_at"]


class PerformerFactorInline(admin.TabularInline):
    model = PerformerFactor
    extra = 0
    can_delete = False
    fields = [
        "signal",
        "significant",
        "star_mean",
        "lagging_mean",
        "cohen_d",
        "d_low",
        "d_high",
        "p_value",
        "p_value_holm",
        "n_star",
        "n_lagging",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PerformerRun)
class PerformerRunAdmin(ReadOnlyAdmin):
    list_display = [
        "scope",
        "course",
        "as_of",
        "population",
        "star_count",
        "star_threshold",
        "lagging_count",
        "lagging_threshold",
        "computed_at",
    ]
    list_filter = ["scope"]
    search_fields = ["course__title", "=course__external_id"]
    list_select_related = ["course"]
    inlines = [PerformerFactorInline]


@admin.register(PerformerMember)
class PerformerMemberAdmin(ReadOnlyAdmin):
    list_display = ["run", "rank", "user", "segment", "score", "enrollments"]
    list_filter = ["segment", "run__scope"]
    search_fields = ["=user__external_id", "user__email"]
    list_select_related = ["run", "user"]
    raw_id_fields = ["run", "user"]
    ordering = ["run_id", "rank"]


@admin.register(FirstWeekSnapshot)
class FirstWeekSnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "scope",
        "analysed",
        "weak",
        "weak_dropped",
        "rest_dropped",
        "weak_completed",
        "rest_completed",
        "computed_at",
    ]
    list_filter = [("course", admin.EmptyFieldListFilter)]
    search_fields = ["course__title", "=course__external_id"]
    list_select_related = ["course"]
    exclude = ["weak_learners"]
    readonly_fields = ["cohort_size"]
    ordering = ["course_id"]

    @admin.display(description="scope")
    def scope(self, obj: FirstWeekSnapshot) -> str:
        return obj.course.title if obj.course_id else "Platform (every course)"

    @admin.display(description="learners with a weak first week")
    def cohort_size(self, obj: FirstWeekSnapshot) -> int:
        return len(obj.weak_learners)


@admin.register(InsightRun)
class InsightRunAdmin(ReadOnlyAdmin):
    list_display = [
        "week",
        "status",
        "writer",
        "model",
        "findings",
        "attempts",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "latency_ms",
        "finished_at",
    ]
    list_filter = ["status", "writer"]
    date_hierarchy = "week"
    ordering = ["-week"]


@admin.action(description="Mark acknowledged")
def mark_acknowledged(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: Any) -> None:
    for insight in queryset:
        insight_status_set(insight=insight, status=Insight.Status.ACKNOWLEDGED, actor=request.user)


@admin.action(description="Mark dismissed")
def mark_dismissed(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: Any) -> None:
    for insight in queryset:
        insight_status_set(insight=insight, status=Insight.Status.DISMISSED, actor=request.user)


@admin.register(Insight)
class InsightAdmin(ReadOnlyAdmin):
    """Written by the weekly run; staff change only the status, through the actions."""

    list_display = ["week", "kind", "headline", "significant", "status", "status_by", "status_at"]
    list_filter = ["status", "kind", "significant"]
    search_fields = ["headline", "key"]
    list_select_related = ["status_by"]
    date_hierarchy = "week"
    ordering = ["-week", "position"]
    actions = [mark_acknowledged, mark_dismissed]


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


# What the nightly runs store for the pages, read-only like the aggregates.


@admin.register(DailyRevenue)
class DailyRevenueAdmin(ReadOnlyAdmin):
    list_display = ["day", "course", "instructor", "currency", "amount", "transactions"]
    list_filter = ["currency"]
    date_hierarchy = "day"
    raw_id_fields = ["course", "instructor"]


@admin.register(FunnelProgress)
class FunnelProgressAdmin(ReadOnlyAdmin):
    list_display = ["enrollment", "course", "enrolled_at", "started_at", "completed_at"]
    raw_id_fields = ["enrollment", "course"]


@admin.register(RetentionCell)
class RetentionCellAdmin(ReadOnlyAdmin):
    list_display = [
        "cohort_kind",
        "cohort_week",
        "course",
        "breakdown",
        "breakdown_value",
        "week_offset",
        "cohort_size",
        "retained",
    ]
    list_filter = ["cohort_kind", "breakdown"]
    raw_id_fields = ["course"]


@admin.register(LifecycleWeek)
class LifecycleWeekAdmin(ReadOnlyAdmin):
    list_display = ["week", "course", "new", "returning", "resurrecting", "dormant"]
    raw_id_fields = ["course"]


@admin.register(IngestionHour)
class IngestionHourAdmin(ReadOnlyAdmin):
    list_display = ["hour", "events", "counted_at"]


@admin.register(PerformerFactor)
class PerformerFactorAdmin(ReadOnlyAdmin):
    list_display = ["signal", "run", "star_mean", "lagging_mean", "cohen_d", "p_value_holm"]
    search_fields = ["signal"]
    raw_id_fields = ["run"]
