"""Deliveries: queue a template for learners (checking opt-outs, suppressions, frequency caps
and quiet hours), then send what is due, claimed so that no retry or second worker sends a
delivery twice.

Queueing
    One row per (learner, source, channel), inserted with ON CONFLICT DO NOTHING on that
    unique constraint: the same request, retried or replayed, queues nothing more. A learner
    is skipped, with the reason, when inactive, opted out of the channel, suppressed
    (address bounced or complained), or over a frequency cap: at most
    STRIDE_INTERVENTION_DAILY_CAP messages in 24 hours and STRIDE_INTERVENTION_WEEKLY_CAP in
    7 days across all channels (rolling windows; queued, deferred and sent ones count). A
    message due in the learner's quiet hours (STRIDE_QUIET_HOURS, their own timezone) is
    deferred to their best send hour from the study profile, else to the end of the quiet
    hours.

Sending (`deliveries_send_due`, by Celery)
    Due rows are claimed with SELECT ... FOR UPDATE SKIP LOCKED and marked "sending" (with the
    claim's time and an attempt) in a transaction of their own before anything is handed to
    a channel; each is rendered, stored (subject, text, HTML, its tracked link) and sent, then
    marked "sent". A failure is retried with backoff up to MAX_ATTEMPTS, then "failed" with the
    error. A claim older than STALE_CLAIM (the worker died between marking and the channel's
    answer) is never sent again: it may have left, so it is marked failed, "interrupted",
    rather than risk a second copy.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.models import User
from core.errors import DomainValidationError
from core.jobs import task_enqueue
from core.localtime import zone
from engagement.selectors.send_hours import best_send_hours
from interventions.channels import ChannelUnavailable, channel_supported, send_email
from interventions.models import (
    Channel,
    ChannelOptOut,
    Delivery,
    DeliveryLink,
    MessageTemplate,
    Suppression,
)
from interventions.selectors.context import learner_context
from interventions.services.personalise import personalise
from interventions.services.rendering import (
    link_render,
    message_compose,
    message_render,
    variant_choose,
)
from interventions.services.tracking import click_url, open_url, site_url, unsubscribe_url

SEND_DUE_TASK = "interventions.send_due"
MAX_ATTEMPTS = 4
STALE_CLAIM = datetime.timedelta(minutes=10)
SEND_BATCH = 200
# Statuses that count towards the caps: what was or will be sent.
_COUNTED = (
    Delivery.Status.QUEUED,
    Delivery.Status.DEFERRED,
    Delivery.Status.SENDING,
    Delivery.Status.SENT,
    Delivery.Status.DELIVERED,
    Delivery.Status.OPENED,
    Delivery.Status.CLICKED,
    Delivery.Status.CONVERTED,
)


class Skip:
    INACTIVE = "inactive"
    OPTED_OUT = "opted_out"
    SUPPRESSED = "suppressed"
    CAPPED = "capped"
    DUPLICATE = "already_queued"
    NO_ADDRESS = "no_address"


@dataclass
class QueueResult:
    """What a queue call did: the new deliveries' ids by learner, and who was skipped why."""

    queued: dict[int, int] = field(default_factory=dict)  # user id -> delivery id
    deferred: set[int] = field(default_factory=set)  # of those, user ids waiting quiet hours
    skipped: dict[int, str] = field(default_factory=dict)  # user id -> Skip reason
    planned: list[int] = field(default_factory=list)  # a dry run: who would be queued


def _quiet_until(now: datetime.datetime, tz_name: str, send_hour: int | None) -> datetime.datetime:
    """When a message due `now` may go: now, or after the learner's quiet hours (at their best
    send hour if that is outside them, else when the quiet hours end), in their timezone."""
    tz = zone(tz_name)
    local = now.astimezone(tz)
    if not _is_quiet(local.hour):
        return now
    _, end = settings.STRIDE_QUIET_HOURS
    target_hour = send_hour if send_hour is not None and not _is_quiet(send_hour) else end
    day = local.date()
    while True:
        wake = datetime.datetime.combine(day, datetime.time(target_hour), tzinfo=tz)
        if wake > local:
            return wake.astimezone(datetime.UTC)
        day += datetime.timedelta(days=1)


def _is_quiet(hour: int) -> bool:
    start, end = settings.STRIDE_QUIET_HOURS
    return (hour >= start or hour < end) if start > end else (start <= hour < end)


