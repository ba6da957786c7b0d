"""GET /api/v1/analytics/engagement/: DAU, WAU and MAU per day from the daily aggregates."""

from __future__ import annotations

import datetime
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.access import CourseQuerySerializer
from analytics.forms import MAX_CUSTOM_DAYS
from analytics.selectors.aggregates import daily_series, latest_aggregated_day

DEFAULT_DAYS = 30


class RangeQuerySerializer(CourseQuerySerializer):
    """?from=&to=&course= shared by the analytics endpoints."""

    from_ = serializers.DateField(
        required=False, help_text="First day (YYYY-MM-DD); default: 29 days before `to`."
    )
    to = serializers.DateField(
        required=False, help_text="Last day (YYYY-MM-DD); default: the last aggregated day."
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # `from` is a Python keyword
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("to") or latest_aggregated_day()
        start = attrs.get("from") or end - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if end < start:
            raise serializers.ValidationError({"to": "The last day is before the first day."})
        if (end - start).days + 1 > MAX_CUSTOM_DAYS:
            raise serializers.ValidationError(
                {"to": f"A range spans at most {MAX_CUSTOM_DAYS} days."}
            )
        return {"start": start, "end": end, "course": attrs.get("course")}


class EngagementDaySerializer(serializers.Serializer):
    date = serializers.DateField(source="day")
    dau = serializers.IntegerField(help_text="Distinct active learners that (local) day.")
    wau = serializers.IntegerField(help_text="Distinct active learners in the 7 days to it.")
    mau = serializers.IntegerField(help_text="Distinct active learners in the 30 days to it.")
    stickiness = serializers.FloatField(
        allow_null=True, help_text="DAU / MAU; null on a day with no active learner in 30 days."
    )
    new_learners = serializers.IntegerField()
    events = serializers.IntegerField()
    enrollments = serializers.IntegerField()
    completions = serializers.IntegerField()


@extend_schema(
    summary="Daily active learners",
    description=(
        "One row per day from `from` to `to` (both included, learners' local days): `dau`, "
        "`wau`, `mau`, `stickiness` and the day's new learners, events, enrollments and "
        "completions, for the platform or one `course`. Read from the nightly aggregates; "
        "a day not computed yet answers zeros. Needs the `analytics:read` scope (or a staff "
        "session). A 400 names the field when `course` is not a course Stride knows, `to` is "
        "before `from`, or the range is longer than three years."
    ),
    parameters=[RangeQuerySerializer],
    responses=EngagementDaySerializer(many=True),
)
class EngagementView(APIView):
    scope_read = "analytics:read"

    def get(self, request: Request) -> Response:
        query = RangeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        rows = daily_series(q["start"], q["end"], course=q["course"])
        return Response(EngagementDaySerializer(rows, many=True).data)
