"""Events API: integrators (and staff pages) send behaviour events, one or a batch at a time."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey
from config.errors import DomainValidationError
from engagement.catalogue import EVENT_TYPES, KIND_OF_TYPE, NON_ACTIVITY_TYPES
from engagement.models import Event
from engagement.services.ingestion import WEB_SOURCE, IngestResult, events_ingest


class EventInputSerializer(serializers.Serializer):
    """The shape of one event, for the API documentation.

    Validation is done by the ingestion service by hand: a serializer per event would cost
    more than storing it, and batches carry up to a thousand of them.
    """

    id = serializers.CharField(max_length=128, help_text="Your unique id of the event.")
    type = serializers.CharField(
        max_length=64,
        help_text="A catalogue type (GET /api/v1/events/types/) or a custom 'x-<name>'.",
    )
    user = serializers.CharField(max_length=128, help_text="The learner's external id.")
    course = serializers.CharField(max_length=128, required=False, allow_null=True)
    lesson = serializers.CharField(max_length=128, required=False, allow_null=True)
    occurred_at = serializers.DateTimeField(help_text="ISO-8601 with a UTC offset.")
    session_id = serializers.CharField(max_length=128, required=False, allow_blank=True)
    device = serializers.ChoiceField(choices=Event.Device.choices, required=False)
    platform = serializers.CharField(max_length=64, required=False, allow_blank=True)
    properties = serializers.DictField(
        required=False, help_text="Per-type properties; at most 4 KB of JSON."
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


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


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


EVENT_OR_BATCH = PolymorphicProxySerializer(
    component_name="EventOrBatch",
    serializers=[EventInputSerializer, EventInputSerializer(many=True)],
    resource_type_field_name=None,
    many=False,
)
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Malformed body or invalid single event."),
    401: OpenApiResponse(ErrorSerializer, description="No or unknown credentials."),
    403: OpenApiResponse(ErrorSerializer, description="Credentials lack events:write."),
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
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Send behaviour events",
        description=(
            "One event object or a JSON list of events. Events are idempotent by `id` within "
            "the key's source: resending stores nothing twice and lists the item under "
            "`duplicates`. Valid items of a batch are stored even when others are rejected; "
            "the answer is 200 whenever the request itself was well formed. A single event "
            "that is invalid gets a 400 naming its fields."
        ),
        request=EVENT_OR_BATCH,
        responses={200: IngestResultSerializer, **ERRORS},
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
        description="Custom types 'x-<name>' (lowercase letters, digits, dashes) are also "
        "accepted, with free-form properties; they count as generic learner activity.",
        responses={200: EventTypeSerializer(many=True), **ERRORS},
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
