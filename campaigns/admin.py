"""Admin: campaigns (built and edited on the builder page, moved through their states by
actions here), segments (their filters checked), and the runs, drip progress and log the
services write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from campaigns.filters import filter_validate
from campaigns.models import (
    Campaign,
    CampaignLog,
    CampaignRun,
    DripProgress,
    DripStep,
    Experiment,
    ExperimentLog,
    ExperimentOutcomes,
    Exposure,
    ExposureOutcome,
    RunChunk,
    Segment,
)
from campaigns.services import campaigns as services
from core.admin import ReadOnlyAdmin
from core.errors import DomainValidationError


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "slug", "description", "filter"]

    def clean_filter(self) -> Any:
        value = self.cleaned_data["filter"]
        try:
            filter_validate(value)
        except DomainValidationError as error:
            raise forms.ValidationError(error.messages_text()) from error
        return value


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ("name", "slug", "is_predefined", "created_at")
    list_filter = ("is_predefined",)
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}

    def has_change_permission(self, request: HttpRequest, obj: Segment | None = None) -> bool:
        return super().has_change_permission(request, obj) and not (obj and obj.is_predefined)

    def has_delete_permission(self, request: HttpRequest, obj: Segment | None = None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj and obj.is_predefined)

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class DripStepInline(admin.TabularInline):
    model = DripStep
    fields = ("position", "template", "delay_days", "delay_hours", "after_previous")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RunInline(admin.TabularInline):
    model = CampaignRun
    fields = ("occurrence", "status", "targeted", "queued", "deferred", "skipped", "finished_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-occurrence",)
    max_num = 0
    show_change_link = True


class LogInline(admin.TabularInline):
    model = CampaignLog
    fields = ("at", "actor", "action", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


def _state_action(verb: str, label: str) -> Any:
    def run(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        change = getattr(services, f"campaign_{verb}")
        done = 0
        for campaign in queryset:
            try:
                change(campaign=campaign, actor=request.user)
                done += 1
            except DomainValidationError as error:
                modeladmin.message_user(
                    request, f"{campaign.name}: {error.messages_text()}", messages.ERROR
                )
        if done:
            modeladmin.message_user(request, f"{label}: {done} campaign(s).", messages.SUCCESS)

    run.__name__ = f"{verb}_selected"
    return admin.action(description=f"{label} the selected campaigns")(run)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """Campaigns are built on the builder page (its checks name every mistake); here staff
    rename them and move them through their states."""

    list_display = ("name", "kind", "status", "channel", "next_run_at", "builder_link")
    list_filter = ("status", "kind", "channel")
    search_fields = ("name", "description")
    fields = (
        "name",
        "description",
        "kind",
        "status",
        "channel",
        "template",
        "segment",
        "filter",
        "starts_at",
        "rrule",
        "send_time",
        "timezone",
        "learner_local_time",
        "anchor",
        "anchor_course",
        "exit_conditions",
        "rate_per_minute",
        "next_run_at",
        "created_by",
        "created_at",
    )
    readonly_fields = tuple(f for f in fields if f not in ("name", "description"))
    inlines = [DripStepInline, RunInline, LogInline]
    actions = [
        _state_action("activate", "Activate"),
        _state_action("pause", "Pause"),
        _state_action("resume", "Resume"),
        _state_action("cancel", "Cancel"),
        _state_action("duplicate", "Duplicate"),
    ]

    @admin.display(description="Builder")
    def builder_link(self, obj: Campaign) -> str:
        return format_html(
            '<a href="{}">Open</a>', reverse("campaigns:detail", kwargs={"pk": obj.pk})
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the builder page creates campaigns


@admin.register(CampaignRun)
class CampaignRunAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "occurrence", "status", "targeted", "queued", "deferred")
    list_filter = ("status",)
    search_fields = ("campaign__name",)
    list_select_related = ("campaign",)


@admin.register(RunChunk)
class RunChunkAdmin(ReadOnlyAdmin):
    list_display = ("run", "index", "first", "last", "status", "attempts", "queued")
    list_filter = ("status",)
    list_select_related = ("run__campaign",)


@admin.register(DripProgress)
class DripProgressAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "user", "step", "next_due_at", "exited_at", "exit_reason")
    list_filter = ("exit_reason",)
    search_fields = ("campaign__name", "user__email")
    list_select_related = ("campaign", "user")


@admin.register(CampaignLog)
class CampaignLogAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "at", "actor", "action", "detail")
    list_filter = ("action",)
    list_select_related = ("campaign", "actor")


class ExperimentLogInline(admin.TabularInline):
    model = ExperimentLog
    fields = ("at", "actor", "action", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    """Experiments are designed through the API (its checks name every mistake); here staff
    read them, rename them, switch the auto-winner and see the audit log."""

    list_display = ("key", "name", "kind", "status", "winner", "started_at")
    list_filter = ("status", "kind")
    search_fields = ("key", "name", "hypothesis")
    fields = (
        "key",
        "name",
        "hypothesis",
        "kind",
        "template",
        "variants",
        "primary_metric",
        "secondary_metrics",
        "guardrail_metrics",
        "status",
        "auto_winner",
        "started_at",
        "stopped_at",
        "winner",
        "decision",
        "decided_by",
        "decided_at",
    )
    readonly_fields = tuple(f for f in fields if f not in ("name", "hypothesis", "auto_winner"))
    inlines = [ExperimentLogInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Exposure)
class ExposureAdmin(ReadOnlyAdmin):
    list_display = ("experiment", "user", "variant", "exposed_at", "source", "recorded_at")
    list_filter = ("variant",)
    search_fields = ("experiment__key", "user__email")
    list_select_related = ("experiment", "user")


@admin.register(ExperimentOutcomes)
class ExperimentOutcomesAdmin(ReadOnlyAdmin):
    """How far each experiment's stored outcomes go (beat refreshes them every minute)."""

    list_display = ("experiment", "through", "learners", "refreshed_at", "seconds")
    search_fields = ("experiment__key",)
    list_select_related = ("experiment",)


@admin.register(ExposureOutcome)
class ExposureOutcomeAdmin(ReadOnlyAdmin):
    list_display = (
        "experiment",
        "user",
        "variant",
        "exposed_at",
        "multiple",
        "covariate",
        "metric_values",
    )
    list_filter = ("multiple", "variant")
    search_fields = ("experiment__key", "user__email")
    list_select_related = ("experiment", "user")
