"""GET /api/v1/engagement/scores/: the latest scoring run's scores, filtered and paginated."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from core.api import ChoiceField
from engagement.models import EngagementScore
from engagement.selectors.scores import score_list


class ScoreQuerySerializer(serializers.Serializer):
    """The query string: every filter optional."""

    user = serializers.CharField(required=False, max_length=128, help_text="User external id.")
    level = ChoiceField(choices=EngagementScore.Level.choices, required=False)
    min_risk = serializers.IntegerField(
        required=False, min_value=0, max_value=100, help_text="Minimum drop-off risk (0-100)."
    )
    course = serializers.CharField(
        required=False, max_length=128, help_text="Course external id: learners enrolled in it."
    )
    as_of = serializers.DateField(
        required=False, help_text="Latest done run as of this date (default: the latest run)."
    )


class ScoreOutputSerializer(serializers.ModelSerializer):
    user = serializers.CharField(
        source="user.external_id", allow_null=True, help_text="The learner's external id."
    )

    class Meta:
        model = EngagementScore
        fields = [
            "user",
            "as_of",
            "drop_off_risk",
            "weekly_risk",
            "monthly_risk",
            "confidence",
            "level",
            "scored_at",
            "drivers",
            "recommendations",
        ]


@extend_schema(
    summary="List engagement scores",
    description=(
        "Drop-off risk scores of the latest finished scoring run (or of the latest one as of "
        "`as_of`), riskiest first: `drop_off_risk` within the model's horizon, `weekly_risk` and "
        "`monthly_risk`, `confidence`, `level`, the top `drivers` and recommended "
        "interventions. Filter by learner (`user`), `level`, `min_risk` and `course`. An "
        "empty page when no run has finished yet. Needs the `scores:read` scope (or a staff "
        "session)."
    ),
    parameters=[ScoreQuerySerializer],
)
class ScoreListView(generics.ListAPIView):
    """Scores of the latest finished run (scope ``scores:read``; staff sessions too)."""

    serializer_class = ScoreOutputSerializer
    scope_read = "scores:read"
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[EngagementScore]:
        query = ScoreQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return score_list(**query.validated_data)
