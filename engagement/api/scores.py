"""GET /api/v1/engagement/scores/: the latest scoring run's scores (one per enrolment), filtered
and paginated."""

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
        required=False, max_length=128, help_text="Course external id: that course's enrolments."
    )
    never_started = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only enrolments with no activity yet; false: only those with some.",
    )
    as_of = serializers.DateField(
        required=False, help_text="Latest done run as of this date (default: the latest run)."
    )


class ScoreOutputSerializer(serializers.ModelSerializer):
    user = serializers.CharField(
        source="user.external_id", allow_null=True, help_text="The learner's external id."
    )
    course = serializers.CharField(
        source="course.external_id",
        allow_null=True,
        default=None,
        help_text=(
            "The enrolment's course (external id); null only for scores from before scores "
            "were per enrolment."
        ),
    )
    never_started = serializers.BooleanField(
        help_text="True when the learner has no activity in the course (or without one) yet."
    )

    class Meta:
        model = EngagementScore
        fields = [
            "user",
            "course",
            "never_started",
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
        "`as_of`), one row per active enrolment (a learner in two courses has two rows, each "
        "with its `course`), riskiest first: `drop_off_risk` within the model's horizon, "
        "`weekly_risk` and `monthly_risk`, `confidence`, `level`, `never_started` (no "
        "activity yet), the top `drivers` (positive `contribution` raises the risk, negative "
        "lowers it; `text` is a plain sentence) and recommended interventions. Filter by "
        "learner (`user`), `level`, `min_risk`, `course` (that course's enrolments) and "
        "`never_started`. An empty page when no run has finished yet. Needs the "
        "`scores:read` scope (or a staff session)."
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
