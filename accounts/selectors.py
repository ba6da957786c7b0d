"""Reads for people."""

from django.db.models import QuerySet

from accounts.models import ApiKey, User


def user_list(*, viewer: User | None = None) -> QuerySet[User]:
    """Users the viewer may see: everyone for staff and integrators, else only themselves."""
    users = User.objects.all().order_by("id")
    if viewer is not None and not viewer.is_staff:
        users = users.filter(pk=viewer.pk)
    return users


def api_key_list() -> QuerySet[ApiKey]:
    """All API keys, newest first."""
    return ApiKey.objects.select_related("created_by").order_by("-created_at")
