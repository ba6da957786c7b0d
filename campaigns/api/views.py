"""Campaigns API: campaigns (create, read, edit, activate, pause, resume, cancel, duplicate,
their runs) and segments (saved audiences, and a live preview of any filter).

Scopes `campaigns:read` and `campaigns:write`, or a staff session. Every mistake in a spec is
answered 400 with its path ("schedule.at", "audience.filter.all[2].op"); a state change the
campaign's state does not allow is 409.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from campaigns.api import serializers as s
from campaigns.filters import FIELDS, filter_validate
from campaigns.models import Campaign, Segment
from campaigns.selectors.audience import audience_count, audience_preview
from campaigns.selectors.campaigns import campaign_list, run_list, segment_list
from campaigns.selectors.performance import campaign_figures
from campaigns.services import campaigns as campaign_services
from campaigns.services.segments import segment_create, segment_delete, segment_update
from core.api import StrideFilterSet
from core.errors import DomainValidationError
from core.parsers import StrideJSONParser

READ = "campaigns:read"
WRITE = "campaigns:write"
_ERRORS = {
    400: OpenApiResponse(description="A mistake in the body, named by its path."),
    404: OpenApiResponse(description="No such campaign."),
}
_STATE_ERRORS = {**_ERRORS, 409: OpenApiResponse(description="Its state does not allow it.")}


def _body(request: Request) -> Any:
    return request.data if isinstance(request.data, dict) else request.data or None


class CampaignFilter(StrideFilterSet):
    class Meta:
        model = Campaign
        fields = ["status", "kind", "channel"]


_ACTIONS = {
    "activate": "Check the draft (audience, template, schedule) and start it: a one-time "
    "campaign becomes scheduled, a recurring one or a drip active. Refused (400) naming each "
    "reason it cannot run.",
    "pause": "Stop sending until resumed: no new runs or drip steps; a run's unsent chunks wait.",
    "resume": "Go on from now (occurrences that fell in the pause are not sent late).",
    "cancel": "End it for good (messages already queued still go).",
    "duplicate": "A draft copy of it (audience, schedule, template, steps).",
}


def _state_schema(name: str) -> Any:
    return extend_schema(
        operation_id=f"campaigns_{name}",
        summary=f"{name.capitalize()} a campaign",
        description=f"{_ACTIONS[name]} Needs the `{WRITE}` scope.",
        request=None,
        responses={
            200 if name != "duplicate" else 201: s.CampaignOutputSerializer,
            **_STATE_ERRORS,
        },
    )


@extend_schema_view(
    list=extend_schema(
        summary="List campaigns",
        description="Newest first, with their next run times and delivery figures. Filter by "
        f"`status`, `kind` and `channel`. Needs the `{READ}` scope.",
    ),
    retrieve=extend_schema(
        summary="Read a campaign",
        description="Its spec, state, next run times and delivery figures. Needs the "
        f"`{READ}` scope.",
    ),
    create=extend_schema(
        summary="Create a campaign (a draft)",
        description="Takes `name`, `channel`, `audience` and `schedule`, `template` (a slug) "
        "for one-time and recurring campaigns, and optionally `learner_local_time`, "
        "`rate_per_minute` and `description`. The campaign starts as a draft: `activate` it. "
        f"Needs the `{WRITE}` scope.",
        request=s.CampaignInputSerializer,
        responses={201: s.CampaignOutputSerializer, 400: _ERRORS[400]},
        examples=[
            OpenApiExample(
                "Weekly",
                request_only=True,
                value={
                    "name": "Monday nudge",
                    "channel": "email",
                    "audience": {"segment": "inactive-7-days"},
                    "schedule": {
                        "type": "recurring",
                        "rrule": "FREQ=WEEKLY;BYDAY=MO",
                        "time": "09:00",
                        "timezone": "Europe/London",
                    },
                    "template": "gentle-reminder",
                    "learner_local_time": True,
                },
            )
        ],
    ),
    partial_update=extend_schema(
        summary="Edit a campaign",
        description="Changes the fields given. A running campaign is checked again; a running "
        "drip's new steps apply to what each learner has not been sent yet. A completed or "
        f"cancelled campaign cannot change (409). Needs the `{WRITE}` scope.",
        request=s.CampaignPatchSerializer,
        responses={200: s.CampaignOutputSerializer, **_STATE_ERRORS},
    ),
    runs=extend_schema(
        summary="List a campaign's runs",
        description="Newest first: who was targeted, queued, deferred to quiet hours, skipped by "
        f"reason, progress, and what became of the messages. Needs the `{READ}` scope.",
        responses={200: s.RunOutputSerializer(many=True)},
    ),
    activate=_state_schema("activate"),
    pause=_state_schema("pause"),
    resume=_state_schema("resume"),
    cancel=_state_schema("cancel"),
    duplicate=_state_schema("duplicate"),
)
class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.CampaignOutputSerializer
    filterset_class = CampaignFilter
    parser_classes = [StrideJSONParser]
    scope_read = READ
    scope_write = WRITE
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Campaign]:
        return campaign_list().order_by("-created_at", "-id")

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "figures": getattr(self, "_figures", {})}

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)
        if page is not None:
            self._figures = campaign_figures(campaign_ids=[c.pk for c in page])
        return page

    def _answer(self, campaign: Campaign, code: int = status.HTTP_200_OK) -> Response:
        campaign = campaign_list().get(pk=campaign.pk)
        self._figures = campaign_figures(campaign_ids=[campaign.pk])
        return Response(self.get_serializer(campaign).data, status=code)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._answer(self.get_object())

    def create(self, request: Request) -> Response:
        campaign = campaign_services.campaign_create(spec=_body(request), actor=_actor(request))
        return self._answer(campaign, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = campaign_services.campaign_update(
            campaign=self.get_object(), spec=_body(request), actor=_actor(request)
        )
        return self._answer(campaign)

    def _state(self, request: Request, verb: str) -> Response:
        change = getattr(campaign_services, f"campaign_{verb}")
        campaign = change(campaign=self.get_object(), actor=_actor(request))
        code = status.HTTP_201_CREATED if verb == "duplicate" else status.HTTP_200_OK
        return self._answer(campaign, code)

    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str | None = None) -> Response:
        return self._state(request, "activate")

    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return self._state(request, "pause")

    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._state(request, "resume")

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._state(request, "cancel")

    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: str | None = None) -> Response:
        return self._state(request, "duplicate")

    @action(detail=True, methods=["get"])
    def runs(self, request: Request, pk: str | None = None) -> Response:
        campaign = self.get_object()
        page = self.paginate_queryset(run_list(campaign=campaign))
        figures = campaign_figures(campaign_ids=[campaign.pk])[campaign.pk]
        body = s.RunOutputSerializer(page, many=True, context={"by_source": figures.by_source})
        return self.get_paginated_response(body.data)


def _actor(request: Request) -> User | None:
    """The signed-in staff member, or None for an API key (the log then names no person)."""
    return request.user if isinstance(request.user, User) else None


def _sample(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "user": row.get("external_id") or str(row.get("id")),
            "name": row.get("name") or "",
            "email": row.get("email") or "",
            "timezone": row.get("timezone") or "",
            "risk": row.get("risk"),
        }
        for row in rows
    ]


@extend_schema_view(
    list=extend_schema(
        summary="List segments",
        description="Saved audiences, Stride's own first. Needs the `campaigns:read` scope.",
    ),
    retrieve=extend_schema(
        summary="Read a segment",
        description=f"Its filter and how many campaigns use it. Needs the `{READ}` scope.",
    ),
    create=extend_schema(
        summary="Save a segment",
        description="`name` and `filter` (checked: each mistake is named by its path), "
        f"optional `slug` and `description`. Needs the `{WRITE}` scope.",
        request=s.SegmentInputSerializer,
        responses={201: s.SegmentOutputSerializer, 400: _ERRORS[400]},
    ),
    partial_update=extend_schema(
        summary="Edit a segment",
        description="Stride's own segments cannot change (409). Campaigns using the segment "
        f"target the new filter from their next run. Needs the `{WRITE}` scope.",
        request=s.SegmentPatchSerializer,
        responses={200: s.SegmentOutputSerializer, **_STATE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a segment",
        description="Only a segment of your own that no campaign uses (else 409). Needs the "
        f"`{WRITE}` scope.",
        responses={204: None, 404: _ERRORS[404], 409: _STATE_ERRORS[409]},
    ),
    preview=extend_schema(
        summary="Preview an audience",
        description="How many learners `filter` selects now, and the first of them. Needs the "
        f"`{READ}` scope.",
        request=s.PreviewInputSerializer,
        responses={200: s.PreviewOutputSerializer, 400: _ERRORS[400]},
        examples=[
            OpenApiExample(
                "At risk and inactive",
                request_only=True,
                value={
                    "filter": {
                        "all": [
                            {"field": "risk", "op": ">=", "value": 60},
                            {"field": "days_inactive", "op": ">=", "value": 7},
                        ]
                    }
                },
            )
        ],
    ),
    fields=extend_schema(
        summary="The filter language's fields",
        description="Each field a filter may use: its type, the operators defined for it, its "
        f"choices and parameters. Needs the `{READ}` scope.",
        responses={200: s.FieldSerializer(many=True)},
    ),
)
class SegmentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.SegmentOutputSerializer
    parser_classes = [StrideJSONParser]
    scope_read = READ
    scope_write = WRITE
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_permissions(self) -> list[Any]:
        # The preview changes nothing: reading is enough.
        if self.action == "preview":
            self.scope_write = READ
        return super().get_permissions()

    def get_queryset(self) -> QuerySet[Segment]:
        return segment_list().order_by("-is_predefined", "name", "id")

    def _answer(self, segment: Segment, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(segment_list().get(pk=segment.pk)).data, status=code)

    def create(self, request: Request) -> Response:
        segment = segment_create(spec=_body(request), actor=_actor(request))
        return self._answer(segment, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._answer(segment_update(segment=self.get_object(), spec=_body(request)))

    def perform_destroy(self, instance: Segment) -> None:
        segment_delete(segment=instance)

    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        body = _body(request)
        if not isinstance(body, dict) or "filter" not in body:
            raise DomainValidationError({"filter": "This field is required."})
        try:
            filter_validate(body["filter"])
        except DomainValidationError as error:
            raise DomainValidationError(
                {
                    key if key == "filter" else f"filter.{key}": value
                    for key, value in error.fields.items()
                }
            ) from error
        now = timezone.now()
        count = audience_count(filter=body["filter"], now=now)
        sample = audience_preview(filter=body["filter"], now=now)
        return Response({"count": count, "sample": _sample(sample)})

    @action(detail=False, methods=["get"], pagination_class=None)
    def fields(self, request: Request) -> Response:
        return Response(s.FieldSerializer(_fields(), many=True).data)


def _fields() -> list[dict[str, Any]]:
    return [{"name": name, **spec} for name, spec in FIELDS.items()]
