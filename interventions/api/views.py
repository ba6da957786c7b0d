"""Interventions API: an integrator sends a template to learners.

POST /api/v1/interventions/ (scope ``interventions:write``, or a staff session). An
``Idempotency-Key`` header names the request: sent again, it queues nothing more and answers
what the first one queued (the key is the deliveries' source, which is unique per learner and
channel, so the database does the de-duplication).
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey
from accounts.selectors import user_ids_by_external_id
from core.api import JSONInputSerializer
from core.errors import DomainValidationError
from core.parsers import StrideJSONParser
from interventions.models import Channel
from interventions.selectors.deliveries import deliveries_by_id
from interventions.selectors.templates import template_get
from interventions.services.deliveries import deliveries_queue

MAX_USERS = 1000
KEY_HEADER = "Idempotency-Key"
KEY_MAX = 128
WEB_SOURCE = "web"


class InterventionInputSerializer(JSONInputSerializer):
    template = serializers.SlugField(max_length=80, help_text="The template's slug.")
    users = serializers.ListField(
        child=serializers.CharField(max_length=128),
        min_length=1,
        max_length=MAX_USERS,
        help_text=f"External ids of the learners (1 to {MAX_USERS}).",
    )
    channel = serializers.ChoiceField(
        choices=Channel.choices,
        required=False,
        help_text="email, in_app, push (browsers the learner subscribed) or sms (a number "
        "with consent, at critical risk only by default); the template's own when absent.",
    )


class QueuedSerializer(serializers.Serializer):
    user = serializers.CharField()
    delivery = serializers.IntegerField()
    status = serializers.CharField(help_text="queued, or deferred (quiet hours).")
    due_at = serializers.DateTimeField()


class SkippedSerializer(serializers.Serializer):
    user = serializers.CharField()
    reason = serializers.CharField(
        help_text="unknown_user, inactive, opted_out, no_address (no email, push "
        "subscription or SMS number with consent), suppressed, not_urgent (SMS below the "
        "risk levels that allow texts), capped or already_queued."
    )


class InterventionOutputSerializer(serializers.Serializer):
    template = serializers.CharField()
    channel = serializers.CharField()
    queued = QueuedSerializer(many=True)
    skipped = SkippedSerializer(many=True)


class InterventionView(APIView):
    """Send a template to learners."""

    scope_write = "interventions:write"
    parser_classes = [StrideJSONParser]

    @extend_schema(
        operation_id="interventions_create",
        summary="Send an intervention",
        description=(
            "Queue the template `template` for each learner of `users` (external ids) on "
            "`channel`. Each learner is queued, deferred to after their quiet hours, or "
            "skipped with the reason (unknown, inactive, opted out, no address, suppressed, "
            "over the frequency caps). With an `Idempotency-Key` header, the same request "
            "sent again queues nothing more and answers what the first one queued. Needs the "
            "`interventions:write` scope."
        ),
        parameters=[
            OpenApiParameter(
                KEY_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description=f"Your unique key for this request (at most {KEY_MAX} characters).",
            )
        ],
        request=InterventionInputSerializer,
        responses={
            200: InterventionOutputSerializer,
            400: OpenApiResponse(description="A malformed body or an unknown template."),
        },
        examples=[
            OpenApiExample(
                "Send",
                value={"template": "gentle-reminder", "users": ["learner-42"], "channel": "email"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = InterventionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        key = request.headers.get(KEY_HEADER, "").strip()
        if len(key) > KEY_MAX:
            raise DomainValidationError({KEY_HEADER: [f"At most {KEY_MAX} characters."]})
        template = template_get(slug=data["template"])
        if template is None:
            raise DomainValidationError(
                {"template": [f"No template has the slug '{data['template']}'."]}
            )
        wanted = list(dict.fromkeys(data["users"]))
        by_external = user_ids_by_external_id(external_ids=wanted)
        api_source = request.auth.source if isinstance(request.auth, ApiKey) else WEB_SOURCE
        source = f"api:{api_source}:{key or uuid.uuid4().hex}"
        result = deliveries_queue(
            template=template,
            user_ids=by_external.values(),
            source=source,
            channel=data.get("channel"),
        )
        external_of = {pk: ext for ext, pk in by_external.items()}
        deliveries = deliveries_by_id(ids=result.queued.values())
        queued = [
            {
                "user": external_of[user_id],
                "delivery": delivery_id,
                "status": deliveries[delivery_id].status,
                "due_at": deliveries[delivery_id].due_at,
            }
            for user_id, delivery_id in sorted(result.queued.items())
        ]
        skipped = [
            {"user": ext, "reason": "unknown_user"} for ext in wanted if ext not in by_external
        ]
        skipped += [
            {"user": external_of[user_id], "reason": reason}
            for user_id, reason in sorted(result.skipped.items())
        ]
        body = {
            "template": template.slug,
            "channel": data.get("channel") or template.channel,
            "queued": queued,
            "skipped": skipped,
        }
        return Response(InterventionOutputSerializer(body).data)
