"""Users API: integrators upsert by external id; staff read all; a student reads only self."""

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.serializers import (
    SignInLinkInputSerializer,
    SignInLinkOutputSerializer,
    UserBulkSerializer,
    UserInputSerializer,
    UserOutputSerializer,
)
from accounts.errors import SignInRefused
from accounts.models import ApiKey, User
from accounts.selectors import user_list
from accounts.services import sign_in_link_create, sign_in_link_url, users_upsert
from core.api import DateTimeFilter, StrideFilterSet, UpsertResultSerializer, UpsertViewSetMixin
from core.bulk import UpsertResult


class UserFilter(StrideFilterSet):
    updated_since = DateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = User
        fields = ["role", "provisional", "timezone"]


@extend_schema_view(
    list=extend_schema(
        summary="List users",
        description=(
            "Users known to Stride by your external id, oldest first: those you synced and "
            "those created provisionally (`provisional: true`) when an event named an unknown "
            "learner. Filter by `role`, `provisional`, `timezone` and `updated_since`. Needs "
            "the `users:read` scope; a signed-in student sees only themselves."
        ),
    ),
    retrieve=extend_schema(
        summary="Read a user",
        description=(
            "One user by your external id. Needs the `users:read` scope; a signed-in student "
            "may read only themselves."
        ),
    ),
    update=extend_schema(
        request=UserInputSerializer,
        responses={200: UserOutputSerializer, 201: UserOutputSerializer},
        summary="Create or update a user by external id",
        description=(
            "Creates the user with this external id (201) or updates it (200). Fields left "
            "out keep their stored values; creating a user needs `email`, which no other user "
            "may have. A provisional user becomes a synced one. Needs the `users:write` scope."
        ),
    ),
    bulk=extend_schema(
        operation_id="users_bulk_upsert",
        request=UserBulkSerializer,
        responses={200: UpsertResultSerializer},
        summary="Create or update many users at once (all or nothing)",
        description=(
            "Upserts each item of `items` by its `external_id`, as the single PUT does, in one "
            "transaction: if any item is invalid nothing is stored, and the 400 lists each "
            f"invalid item's fields under `items` by index. At most "
            f"{settings.STRIDE_BULK_MAX_ITEMS:,} items. Needs the `users:write` scope."
        ),
    ),
    sign_in_link=extend_schema(
        operation_id="users_sign_in_link_create",
        request=SignInLinkInputSerializer,
        responses={201: SignInLinkOutputSerializer},
        summary="Make a one-time sign-in link for a student",
        description=(
            "Answers a `url` that signs the student (or instructor) with this external id in "
            "to Stride and opens `next`, or their own pages at /me/. Send their browser there "
            "at once: the link works once, for "
            f"{settings.STRIDE_SIGN_IN_LINK_MINUTES} minutes (`expires_at`). `next` must be a "
            "path on Stride (400 otherwise). Staff and deactivated accounts get no link (403): "
            "a link never opens a staff account. Needs the `users:sign_in` scope, which "
            "`users:write` does not include."
        ),
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

    @action(
        detail=True,
        methods=["post"],
        url_path="sign-in-link",
        scope_write=ApiKey.Scope.USERS_SIGN_IN.value,
        allow_self_service=False,
    )
    def sign_in_link(self, request: Request, external_id: str | None = None) -> Response:
        serializer = SignInLinkInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = self.get_object()
        try:
            link, raw_token = sign_in_link_create(
                user=user,
                next_path=serializer.validated_data.get("next", ""),
                requested_by=request.auth if isinstance(request.auth, ApiKey) else None,
            )
        except SignInRefused as refusal:
            raise exceptions.PermissionDenied(f"{refusal.reason} {refusal.detail}") from refusal
        site = settings.STRIDE_SITE_URL or request.build_absolute_uri("/")
        url = sign_in_link_url(raw_token, site=site)
        body = SignInLinkOutputSerializer({"url": url, "expires_at": link.expires_at}).data
        return Response(body, status=status.HTTP_201_CREATED)
