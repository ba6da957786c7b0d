"""The unread in-app message count beside "Messages" in every page's navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from interventions.selectors.notifications import unread_notification_count


def unread_messages(request: HttpRequest) -> dict[str, Any]:
    """`unread_messages`: a signed-in student's unread count (lazy: one query if shown)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_staff:
        return {}
    return {"unread_messages": lambda: unread_notification_count(user_id=user.pk)}
