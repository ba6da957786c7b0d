"""Writes of one-time sign-in links: an integrator (or `manage.py sign_in_link`) asks for one,
the student's browser spends it once."""

from __future__ import annotations

import datetime
import secrets

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.errors import SignInRefused
from accounts.models import ApiKey, SignInLink, User
from accounts.services.people import secret_hash
from core.errors import DomainValidationError

NEXT_MAX_LENGTH = SignInLink._meta.get_field("next_path").max_length
# The site a link names when neither its caller nor STRIDE_SITE_URL does: `make run`'s.
LOCAL_SITE = "http://127.0.0.1:8000"


def safe_next_path(value: str) -> str | None:
    """`value` when it is a path on this site ("/me/achievements/?tab=all"), else None.

    Refuses what would leave the site: "//evil.com", "https://evil.com", "/\\evil.com",
    control characters (browsers drop them: "/\\t/evil.com" is "//evil.com").
    """
    if not value or len(value) > NEXT_MAX_LENGTH or not value.startswith("/"):
        return None
    if value.startswith(("//", "/\\")) or any(ord(char) < 32 or ord(char) == 127 for char in value):
        return None
    if not url_has_allowed_host_and_scheme(value, allowed_hosts=None, require_https=False):
        return None
    return value


def _refuse_staff(user: User) -> None:
    if user.is_staff_account:
        raise SignInRefused(
            "Sign-in links never open staff accounts; staff sign in with their password.",
            detail=f"The user {user.external_id or user.pk} is a staff account.",
            status=403,
        )
    if not user.is_active:
        raise SignInRefused("This Stride account is deactivated.", status=403)


def sign_in_link_create(
    *, user: User, next_path: str = "", requested_by: ApiKey | None = None
) -> tuple[SignInLink, str]:
    """A new one-time link for a student (or instructor); return it with its raw token, which
    is never stored and shown only now.

    It expires after STRIDE_SIGN_IN_LINK_MINUTES. `next_path`, optional, must be a path on
    this site (DomainValidationError naming `next` otherwise). Staff, admin and deactivated
    accounts get no link (SignInRefused, 403).
    """
    if next_path and safe_next_path(next_path) is None:
        raise DomainValidationError(
            {
                "next": [
                    "Must be a path on this site starting with a single '/', e.g. '/me/'; "
                    f"at most {NEXT_MAX_LENGTH} characters."
                ]
            }
        )
    _refuse_staff(user)
    raw_token = secrets.token_urlsafe(32)
    now = timezone.now()
    link = SignInLink.objects.create(
        user=user,
        token_hash=secret_hash(raw_token),
        next_path=next_path,
        requested_by=requested_by,
        created_at=now,
        expires_at=now + datetime.timedelta(minutes=settings.STRIDE_SIGN_IN_LINK_MINUTES),
    )
    return link, raw_token


def sign_in_link_url(raw_token: str, *, site: str = "") -> str:
    """The address that spends a link: on `site` (scheme and host, e.g.
    "https://stride.example.com"), else STRIDE_SITE_URL, else the local development server."""
    base = (site or settings.STRIDE_SITE_URL or LOCAL_SITE).rstrip("/")
    return f"{base}{reverse('accounts:sign-in-link', args=[raw_token])}"


@transaction.atomic
def sign_in_link_redeem(*, raw_token: str) -> SignInLink:
    """Spend a link: return it (with its user) if it was unused and unexpired; else raise
    SignInRefused saying why (unknown 404, used or expired 410, staff or deactivated 403).

    One conditional UPDATE claims the link, so of two concurrent redemptions exactly one
    succeeds: the second waits for the first's row lock, then finds `used_at` set.
    """
    token_hash = secret_hash(raw_token)
    now = timezone.now()
    claimed = SignInLink.objects.filter(
        token_hash=token_hash, used_at=None, expires_at__gt=now
    ).update(used_at=now)
    link = SignInLink.objects.select_related("user").filter(token_hash=token_hash).first()
    if link is None:
        raise SignInRefused(
            "This sign-in link is not valid. Check that you copied all of it, or ask for a "
            "new one.",
            status=404,
        )
    if not claimed:
        if link.used_at is not None:
            raise SignInRefused(
                "This sign-in link was already used; each link works once. Ask for a new one.",
                status=410,
            )
        raise SignInRefused(
            "This sign-in link has expired; links work for "
            f"{settings.STRIDE_SIGN_IN_LINK_MINUTES} minutes. Ask for a new one.",
            status=410,
        )
    _refuse_staff(link.user)  # the account may have become staff since the link was made
    return link


# Kept for a day after they stop working, for staff who look into a "my link did not work".
SPENT_LINK_KEPT = datetime.timedelta(days=1)


def sign_in_links_delete_spent(*, now: datetime.datetime | None = None) -> int:
    """Delete sign-in links used or expired more than SPENT_LINK_KEPT ago; return how many.
    A link still usable is never deleted."""
    cutoff = (now or timezone.now()) - SPENT_LINK_KEPT
    deleted, _ = SignInLink.objects.filter(
        Q(used_at__lt=cutoff) | Q(expires_at__lt=cutoff)
    ).delete()
    return deleted
