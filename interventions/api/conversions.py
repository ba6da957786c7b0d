"""An explicit conversion: the learning platform reports that a message worked (a purchase,
an enrolment) when no ingested event says so. POST /api/v1/interventions/conversions/
(scope ``interventions:write``)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import JSONInputSerializer
from core.parsers import StrideJSONParser
from interventions.services.conversions import delivery_conversion_record


class ConversionInputSerializer(JSONInputSerializer):
    delivery = serializers.IntegerField(
        min_value=1, help_text="The delivery's id, as POST /api/v1/interventions/ answered it."
    )
    occurred_at = serializers.DateTimeField(
        required=False, help_text="When the learner converted; now when absent."
    )


class ConversionOutputSerializer(serializers.Serializer):
    delivery = serializers.IntegerField(source="pk")
    status = serializers.CharField(
        help_text="converted; or the delivery's status when it was not sent yet or has "
        "failed (nothing changed)."
    )
    converted_at = serializers.DateTimeField(allow_null=True)


class ConversionView(APIView):
    scope_write = "interventions:write"
    parser_classes = [StrideJSONParser]

    @extend_schema(
        operation_id="interventions_conversions_create",
        summary="Report a conversion",
        description="Marks a sent delivery converted (at `occurred_at`, else now). Reporting "
        "it again changes nothing: the first conversion counts. A delivery that was not sent "
        "is left as it is. A 400 names the field when `delivery` is no delivery of Stride's "
        "or `occurred_at` is before the message was sent. Needs the `interventions:write` "
        "scope.",
        request=ConversionInputSerializer,
        responses={200: ConversionOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = ConversionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        delivery = delivery_conversion_record(
            delivery_id=data["delivery"], at=data.get("occurred_at") or timezone.now()
        )
        return Response(ConversionOutputSerializer(delivery).data)
