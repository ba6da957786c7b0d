"""GET /api/v1/analytics/courses/, /courses/<external_id>/, /instructors/ and /revenue/: the
courses, instructors and revenue tables of the pages, from the stored aggregates.

An API key with `analytics:read` and a staff session see every course; an instructor's
session sees their own courses (and their own revenue); anyone else gets a 403.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import ApiKey
from analytics.access import can_see_analytics, can_see_platform, visible_courses
from analytics.api.engagement import RangeQuerySerializer
from analytics.selectors.aggregates import daily_series
from analytics.selectors.courses import (
    INSTRUCTOR_SORTS,
    SORTS,
    course_table,
    instructor_table,
    revenue_days,
)
from analytics.selectors.revenue import revenue_totals
from learning.models import Course

ACCESS = (
    "Needs the `analytics:read` scope, a staff session, or an instructor's session (their own "
    "courses only; a student's session gets a 403)."
)
RANGE_400 = "A 400 names the field when `to` is before `from`, the range is longer than three years"


def api_courses(request: Request) -> QuerySet[Course]:
    """The courses the request may read: every one for a key or staff, an instructor's own;
    a 403 for anyone else."""
    if isinstance(request.auth, ApiKey):
        return Course.objects.order_by("title", "id")
    if not can_see_analytics(request.user):
        raise PermissionDenied("Analytics are for staff and instructors.")
    return visible_courses(request.user)


class SeriesQuerySerializer(RangeQuerySerializer):
    course = None  # the course is the path's, or every course


class CoursesQuerySerializer(SeriesQuerySerializer):
    sort = serializers.ChoiceField(
        choices=list(SORTS),
        required=False,
        default="enrollments",
        help_text="The column to sort by, largest first (top courses).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**super().validate(attrs), "sort": attrs.get("sort", "enrollments")}


class InstructorsQuerySerializer(CoursesQuerySerializer):
    sort = serializers.ChoiceField(
        choices=list(INSTRUCTOR_SORTS),
        required=False,
        default="enrollments",
        help_text="The column to sort by, largest first (top instructors).",
    )


class CurrencyTotalSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="ISO 4217 code.")
    amount = serializers.DecimalField(max_digits=18, decimal_places=4)
    transactions = serializers.IntegerField()
    average_transaction = serializers.DecimalField(max_digits=18, decimal_places=4, allow_null=True)


class FiguresSerializer(serializers.Serializer):
    enrollments = serializers.IntegerField(help_text="Enrollments made in the range.")
    completions = serializers.IntegerField(help_text="Completions in the range.")
    completion_rate = serializers.FloatField(
        allow_null=True, help_text="Completions per enrollment made in the range."
    )
    active_learners = serializers.IntegerField(
        help_text="Distinct active learners in the 30 days to `to`."
    )
    average_rating = serializers.FloatField(allow_null=True)
    reviews = serializers.IntegerField(source="rating_count")
    revenue = CurrencyTotalSerializer(many=True, help_text="Per currency, largest first.")
    converted_revenue = serializers.DecimalField(
        max_digits=24,
        decimal_places=4,
        allow_null=True,
        help_text="The total in the base currency, when a rate table covers every currency.",
    )


class CourseRowSerializer(FiguresSerializer):
    course = serializers.CharField(source="course.external_id")
    title = serializers.CharField(source="course.title")
    starts = serializers.IntegerField(help_text="Enrollments first active in the range.")
    median_days_to_complete = serializers.FloatField(
        allow_null=True,
        help_text="The days' medians from enrolling to completing, weighted by completions.",
    )
    messages_sent = serializers.IntegerField()
    week1_retention = serializers.FloatField(
        allow_null=True,
        help_text=(
            "Of the learners who enrolled in the weeks starting in the range, the share active "
            "in the course the week after (null: no such cohort has had its next week yet)."
        ),
    )


class InstructorRowSerializer(FiguresSerializer):
    instructor = serializers.CharField(source="instructor.external_id")
    email = serializers.EmailField(source="instructor.email")
    courses = serializers.IntegerField(help_text="Courses they teach.")


class CourseDaySerializer(serializers.Serializer):
    date = serializers.DateField(source="day")
    dau = serializers.IntegerField()
    wau = serializers.IntegerField()
    mau = serializers.IntegerField()
    new_learners = serializers.IntegerField()
    events = serializers.IntegerField()
    enrollments = serializers.IntegerField()
    starts = serializers.IntegerField()
    completions = serializers.IntegerField()
    reviews = serializers.IntegerField(source="rating_count")
    average_rating = serializers.FloatField(allow_null=True)
    messages_sent = serializers.IntegerField()


class CourseSeriesSerializer(serializers.Serializer):
    course = serializers.CharField(source="course.external_id")
    title = serializers.CharField(source="course.title")
    days = CourseDaySerializer(many=True)


class RevenueDaySerializer(serializers.Serializer):
    date = serializers.DateField(source="day")
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=4)
    transactions = serializers.IntegerField()
    average_transaction = serializers.DecimalField(max_digits=18, decimal_places=4, allow_null=True)


class RevenueSerializer(serializers.Serializer):
    per_currency = CurrencyTotalSerializer(many=True)
    converted_total = serializers.DecimalField(
        source="converted",
        max_digits=24,
        decimal_places=4,
        allow_null=True,
        help_text="Null without a rate table (ANALYTICS_EXCHANGE_RATES) covering every currency.",
    )
    unconverted = serializers.ListField(
        child=serializers.CharField(), help_text="Currencies the rate table lacks."
    )
    days = RevenueDaySerializer(many=True)


class AnalyticsListView(GenericAPIView):
    """A paginated list of precomputed rows (not a queryset: rows are summed per range)."""

    scope_read = "analytics:read"
    allow_self_service = True  # narrowed by api_courses; students get a 403
    filter_backends: list = []

    def get_queryset(self) -> list[Any]:
        # The browsable API asks for one to draw its filter form (there are no filters);
        # the rows are summed per request in `get`.
        return []

    def respond(self, rows: list[Any]) -> Response:
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema(
    summary="Courses over a range",
    description=(
        "One row per course over `from`..`to` (learners' local days): enrollments, starts, "
        "completions and completion rate, the median days to complete, active learners, "
        "average rating and reviews, messages sent, and revenue per currency (converted when "
        "a rate table is configured), sorted by `sort`, largest first. Read from the nightly "
        f"aggregates. {ACCESS} {RANGE_400} or `sort` is not a column."
    ),
    parameters=[CoursesQuerySerializer],
    responses=CourseRowSerializer(many=True),
)
class CoursesView(AnalyticsListView):
    serializer_class = CourseRowSerializer

    def get(self, request: Request) -> Response:
        courses = api_courses(request)
        query = CoursesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        return self.respond(course_table(q["start"], q["end"], courses, sort=q["sort"]))


@extend_schema(
    summary="A course's daily series",
    description=(
        "One row per day of `from`..`to` for the course: DAU, WAU, MAU, new learners, "
        "events, enrollments, starts, completions, reviews and their average rating, messages "
        f"sent. A 404 for a course Stride does not know. {ACCESS} {RANGE_400}."
    ),
    parameters=[SeriesQuerySerializer],
    responses=CourseSeriesSerializer,
)
class CourseSeriesView(GenericAPIView):
    scope_read = "analytics:read"
    allow_self_service = True
    serializer_class = CourseSeriesSerializer
    filter_backends: list = []
    lookup_field = "external_id"

    def get(self, request: Request, external_id: str) -> Response:
        course = get_object_or_404(Course, external_id=external_id)
        if not api_courses(request).filter(pk=course.pk).exists():
            raise PermissionDenied("This course is another instructor's.")
        query = SeriesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        rows = daily_series(q["start"], q["end"], course=course)
        return Response(CourseSeriesSerializer({"course": course, "days": rows}).data)


@extend_schema(
    summary="Instructors over a range",
    description=(
        "One row per instructor of a course over `from`..`to`: their courses, active learners "
        "(distinct over their courses: a learner in two of them counts once), enrollments, "
        "completions and completion rate, average rating, revenue per currency, sorted by "
        "`sort`. Needs the `analytics:read` scope or a staff session; an instructor's or a "
        f"student's session gets a 403. {RANGE_400} or `sort` is not a column."
    ),
    parameters=[InstructorsQuerySerializer],
    responses=InstructorRowSerializer(many=True),
)
class InstructorsView(AnalyticsListView):
    serializer_class = InstructorRowSerializer
    allow_self_service = False

    def get(self, request: Request) -> Response:
        query = InstructorsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        return self.respond(instructor_table(q["start"], q["end"], sort=q["sort"]))


@extend_schema(
    summary="Revenue over a range",
    description=(
        "What `purchase` events paid over `from`..`to`: the total per currency with its "
        "transactions and average transaction, the converted total when "
        "ANALYTICS_EXCHANGE_RATES covers every currency (else null, with the currencies it "
        "lacks), and one row per day and currency, for the platform or one `course`. An "
        "instructor's session without `course` reads their own courses together. "
        f"{ACCESS} {RANGE_400}, or `course` is not a course Stride knows."
    ),
    parameters=[RangeQuerySerializer],
    responses=RevenueSerializer,
)
class RevenueView(GenericAPIView):
    scope_read = "analytics:read"
    allow_self_service = True
    serializer_class = RevenueSerializer
    filter_backends: list = []

    def get(self, request: Request) -> Response:
        courses = api_courses(request)
        query = RangeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        course, instructor = q["course"], None
        if course is not None and not courses.filter(pk=course.pk).exists():
            raise PermissionDenied("This course is another instructor's.")
        if course is None and not (
            isinstance(request.auth, ApiKey) or can_see_platform(request.user)
        ):
            instructor = request.user
        totals = revenue_totals(q["start"], q["end"], course=course, instructor=instructor)
        days = revenue_days(q["start"], q["end"], course=course, instructor=instructor)
        data = {
            "per_currency": totals.per_currency,
            "converted": totals.converted,
            "unconverted": totals.unconverted,
            "days": days,
        }
        return Response(RevenueSerializer(data).data)
