"""GET /api/v1/analytics/cohorts/ (the retention matrix) and /api/v1/analytics/lifecycle/."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.api.access import AnalyticsReadView
from analytics.api.engagement import RangeQuerySerializer
from analytics.models import CohortKind
from analytics.selectors.retention import BREAKDOWNS, COURSE, cohort_rows, lifecycle_rows


class CohortQuerySerializer(RangeQuerySerializer):
    kind = serializers.ChoiceField(
        choices=CohortKind.values,
        required=False,
        default=CohortKind.SIGNUP,
        help_text="`signup`: cohorts by signup week; `enrollment`: by first-enrollment week.",
    )
    breakdown = serializers.ChoiceField(
        choices=list(BREAKDOWNS),
        required=False,
        default="all",
        help_text=(
            "`all`, `course` (the platform's cohorts per course; not with `course`), "
            "`timezone`, `league` (the tier now) or `streak7` (a 7-day streak within the 14 "
            "days from the cohort week's Monday: `yes` / `no`)."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        out = super().validate(attrs)
        if attrs.get("breakdown") == COURSE and out["course"] is not None:
            raise serializers.ValidationError(
                {"breakdown": "The breakdown by course is for the platform: leave out `course`."}
            )
        return {**out, "kind": attrs.get("kind"), "breakdown": attrs.get("breakdown")}


class CohortRowSerializer(serializers.Serializer):
    cohort_kind = serializers.CharField(source="kind")
    cohort_week = serializers.DateField(help_text="The Monday the learner-local week starts.")
    breakdown = serializers.CharField()
    breakdown_value = serializers.CharField(
        source="value", help_text='"" without a breakdown; a course\'s external id by course.'
    )
    label = serializers.CharField()
    course = serializers.SerializerMethodField(help_text="Course external id; null: platform.")
    cohort_size = serializers.IntegerField(source="size")
    retained = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Learners active in week 0 (the cohort week), 1, ... as far as weeks passed.",
    )
    rates = serializers.ListField(child=serializers.FloatField(), help_text="retained / size.")

    def get_course(self, row: Any) -> str | None:
        return row.course.external_id if row.course is not None else None


class LifecycleWeekSerializer(serializers.Serializer):
    week = serializers.DateField(help_text="The Monday the learner-local week starts.")
    new = serializers.IntegerField(help_text="First activity ever (in the course) that week.")
    returning = serializers.IntegerField(help_text="Active that week and the week before.")
    resurrecting = serializers.IntegerField(
        help_text="Active that week, not the week before, but earlier."
    )
    dormant = serializers.IntegerField(help_text="Active the week before, not that week.")


@extend_schema(
    summary="Retention cohorts",
    description=(
        "The retention matrix: one row per cohort (and breakdown value) whose learner-local "
        "week (Monday to Sunday) starts from the week of `from` to `to`, with its size and "
        "the learners active in each week after it. `kind`: cohorts by signup week or by "
        "first-enrollment week; with `course`, that course's learners and their activity in "
        "it. Read from the nightly cohorts. Needs the `analytics:read` scope, a staff session, "
        "or an instructor's session with one of their courses. A 400 names the field for an "
        "unknown `kind`, `breakdown` or `course`, or `to` before `from`."
    ),
    parameters=[CohortQuerySerializer],
    responses=CohortRowSerializer(many=True),
)
class CohortsView(AnalyticsReadView):
    def get(self, request: Request) -> Response:
        query = CohortQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        self.check_course(request, q["course"])
        rows = cohort_rows(
            kind=q["kind"],
            breakdown=q["breakdown"],
            course=q["course"],
            start=q["start"],
            end=q["end"],
        )
        return Response(CohortRowSerializer(rows, many=True).data)


@extend_schema(
    summary="Weekly lifecycle",
    description=(
        "For every learner-local week from the week of `from` to `to`: the learners new, "
        "returning and resurrecting that week, and those gone dormant, for the platform or one "
        "`course` (activity in it). Read from the nightly lifecycle. Needs the "
        "`analytics:read` scope, a staff session, or an instructor's session with one of "
        "their courses. A 400 names the field for an unknown `course` or `to` before `from`."
    ),
    parameters=[RangeQuerySerializer],
    responses=LifecycleWeekSerializer(many=True),
)
class LifecycleView(AnalyticsReadView):
    def get(self, request: Request) -> Response:
        query = RangeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        self.check_course(request, q["course"])
        weeks = lifecycle_rows(course=q["course"], start=q["start"], end=q["end"])
        return Response(LifecycleWeekSerializer(weeks, many=True).data)
