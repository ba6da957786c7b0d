"""GET /api/v1/analytics/insights/: the stored weekly insights, newest week first.

Read-only: no API key scope lets an integrator write analytics (accounts has only
`analytics:read`), so an insight's status is set on the insights page by staff."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request

from analytics.api.access import AnalyticsReadView
from analytics.models import Insight
from analytics.selectors.insights import insight_list
from analytics.services.retention import week_of


class InsightQuerySerializer(serializers.Serializer):
    week = serializers.DateField(
        required=False,
        help_text="Any day of the week (YYYY-MM-DD); the week starting on its Monday.",
    )
    status = serializers.ChoiceField(choices=Insight.Status.choices, required=False)


class InsightSerializer(serializers.ModelSerializer):
    week = serializers.DateField(help_text="The Monday of the week the insight is about.")
    figures = serializers.DictField(
        child=serializers.FloatField(), help_text="The named numbers the text rests on."
    )
    p_value = serializers.FloatField(allow_null=True)
    writer = serializers.CharField(source="run.writer", help_text="ai, deterministic, fallback.")
    status_by = serializers.SerializerMethodField()

    class Meta:
        model = Insight
        fields = [
            "id",
            "week",
            "kind",
            "key",
            "title",
            "headline",
            "body",
            "recommendation",
            "figures",
            "p_value",
            "significant",
            "chart_url",
            "status",
            "status_by",
            "status_at",
            "writer",
        ]

    def get_status_by(self, insight: Insight) -> str | None:
        return insight.status_by.email if insight.status_by else None


@extend_schema(
    summary="Weekly insights",
    description=(
        "The insights written each Monday from the week just ended (Monday to Sunday, against "
        "the week before), newest week first and in the page's order within a week, paginated. "
        "Each has the finding's kind and key, the text (headline, body, recommendation), the "
        "figures it rests on, its p-value and significance, the chart it comes from, and the "
        "status staff gave it (new, acknowledged, acted_on, dismissed). `week` keeps one week "
        "(any day of it), `status` one status. Needs the `analytics:read` scope or a staff "
        "session (insights are platform-wide). Read-only: statuses are set on the page."
    ),
    parameters=[InsightQuerySerializer],
)
class InsightsView(AnalyticsReadView, ListAPIView):
    serializer_class = InsightSerializer

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.check_course(request, None)  # platform-wide: staff and keys only

    def get_queryset(self) -> Any:
        query = InsightQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        week = query.validated_data.get("week")
        return insight_list(
            week=week_of(week) if week else None,
            status=query.validated_data.get("status"),
        )
