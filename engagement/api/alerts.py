"""Alerts API: list unresolved and past alerts; acknowledge and resolve them.

Reading needs `scores:read`, acknowledging and resolving `alerts:write`; staff sessions pass,
students never (alerts are about other learners).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from core.api import StrideFilterSet
from engagement.models import Alert, AlertRule
from engagement.selectors.alerts import alert_list
from engagement.services.alerts import alert_acknowledge, alert_resolve


class AlertOutputSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(
        source="rule.code", read_only=True, help_text="The rule that raised it, e.g. risk_rising."
    )
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    user = serializers.CharField(
        source="user.external_id",
        read_only=True,
        allow_null=True,
        help_text="The learner's external id.",
    )
    course = serializers.SlugRelatedField(
        slug_field="external_id",
        read_only=True,
        allow_null=True,
        help_text="The course's external id; null when the alert concerns no single course.",
    )

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


MAX_PRIORITY = 100  # rules' priorities are 0-100 (AlertRule.priority)


class IntegerFilter(filters.NumberFilter):
    """A whole-number filter: django-filter's NumberFilter takes decimals."""

    field_class = forms.IntegerField


class AlertFilter(StrideFilterSet):
    status = filters.ChoiceFilter(choices=Alert.Status.choices)
    rule = filters.ChoiceFilter(field_name="rule__code", choices=AlertRule.Code.choices)
    user = filters.CharFilter(field_name="user__external_id", help_text="A user's external id.")
    course = filters.CharFilter(
        field_name="course__external_id", help_text="A course's external id."
    )
    min_priority = IntegerFilter(
        field_name="priority", lookup_expr="gte", min_value=0, max_value=MAX_PRIORITY
    )

    class Meta:
        model = Alert
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        operation_id="engagement_alerts_list",
        summary="List alerts",
        description=(
            "Alerts raised about learners (critical risk, inactivity, a streak about to break, "
            "...), highest priority first, newest first within a priority. Filter by `status`, "
            "`rule`, learner (`user`), `course` and `min_priority`. `course` is null for "
            "alerts that concern no single course. Needs the `scores:read` scope (or a staff "
            "session)."
        ),
        parameters=[
            OpenApiParameter(
                "min_priority",
                {"type": "integer", "minimum": 0, "maximum": MAX_PRIORITY},
                description=f"Only alerts of at least this priority (0-{MAX_PRIORITY}).",
            )
        ],
    )
)
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

    @extend_schema(
        operation_id="engagement_alerts_acknowledge",
        summary="Acknowledge an alert",
        description=(
            "Mark an open alert as being looked at; acknowledging it again changes nothing. "
            "A resolved alert cannot be acknowledged (400). Answers the alert. Needs the "
            "`alerts:write` scope (or a staff session)."
        ),
        request=None,
        responses={200: AlertOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        alert = alert_acknowledge(alert=self.get_object(), by=self._actor(request))
        return Response(AlertOutputSerializer(alert).data)

    @extend_schema(
        operation_id="engagement_alerts_resolve",
        summary="Resolve an alert",
        description=(
            "Close an open or acknowledged alert; its rule may raise a new one for the same "
            "learner after the rule's cooldown. An alert already resolved is refused (400). "
            "Answers the alert. Needs the `alerts:write` scope (or a staff session)."
        ),
        request=None,
        responses={200: AlertOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        alert = alert_resolve(alert=self.get_object(), by=self._actor(request))
        return Response(AlertOutputSerializer(alert).data)
