"""Admin for engagement: events and scores to look at, alert rules to tune, alerts to handle."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import EstimatedCountPaginator, ReadOnlyAdmin
from core.errors import DomainValidationError
from engagement.catalogue import EVENT_TYPES
from engagement.models import (
    Alert,
    AlertRule,
    EngagementScore,
    Event,
    PersonalizationProfile,
    RiskModelVersion,
    ScoringRun,
)
from engagement.services.alerts import (
    alert_acknowledge,
    alert_resolve,
    alert_rule_params_validate,
    alert_rule_update,
)


class EventTypeFilter(admin.SimpleListFilter):
    """Types from the catalogue (a DISTINCT over all events would scan the whole table)."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(name, name) for name in EVENT_TYPES] + [("x-", "custom (x-…)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        value = self.value()
        if value == "x-":
            return queryset.filter(type__startswith="x-")
        return queryset.filter(type=value) if value else queryset


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "type", "user", "course", "lesson", "source", "device"]
    list_filter = [EventTypeFilter, ("occurred_at", admin.DateFieldListFilter), "device"]
    search_fields = ["=user__email", "=user__external_id"]
    list_select_related = ["user", "course", "lesson"]
    ordering = ["-occurred_at"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 100


@admin.register(RiskModelVersion)
class RiskModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["version", "algorithm", "as_of", "horizon_days", "examples", "auc", "is_active"]
    list_filter = ["is_active", "algorithm"]
    fields = [
        "version",
        "algorithm",
        "trained_at",
        "as_of",
        "horizon_days",
        "examples",
        "signal_names",
        "metrics",
        "is_active",
    ]

    @admin.display(description="AUC")
    def auc(self, obj: RiskModelVersion) -> str:
        metrics = obj.metrics or {}
        value = metrics.get("auc", metrics.get("roc_auc"))
        return f"{value:.3f}" if isinstance(value, int | float) else "—"

    def get_queryset(self, request: HttpRequest) -> QuerySet[RiskModelVersion]:
        # The pickled model can be megabytes; the admin never shows it.
        return super().get_queryset(request).defer("artifact")


@admin.register(ScoringRun)
class ScoringRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "as_of",
        "status",
        "progress",
        "model_version",
        "requested_by",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "as_of"]
    readonly_fields = ["progress"]

    @admin.display(description="Progress")
    def progress(self, obj: ScoringRun) -> str:
        return f"{obj.percent}% ({obj.processed}/{obj.total})"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScoringRun]:
        return (
            super()
            .get_queryset(request)
            .select_related("model_version", "requested_by")
            .defer("model_version__artifact")
        )


@admin.register(EngagementScore)
class EngagementScoreAdmin(ReadOnlyAdmin):
    """One row per enrolment and run: the learner's score in one course."""

    list_display = [
        "user",
        "course",
        "as_of",
        "drop_off_risk",
        "level",
        "never_started",
        "weekly_risk",
        "confidence",
        "run",
    ]
    list_filter = ["level", "never_started", "as_of"]
    search_fields = ["=user__email", "=user__external_id", "=course__external_id"]
    list_select_related = ["user", "course", "run"]
    ordering = ["-as_of", "-drop_off_risk"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = ["priority", "cooldown_hours", "params", "is_active"]

    def clean_priority(self) -> int:
        priority = self.cleaned_data["priority"]
        if priority > 100:
            raise forms.ValidationError("Priority must be between 0 and 100.")
        return priority

    def clean_params(self) -> Any:
        try:
            return alert_rule_params_validate(
                code=self.instance.code, params=self.cleaned_data["params"]
            )
        except DomainValidationError as exc:
            raise forms.ValidationError(exc.fields.get("params", [str(exc)])) from exc


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    list_display = ["name", "code", "priority", "cooldown_hours", "is_active"]
    list_editable = ["priority", "cooldown_hours", "is_active"]
    list_filter = ["is_active"]
    fields = ["code", "name", "description", "priority", "cooldown_hours", "params", "is_active"]
    readonly_fields = ["code", "name", "description"]

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[forms.ModelForm]:
        # The list's inline edits get the same checks as the change page.
        kwargs.setdefault("form", AlertRuleForm)
        return super().get_changelist_form(request, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the rules are the nine the code knows how to evaluate

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: AlertRule, form: Any, change: bool) -> None:
        alert_rule_update(
            rule=obj,
            priority=obj.priority,
            cooldown_hours=obj.cooldown_hours,
            params=obj.params,
            is_active=obj.is_active,
        )


class PriorityFilter(admin.SimpleListFilter):
    title = "priority"
    parameter_name = "priority_band"
    BANDS = {"high": (80, 101), "medium": (50, 80), "low": (0, 50)}

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("high", "80 and above"), ("medium", "50 to 79"), ("low", "below 50")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Alert]) -> QuerySet[Alert]:
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        return queryset.filter(priority__gte=band[0], priority__lt=band[1])


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["message", "rule", "user", "course", "priority", "status", "created_at"]
    list_filter = ["status", "rule", PriorityFilter]
    search_fields = ["=user__email", "=user__external_id"]
    list_select_related = ["rule", "user", "course"]
    ordering = ["-priority", "-created_at"]
    date_hierarchy = "created_at"
    actions = ["acknowledge", "resolve"]
    readonly_fields = [
        "rule",
        "user",
        "course",
        "priority",
        "message",
        "context",
        "status",
        "created_at",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "resolved_by",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Acknowledge selected alerts")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        self._apply(request, queryset, alert_acknowledge, "acknowledged")

    @admin.action(description="Resolve selected alerts")
    def resolve(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        self._apply(request, queryset, alert_resolve, "resolved")

    def _apply(self, request: HttpRequest, queryset: QuerySet[Alert], service: Any, done: str):
        changed = skipped = 0
        for alert in queryset.filter(status__in=[Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED]):
            try:
                service(alert=alert, by=request.user)
                changed += 1
            except DomainValidationError:
                skipped += 1  # resolved by someone else meanwhile
        skipped += queryset.count() - changed - skipped
        self.message_user(request, f"{changed} alert(s) {done}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} already resolved alert(s) left as they were.", messages.WARNING
            )


@admin.register(PersonalizationProfile)
class PersonalizationProfileAdmin(ReadOnlyAdmin):
    list_display = [
        "user",
        "pace",
        "lessons_per_week",
        "lessons_completed",
        "observed_days",
        "preferred_format",
        "best_send_hour",
        "study_hours",
        "preferred_days",
        "events_considered",
        "updated_at",
    ]
    list_filter = ["pace", "preferred_format"]
    search_fields = ["=user__email", "=user__external_id"]
    list_select_related = ["user"]
