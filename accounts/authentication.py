"""`Authorization: Bearer <key>` authentication for integrators."""

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiKey
from accounts.services import api_key_authenticate


class Integrator(AnonymousUser):
    """The principal behind an API key: authenticated, never staff, owns no user data."""

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    @property
    def is_anonymous(self) -> bool:  # type: ignore[override]
        return False

    def __str__(self) -> str:
        return f"integrator:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate a request by its bearer API key; 401 for unknown or revoked keys."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Integrator, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, raw_key = header.partition(" ")
        if keyword.lower() != self.keyword.lower():  # schemes are case-insensitive (RFC 9110)
            # No other scheme is accepted: say which one is, rather than "not authenticated".
            shown = keyword[:20].encode("ascii", "backslashreplace").decode("ascii")
            raise exceptions.AuthenticationFailed(
                f'The "{shown}" scheme is not supported; send "Authorization: Bearer <key>".'
            )
        raw_key = raw_key.strip()
        if not raw_key or " " in raw_key:
            raise exceptions.AuthenticationFailed(
                'Malformed Authorization header; send "Authorization: Bearer <key>".'
            )
        key = api_key_authenticate(raw_key=raw_key)
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown API key.")
        if not key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        return Integrator(key), key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
