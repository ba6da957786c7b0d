"""The signed-in learner's in-app messages: GET /api/v1/me/notifications/ and
POST /api/v1/me/notifications/read/ (session only; an API key has no "me")."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import JSONInputSerializer
from core.parsers import StrideJSONParser
from gamification.api.profile import IsSignedInPerson
from interventions.selectors.notifications import notification_list, unread_notification_count
from interventions.services.notifications import notifications_mark_read


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(source="subject")
    body = serializers.CharField()
    sent_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class MarkReadInputSerializer(JSONInputSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=500,
        help_text="The messages to mark read; all of them when absent.",
    )


class MarkReadOutputSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread and are read now.")
    unread = serializers.IntegerField(help_text="How many are still unread.")


@extend_schema(
    summary="List my in-app messages",
    description="The signed-in learner's delivered in-app messages, newest first, paginated, "
    "each with its title, body, when it was sent and when it was read (null: unread). For "
    "Stride's pages (session cookie); an API key has no 'me'.",
)
class MyNotificationsView(generics.ListAPIView):
    serializer_class = NotificationSerializer
    permission_classes = [IsSignedInPerson]
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        return notification_list(user_id=self.request.user.pk)


class MyNotificationsReadView(APIView):
    permission_classes = [IsSignedInPerson]
    parser_classes = [StrideJSONParser]

    @extend_schema(
        operation_id="me_notifications_read",
        summary="Mark my in-app messages read",
        description="Marks the listed messages (`ids`), or all, read. Only your own are "
        "touched; ids of other people's messages change nothing.",
        request=MarkReadInputSerializer,
        responses={200: MarkReadOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = MarkReadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = serializer.validated_data.get("ids")
        marked = notifications_mark_read(user_id=request.user.pk, delivery_ids=ids)
        unread = unread_notification_count(user_id=request.user.pk)
        return Response(MarkReadOutputSerializer({"marked": marked, "unread": unread}).data)
