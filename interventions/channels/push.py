"""Web Push: the standard protocol (RFC 8030) with VAPID (RFC 8292) and payloads encrypted for
each subscription (RFC 8291, aes128gcm), through pywebpush.

The server's key pair is STRIDE_VAPID_PRIVATE_KEY (raw P-256, base64url; `manage.py
vapid_keys` makes one); browsers subscribe with its public half (`vapid_public_key`). A push
service answering 404 or 410 says the subscription has expired: the caller deletes it.
STRIDE_PUSH_BACKEND chooses the backend: `WebPushBackend` (the default), or `ConsoleBackend`,
which prints what would be pushed.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.utils.module_loading import import_string

from interventions.channels import ChannelUnavailable

GONE = (404, 410)


class Subscription(Protocol):
    pk: int
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class PushPayload:
    """What the service worker shows: a title, a short body, the (tracked) link to open."""

    title: str
    body: str
    url: str
    tag: str

    def data(self) -> str:
        return json.dumps(
            {"title": self.title, "body": self.body, "url": self.url, "tag": self.tag},
            separators=(",", ":"),
        )


@dataclass
class PushOutcome:
    """A push to all of a learner's subscriptions: which took it, which have expired, and
    the errors of the rest (worth a retry)."""

    accepted: list[int] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    message_id: str = ""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@cache
def _vapid(private_key: str) -> Any:
    from py_vapid import Vapid02

    try:
        return Vapid02.from_string(private_key=private_key)
    except Exception as exc:
        raise ChannelUnavailable(f"STRIDE_VAPID_PRIVATE_KEY is not a P-256 key: {exc}") from exc


def vapid_public_key() -> str:
    """The applicationServerKey browsers subscribe with (uncompressed point, base64url), or
    "" when Web Push is not configured."""
    if not settings.STRIDE_VAPID_PRIVATE_KEY:
        return ""
    try:
        key = _vapid(settings.STRIDE_VAPID_PRIVATE_KEY).public_key
    except ChannelUnavailable:
        return ""
    return _b64url(
        key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )


def vapid_keys_generate() -> tuple[str, str]:
    """A new (private, public) VAPID key pair, both base64url."""
    from py_vapid import Vapid02

    vapid = Vapid02()
    vapid.generate_keys()
    private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(private), _b64url(public)


class WebPushBackend:
    """Push through each subscription's push service, one HTTP session per batch."""

    def __init__(self) -> None:
        if not settings.STRIDE_VAPID_PRIVATE_KEY:
            raise ChannelUnavailable(
                "Web Push is not configured: set STRIDE_VAPID_PRIVATE_KEY (manage.py vapid_keys)."
            )
        import requests

        self.vapid = _vapid(settings.STRIDE_VAPID_PRIVATE_KEY)
        self.session = requests.Session()

    def send(self, subscriptions: Sequence[Subscription], payload: PushPayload) -> PushOutcome:
        from pywebpush import WebPushException, webpush

        outcome = PushOutcome()
        data = payload.data()
        for sub in subscriptions:
            try:
                response = webpush(
                    subscription_info={
                        "endpoint": sub.endpoint,
                        "keys": {"p256dh": sub.p256dh, "auth": sub.auth},
                    },
                    data=data,
                    vapid_private_key=self.vapid,
                    # A new dict each time: webpush writes the audience (the endpoint's
                    # origin) into it.
                    vapid_claims={"sub": settings.STRIDE_VAPID_SUBJECT},
                    ttl=settings.STRIDE_PUSH_TTL_SECONDS,
                    timeout=settings.STRIDE_PUSH_TIMEOUT_SECONDS,
                    requests_session=self.session,
                )
            except WebPushException as exc:
                status = getattr(exc.response, "status_code", None)
                if status in GONE:
                    outcome.gone.append(sub.pk)
                else:
                    outcome.errors.append(f"push service answered {status}: {exc.message}"[:300])
                continue
            except Exception as exc:  # the network: a timeout, a refused connection
                outcome.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            outcome.accepted.append(sub.pk)
            outcome.message_id = outcome.message_id or response.headers.get("Location", "")
        return outcome

    def close(self) -> None:
        self.session.close()


class ConsoleBackend:
    """Print each push instead of sending it (development without a push service)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, subscriptions: Sequence[Subscription], payload: PushPayload) -> PushOutcome:
        for sub in subscriptions:
            self.stream.write(f"[push] {sub.endpoint[:80]}: {payload.data()}\n")
        return PushOutcome(accepted=[sub.pk for sub in subscriptions], message_id="console")

    def close(self) -> None:
        self.stream.flush()


def push_backend() -> Any:
    return import_string(settings.STRIDE_PUSH_BACKEND)()
