"""Users API: integrators upsert by external id; staff read all; a student reads only self."""

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from accounts.api.serializers import (
    UpsertResultSerializer,
    UserBulkSerializer,
    UserInputSerializer,
    UserOutputSerializer,
)
from accounts.models import User
from accounts.selectors import user_list
from accounts.services import users_upsert
from config.api import UpsertViewSetMixin
from config.upsert import UpsertResult


class UserFilter(filters.FilterSet):
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = User
        fields = ["role", "provisional", "timezone"]


@extend_schema_view(
    update=extend_schema(
        request=UserInputSerializer,
        responses={200: UserOutputSerializer, 201: UserOutputSerializer},
        summary="Create or update a user by external id",
    ),
    bulk=extend_schema(
        request=UserBulkSerializer,
        responses={200: UpsertResultSerializer},
        summary="Create or update many users at once (all or nothing)",
    ),
)
class UserViewSet(
    UpsertViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Users by the integrator's external id."""

    serializer_class = UserOutputSerializer
    input_serializer_class = UserInputSerializer
    bulk_serializer_class = UserBulkSerializer
    output_serializer_class = UserOutputSerializer
    filterset_class = UserFilter
    scope_read = "users:read"
    scope_write = "users:write"
    allow_self_service = True

    def get_queryset(self) -> QuerySet[User]:
        viewer = self.request.user if isinstance(self.request.user, User) else None
        return user_list(viewer=viewer).exclude(external_id=None)

    def upsert(self, items: list[dict[str, Any]]) -> UpsertResult:
        return users_upsert(items=items)