def _over_caps(user_ids: Sequence[int], now: datetime.datetime) -> set[int]:
    """The learners already at a frequency cap (one query)."""
    day, week = now - datetime.timedelta(days=1), now - datetime.timedelta(days=7)
    counts = (
        Delivery.objects.filter(user_id__in=user_ids, status__in=_COUNTED, due_at__gte=week)
        .values("user_id")
        .annotate(week=Count("id"), day=Count("id", filter=Q(due_at__gte=day)))
    )
    return {
        row["user_id"]
        for row in counts
        if row["day"] >= settings.STRIDE_INTERVENTION_DAILY_CAP
        or row["week"] >= settings.STRIDE_INTERVENTION_WEEKLY_CAP
    }


@transaction.atomic
def deliveries_queue(
    *,
    template: MessageTemplate,
    user_ids: Iterable[int],
    source: str,
    channel: str | None = None,
    course_id: int | None = None,
    now: datetime.datetime | None = None,
    dry_run: bool = False,
) -> QueueResult:
    """Queue `template` for the learners on `channel` (the template's by default); return
    what was queued, deferred and skipped. A fixed number of queries, whatever the count.
    Sending starts after the commit. A dry run writes nothing: `planned` lists who would be
    queued (the preview before a bulk send)."""
    channel = channel or template.channel
    if not channel_supported(channel):
        raise DomainValidationError(
            {"channel": f"Stride cannot send on {channel!r} yet; use email or in_app."}
        )
    if not template.is_active:
        raise DomainValidationError({"template": "This template is switched off."})
    now = now or timezone.now()
    ids = sorted(set(user_ids))
    result = QueueResult()
    users = {
        row["id"]: row
        for row in User.objects.filter(pk__in=ids).values("id", "email", "timezone", "is_active")
    }
    opted = set(
        ChannelOptOut.objects.filter(user_id__in=ids, channel=channel).values_list(
            "user_id", flat=True
        )
    )
    suppressed: set[str] = set()
    if channel == Channel.EMAIL:
        emails = [u["email"].lower() for u in users.values() if u["email"]]
        suppressed = set(
            Suppression.objects.filter(address__in=emails).values_list("address", flat=True)
        )
    # The same source queued these already (a retried or replayed request): answer as then.
    existing = dict(
        Delivery.objects.filter(user_id__in=ids, source=source[:200], channel=channel).values_list(
            "user_id", "id"
        )
    )
    result.queued.update(existing)
    ids = [user_id for user_id in ids if user_id not in existing]
    capped = _over_caps(ids, now)
    hours = best_send_hours(user_ids=ids)
    variants = list(template.variants.all())
    rows = []
    for user_id in ids:
        user = users.get(user_id)
        if user is None or not user["is_active"]:
            result.skipped[user_id] = Skip.INACTIVE
        elif user_id in opted:
            result.skipped[user_id] = Skip.OPTED_OUT
        elif channel == Channel.EMAIL and not user["email"]:
            result.skipped[user_id] = Skip.NO_ADDRESS
        elif channel == Channel.EMAIL and user["email"].lower() in suppressed:
            result.skipped[user_id] = Skip.SUPPRESSED
        elif user_id in capped:
            result.skipped[user_id] = Skip.CAPPED
        else:
            due = _quiet_until(now, user["timezone"], hours.get(user_id))
            rows.append(
                Delivery(
                    user_id=user_id,
                    template=template,
                    variant=variant_choose(variants, user_id=user_id, template_id=template.pk),
                    channel=channel,
                    source=source[:200],
                    course_id=course_id,
                    status=Delivery.Status.QUEUED if due == now else Delivery.Status.DEFERRED,
                    created_at=now,
                    due_at=due,
                )
            )
    if dry_run:
        result.planned = [row.user_id for row in rows]
        result.deferred = {row.user_id for row in rows if row.status == Delivery.Status.DEFERRED}
        return result
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    made = dict(
        Delivery.objects.filter(
            user_id__in=[r.user_id for r in rows],
            source=source[:200],
            channel=channel,
            created_at=now,
        ).values_list("user_id", "id")
    )
    for row in rows:
        if row.user_id in made:
            result.queued[row.user_id] = made[row.user_id]
            if row.status == Delivery.Status.DEFERRED:
                result.deferred.add(row.user_id)
        else:
            result.skipped[row.user_id] = Skip.DUPLICATE
    if result.queued:
        transaction.on_commit(lambda: task_enqueue(SEND_DUE_TASK))
    return result


# --- sending ------------------------------------------------------------------------------


