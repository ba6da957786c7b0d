"""The read APIs of a learner's gamification state: for integrators by external id, and for the
signed-in learner themself.

GET /api/v1/users/{external_id}/gamification/ (scope ``gamification:read``, or a staff session)
GET /api/v1/me/gamification/ (the signed-in learner's own, by session; never anyone else's)
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.serializers import UserBulkItemSerializer
from accounts.models import User
from accounts.selectors import user_by_external_id
from core.api import validate_url_ids
from gamification.selectors.leaderboards import PERIODS
from gamification.selectors.summary import (
    LearnerGamificationSummary,
    learner_gamification_summary,
)

PERIOD_CHOICES = ", ".join(f"`{p}`" for p in PERIODS)


class LevelSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="The level reached (1 to 10).")
    name = serializers.CharField(help_text='e.g. "Novice", "Grandmaster".')
    threshold_xp = serializers.IntegerField(help_text="Total XP at which this level starts.")
    next_number = serializers.IntegerField(allow_null=True, help_text="Null at the top level.")
    next_name = serializers.CharField(allow_null=True)
    next_threshold_xp = serializers.IntegerField(allow_null=True)
    xp_into_level = serializers.IntegerField(help_text="XP earned since this level started.")
    xp_to_next = serializers.IntegerField(
        allow_null=True, help_text="XP still needed for the next level; null at the top."
    )
    percent = serializers.IntegerField(
        min_value=0,
        max_value=100,
        help_text="How far (0-100) from this level's threshold to the next; 100 at the top.",
    )


class StreakSerializer(serializers.Serializer):
    current = serializers.IntegerField(help_text="Days in a row, in the learner's own timezone.")
    longest = serializers.IntegerField()
    last_active_date = serializers.DateField(allow_null=True, help_text="Learner-local date.")
    active_today = serializers.BooleanField()
    at_risk_today = serializers.BooleanField(
        help_text="Active yesterday but not yet today (learner-local): the streak ends tonight."
    )
    freezes_held = serializers.IntegerField(help_text="Streak freezes held, spent on a missed day.")
    freezes_max = serializers.IntegerField(help_text="The most freezes a learner can hold.")


class AchievementSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    icon = serializers.CharField()
    tier = serializers.CharField(help_text="`bronze`, `silver`, `gold` or `platinum`.")
    rarity = serializers.CharField(help_text="`common`, `rare`, `epic` or `legendary`.")
    holders_share = serializers.FloatField(
        help_text="Share (0-1) of learners who hold it, recomputed nightly."
    )
    criterion = serializers.CharField()
    threshold = serializers.IntegerField()
    progress = serializers.IntegerField(help_text="Progress towards the threshold (capped at it).")
    percent = serializers.IntegerField(min_value=0, max_value=100)
    xp_reward = serializers.IntegerField()
    unlocked = serializers.BooleanField()
    unlocked_at = serializers.DateTimeField(allow_null=True)


class RankSerializer(serializers.Serializer):
    rank = serializers.IntegerField(
        allow_null=True, help_text="1 is first; null when the learner has no XP in the period."
    )
    xp = serializers.IntegerField(help_text="XP earned in the period.")
    total = serializers.IntegerField(help_text="Learners on that leaderboard.")


class RanksSerializer(serializers.Serializer):
    daily = RankSerializer(help_text="Today, in the learner's calendar.")
    weekly = RankSerializer(help_text="This week (Monday to Sunday).")
    monthly = RankSerializer()
    all_time = RankSerializer()


class LeagueSerializer(serializers.Serializer):
    week_starts_on = serializers.DateField(help_text="The league week's Monday.")
    tier = serializers.CharField(
        help_text="`bronze`, `silver`, `gold`, `sapphire`, `ruby` or `diamond`."
    )
    position = serializers.IntegerField(help_text="Place in the league table (1 is first).")
    size = serializers.IntegerField(help_text="Learners in the league.")
    xp = serializers.IntegerField(help_text="XP earned this league week.")
    zone = serializers.CharField(help_text="`promotion`, `demotion` or `safe`, as things stand.")
    promote_count = serializers.IntegerField(help_text="How many at the top move up a tier.")
    demote_count = serializers.IntegerField(help_text="How many at the bottom move down a tier.")


class RewardSerializer(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.CharField(help_text="`streak_freeze`, `discount_code` or `early_access`.")
    name = serializers.CharField()
    value = serializers.CharField(help_text="A discount code, or what early access opens.")
    held = serializers.IntegerField(help_text="Units held now (granted minus used).")


class XpEntrySerializer(serializers.Serializer):
    occurred_at = serializers.DateTimeField()
    local_date = serializers.DateField()
    amount = serializers.IntegerField(help_text="Negative for a revocation.")
    kind = serializers.CharField(help_text="`award`, `grant` or `revoke`.")
    label = serializers.CharField(help_text="The action's name, or the kind of staff change.")
    detail = serializers.CharField(
        help_text="What for, in words: the lesson or course, or the reason given."
    )
    reason = serializers.CharField()
    reference = serializers.CharField()


class MomentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(
        help_text="`level_up`, `achievement_unlocked`, `streak_milestone`, `streak_freeze_used`, "
        "`streak_at_risk`, `league_result` or `reward_granted`."
    )
    title = serializers.CharField()
    body = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    seen = serializers.BooleanField()


class GamificationSummarySerializer(serializers.Serializer):
    user = serializers.CharField(
        source="external_id", allow_null=True, help_text="The learner's external id."
    )
    today = serializers.DateField(help_text="Today's date in the learner's timezone.")
    timezone = serializers.CharField()
    xp = serializers.IntegerField(source="total_xp", help_text="Total XP (from the ledger).")
    level = LevelSerializer()
    streak = StreakSerializer()
    achievements = AchievementSerializer(many=True)
    ranks = RanksSerializer(source="ranks_by_period")
    league = LeagueSerializer(allow_null=True, help_text="Null when not in a league this week.")
    rewards = RewardSerializer(many=True, help_text="Rewards held now (freezes included).")
    recent_xp = XpEntrySerializer(many=True, help_text="The latest XP changes, newest first.")
    recent_moments = MomentSerializer(many=True, help_text="The latest moments, newest first.")
    show_on_leaderboards = serializers.BooleanField(
        help_text='False: others see this learner as "a learner".'
    )


DESCRIPTION = (
    "XP and level with progress to the next level, the streak (current, longest, freezes "
    "held, whether it is at risk today), every active achievement (unlocked with its date, or "
    f"locked with progress and rarity), global ranks ({PERIOD_CHOICES}), this week's league "
    "(tier, place, promotion or demotion zone), the rewards held, the latest XP changes and "
    "moments. Days are "
    "the learner's own (their timezone)."
)


def _answer(summary: LearnerGamificationSummary) -> Response:
    return Response(GamificationSummarySerializer(summary).data)


@extend_schema(
    summary="Read a learner's gamification state",
    description=DESCRIPTION
    + " An unknown external id is a 404. Needs the `gamification:read` scope (or a staff "
    "session).",
    responses={200: GamificationSummarySerializer},
)
class UserGamificationView(generics.GenericAPIView):
    """One learner's summary by external id, for integrators and staff."""

    serializer_class = GamificationSummarySerializer
    scope_read = "gamification:read"
    filter_backends: list[Any] = []
    pagination_class = None

    def get(self, request: Request, external_id: str) -> Response:
        ids = validate_url_ids(UserBulkItemSerializer, external_id=external_id)
        user = user_by_external_id(external_id=ids["external_id"])
        if user is None:
            raise exceptions.NotFound("No user has this external id.")
        return _answer(learner_gamification_summary(user_id=user.pk))


class IsSignedInPerson(permissions.BasePermission):
    """A person signed in by session: the 'me' endpoints have no meaning for an API key."""

    message = (
        "This answers for the signed-in learner only; integrators read "
        "/api/v1/users/{external_id}/gamification/."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, User) and request.user.is_authenticated


@extend_schema(
    summary="Read my own gamification state",
    description=DESCRIPTION
    + " For the learner signed in to Stride's pages (session cookie): always their own "
    "state, never anyone else's. An API key is refused (403); integrators use "
    "`/users/{external_id}/gamification/`.",
    responses={200: GamificationSummarySerializer},
)
class MyGamificationView(generics.GenericAPIView):
    """The signed-in learner's own summary."""

    serializer_class = GamificationSummarySerializer
    permission_classes = [IsSignedInPerson]
    filter_backends: list[Any] = []
    pagination_class = None

    def get(self, request: Request) -> Response:
        return _answer(learner_gamification_summary(user_id=request.user.pk))
