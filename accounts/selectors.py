"""Reads for people, API keys and LTI."""

import json
from typing import Any

from django.db.models import QuerySet
from jwcrypto.jwk import JWK

from accounts.models import ApiKey, LtiToolKey, User


def user_list(*, viewer: User | None = None) -> QuerySet[User]:
    """Users the viewer may see: everyone for staff and integrators, else only themselves."""
    users = User.objects.all().order_by("id")
    if viewer is not None and not viewer.is_staff:
        users = users.filter(pk=viewer.pk)
    return users


def user_by_external_id(*, external_id: str) -> User | None:
    """The user with this external id, or None (one query)."""
    return User.objects.filter(external_id=external_id).first()


def api_key_list() -> QuerySet[ApiKey]:
    """All API keys, newest first."""
    return ApiKey.objects.select_related("created_by").order_by("-created_at")


def lti_tool_keys_published() -> QuerySet[LtiToolKey]:
    """Stride's tool keys that are not retired, newest first: the newest signs, all are served."""
    return LtiToolKey.objects.filter(retired_at=None).order_by("-created_at", "-id")


def lti_tool_key_signing() -> LtiToolKey | None:
    """The key that signs what Stride's tool sends: the newest not retired (one query)."""
    return lti_tool_keys_published().first()


def lti_tool_jwks() -> dict[str, list[dict[str, Any]]]:
    """Stride's tool keys that are not retired, newest first, as a public JWK Set (one query)."""
    return {"keys": [lti_tool_public_jwk(key) for key in lti_tool_keys_published()]}


def lti_tool_public_jwk(key: LtiToolKey) -> dict[str, Any]:
    """The public half of a tool key as a JWK (RS256, for signatures)."""
    public = json.loads(JWK.from_pem(key.public_key.encode()).export_public())
    return {**public, "kid": key.kid, "alg": "RS256", "use": "sig"}


def user_ids_by_external_id(*, external_ids: list[str]) -> dict[str, int]:
    """{external id: user id} of the users among these external ids (one query)."""
    return dict(User.objects.filter(external_id__in=external_ids).values_list("external_id", "id"))
