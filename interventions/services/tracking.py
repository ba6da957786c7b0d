"""Signed tracking links: the open pixel, click redirects and the unsubscribe page.

Tokens are signed with the project's secret (django.core.signing, one salt per purpose), so a
forged or altered token is refused (404) and a click can only redirect to the URL stored for
that delivery and link position: never to a URL the token or the query string carries.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core import signing
from django.db.models import F
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from interventions.models import Channel, ChannelOptOut, Delivery, DeliveryLink

LOCAL_SITE = "http://127.0.0.1:8000"
_OPEN, _CLICK, _UNSUBSCRIBE = "interventions.open", "interventions.click", "interventions.unsub"
# Statuses an open, click or conversion may move a delivery on from (never back).
_BEFORE_OPEN = (Delivery.Status.SENT, Delivery.Status.DELIVERED)
_BEFORE_CLICK = (*_BEFORE_OPEN, Delivery.Status.OPENED)


class BadToken(Exception):
    """A tracking token that was not made by Stride (or was altered)."""


def site_url(path: str) -> str:
    """`path` on STRIDE_SITE_URL (else the local development server)."""
    return f"{(settings.STRIDE_SITE_URL or LOCAL_SITE).rstrip('/')}{path}"


def _sign(salt: str, value: str) -> str:
    return signing.Signer(salt=salt, sep=".").sign(value)


def _unsign(salt: str, token: str) -> str:
    try:
        return signing.Signer(salt=salt, sep=".").unsign(token)
    except signing.BadSignature as exc:
        raise BadToken(token) from exc


@cache
def _path_of(name: str) -> tuple[str, str]:
    """The URL path of view `name` around its token, reversed once: a batch makes tens of
    thousands of links, and reversing each costs more than signing it."""
    before, _, after = reverse(name, args=["TOKEN"]).partition("TOKEN")
    return before, after


def _url(name: str, token: str) -> str:
    before, after = _path_of(name)
    return site_url(f"{before}{token}{after}")


def open_url(delivery_id: int) -> str:
    return _url("interventions:open", _sign(_OPEN, str(delivery_id)))


def click_url(delivery_id: int, position: int) -> str:
    return _url("interventions:click", _sign(_CLICK, f"{delivery_id}-{position}"))


def unsubscribe_url(user_id: int, channel: str) -> str:
    return _url("interventions:unsubscribe", _sign(_UNSUBSCRIBE, f"{user_id}-{channel}"))


def delivery_open_record(*, token: str) -> None:
    """Count an open; the first one also stamps `opened_at` and moves the status on."""
    delivery_id = int(_unsign(_OPEN, token))
    now = timezone.now()
    Delivery.objects.filter(pk=delivery_id).update(
        opens=F("opens") + 1, opened_at=Coalesce(F("opened_at"), now)
    )
    Delivery.objects.filter(pk=delivery_id, status__in=_BEFORE_OPEN).update(
        status=Delivery.Status.OPENED
    )


def delivery_click_record(*, token: str) -> str:
    """Count a click and return where it goes: the stored URL of that delivery's link.

    Raises BadToken for a forged token or a link that does not exist.
    """
    raw = _unsign(_CLICK, token)
    delivery_id, _, position = raw.partition("-")
    url = delivery_link_click(delivery_id=int(delivery_id), position=int(position))
    if url is None:
        raise BadToken(token)
    return url


def delivery_link_click(
    *, delivery_id: int, position: int, now: datetime.datetime | None = None
) -> str | None:
    """Count a click on a delivery's link; return its stored URL (None: no such link).

    A click implies an open (images blocked): `opened_at` is stamped too if it was not.
    """
    link = DeliveryLink.objects.filter(delivery_id=delivery_id, position=position).first()
    if link is None:
        return None
    now = now or timezone.now()
    Delivery.objects.filter(pk=link.delivery_id).update(
        clicks=F("clicks") + 1,
        clicked_at=Coalesce(F("clicked_at"), now),
        opened_at=Coalesce(F("opened_at"), now),
    )
    Delivery.objects.filter(pk=link.delivery_id, status__in=_BEFORE_CLICK).update(
        status=Delivery.Status.CLICKED
    )
    return link.url


@dataclass(frozen=True)
class UnsubscribeTarget:
    user_id: int
    channel: str


def unsubscribe_target(*, token: str) -> UnsubscribeTarget:
    """Who and which channel an unsubscribe token is for (BadToken if forged)."""
    raw = _unsign(_UNSUBSCRIBE, token)
    user_id, _, channel = raw.partition("-")
    if channel not in Channel.values:
        raise BadToken(token)
    return UnsubscribeTarget(int(user_id), channel)


def unsubscribe(*, token: str, reason: str = "unsubscribe link") -> UnsubscribeTarget:
    """Opt the token's learner out of its channel (idempotent: a second click changes
    nothing)."""
    target = unsubscribe_target(token=token)
    ChannelOptOut.objects.bulk_create(
        [ChannelOptOut(user_id=target.user_id, channel=target.channel, reason=reason[:200])],
        ignore_conflicts=True,  # clicked twice, or on two devices at once
    )
    return target
