"""GET /api/v1/engagement/at-risk/: the current run's headline numbers and riskiest enrolments."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ChoiceField
from engagement.models import EngagementScore
from engagement.selectors.dashboard import (
    AT_RISK_DEFAULT_THRESHOLD,
    at_risk_list,
    at_risk_stats,
    course_by_external_id,
    scoring_run_current,
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class AtRiskQuerySerializer(serializers.Serializer):
    """The query string: all optional; blank means "not filtered"."""

    threshold = serializers.IntegerField(
        min_value=0,
        max_value=100,
        default=AT_RISK_DEFAULT_THRESHOLD,
        help_text="List enrolments whose drop-off risk is at least this (0-100).",
    )
    level = ChoiceField(
        choices=EngagementScore.Level.choices,
        required=False,
        allow_blank=True,
        help_text="Only enrolments of this risk level.",
    )
    course = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=128,
        help_text="External id of a course: only its enrolments (stats included).",
    )
    never_started = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only enrolments with no activity yet; false: only those with some.",
    )
    limit = serializers.IntegerField(
        min_value=1,
        max_value=MAX_LIMIT,
        default=DEFAULT_LIMIT,
        help_text=f"How many enrolments to list (1-{MAX_LIMIT}).",
    )

    def validate_course(self, value: str) -> Any:
        if not value:
            return None
        course = course_by_external_id(external_id=value)
        if course is None:
            raise serializers.ValidationError(f"No course with external id '{value}'.")
        return course


class AtRiskRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    as_of = serializers.DateField()
    finished_at = serializers.DateTimeField(allow_null=True)


class AtRiskStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Enrolments scored in the run (in the course).")
    critical = serializers.IntegerField()
    high = serializers.IntegerField()
    medium = serializers.IntegerField()
    low = serializers.IntegerField()
    at_risk = serializers.IntegerField(help_text="Enrolments with risk at or above the threshold.")
    at_risk_share = serializers.FloatField(help_text="at_risk / total, 0-1.")
    average_risk = serializers.FloatField(allow_null=True)
    threshold = serializers.IntegerField()
    learners = serializers.IntegerField(help_text="Learners those enrolments belong to.")
    at_risk_learners = serializers.IntegerField(
        help_text=(
            "Learners whose risk (the highest of their enrolments', in the course if given) "
            "is at or above the threshold."
        )
    )
    never_started = serializers.IntegerField(help_text="Enrolments with no activity yet.")


class DriverSerializer(serializers.Serializer):
    signal = serializers.CharField()
    label = serializers.CharField(required=False)
    text = serializers.CharField(required=False, help_text="The driver as a plain sentence.")
    value = serializers.FloatField(required=False, allow_null=True)
    contribution = serializers.FloatField(
        help_text="Risk points: positive raises the risk, negative lowers it."
    )


class RecommendationSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True)


class AtRiskLearnerSerializer(serializers.Serializer):
    user = serializers.CharField(
        source="user.external_id", allow_null=True, help_text="The learner's external id."
    )
    name = serializers.SerializerMethodField()
    email = serializers.EmailField(source="user.email")
    course = serializers.CharField(
        source="course.external_id",
        allow_null=True,
        default=None,
        help_text="The enrolment's course (external id).",
    )
    course_title = serializers.CharField(source="course.title", allow_null=True, default=None)
    never_started = serializers.BooleanField(help_text="No activity in the course yet.")
    risk = serializers.IntegerField(source="drop_off_risk")
    weekly_risk = serializers.IntegerField()
    monthly_risk = serializers.IntegerField()
    confidence = serializers.IntegerField()
    level = serializers.ChoiceField(choices=EngagementScore.Level.choices)
    drivers = DriverSerializer(many=True, help_text="Top drivers, strongest first.")
    recommendations = RecommendationSerializer(many=True)
    as_of = serializers.DateField()
    scored_at = serializers.DateTimeField()

    def get_name(self, score: EngagementScore) -> str:
        return score.user.get_full_name()


class AtRiskResponseSerializer(serializers.Serializer):
    run = AtRiskRunSerializer(allow_null=True, help_text="The scoring run; null if none finished.")
    stats = AtRiskStatsSerializer()
    results = AtRiskLearnerSerializer(many=True)


class AtRiskView(APIView):
    """The riskiest learners of the latest finished scoring run, with the run's stats."""

    scope_read = "scores:read"

    @extend_schema(
        operation_id="engagement_at_risk",
        summary="At-risk learners",
        description=(
            "Stats and the riskiest enrolments of the most recent finished scoring run, sorted "
            "by drop-off risk (highest first); a score is one learner in one course. `course` "
            "narrows both stats and list to that course's enrolments and must name a course "
            "Stride knows (else 400); `level` and `never_started` narrow the list. "
            "`at_risk_learners` counts learners by their learner-level risk: the highest of "
            "their enrolments'. `run` is null, and the stats zero, until a scoring run has "
            "finished. Needs the `scores:read` scope (or a staff session)."
        ),
        # The query serializer itself, so that the documented ranges are the checked ones.
        parameters=[AtRiskQuerySerializer],
        responses={200: AtRiskResponseSerializer},
        tags=["engagement"],
    )
    def get(self, request: Request) -> Response:
        query = AtRiskQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        run = scoring_run_current()
        stats = at_risk_stats(run=run, threshold=params["threshold"], course=params.get("course"))
        never = params.get("never_started")
        scores = at_risk_list(
            run=run,
            threshold=params["threshold"],
            level=params.get("level") or None,
            course=params.get("course"),
            started=None if never is None else ("never" if never else "started"),
        )[: params["limit"]]
        body = {
            "run": (
                {"id": run.pk, "as_of": run.as_of, "finished_at": run.finished_at} if run else None
            ),
            "stats": {**asdict(stats), "at_risk_share": round(stats.at_risk_share, 4)},
            "results": list(scores),
        }
        return Response(AtRiskResponseSerializer(body).data)
