"""Writes for people, API keys and login sessions."""

import hashlib
import json
import secrets
from collections.abc import Collection, Sequence
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import ApiKey, ThrottleCounter, User, validate_timezone
from core.bulk import UpsertResult, upsert_rows
from core.errors import DomainValidationError
from core.retry import retry_on_deadlock

API_KEY_PREFIX_LENGTH = 8
USER_SYNC_FIELDS = ("email", "first_name", "last_name", "role", "timezone")


def secret_hash(raw_secret: str) -> str:
    """The stored form of a random secret (an API key, a sign-in link's token): its SHA-256."""
    # Secrets carry 256 bits of randomness, so a fast hash is safe; a slow password hash
    # would cost every API request tens of milliseconds for no gain.
    return hashlib.sha256(raw_secret.encode()).hexdigest()


def api_key_create(
    *, name: str, scopes: Sequence[str], source: str = "", created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Create a key; return it with the raw secret, which is never stored and shown only now."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["A key needs a name."]
    valid = set(ApiKey.Scope.values)
    unknown = sorted(set(scopes) - valid)
    if not scopes:
        errors["scopes"] = ["Give at least one scope."]
    elif unknown:
        errors["scopes"] = [
            f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(sorted(valid))}."
        ]
    if errors:
        raise DomainValidationError(errors)
    prefix = secrets.token_hex(API_KEY_PREFIX_LENGTH // 2)
    raw_key = f"sk_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name.strip(),
        prefix=prefix,
        hashed_key=secret_hash(raw_key),
        scopes=sorted(set(scopes)),
        source=slugify(source or name)[:64] or prefix,
        created_by=created_by,
    )
    return key, raw_key


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke a key at once; requests made with it are refused from now on."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """Return the active key matching `raw_key`, recording its use; None when unknown."""
    key = ApiKey.objects.filter(hashed_key=secret_hash(raw_key)).first()
    if key is None:
        return None
    now = timezone.now()
    # Write last-used at most once a minute, so busy keys don't write on every request.
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


@retry_on_deadlock
def users_upsert(*, items: Sequence[dict[str, Any]]) -> UpsertResult:
    """Create or update users by `external_id`; all or nothing, safe to call concurrently.

    Fields an item leaves out keep their stored value (or the default for a new user).
    Errors are reported per item index: {"items": {"3": {"email": [...]}}}, also for an email
    that a concurrent request took after these checks (upsert_rows finds that clash).
    """
    external_ids = [item["external_id"] for item in items]
    existing = {
        user.external_id: user for user in User.objects.filter(external_id__in=external_ids)
    }
    errors: dict[str, dict[str, list[str]]] = {}
    seen_ids: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for index, item in enumerate(items):
        item_errors: dict[str, list[str]] = {}
        if item["external_id"] in seen_ids:
            item_errors["external_id"] = [
                f"Duplicate of item {seen_ids[item['external_id']]} in this request."
            ]
        seen_ids.setdefault(item["external_id"], index)
        if "email" in item:
            email = item["email"].lower()
            if email in seen_emails:
                item_errors["email"] = [f"Duplicate of item {seen_emails[email]} in this request."]
            seen_emails.setdefault(email, index)
        if "timezone" in item:
            try:
                validate_timezone(item["timezone"])
            except ValidationError as exc:
                item_errors["timezone"] = exc.messages
        if item["external_id"] not in existing and "email" not in item:
            item_errors["email"] = ["This field is required to create a user."]
        if item_errors:
            errors[str(index)] = item_errors

    owners = dict(
        User.objects.filter(email__in=list(seen_emails)).values_list("email", "external_id")
    )
    for index, item in enumerate(items):
        email = item.get("email", "").lower()
        if email in owners and owners[email] != item["external_id"]:
            errors.setdefault(str(index), {})["email"] = [
                "Another user already has this email address."
            ]
    if errors:
        raise DomainValidationError({"items": errors})

    rows = []
    unusable = make_password(None)
    now = timezone.now()
    for item in items:
        current = existing.get(item["external_id"])
        row: dict[str, Any] = {"external_id": item["external_id"], "provisional": False}
        for field in USER_SYNC_FIELDS:
            if field in item:
                row[field] = item[field].lower() if field == "email" else item[field]
            elif current is not None:
                row[field] = getattr(current, field)
        row.setdefault("role", User.Role.STUDENT)
        row.setdefault("timezone", "UTC")
        row.setdefault("first_name", "")
        row.setdefault("last_name", "")
        row["password"] = current.password if current else unusable
        row["updated_at"] = now
        rows.append(row)
    return upsert_rows(
        User,
        rows,
        unique_fields=["external_id"],
        update_fields=[*USER_SYNC_FIELDS, "provisional", "updated_at"],
        existing_keys={(key,) for key in existing},
    )


def _provisional_email(external_id: str) -> str:
    # .invalid is reserved (RFC 2606): nothing is ever delivered to a provisional user.
    return f"{slugify(external_id)[:40] or 'user'}.{secrets.token_hex(4)}@provisional.invalid"


def _user_ids(external_ids: Collection[str]) -> dict[str, int]:
    """Ids of the users with these external ids, by external id."""
    if connection.vendor == "postgresql":
        # One JSON array parameter rather than `IN (%s, ...)` with thousands: event ingestion
        # asks for a whole batch's learners, and binding each value costs more than the query
        # (so does quoting them as an array literal, value by value in Python).
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT external_id, id FROM {connection.ops.quote_name(User._meta.db_table)} "
                "WHERE external_id IN (SELECT jsonb_array_elements_text(%s::jsonb))",
                [json.dumps(list(external_ids))],
            )
            return dict(cursor.fetchall())
    return dict(User.objects.filter(external_id__in=external_ids).values_list("external_id", "id"))


def users_ensure_provisional(*, external_ids: Collection[str]) -> dict[str, int]:
    """Make sure a user exists for each external id, creating provisional ones; id by ext id."""
    wanted = set(external_ids)
    found = _user_ids(wanted)
    missing = sorted(wanted - set(found))
    if missing:
        unusable = make_password(None)
        User.objects.bulk_create(
            [
                User(
                    external_id=ext,
                    email=_provisional_email(ext),
                    provisional=True,
                    password=unusable,
                )
                for ext in missing
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        found.update(_user_ids(missing))
    return found


def sessions_clear_expired() -> int:
    """Delete login sessions whose expiry has passed; return how many were deleted."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


# DRF's longest throttle period is a day; a counter whose window began before this is over.
THROTTLE_WINDOW_MAX = 86_400


def throttle_counters_delete_stale(*, now: float | None = None) -> int:
    """Delete the database throttle's counters whose window ended (each started over a day
    ago); return how many went. Redis counters expire by themselves."""
    started_before = (timezone.now().timestamp() if now is None else now) - THROTTLE_WINDOW_MAX
    deleted, _ = ThrottleCounter.objects.filter(window_started__lt=started_before).delete()
    return deleted
