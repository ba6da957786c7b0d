"""Scope checks: each API view names the scope it needs for reading and for writing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import permissions

from accounts.models import ApiKey

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class HasScope(permissions.BasePermission):
    """Let a request through when its key holds the view's scope, or its user is staff.

    Views set `scope_read` / `scope_write` (e.g. "users:read" / "users:write"). A signed-in
    non-staff user passes only where the view sets `allow_self_service = True`; such views
    narrow their querysets to the user's own rows.
    """

    message = "Your credentials do not grant access to this resource."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        scope = (
            getattr(view, "scope_read", None)
            if request.method in permissions.SAFE_METHODS
            else getattr(view, "scope_write", None)
        )
        if isinstance(request.auth, ApiKey):
            if scope is None or not request.auth.has_scope(scope):
                self.message = f"This API key lacks the '{scope}' scope."
                return False
            return True
        if user.is_staff:
            return True
        return bool(
            getattr(view, "allow_self_service", False)
            and request.method in permissions.SAFE_METHODS
        )
