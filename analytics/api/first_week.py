"""GET /api/v1/analytics/first-week/: the stored first-week analysis of the platform or one
course: its definition, the two groups, their outcomes with intervals and the signals that
separate them."""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.api.access import AnalyticsReadView, CourseQuerySerializer
from analytics.selectors.first_week import first_week_report


class FirstWeekQuerySerializer(CourseQuerySerializer):
    """?course=: one course's analysis; the platform's without it."""


class FiniteFloatField(serializers.FloatField):
    """A float, or null where it is infinite (two constant, different groups: d = ±inf)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value: float) -> float | None:
        value = float(value)
        return value if math.isfinite(value) else None


class DefinitionSerializer(serializers.Serializer):
    first_days = serializers.IntegerField(help_text="Learner-local days in a first week.")
    min_active_days = serializers.IntegerField(
        help_text="A first week with fewer active days than this is weak."
    )
    horizon_days = serializers.IntegerField(
        help_text="Analysed: first week ended this many days ago; dropped off: silent this "
        "long (or withdrawn) and not completed."
    )
    text = serializers.CharField(help_text="The definition in words, as the page shows it.")


class ProportionSerializer(serializers.Serializer):
    count = serializers.IntegerField(source="successes")
    total = serializers.IntegerField()
    rate = serializers.FloatField()
    low = serializers.FloatField(help_text="95% Wilson interval.")
    high = serializers.FloatField()


class DifferenceSerializer(serializers.Serializer):
    value = serializers.FloatField(help_text="The weak group's rate minus the rest's.")
    low = serializers.FloatField(help_text="95% interval (Newcombe, from the Wilson ones).")
    high = serializers.FloatField()


class OutcomeSerializer(serializers.Serializer):
    outcome = serializers.CharField(source="name", help_text="`dropped_off` or `completed`.")
    weak = ProportionSerializer()
    rest = ProportionSerializer()
    difference = DifferenceSerializer()


class FactorSerializer(serializers.Serializer):
    signal = serializers.CharField(source="comparison.signal")
    label = serializers.CharField()
    weak_mean = serializers.FloatField(source="comparison.mean_a")
    rest_mean = serializers.FloatField(source="comparison.mean_b")
    cohen_d = FiniteFloatField(
        source="comparison.cohen_d", help_text="Weak against rest (negative: the weak less)."
    )
    d_low = FiniteFloatField(source="comparison.d_low", help_text="95% interval of d.")
    d_high = FiniteFloatField(source="comparison.d_high")
    p_value = serializers.FloatField(source="comparison.p_value", help_text="Welch's t-test.")
    p_value_holm = serializers.FloatField(
        source="comparison.p_value_holm", help_text="Holm-corrected over every signal."
    )
    effect_size = serializers.CharField(source="comparison.effect_size")
    significant = serializers.BooleanField(
        help_text="Holm p < 0.05 and |d| >= 0.2: presented on the page."
    )
    text = serializers.CharField(help_text="The difference in plain words.")


class GroupsSerializer(serializers.Serializer):
    analysed = serializers.IntegerField(help_text="Enrolments analysed.")
    weak = serializers.IntegerField()
    rest = serializers.IntegerField()


class FirstWeekSerializer(serializers.Serializer):
    course = serializers.SerializerMethodField(help_text="Course external id; null: platform.")
    computed_at = serializers.DateTimeField(
        allow_null=True, help_text="When the nightly run (or the command) computed it; null: never."
    )
    definition = DefinitionSerializer()
    groups = serializers.SerializerMethodField()
    outcomes = OutcomeSerializer(many=True)
    factors = FactorSerializer(many=True, help_text="Every signal compared, largest |d| first.")
    recommendation = serializers.CharField()

    def get_course(self, report: Any) -> str | None:
        return report.course.external_id if report.course is not None else None

    @extend_schema_field(GroupsSerializer)
    def get_groups(self, report: Any) -> dict[str, int]:
        return {"analysed": report.analysed, "weak": report.weak, "rest": report.rest}


@extend_schema(
    summary="First-week analysis",
    description=(
        "Enrolments whose first week (the first 7 learner-local days from enrolling) was weak "
        "(active on fewer than 2 of them, the weak first week alert rule's definition) "
        "against the rest, for the platform or one `course`: the groups' sizes, their later "
        "drop-off and completion with 95% Wilson intervals and the difference's interval, "
        "and every first-week signal compared (Welch's t-test, Cohen's d with its interval, "
        "Holm-corrected p-values; `significant` marks those the page presents). Read from "
        "the nightly analysis. Needs the `analytics:read` scope, a staff session, or an "
        "instructor's session with one of their courses. A 400 names `course` when it is not "
        "a course Stride knows."
    ),
    parameters=[FirstWeekQuerySerializer],
    responses=FirstWeekSerializer,
)
class FirstWeekView(AnalyticsReadView):
    def get(self, request: Request) -> Response:
        query = FirstWeekQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        course = query.validated_data.get("course")
        self.check_course(request, course)
        return Response(FirstWeekSerializer(first_week_report(course=course)).data)
