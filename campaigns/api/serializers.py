"""Campaigns API shapes. Input is read by the services (campaigns.services.campaigns and
.segments), which name each mistake by its path; these serializers document it and shape
the output."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.models import Campaign, CampaignRun, Segment
from campaigns.selectors.campaigns import campaign_upcoming
from campaigns.selectors.performance import Figures
from campaigns.services.campaigns import campaign_spec
from interventions.models import Channel

AUDIENCE_HELP = (
    '`{"segment": <id or slug>}` or `{"filter": <filter>}` in the filter language (see '
    "`GET /api/v1/segments/fields/` and the README)."
)
SCHEDULE_HELP = (
    'One of `{"type": "one_time", "at": "<ISO 8601>", "timezone": "<IANA>"}`, '
    '`{"type": "recurring", "rrule": "FREQ=WEEKLY;BYDAY=MO,WE,FR", "time": "09:00", '
    '"timezone": "<IANA>", "start": "<date>"}` or `{"type": "drip", "anchor": "signup | '
    'enrollment | audience | first_activity", "course": "<external id>", "exit": '
    '["completed", "converted", "unsubscribed", "left_audience"], "steps": [{"template": '
    '"<slug>", "delay_days": 1, "delay_hours": 0, "after_previous": false}, ...]}`.'
)


class CampaignInputSerializer(serializers.Serializer):
    """The campaign spec (documentation; the service reads and checks it)."""

    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    channel = serializers.ChoiceField(choices=Channel.choices)
    audience = serializers.JSONField(help_text=AUDIENCE_HELP)
    schedule = serializers.JSONField(help_text=SCHEDULE_HELP)
    template = serializers.CharField(
        max_length=80,
        required=False,
        allow_null=True,
        help_text="A template's slug; one-time and recurring campaigns need one.",
    )
    learner_local_time = serializers.BooleanField(
        required=False, help_text="Send at the schedule's time in each learner's own timezone."
    )
    rate_per_minute = serializers.IntegerField(
        required=False, min_value=0, help_text="At most this many messages a minute (0: no limit)."
    )
    holdout_percent = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=50,
        help_text="Share of the eligible learners deliberately not contacted, to measure the "
        "campaign's effect (default 10).",
    )


class CampaignPatchSerializer(CampaignInputSerializer):
    """Any of the spec's fields."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
        return fields


class FiguresSerializer(serializers.Serializer):
    messages = serializers.IntegerField(help_text="Deliveries made (queued or further).")
    sent = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    converted = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Failed or bounced.")
    open_rate = serializers.FloatField(allow_null=True, help_text="Opened per sent, 0-1.")
    click_rate = serializers.FloatField(allow_null=True)
    conversion_rate = serializers.FloatField(allow_null=True)


class CampaignOutputSerializer(serializers.ModelSerializer):
    audience = serializers.SerializerMethodField()
    schedule = serializers.SerializerMethodField()
    template = serializers.SerializerMethodField()
    next_runs = serializers.SerializerMethodField()
    figures = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "status",
            "channel",
            "audience",
            "schedule",
            "template",
            "learner_local_time",
            "rate_per_minute",
            "holdout_percent",
            "next_run_at",
            "next_runs",
            "figures",
            "created_at",
            "updated_at",
        ]

    def _spec(self, campaign: Campaign) -> dict[str, Any]:
        cache = self.context.setdefault("_specs", {})
        if campaign.pk not in cache:
            cache[campaign.pk] = campaign_spec(campaign)
        return cache[campaign.pk]

    @extend_schema_field(serializers.JSONField(help_text=AUDIENCE_HELP))
    def get_audience(self, campaign: Campaign) -> dict[str, Any]:
        return self._spec(campaign)["audience"]

    @extend_schema_field(serializers.JSONField(help_text=SCHEDULE_HELP))
    def get_schedule(self, campaign: Campaign) -> dict[str, Any]:
        return self._spec(campaign)["schedule"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_template(self, campaign: Campaign) -> str | None:
        return campaign.template.slug if campaign.template_id else None

    @extend_schema_field(serializers.ListField(child=serializers.DateTimeField()))
    def get_next_runs(self, campaign: Campaign) -> list[str]:
        field = serializers.DateTimeField()
        return [field.to_representation(moment) for moment in campaign_upcoming(campaign)]

    @extend_schema_field(FiguresSerializer)
    def get_figures(self, campaign: Campaign) -> dict[str, Any]:
        figures = self.context.get("figures", {}).get(campaign.pk, Figures())
        return FiguresSerializer(figures).data


class RunOutputSerializer(serializers.ModelSerializer):
    progress = serializers.IntegerField(help_text="0-100: the share of its chunks done.")
    skipped = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Learners skipped by reason (opted_out, suppressed, capped, no_address, ...).",
    )
    figures = serializers.SerializerMethodField()

    class Meta:
        model = CampaignRun
        fields = [
            "id",
            "occurrence",
            "status",
            "targeted",
            "queued",
            "deferred",
            "skipped",
            "chunks_total",
            "chunks_done",
            "progress",
            "figures",
            "started_at",
            "finished_at",
            "error",
        ]

    @extend_schema_field(FiguresSerializer)
    def get_figures(self, run: CampaignRun) -> dict[str, Any]:
        by_source = self.context.get("by_source", {})
        figures = Figures()
        if run.source in by_source:
            figures.add(by_source[run.source])
        return FiguresSerializer(figures).data


class SegmentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=80, required=False)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    filter = serializers.JSONField(help_text="A filter in the campaigns filter language.")


class SegmentPatchSerializer(SegmentInputSerializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
        return fields


class SegmentOutputSerializer(serializers.ModelSerializer):
    campaigns = serializers.IntegerField(
        source="campaigns_count", read_only=True, help_text="Campaigns using it."
    )

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "filter",
            "is_predefined",
            "campaigns",
            "created_at",
            "updated_at",
        ]


class PreviewInputSerializer(serializers.Serializer):
    filter = serializers.JSONField(help_text="A filter in the campaigns filter language.")


class LearnerSampleSerializer(serializers.Serializer):
    user = serializers.CharField(help_text="The learner's external id.")
    name = serializers.CharField()
    email = serializers.CharField()
    timezone = serializers.CharField()
    risk = serializers.FloatField(allow_null=True)


class PreviewOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Learners the filter selects now.")
    sample = LearnerSampleSerializer(many=True, help_text="The first of them.")


class FieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    label = serializers.CharField()
    help = serializers.CharField()
    ops = serializers.ListField(child=serializers.CharField())
    choices = serializers.ListField(child=serializers.CharField(), required=False)
    parameters = serializers.ListField(child=serializers.CharField(), required=False)