def _claim(now: datetime.datetime, limit: int) -> list[int]:
    """Mark up to `limit` due deliveries "sending" (skipping rows another worker holds) and
    return their ids; committed before anything is sent."""
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status__in=[Delivery.Status.QUEUED, Delivery.Status.DEFERRED], due_at__lte=now)
            .order_by("due_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        for delivery_id in ids:
            Delivery.objects.filter(pk=delivery_id).update(
                status=Delivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
            )
    return ids


def deliveries_reconcile_stale(*, now: datetime.datetime | None = None) -> int:
    """Mark failed the claims older than STALE_CLAIM (their worker died mid-send): they may
    have left, so they are not sent again. Returns how many."""
    now = now or timezone.now()
    return Delivery.objects.filter(
        status=Delivery.Status.SENDING, claimed_at__lt=now - STALE_CLAIM
    ).update(
        status=Delivery.Status.FAILED,
        failed_at=now,
        error="Interrupted while sending (the worker stopped); not resent, to avoid a copy.",
    )


def deliveries_send_due(*, now: datetime.datetime | None = None, limit: int = SEND_BATCH) -> int:
    """Send the deliveries that are due, a claimed batch at a time; return how many were sent."""
    now = now or timezone.now()
    deliveries_reconcile_stale(now=now)
    sent = 0
    while ids := _claim(now, limit):
        for delivery in Delivery.objects.filter(pk__in=ids).select_related(
            "template", "variant", "user"
        ):
            sent += _send_one(delivery, now)
        if len(ids) < limit:
            break
    return sent


def _cta_url(template: MessageTemplate, context: dict[str, Any]) -> str:
    """The CTA's destination: the template's link rendered, on Stride if it is a path; the
    learner's home when empty or not a web address."""
    target = link_render(template.cta_path, context) if template.cta_path else ""
    if target.startswith("/") and not target.startswith("//"):
        return site_url(target)
    if target.startswith("https://") or target.startswith("http://"):
        return target
    return site_url("/me/")


def _send_one(delivery: Delivery, now: datetime.datetime) -> int:
    """Render, store and send one claimed delivery; 1 if it left, else 0."""
    try:
        context = learner_context(user=delivery.user, course_id=delivery.course_id)
        destination = _cta_url(delivery.template, context)
        DeliveryLink.objects.get_or_create(
            delivery=delivery, position=0, defaults={"url": destination}
        )
        context["cta_url"] = click_url(delivery.pk, 0)
        context["unsubscribe_url"] = unsubscribe_url(delivery.user_id, delivery.channel)
        message = message_render(delivery.template, delivery.variant, context)
        personalised = None
        if delivery.template.ai_personalise:
            personalised = personalise(message.subject, message.body, context)
            message = message_compose(
                subject=personalised.subject,
                body=personalised.body,
                cta_label=message.cta_label,
                cta_url=message.cta_url,
                unsubscribe_url=context["unsubscribe_url"],
            )
        html = message.html
        if delivery.channel == Channel.EMAIL:
            html += f'\n<img src="{open_url(delivery.pk)}" width="1" height="1" alt="">'
        Delivery.objects.filter(pk=delivery.pk).update(
            subject=message.subject,
            body=message.text if delivery.channel == Channel.EMAIL else message.body,
            html=html,
            personalised_by=personalised.by if personalised else "",
            ai_cost_usd=personalised.cost_usd if personalised else None,
            ai_latency_ms=personalised.latency_ms if personalised else None,
            ai_error=personalised.error if personalised else "",
        )
        provider_id = ""
        status = Delivery.Status.DELIVERED
        if delivery.channel == Channel.EMAIL:
            provider_id = send_email(
                to=delivery.user.email,
                subject=message.subject,
                text=message.text,
                html=html,
                unsubscribe=context["unsubscribe_url"],
                delivery_id=delivery.pk,
            )
            status = Delivery.Status.SENT
    except ChannelUnavailable as exc:
        _fail(delivery, now, str(exc), final=True)
        return 0
    except Exception as exc:  # any channel error: recorded, then retried with backoff
        _fail(delivery, now, f"{type(exc).__name__}: {exc}", final=False)
        return 0
    sent_at = now  # the run's clock (a batch takes seconds)
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=status,
        sent_at=sent_at,
        delivered_at=sent_at if status == Delivery.Status.DELIVERED else None,
        provider_message_id=provider_id,
        error="",
    )
    return 1


def _fail(delivery: Delivery, now: datetime.datetime, error: str, *, final: bool) -> None:
    """Retry later with backoff (1, 4, 9 ... minutes), or fail for good."""
    attempts = Delivery.objects.filter(pk=delivery.pk).values_list("attempts", flat=True)[0]
    if final or attempts >= MAX_ATTEMPTS:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.FAILED, failed_at=now, error=error[:2000]
        )
    else:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.QUEUED,
            due_at=now + datetime.timedelta(minutes=attempts**2),
            error=error[:2000],
        )
