"""GET /api/v1/interventions/stats/: delivery figures per template, variant, channel or type."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DomainValidationError
from interventions.selectors.stats import GROUPINGS, delivery_stats, delivery_trend

MAX_DAYS = 365


class StatsRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The template's slug, variant's name, channel or type.")
    label = serializers.CharField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    converted = serializers.IntegerField()
    failed = serializers.IntegerField()
    open_rate = serializers.FloatField(help_text="opened / sent, 0-1.")
    click_rate = serializers.FloatField(help_text="clicked / sent, 0-1.")
    conversion_rate = serializers.FloatField(help_text="converted / sent, 0-1.")
    median_minutes_to_open = serializers.FloatField(allow_null=True)


class TrendDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    sent = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    converted = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    by = serializers.CharField()
    days = serializers.IntegerField()
    rows = StatsRowSerializer(many=True)
    trend = TrendDaySerializer(many=True)


class InterventionStatsView(APIView):
    scope_read = "interventions:read"

    @extend_schema(
        operation_id="interventions_stats",
        summary="Read intervention statistics",
        description=(
            "Messages sent in the last `days` days (1-365, default 30) grouped by `by` "
            "(template, variant, channel or type): sent, delivered, opened, clicked, "
            "converted and failed counts, the rates over sent, and the median minutes from "
            "sending to the first open; and the day-by-day trend. Counted from the "
            "deliveries themselves. Needs the `interventions:read` scope."
        ),
        parameters=[
            OpenApiParameter("by", str, enum=list(GROUPINGS), required=False),
            OpenApiParameter(
                "days",
                {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "default": 30},
                required=False,
                description=f"The period: the last 1 to {MAX_DAYS} days.",
            ),
        ],
        responses={200: StatsSerializer},
    )
    def get(self, request: Request) -> Response:
        by = request.query_params.get("by") or "template"
        if by not in GROUPINGS:
            raise DomainValidationError({"by": [f"Choose one of: {', '.join(GROUPINGS)}."]})
        raw = request.query_params.get("days") or "30"
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
            raise DomainValidationError({"days": [f"A whole number of days, 1 to {MAX_DAYS}."]})
        days = int(raw)
        body: dict[str, Any] = {
            "by": by,
            "days": days,
            "rows": delivery_stats(by=by, days=days),
            "trend": delivery_trend(days=days),
        }
        return Response(StatsSerializer(body).data)
