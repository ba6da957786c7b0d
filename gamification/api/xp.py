"""XP awards API: the learning platform awards a learner the XP of an action.

POST /api/v1/xp/awards/ (scope ``gamification:write``, or a staff session). Idempotency keys
are namespaced by the API key's source (as events' ids are), so two integrators cannot collide.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey
from accounts.selectors import user_by_external_id
from core.api import JSONInputSerializer
from core.errors import DomainValidationError
from core.parsers import StrideJSONParser
from gamification.models import XpRefusal
from gamification.selectors.levels import level_table
from gamification.services.xp import MAX_AMOUNT, REFERENCE_MAX, xp_award

WEB_SOURCE = "web"  # the namespace of keys sent from staff sessions, as for events
KEY_MAX = 128
REPLAY_HEADER = "Idempotent-Replayed"


class XpAwardInputSerializer(JSONInputSerializer):
    user = serializers.CharField(max_length=128, help_text="The learner's external id.")
    action = serializers.CharField(
        max_length=64,
        help_text="The code of an XP action (e.g. `lesson_completed`, `bonus`); staff keep the "
        "catalogue in the admin.",
    )
    amount = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_AMOUNT,
        help_text="XP to award instead of the action's default amount.",
    )
    reference = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=REFERENCE_MAX,
        help_text="What was acted on (a lesson, quiz or post id): the same action on the same "
        "reference pays again only after the action's minimum interval, and only once for "
        "actions paid once per object.",
    )
    idempotency_key = serializers.CharField(
        max_length=KEY_MAX,
        help_text="Your unique key for this award: sending it again awards nothing more and "
        "answers as the first time.",
    )


class XpAwardOutputSerializer(serializers.Serializer):
    user = serializers.CharField(help_text="The learner's external id.")
    action = serializers.CharField()
    awarded = serializers.IntegerField(help_text="XP awarded: 0 when anti-cheat refused it.")
    refused_reason = serializers.ChoiceField(
        choices=XpRefusal.Reason.choices,
        allow_null=True,
        help_text="Why nothing was awarded (daily cap, too soon on the same reference, too "
        "many awards in a short time, action switched off, already earned); null when paid.",
    )
    total_xp = serializers.IntegerField(help_text="The learner's total XP after this award.")
    level = serializers.IntegerField(help_text="The learner's level after this award.")
    level_name = serializers.CharField()
    levelled_up = serializers.BooleanField(help_text="Whether this award reached a new level.")


class XpAwardView(APIView):
    """Award a learner the XP of an action, once per idempotency key."""

    scope_write = "gamification:write"
    parser_classes = [StrideJSONParser]

    @extend_schema(
        operation_id="xp_awards_create",
        summary="Award XP",
        description=(
            "Award a learner (`user`, their external id) the XP of an action from the "
            "catalogue, at its default amount or `amount`. Anti-cheat may refuse it (the "
            "action's daily cap in the learner's own day, a minimum interval before the same "
            "action on the same `reference` pays again, a burst limit, once-only actions): "
            "the answer is then 200 with `awarded` 0 and `refused_reason`, and staff see the "
            "refusal. An `idempotency_key` sent again awards nothing more and answers exactly "
            f"as the first time, with the header `{REPLAY_HEADER}: true`; a key already used "
            "for another learner or action is a 400. An unknown `user` or `action` is a 400 "
            "naming the field. Needs the `gamification:write` scope."
        ),
        request=XpAwardInputSerializer,
        responses={
            200: XpAwardOutputSerializer,
            400: OpenApiResponse(
                description="A malformed body, an unknown user or action, or a reused key."
            ),
        },
        examples=[
            OpenApiExample(
                "Award",
                value={
                    "user": "learner-42",
                    "action": "quiz_passed",
                    "reference": "quiz-7",
                    "idempotency_key": "lms-quiz-7-attempt-3",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Paid, with a level-up",
                value={
                    "user": "learner-42",
                    "action": "quiz_passed",
                    "awarded": 100,
                    "refused_reason": None,
                    "total_xp": 1210,
                    "level": 4,
                    "level_name": "Scholar",
                    "levelled_up": True,
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = XpAwardInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        user = user_by_external_id(external_id=data["user"])
        if user is None:
            raise DomainValidationError(
                {"user": [f"No learner has the external id '{data['user']}'."]}
            )
        source = request.auth.source if isinstance(request.auth, ApiKey) else WEB_SOURCE
        result = xp_award(
            user_id=user.pk,
            action_code=data["action"],
            amount=data.get("amount"),
            reference=data["reference"],
            idempotency_key=f"api:{source}:{data['idempotency_key']}",
        )
        body = {
            "user": data["user"],
            "action": data["action"],
            "awarded": result.awarded,
            "refused_reason": result.refused_reason,
            "total_xp": result.total_xp,
            "level": result.level,
            "level_name": _level_name(result.level),
            "levelled_up": result.levelled_up,
        }
        headers = {REPLAY_HEADER: "true"} if result.replayed else None
        return Response(XpAwardOutputSerializer(body).data, headers=headers)


def _level_name(level: int) -> str:
    names = {info.number: info.name for info in level_table()}
    return names.get(level, f"Level {level}")
