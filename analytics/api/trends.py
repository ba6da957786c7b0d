"""GET /api/v1/analytics/trends/: one metric's daily series over a range with its moving
averages, linear trend and confidence band, weekday profile and anomalies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.api.access import AnalyticsReadView
from analytics.api.engagement import RangeQuerySerializer
from analytics.selectors.trends import Trends, trends
from analytics.services.trends import DEFAULT_METRIC, METRICS

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class TrendQuerySerializer(RangeQuerySerializer):
    metric = serializers.ChoiceField(choices=METRICS, required=False, default=DEFAULT_METRIC)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**super().validate(attrs), "metric": attrs["metric"]}


class TrendRowSerializer(serializers.Serializer):
    date = serializers.DateField()
    value = serializers.FloatField()
    ma7 = serializers.FloatField(allow_null=True, help_text="Trailing 7-day mean.")
    ma28 = serializers.FloatField(allow_null=True, help_text="Trailing 28-day mean.")
    trend = serializers.FloatField(allow_null=True, help_text="The OLS line over the range.")
    trend_lower = serializers.FloatField(allow_null=True, help_text="Its 95% confidence band.")
    trend_upper = serializers.FloatField(allow_null=True)
    anomaly_score = serializers.FloatField(
        allow_null=True, help_text="Robust score against the same weekdays before it."
    )
    anomaly = serializers.BooleanField()


class TrendWeekdaySerializer(serializers.Serializer):
    weekday = serializers.CharField()
    ratio = serializers.FloatField(allow_null=True, help_text="Mean over the overall mean.")


class TrendAnomalySerializer(serializers.Serializer):
    date = serializers.DateField(source="day")
    value = serializers.FloatField()
    baseline = serializers.FloatField()
    score = serializers.FloatField()


class TrendLineSerializer(serializers.Serializer):
    slope = serializers.FloatField(help_text="Per day.")
    intercept = serializers.FloatField(help_text="At the first day.")


class TrendsSerializer(serializers.Serializer):
    metric = serializers.CharField()
    course = serializers.CharField(allow_null=True)
    trend = TrendLineSerializer(allow_null=True, help_text="Null under 3 days.")
    days = TrendRowSerializer(many=True)
    weekdays = TrendWeekdaySerializer(many=True)
    anomalies = TrendAnomalySerializer(many=True)


def _body(data: Trends, course: str | None) -> dict[str, Any]:
    line = data.trend
    days = []
    for i, row in enumerate(data.rows):
        days.append(
            {
                "date": row.day,
                "value": row.value,
                "ma7": row.ma7,
                "ma28": row.ma28,
                "trend": line.fitted[i] if line else None,
                "trend_lower": line.lower[i] if line else None,
                "trend_upper": line.upper[i] if line else None,
                "anomaly_score": row.score,
                "anomaly": row.anomaly,
            }
        )
    return {
        "metric": data.metric,
        "course": course,
        "trend": {"slope": line.slope, "intercept": line.intercept} if line else None,
        "days": days,
        "weekdays": [
            {"weekday": name, "ratio": ratio}
            for name, ratio in zip(WEEKDAYS, data.weekdays, strict=True)
        ],
        "anomalies": data.anomalies,
    }


@extend_schema(
    summary="Trend of a metric",
    description=(
        "One row per day from `from` to `to` (learners' local days) of `metric` for the "
        "platform or one `course`: the value, its trailing 7- and 28-day means, the "
        "least-squares line over the range with the 95% confidence band of its mean, and the "
        "day's robust anomaly score against the same weekdays before it (`anomaly` past 3.5); "
        "then the weekday profile (each weekday's mean over the overall mean) and the "
        "anomalous days. Read from the nightly aggregates. Needs the `analytics:read` scope, "
        "or a staff session, or an instructor's session for one of their own courses. A 400 "
        "names the field when `metric` is unknown, `course` is not a course Stride knows, "
        "`to` is before `from`, or the range is longer than three years."
    ),
    parameters=[TrendQuerySerializer],
    responses=TrendsSerializer,
)
class TrendsView(AnalyticsReadView):
    def get(self, request: Request) -> Response:
        query = TrendQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        self.check_course(request, q["course"])
        data = trends(q["start"], q["end"], metric=q["metric"], course=q["course"])
        course = q["course"].external_id if q["course"] is not None else None
        return Response(TrendsSerializer(_body(data, course)).data)
