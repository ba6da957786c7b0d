"""GET /api/v1/analytics/performers/: the stored star / average / lagging segments and the
signals that tell stars from laggards."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.api.access import AnalyticsReadView, CourseQuerySerializer
from analytics.selectors.performers import PerformerSnapshot, performers_snapshot
from learning.models import Course

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class PerformersQuerySerializer(CourseQuerySerializer):
    course = serializers.CharField(
        required=False,
        max_length=128,
        help_text="Course external id; default: every learner across their enrollments.",
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_LIMIT,
        default=DEFAULT_LIMIT,
        help_text=f"How many of each segment's learners to list, best first (at most {MAX_LIMIT}).",
    )


class PerformerSegmentSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="The segment's size.")
    threshold = serializers.FloatField(
        allow_null=True,
        help_text=(
            "star: the lowest star score (a star scores at least this); lagging: the highest "
            "lagging score; average: null. Null when the population is too small to segment."
        ),
    )
    min_score = serializers.FloatField(allow_null=True)
    max_score = serializers.FloatField(allow_null=True)
    learners = serializers.ListField(
        child=serializers.CharField(),
        help_text="The learners' external ids, best score first: the first `limit` of them.",
    )


class PerformerSegmentsSerializer(serializers.Serializer):
    star = PerformerSegmentSerializer(help_text="The top 10% by composite score.")
    average = PerformerSegmentSerializer()
    lagging = PerformerSegmentSerializer(help_text="The bottom 10%.")


class PerformerFactorSerializer(serializers.Serializer):
    signal = serializers.CharField(help_text="The engagement signal's name.")
    label = serializers.CharField()
    sentence = serializers.CharField(help_text="The difference in plain words.")
    recommendation = serializers.CharField()
    star_mean = serializers.FloatField()
    lagging_mean = serializers.FloatField()
    cohen_d = serializers.FloatField(help_text="Star minus lagging over the pooled SD.")
    cohen_d_low = serializers.FloatField(source="d_low", help_text="95% interval of d.")
    cohen_d_high = serializers.FloatField(source="d_high")
    p_value = serializers.FloatField(help_text="Welch's t-test, two-sided.")
    p_value_holm = serializers.FloatField(help_text="Holm-corrected over every signal compared.")
    n_star = serializers.IntegerField()
    n_lagging = serializers.IntegerField()


class PerformersSerializer(serializers.Serializer):
    course = serializers.CharField(allow_null=True, help_text="Null: every learner.")
    computed_at = serializers.DateTimeField(allow_null=True, help_text="Null: not computed yet.")
    as_of = serializers.DateField(allow_null=True)
    population = serializers.IntegerField()
    weights = serializers.DictField(child=serializers.FloatField())
    segments = PerformerSegmentsSerializer()
    factors = PerformerFactorSerializer(many=True)


def _payload(course: Course | None, snapshot: PerformerSnapshot | None) -> dict[str, Any]:
    if snapshot is None:
        empty = {"count": 0, "threshold": None, "min_score": None, "max_score": None}
        return {
            "course": course.external_id if course else None,
            "computed_at": None,
            "as_of": None,
            "population": 0,
            "weights": {},
            "segments": {s: {**empty, "learners": []} for s in ("star", "average", "lagging")},
            "factors": [],
        }
    run = snapshot.run
    thresholds = {"star": run.star_threshold, "average": None, "lagging": run.lagging_threshold}
    return {
        "course": course.external_id if course else None,
        "computed_at": run.computed_at,
        "as_of": run.as_of,
        "population": run.population,
        "weights": run.weights,
        "segments": {
            name: {
                "count": seg.count,
                "threshold": thresholds[name],
                "min_score": seg.min_score,
                "max_score": seg.max_score,
                "learners": seg.learners,
            }
            for name, seg in snapshot.segments.items()
        },
        "factors": snapshot.factors,
    }


@extend_schema(
    summary="Star performers",
    description=(
        "The last computed segmentation of one `course`'s enrollments in progress (or, "
        "without `course`, of every learner across their enrollments) by the composite "
        "performance score (progress 30%, quiz results 20%, consistency 20%, recency 15%, "
        "completion 15%; see the README): `star` (top 10%), `average` and `lagging` (bottom "
        "10%), each with its size, score thresholds and its first `limit` learners' external "
        "ids (best first; 100 unless asked, at most 1000); and the "
        "differentiating `factors`: the engagement signals whose star and lagging means differ "
        "significantly (Welch's t-test, Holm-corrected p < 0.05) by at least a small effect "
        "(|Cohen's d| >= 0.2), largest first. Computed nightly (or by `manage.py "
        "analyse_performers`); `computed_at` is null before the first run. Needs the "
        "`analytics:read` scope, a staff session, or an instructor's session with one of "
        "their courses. A 400 names `course` when no course has that external id."
    ),
    parameters=[PerformersQuerySerializer],
    responses=PerformersSerializer,
)
class PerformersView(AnalyticsReadView):
    def get(self, request: Request) -> Response:
        query = PerformersQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        course = query.validated_data.get("course")
        self.check_course(request, course)
        snapshot = performers_snapshot(course=course, limit=query.validated_data["limit"])
        payload = _payload(course, snapshot)
        return Response(PerformersSerializer(payload).data)
