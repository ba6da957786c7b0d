"""GET /api/v1/analytics/funnels/: one course's funnel for the enrollments made in a range."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.engagement import RangeQuerySerializer
from analytics.selectors.funnels import funnel_steps


class FunnelQuerySerializer(RangeQuerySerializer):
    course = serializers.CharField(max_length=128, help_text="Course external id (required).")


class FunnelStepSerializer(serializers.Serializer):
    step = serializers.CharField(source="key")
    label = serializers.CharField()
    learners = serializers.IntegerField(source="count")
    from_previous = serializers.FloatField(allow_null=True)
    from_enrolled = serializers.FloatField(source="from_top", allow_null=True)
    median_seconds = serializers.FloatField(
        allow_null=True, help_text="Median time from reaching the previous step."
    )


@extend_schema(
    summary="Course funnel",
    description=(
        "The steps enrolled → started → first lesson → 25 / 50 / 75% of lessons → completed "
        "for the `course`'s enrollments made from `from` to `to` (UTC dates): learners at "
        "each step, conversion from the previous step and from enrolled, and the median time "
        "each step takes. Read from the nightly funnels. Needs the `analytics:read` scope. "
        "A 400 names the field when `course` is not a course Stride knows or `to` is before "
        "`from`."
    ),
    parameters=[FunnelQuerySerializer],
    responses=FunnelStepSerializer(many=True),
)
class FunnelsView(APIView):
    scope_read = "analytics:read"

    def get(self, request: Request) -> Response:
        query = FunnelQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        steps = funnel_steps(q["course"], q["start"], q["end"])
        return Response(FunnelStepSerializer(steps, many=True).data)
