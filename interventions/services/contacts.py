"""How a learner can be reached, set by the learner: Web Push subscriptions (one per browser),
an SMS number with consent, and which channels they have turned off.

A push subscription's endpoint is where Stride's server will POST, so it must be an https URL
on a known push service (STRIDE_PUSH_SERVICE_HOSTS); otherwise a student could make the
server call any address. A loopback stand-in (the tests') may use http when listed.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.errors import DomainValidationError
from interventions.models import Channel, ChannelOptOut, PushSubscription, SmsContact

# Channels a learner can switch off themselves (in-app messages are the student pages' own).
OPTIONAL_CHANNELS = (Channel.EMAIL, Channel.PUSH, Channel.SMS)


def _b64url_bytes(value: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def _host_allowed(host: str) -> bool:
    return any(
        host == allowed or host.endswith("." + allowed)
        for allowed in settings.STRIDE_PUSH_SERVICE_HOSTS
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def push_endpoint_errors(endpoint: str) -> str:
    """Why `endpoint` cannot be a push subscription's endpoint, or ""."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("https", "http") or parts.username or parts.password:
        return "Enter the https URL the browser's push service gave."
    if not _host_allowed(host):
        return f"{host} is not a known push service."
    if parts.scheme == "http" and not _is_loopback(host):
        return "A push endpoint must use https."
    return ""


def _key_errors(p256dh: str, auth: str) -> dict[str, str]:
    errors = {}
    raw = _b64url_bytes(p256dh)
    try:
        if raw is None or len(raw) != 65:
            raise ValueError
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        errors["keys.p256dh"] = "Expected the subscription's P-256 public key, base64url."
    secret = _b64url_bytes(auth)
    if secret is None or len(secret) != 16:
        errors["keys.auth"] = "Expected the subscription's 16-byte auth secret, base64url."
    return errors


@transaction.atomic
def push_subscribe(
    *, user_id: int, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> tuple[PushSubscription, bool]:
    """Keep this browser's subscription for the learner; return it and whether it is new. The
    same endpoint again (a re-subscribe, or another learner on the same browser) updates the
    one row: a browser gets each message once."""
    errors = _key_errors(p256dh, auth)
    if problem := push_endpoint_errors(endpoint):
        errors["endpoint"] = problem
    if errors:
        raise DomainValidationError(errors)
    subscription, created = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "user_id": user_id,
            "p256dh": p256dh,
            "auth": auth,
            "user_agent": user_agent[:300],
        },
    )
    ChannelOptOut.objects.filter(user_id=user_id, channel=Channel.PUSH).delete()
    return subscription, created


def push_unsubscribe(*, user_id: int, endpoint: str) -> bool:
    """Forget the learner's subscription at `endpoint`; False when they had none there."""
    deleted, _ = PushSubscription.objects.filter(user_id=user_id, endpoint=endpoint).delete()
    return bool(deleted)


def push_subscriptions_expire(subscription_ids: Iterable[int]) -> int:
    """Delete subscriptions their push service says are gone (404 or 410)."""
    deleted, _ = PushSubscription.objects.filter(pk__in=list(subscription_ids)).delete()
    return deleted


@transaction.atomic
def sms_contact_set(*, user_id: int, number: str, consent: bool) -> SmsContact | None:
    """Keep the learner's mobile number with their consent, or forget it (an empty number or
    no consent): Stride keeps a number only to text it."""
    number = "".join(number.split())
    if not number or not consent:
        if number and not consent:
            raise DomainValidationError(
                {"consent": "Tick the box to agree to texts, or leave the number empty."}
            )
        SmsContact.objects.filter(user_id=user_id).delete()
        return None
    contact = SmsContact(user_id=user_id, number=number)
    try:
        contact.clean_fields(exclude=["user", "consented_at", "created_at"])
    except ValidationError as exc:
        raise DomainValidationError(exc.message_dict) from exc
    contact, _ = SmsContact.objects.update_or_create(
        user_id=user_id, defaults={"number": number, "consented_at": timezone.now()}
    )
    return contact


@transaction.atomic
def channel_preferences_set(*, user_id: int, off: Iterable[str]) -> set[str]:
    """Turn off exactly the channels in `off` (of OPTIONAL_CHANNELS) for the learner, and the
    others back on; return the channels now off."""
    wanted = set(off)
    unknown = wanted - set(OPTIONAL_CHANNELS)
    if unknown:
        raise DomainValidationError({"channels": f"Unknown channel: {', '.join(sorted(unknown))}."})
    ChannelOptOut.objects.filter(user_id=user_id, channel__in=OPTIONAL_CHANNELS).exclude(
        channel__in=wanted
    ).delete()
    ChannelOptOut.objects.bulk_create(
        [ChannelOptOut(user_id=user_id, channel=c, reason="message settings") for c in wanted],
        ignore_conflicts=True,
    )
    return wanted


@transaction.atomic
def message_settings_save(
    *, user_id: int, off: Iterable[str], sms_number: str, sms_consent: bool
) -> None:
    """The message settings page's one save: channels and number together, or neither."""
    channel_preferences_set(user_id=user_id, off=off)
    sms_contact_set(user_id=user_id, number=sms_number, consent=sms_consent)
