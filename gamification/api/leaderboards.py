"""GET /api/v1/leaderboards/{daily|weekly|monthly|all_time}/: a leaderboard's top learners and,
with `around`, one learner's rank and neighbours.

For integrators (scope ``gamification:read``) and staff sessions. Students do not read it
here: `around` names any learner, and their own pages read the same selector for themselves
(their ranks are also in GET /api/v1/me/gamification/).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_by_external_id
from gamification.selectors.leaderboards import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    NEIGHBOURS,
    PERIODS,
    LeaderboardRow,
    course_id_by_external_id,
    leaderboard_page,
)

PERIOD_PATTERN = "|".join(PERIODS)


class LeaderboardQuerySerializer(serializers.Serializer):
    """The query string: all optional."""

    course = serializers.CharField(
        required=False,
        max_length=128,
        help_text="External id of a course: its own board (XP earned in the course only).",
    )
    limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text=f"How many of the top learners to list (1-{MAX_LIMIT}).",
    )
    around = serializers.CharField(
        required=False,
        max_length=128,
        help_text="External id of a learner: their own rank and neighbours, however far down.",
    )

    def validate_course(self, value: str) -> int:
        course_id = course_id_by_external_id(external_id=value)
        if course_id is None:
            raise serializers.ValidationError(f"No course with external id '{value}'.")
        return course_id

    def validate_around(self, value: str) -> int:
        user = user_by_external_id(external_id=value)
        if user is None:
            raise serializers.ValidationError(f"No learner with external id '{value}'.")
        return user.pk


class LeaderboardRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="1 is first; every learner has their own rank.")
    user = serializers.CharField(
        source="external_id",
        allow_null=True,
        help_text="The learner's external id; null for a learner who chose not to be shown.",
    )
    name = serializers.CharField(
        help_text='First name and last initial ("Ada L."), or "a learner" for one not shown.'
    )
    xp = serializers.IntegerField(help_text="XP in the period (revocations count against it).")
    hidden = serializers.BooleanField(help_text="The learner chose not to be shown by name.")
    is_around = serializers.BooleanField(
        source="is_viewer", help_text="This is the learner named by `around`."
    )


class LeaderboardResponseSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=PERIODS)
    starts_on = serializers.DateField(
        allow_null=True,
        help_text="The period's first day (learner-local); null for all-time.",
    )
    ends_on = serializers.DateField(allow_null=True, help_text="The period's last day.")
    course = serializers.CharField(allow_null=True, help_text="The course's external id, or null.")
    total = serializers.IntegerField(help_text="Learners on this board.")
    results = LeaderboardRowSerializer(many=True, help_text="The top learners, first first.")
    around = LeaderboardRowSerializer(
        many=True,
        help_text=f"With `around`: that learner's row and up to {NEIGHBOURS} either side; "
        "empty when they have no XP in the period.",
    )
    around_rank = serializers.IntegerField(
        allow_null=True, help_text="The rank of the `around` learner; null without XP on it."
    )


def _row(row: LeaderboardRow) -> dict[str, Any]:
    return {
        "rank": row.rank,
        "external_id": row.external_id,
        "name": row.name,
        "xp": row.xp,
        "hidden": row.hidden,
        "is_viewer": row.is_viewer,
    }


_EXAMPLE_ROW = {
    "rank": 1,
    "user": "learner-7",
    "name": "Ada L.",
    "xp": 1240,
    "hidden": False,
    "is_around": False,
}


class LeaderboardView(APIView):
    """One leaderboard: its top learners and, on request, one learner's neighbourhood."""

    scope_read = "gamification:read"

    @extend_schema(
        operation_id="leaderboards_retrieve",
        summary="Read a leaderboard",
        description=(
            "The learners with the most XP in the current period, global or in one `course`: "
            "`daily`, `weekly` (Monday to Sunday), `monthly` or `all_time`. Periods are "
            "learner-local: XP counts on the day it was earned in the learner's own timezone, "
            "and the current period is that of the `around` learner's today (today in UTC "
            "without `around`); `starts_on` and `ends_on` say which it is. Equal XP is ranked "
            "by the older account first, so every learner has one rank. `around` adds that "
            f"learner's rank and up to {NEIGHBOURS} neighbours either side, however far below "
            "the top they are. Learners who chose not to be shown keep their rank but appear "
            'as "a learner" with a null `user`. An unknown `course` or `around` is a 400 '
            "naming it. Needs the `gamification:read` scope."
        ),
        parameters=[
            OpenApiParameter(
                "period",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(PERIODS),
                description="Which leaderboard.",
            ),
            LeaderboardQuerySerializer,
        ],
        responses={
            200: LeaderboardResponseSerializer,
            400: OpenApiResponse(description="An unknown course or learner, or a bad limit."),
        },
        examples=[
            OpenApiExample(
                "Weekly, around a learner",
                value={
                    "period": "weekly",
                    "starts_on": "2026-11-30",
                    "ends_on": "2026-12-06",
                    "course": None,
                    "total": 5120,
                    "results": [_EXAMPLE_ROW],
                    "around": [
                        {
                            **_EXAMPLE_ROW,
                            "rank": 811,
                            "user": None,
                            "name": "a learner",
                            "xp": 95,
                            "hidden": True,
                        },
                        {
                            **_EXAMPLE_ROW,
                            "rank": 812,
                            "user": "learner-42",
                            "name": "Ben K.",
                            "xp": 90,
                            "is_around": True,
                        },
                    ],
                    "around_rank": 812,
                },
                response_only=True,
            )
        ],
        tags=["leaderboards"],
    )
    def get(self, request: Request, period: str) -> Response:
        query = LeaderboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = leaderboard_page(
            period=period,
            course_id=params.get("course"),
            limit=params["limit"],
            around_user_id=params.get("around"),
        )
        body = {
            "period": page.period,
            "starts_on": page.starts_on,
            "ends_on": page.ends_on,
            "course": request.query_params.get("course") if page.course_id else None,
            "total": page.total,
            "results": [_row(row) for row in page.top],
            "around": [_row(row) for row in page.around],
            "around_rank": page.viewer.rank if page.viewer else None,
        }
        return Response(LeaderboardResponseSerializer(body).data)
