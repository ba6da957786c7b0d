"""Events API: integrators (and staff pages) send behaviour events, one or a batch at a time."""

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey
from core.errors import DomainValidationError
from core.parsers import StrideJSONParser
from core.schema import DATE_TIME_PATTERN
from engagement.catalogue import CUSTOM_TYPE_RE, EVENT_TYPES, KIND_OF_TYPE, NON_ACTIVITY_TYPES
from engagement.models import Event
from engagement.services.ingestion import WEB_SOURCE, IngestResult, events_ingest


@extend_schema_field(
    {
        "type": "string",
        "anyOf": [
            {"enum": sorted(EVENT_TYPES)},
            {"pattern": f"^{CUSTOM_TYPE_RE.pattern}$"},
        ],
    }
)
class EventTypeNameField(serializers.CharField):
    """A catalogue type or a custom `x-<name>` (documentation only, like the serializer)."""


@extend_schema_field({"type": "string", "format": "date-time", "pattern": DATE_TIME_PATTERN})
class OccurredAtField(serializers.DateTimeField):
    """ISO-8601 with a UTC offset PostgreSQL can store (documentation only)."""


class EventInputSerializer(serializers.Serializer):
    """The shape of one event, for the API documentation.

    Validation is done by the ingestion service by hand: a serializer per event would cost
    more than storing it, and batches carry up to a thousand of them.
    """

    id = serializers.CharField(max_length=128, help_text="Your unique id of the event.")
    type = EventTypeNameField(
        help_text=(
            "A catalogue type (GET /api/v1/events/types/) or a custom 'x-<name>' (lowercase "
            "letters, digits and dashes)."
        ),
    )
    user = serializers.CharField(
        max_length=128,
        help_text="The learner's external id; an unknown learner is created provisionally.",
    )
    # Blank and null mean "none", as ingestion reads them.
    course = serializers.CharField(
        max_length=128,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="The course's external id; required by some types (see the catalogue).",
    )
    lesson = serializers.CharField(
        max_length=128,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text=(
            "The lesson's external id; required by some types. An unknown lesson is created "
            "in the event's course."
        ),
    )
    occurred_at = OccurredAtField(
        help_text=(
            "ISO-8601 with a UTC offset (at most ±15:59), from 1970 to at most 5 minutes from now."
        )
    )
    session_id = serializers.CharField(
        max_length=128, required=False, allow_blank=True, allow_null=True
    )
    device = serializers.ChoiceField(
        choices=Event.Device.choices, required=False, allow_blank=True, allow_null=True
    )
    platform = serializers.CharField(
        max_length=64, required=False, allow_blank=True, allow_null=True
    )
    properties = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="Per-type properties (see the catalogue); at most 4 KB of JSON.",
    )


class RejectedEventSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request (from 0).")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages by field.",
    )


class IngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored by this request.")
    duplicates = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Indexes of items whose id was already stored (nothing stored again).",
    )
    rejected = RejectedEventSerializer(many=True, help_text="Invalid items, by index.")


class EventPropertySerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    required = serializers.BooleanField()
    description = serializers.CharField()


class EventTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    activity_kind = serializers.CharField(allow_null=True)
    is_activity = serializers.BooleanField()
    requires_course = serializers.BooleanField()
    requires_lesson = serializers.BooleanField()
    properties = EventPropertySerializer(many=True)


class EventOrBatchSerializer(serializers.Serializer):
    """The request body of POST /events/, for the API documentation (see its extension)."""


class EventOrBatchExtension(OpenApiSerializerExtension):
    """One event object, or a list of up to STRIDE_EVENTS_MAX_BATCH items. A batch's items are
    checked one by one, each rejected or stored on its own, so the list takes any item."""

    target_class = EventOrBatchSerializer

    def get_name(self, auto_schema: Any = None, direction: Any = None) -> str:
        return "EventOrBatch"

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        event = auto_schema.resolve_serializer(EventInputSerializer, direction).ref
        return {
            "oneOf": [
                event,
                {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": settings.STRIDE_EVENTS_MAX_BATCH,
                    "items": {
                        "description": (
                            "An event as above. Each item is checked on its own: an invalid "
                            "one is listed under `rejected`, the others are stored."
                        )
                    },
                },
            ]
        }


def _body(result: IngestResult) -> dict[str, Any]:
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [{"index": i, "fields": f} for i, f in result.rejected.items()],
    }


class EventIngestView(APIView):
    """POST one event object, or a list of up to STRIDE_EVENTS_MAX_BATCH of them."""

    scope_write = "events:write"
    parser_classes = [StrideJSONParser]  # JSON only: a form cannot carry a batch

    @extend_schema(
        operation_id="events_send",
        summary="Send behaviour events",
        description=(
            "One event object or a JSON list of events (at most "
            f"{settings.STRIDE_EVENTS_MAX_BATCH:,}). Events are idempotent by `id` within "
            "the key's source: resending stores nothing twice and lists the item under "
            "`duplicates`. Valid items of a batch are stored even when others are rejected; "
            "the answer is 200 whenever the request itself was well formed. A single event "
            "that is invalid gets a 400 naming its fields. Needs the `events:write` scope."
        ),
        request=EventOrBatchSerializer,
        responses={
            200: IngestResultSerializer,
            400: OpenApiResponse(
                description="A body that is neither an event nor a list of 1 to "
                f"{settings.STRIDE_EVENTS_MAX_BATCH:,} items, or a single event that is invalid."
            ),
        },
        examples=[
            OpenApiExample(
                "Batch with a duplicate and a rejected item",
                value={
                    "accepted": 3,
                    "duplicates": [4],
                    "rejected": [
                        {
                            "index": 2,
                            "fields": {"occurred_at": ["The date-time must include a UTC offset."]},
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        body = request.data
        limit = settings.STRIDE_EVENTS_MAX_BATCH
        if isinstance(body, dict):
            items: list[Any] = [body]
        elif isinstance(body, list):
            if not body:
                raise DomainValidationError({"events": ["Send at least one event."]})
            if len(body) > limit:
                raise DomainValidationError(
                    {"events": [f"At most {limit} events per request; got {len(body)}."]}
                )
            items = body
        else:
            raise DomainValidationError(
                {"events": ["Send one event object or a JSON list of event objects."]}
            )
        source = request.auth.source if isinstance(request.auth, ApiKey) else WEB_SOURCE
        result = events_ingest(source=source, items=items)
        if isinstance(body, dict) and result.rejected:
            raise DomainValidationError(result.rejected[0])
        return Response(_body(result))


class EventTypeListView(APIView):
    """The event catalogue: every accepted type with its properties."""

    scope_read = "events:write"

    @extend_schema(
        summary="List the accepted event types",
        description=(
            "Every catalogue type with what it means, whether it needs a course or a lesson "
            "and its properties. Custom types 'x-<name>' (lowercase letters, digits, dashes) "
            "are also accepted, with free-form properties; they count as generic learner "
            "activity. Needs the `events:write` scope."
        ),
        responses={200: EventTypeSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(
            [
                {
                    "name": name,
                    "activity_kind": KIND_OF_TYPE.get(name),
                    "is_activity": name not in NON_ACTIVITY_TYPES,
                    **spec.as_dict(),
                }
                for name, spec in EVENT_TYPES.items()
            ]
        )
