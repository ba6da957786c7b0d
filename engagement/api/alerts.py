"""Alerts API: list unresolved and past alerts; acknowledge and resolve them.

Reading needs `scores:read`, acknowledging and resolving `alerts:write`; staff sessions pass,
students never (alerts are about other learners).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from engagement.models import Alert, AlertRule
from engagement.selectors.alerts import alert_list
from engagement.services.alerts import alert_acknowledge, alert_resolve


class AlertOutputSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule.code", read_only=True)
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    user = serializers.CharField(
        source="user.external_id", read_only=True, allow_null=True, help_text="External id."
    )
    course = serializers.SlugRelatedField(slug_field="external_id", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "rule_name",
            "user",
            "course",
            "priority",
            "message",
            "context",
            "status",
            "created_at",
            "acknowledged_at",
            "resolved_at",
        ]


class AlertFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Alert.Status.choices)
    rule = filters.ChoiceFilter(field_name="rule__code", choices=AlertRule.Code.choices)
    user = filters.CharFilter(field_name="user__external_id", help_text="A user's external id.")
    course = filters.CharFilter(
        field_name="course__external_id", help_text="A course's external id."
    )
    min_priority = filters.NumberFilter(field_name="priority", lookup_expr="gte", min_value=0)

    class Meta:
        model = Alert
        fields: list[str] = []


class AlertViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Alerts about learners, highest priority first."""

    scope_read = "scores:read"
    scope_write = "alerts:write"
    serializer_class = AlertOutputSerializer
    filterset_class = AlertFilter

    def get_queryset(self) -> QuerySet[Alert]:
        return alert_list()

    def get_object(self) -> Alert:
        # Filters apply to the list only; acknowledging must find the alert whatever the query.
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def _actor(self, request: Request) -> User | None:
        return request.user if isinstance(request.user, User) else None

    @extend_schema(request=None, responses={200: AlertOutputSerializer}, summary="Acknowledge")
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        alert = alert_acknowledge(alert=self.get_object(), by=self._actor(request))
        return Response(AlertOutputSerializer(alert).data)

    @extend_schema(request=None, responses={200: AlertOutputSerializer}, summary="Resolve")
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        alert = alert_resolve(alert=self.get_object(), by=self._actor(request))
        return Response(AlertOutputSerializer(alert).data)
