"""The signed-in learner's Web Push subscriptions, from the browser's service worker flow:
POST /api/v1/me/push-subscriptions/ keeps one, POST .../remove/ forgets one (session only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import JSONInputSerializer
from core.parsers import StrideJSONParser
from gamification.api.profile import IsSignedInPerson
from interventions.services.contacts import push_subscribe, push_unsubscribe


class PushKeysSerializer(JSONInputSerializer):
    p256dh = serializers.CharField(max_length=120, help_text="The subscription's public key.")
    auth = serializers.CharField(max_length=40, help_text="The subscription's auth secret.")


class PushSubscriptionInputSerializer(JSONInputSerializer):
    """The browser's PushSubscription.toJSON()."""

    endpoint = serializers.URLField(max_length=1000)
    keys = PushKeysSerializer()
    expirationTime = serializers.IntegerField(
        required=False, allow_null=True, help_text="Ignored; push services report expiry."
    )


class PushSubscriptionOutputSerializer(serializers.Serializer):
    endpoint = serializers.URLField()
    created = serializers.BooleanField(help_text="False: this browser was subscribed already.")


class PushRemoveInputSerializer(JSONInputSerializer):
    endpoint = serializers.URLField(max_length=1000)


class PushRemoveOutputSerializer(serializers.Serializer):
    removed = serializers.BooleanField(help_text="False: no subscription of yours was there.")


class MyPushSubscriptionsView(APIView):
    permission_classes = [IsSignedInPerson]
    parser_classes = [StrideJSONParser]

    @extend_schema(
        operation_id="me_push_subscribe",
        summary="Keep this browser's push subscription",
        description="Stores the browser's Web Push subscription for the signed-in learner. "
        "The endpoint must be an https URL of a known push service; the keys are checked. "
        "The same endpoint again updates the one subscription.",
        request=PushSubscriptionInputSerializer,
        responses={201: PushSubscriptionOutputSerializer, 200: PushSubscriptionOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = PushSubscriptionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        subscription, created = push_subscribe(
            user_id=request.user.pk,
            endpoint=data["endpoint"],
            p256dh=data["keys"]["p256dh"],
            auth=data["keys"]["auth"],
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(
            {"endpoint": subscription.endpoint, "created": created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MyPushSubscriptionRemoveView(APIView):
    permission_classes = [IsSignedInPerson]
    parser_classes = [StrideJSONParser]

    @extend_schema(
        operation_id="me_push_unsubscribe",
        summary="Forget this browser's push subscription",
        description="Removes the signed-in learner's subscription at `endpoint` (after the "
        "browser unsubscribed). Someone else's endpoint is never touched.",
        request=PushRemoveInputSerializer,
        responses={200: PushRemoveOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = PushRemoveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        removed = push_unsubscribe(
            user_id=request.user.pk, endpoint=serializer.validated_data["endpoint"]
        )
        return Response({"removed": removed})
