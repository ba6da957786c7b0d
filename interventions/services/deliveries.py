"""Deliveries: queue a template for learners (checking opt-outs, suppressions, frequency caps
and quiet hours), then send what is due, claimed so that no retry or second worker sends a
delivery twice.

Queueing
    One row per (learner, source, channel), inserted with ON CONFLICT DO NOTHING on that
    unique constraint: the same request, retried or replayed, queues nothing more. A learner
    is skipped, with the reason, when inactive, opted out of the channel, unreachable on it
    (no email address, no push subscription, no SMS number with consent), suppressed
    (address bounced or complained), for SMS below STRIDE_SMS_RISK_LEVELS, or over a
    frequency cap: at most STRIDE_INTERVENTION_DAILY_CAP messages in 24 hours and
    STRIDE_INTERVENTION_WEEKLY_CAP in 7 days (or the type's STRIDE_INTERVENTION_TYPE_CAPS),
    across all channels and gamification's notices. Caps count messages, not rows: one
    message (one source) on several channels counts once. A learner at critical risk may get
    one message more than a cap. A message due in the learner's quiet hours
    (STRIDE_QUIET_HOURS, their own timezone) is deferred to their best send hour from the
    study profile, else to the end of the quiet hours.

Holdouts
    Given `holdout_scope` and `holdout_share`, that share of the *eligible* learners (those
    past every check above, caps included: the ones who would have been contacted) is held
    out: not queued but recorded as a `Holdout` (unique per learner and source), and answered
    in `QueueResult.held_out`, not in `skipped`. Drawn after the caps so that both arms come
    from one population: a capped learner would not have been contacted either way, and
    holding them out would put learners the message could never reach into the comparison.
    The draw is a hash of scope and learner (`holdout_draw`), so the same learners are always
    held out of a scope, whatever the run; a replay of a source answers the held-out learners
    it recorded then.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.models import User
from core.bulk import rows_insert, rows_update
from core.errors import DomainValidationError
from core.jobs import task_enqueue
from core.localtime import zone
from engagement.selectors.dashboard import scoring_run_current
from engagement.selectors.learners import learner_risks
from engagement.selectors.send_hours import best_send_hours
from interventions.channels import ChannelUnavailable
from interventions.channels.email import send_email
from interventions.channels.push import PushPayload, push_backend
from interventions.channels.sms import sms_backend
from interventions.models import (
    Channel,
    ChannelOptOut,
    Delivery,
    DeliveryLink,
    Holdout,
    MessageTemplate,
    PushSubscription,
    SmsContact,
    Suppression,
)
from interventions.selectors.context import learner_contexts
from interventions.selectors.holdouts import holdout_is_drawn, holdout_user_ids
from interventions.services.contacts import push_subscriptions_expire
from interventions.services.personalise import personalise
from interventions.services.rendering import (
    link_render,
    message_compose,
    message_render,
    variant_choose,
)
from interventions.services.tracking import click_url, open_url, site_url, unsubscribe_url

SEND_DUE_TASK = "interventions.send_due"
# A queued row's columns (core.bulk.rows_insert: every NOT NULL column, its default too).
_TEXT_COLUMNS = ("subject", "body", "html", "error", "provider_message_id", "personalised_by")
QUEUE_COLUMNS = (
    ("user_id", "bigint"),
    ("template_id", "bigint"),
    ("variant_id", "bigint"),
    ("channel", "varchar"),
    ("source", "varchar"),
    ("course_id", "bigint"),
    ("status", "varchar"),
    ("created_at", "timestamptz"),
    ("due_at", "timestamptz"),
    *((name, "text") for name in _TEXT_COLUMNS),
    ("ai_error", "varchar"),
    ("attempts", "integer"),
    ("opens", "integer"),
    ("clicks", "integer"),
)
_EMPTY_TEXT = ("",) * (len(_TEXT_COLUMNS) + 1)
HOLDOUT_COLUMNS = (
    ("user_id", "bigint"),
    ("source", "varchar"),
    ("scope", "varchar"),
    ("channel", "varchar"),
    ("template_id", "bigint"),
    ("course_id", "bigint"),
    ("created_at", "timestamptz"),
)
HOLDOUT_SCOPE_MAX = 100
# What a batch writes back, in one UPDATE each (core.bulk.rows_update).
RENDERED_COLUMNS = (
    ("id", "bigint"),
    ("subject", "varchar"),
    ("body", "text"),
    ("html", "text"),
    ("personalised_by", "varchar"),
    ("ai_cost_usd", "numeric"),
    ("ai_latency_ms", "integer"),
    ("ai_error", "varchar"),
)
SENT_COLUMNS = (
    ("id", "bigint"),
    ("status", "varchar"),
    ("sent_at", "timestamptz"),
    ("delivered_at", "timestamptz"),
    ("provider_message_id", "varchar"),
    ("error", "text"),
)
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
    NO_ADDRESS = "no_address"  # no email, no push subscription, or no SMS number with consent
    NOT_URGENT = "not_urgent"  # SMS: the learner's risk is below STRIDE_SMS_RISK_LEVELS

    LABELS = {
        INACTIVE: "inactive account",
        OPTED_OUT: "turned this channel off",
        SUPPRESSED: "address bounced or complained",
        CAPPED: "had enough messages this day or week",
        DUPLICATE: "already queued",
        NO_ADDRESS: "cannot be reached on this channel",
        NOT_URGENT: "texts only at critical risk",
    }


@dataclass
class QueueResult:
    """What a queue call did: the new deliveries' ids by learner, and who was skipped why."""

    queued: dict[int, int] = field(default_factory=dict)  # user id -> delivery id
    deferred: set[int] = field(default_factory=set)  # of those, user ids waiting quiet hours
    skipped: dict[int, str] = field(default_factory=dict)  # user id -> Skip reason
    planned: list[int] = field(default_factory=list)  # a dry run: who would be queued
    replayed: set[int] = field(default_factory=set)  # of `queued`, those queued by an earlier call
    # Eligible learners deliberately not contacted (a holdout), recorded as `Holdout` rows
    # (a dry run: who would be); never in `queued` or `skipped`.
    held_out: set[int] = field(default_factory=set)

    @property
    def new(self) -> int:
        """How many learners this call queued (not a replay's earlier deliveries)."""
        return len(self.queued) - len(self.replayed)


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


def caps_for(intervention_type: str) -> tuple[int, int]:
    """(per 24 hours, per 7 days) for messages of this type."""
    return settings.STRIDE_INTERVENTION_TYPE_CAPS.get(
        intervention_type,
        (settings.STRIDE_INTERVENTION_DAILY_CAP, settings.STRIDE_INTERVENTION_WEEKLY_CAP),
    )


def _risk_levels(user_ids: Sequence[int]) -> dict[int, str]:
    """The learners' current risk level (learner-level: their riskiest enrolment)."""
    run = scoring_run_current()
    if run is None or not user_ids:
        return {}
    return {u: r.level for u, r in learner_risks(run=run, user_ids=user_ids).items()}


def _over_caps(
    user_ids: Sequence[int], now: datetime.datetime, *, source: str, caps: tuple[int, int]
) -> set[int]:
    """The learners already at a frequency cap: messages (distinct sources other than this
    one) in the last 24 hours and 7 days; one more for those at critical risk. Two queries."""
    daily, weekly = caps
    day, week = now - datetime.timedelta(days=1), now - datetime.timedelta(days=7)
    counts = {
        row["user_id"]: (row["day"], row["week"])
        for row in Delivery.objects.filter(
            user_id__in=user_ids, status__in=_COUNTED, due_at__gte=week
        )
        .exclude(source=source)
        .values("user_id")
        .annotate(
            week=Count("source", distinct=True),
            day=Count("source", distinct=True, filter=Q(due_at__gte=day)),
        )
    }
    over = {u for u, (d, w) in counts.items() if d >= daily or w >= weekly}
    if not over:
        return over
    levels = _risk_levels(sorted(over))
    return {
        u
        for u in over
        if levels.get(u) != "critical" or counts[u][0] > daily or counts[u][1] > weekly
    }


def _reachable(channel: str, users: Mapping[int, Mapping[str, Any]]) -> set[int]:
    """The learners Stride has an address for on `channel` (one query, or none)."""
    ids = list(users)
    if channel == Channel.EMAIL:
        return {u for u, row in users.items() if row["email"]}
    if channel == Channel.PUSH:
        return set(
            PushSubscription.objects.filter(user_id__in=ids).values_list("user_id", flat=True)
        )
    if channel == Channel.SMS:
        return set(
            SmsContact.objects.filter(user_id__in=ids, consented_at__isnull=False).values_list(
                "user_id", flat=True
            )
        )
    return set(ids)


def holdout_check(scope: str | None, share: float) -> bool:
    """Validate a holdout's scope and share; whether it holds anyone out (a scope and a share
    above 0). DomainValidationError naming the field at fault otherwise."""
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share < 1:
        raise DomainValidationError(
            {"holdout_share": f"The holdout share must be from 0 to below 1, not {share!r}."}
        )
    if scope is not None and not 0 < len(scope) <= HOLDOUT_SCOPE_MAX:
        raise DomainValidationError(
            {"holdout_scope": f"The holdout scope must have 1 to {HOLDOUT_SCOPE_MAX} characters."}
        )
    if share > 0 and scope is None:
        raise DomainValidationError(
            {"holdout_scope": "A holdout share needs the scope it is drawn for (e.g. rule:3)."}
        )
    return scope is not None and share > 0


def holdouts_record(
    *,
    scope: str,
    source: str,
    channel: str,
    template_id: int | None,
    courses: Mapping[int, int | None],
    now: datetime.datetime,
) -> None:
    """Record the learners of `courses` (user id -> the course the message was about) as held
    out of `scope` for `source`; one insert, skipping those already recorded (a retry records
    nothing twice)."""
    rows_insert(
        Holdout,
        HOLDOUT_COLUMNS,
        [
            (user_id, source[:200], scope, channel, template_id, course_id, now)
            for user_id, course_id in courses.items()
        ],
        conflict=("user_id", "source"),
    )


@transaction.atomic
def deliveries_queue(
    *,
    template: MessageTemplate,
    user_ids: Iterable[int],
    source: str,
    channel: str | None = None,
    course_id: int | None = None,
    course_of: Mapping[int, int | None] | None = None,
    now: datetime.datetime | None = None,
    due_of: Mapping[int, datetime.datetime] | None = None,
    dry_run: bool = False,
    holdout_scope: str | None = None,
    holdout_share: float = 0.0,
) -> QueueResult:
    """Queue `template` for the learners on `channel` (the template's by default); return
    what was queued, deferred and skipped. A fixed number of queries, whatever the count.
    Each message is about `course_of[learner]` if given, else `course_id` (None: the course
    driving the learner's risk). A message is due `now`, or at `due_of[learner]` when given
    (a campaign's learner-local time or rate limit), or after the quiet hours it falls in.
    Sending starts after the commit. A dry run writes nothing: `planned` lists who would be
    queued (the preview before a bulk send), `held_out` who would be held out.
    With `holdout_scope` and `holdout_share` (0 <= share < 1), that share of the eligible
    learners is held out of the scope: recorded, not queued (see the module's "Holdouts");
    two queries more."""
    channel = channel or template.channel
    if channel not in Channel.values:
        raise DomainValidationError(
            {"channel": f"Unknown channel {channel!r}; use one of {', '.join(Channel.values)}."}
        )
    if not template.is_active:
        raise DomainValidationError({"template": "This template is switched off."})
    holding = holdout_check(holdout_scope, holdout_share)
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
    result.replayed.update(existing)
    ids = [user_id for user_id in ids if user_id not in existing]
    if holding:
        assert holdout_scope is not None
        # Those this source held out already (on any channel): held out again, as then.
        result.held_out = holdout_user_ids(scope=holdout_scope, source=source, user_ids=ids)
        ids = [user_id for user_id in ids if user_id not in result.held_out]
    reachable = _reachable(channel, {u: users[u] for u in ids if u in users})
    levels = _risk_levels(ids) if channel == Channel.SMS else {}
    capped = _over_caps(ids, now, source=source[:200], caps=caps_for(template.intervention_type))
    hours = best_send_hours(user_ids=ids)
    variants = list(template.variants.all())
    rows = []
    for user_id in ids:
        user = users.get(user_id)
        if user is None or not user["is_active"]:
            result.skipped[user_id] = Skip.INACTIVE
        elif user_id in opted:
            result.skipped[user_id] = Skip.OPTED_OUT
        elif user_id not in reachable:
            result.skipped[user_id] = Skip.NO_ADDRESS
        elif channel == Channel.EMAIL and user["email"].lower() in suppressed:
            result.skipped[user_id] = Skip.SUPPRESSED
        elif channel == Channel.SMS and levels.get(user_id) not in settings.STRIDE_SMS_RISK_LEVELS:
            result.skipped[user_id] = Skip.NOT_URGENT
        elif user_id in capped:
            result.skipped[user_id] = Skip.CAPPED
        else:
            wanted = max(due_of.get(user_id, now), now) if due_of else now
            due = _quiet_until(wanted, user["timezone"], hours.get(user_id))
            variant = variant_choose(variants, user_id=user_id, template_id=template.pk)
            status = Delivery.Status.QUEUED if due == wanted else Delivery.Status.DEFERRED
            # The row as QUEUE_COLUMNS lists it (plain tuples: thousands of model instances
            # would cost more than the insert).
            rows.append(
                (
                    user_id,
                    template.pk,
                    variant.pk if variant else None,
                    channel,
                    source[:200],
                    course_of.get(user_id, course_id) if course_of else course_id,
                    status,
                    now,
                    due,
                    *_EMPTY_TEXT,
                    0,
                    0,
                    0,
                )
            )
    held: dict[int, int | None] = {}
    if holding:
        assert holdout_scope is not None
        held = {
            row[0]: row[5] for row in rows if holdout_is_drawn(holdout_scope, row[0], holdout_share)
        }
        rows = [row for row in rows if row[0] not in held]
        result.held_out.update(held)
    deferred = {row[0] for row in rows if row[6] == Delivery.Status.DEFERRED}
    if dry_run:
        result.planned = [row[0] for row in rows]
        result.deferred = deferred
        return result
    if held:
        assert holdout_scope is not None
        holdouts_record(
            scope=holdout_scope,
            source=source,
            channel=channel,
            template_id=template.pk,
            courses=held,
            now=now,
        )
    made = dict(
        rows_insert(
            Delivery,
            QUEUE_COLUMNS,
            rows,
            conflict=("user_id", "source", "channel"),
            returning=("user_id", "id"),
        )
    )
    for row in rows:
        user_id = row[0]
        if user_id in made:
            result.queued[user_id] = made[user_id]
            if user_id in deferred:
                result.deferred.add(user_id)
        else:
            result.skipped[user_id] = Skip.DUPLICATE
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
        Delivery.objects.filter(pk__in=ids).update(
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
    """Send the deliveries that are due, a claimed batch at a time; return how many were sent.

    Per batch, a fixed number of queries: the contexts of all its learners at once, one insert
    of the tracked links, one update of what was rendered, one of what was sent; email goes
    through one connection of the email backend.
    """
    now = now or timezone.now()
    deliveries_reconcile_stale(now=now)
    sent = 0
    while ids := _claim(now, limit):
        batch = list(
            Delivery.objects.filter(pk__in=ids).select_related("template", "variant", "user")
        )
        sent += _send_batch(batch, now)
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


def _render(delivery: Delivery, context: dict[str, Any]) -> tuple[Any, Any, str]:
    """The delivery's message for its learner's context: (message, personalisation, link)."""
    destination = _cta_url(delivery.template, context)
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
    return message, personalised, destination


def _channel_body(channel: str, message: Any) -> str:
    """The text as it leaves on `channel`: email's text part, a text message's whole text
    (subject and link), a push notification's short body, or the in-app body."""
    if channel == Channel.EMAIL:
        return message.text
    if channel == Channel.SMS:
        return f"{_shorten(message.subject, SMS_SUBJECT_CHARS)} {message.cta_url}".strip()
    if channel == Channel.PUSH:
        return _shorten(message.body, PUSH_BODY_CHARS)
    return message.body


def _send_batch(batch: list[Delivery], now: datetime.datetime) -> int:
    """Render, store and send a claimed batch; return how many left."""
    contexts = learner_contexts({d.user_id: d.course_id for d in batch}, now=now)
    rendered: list[tuple[Delivery, Any]] = []
    links = []
    for delivery in batch:
        try:
            message, personalised, destination = _render(delivery, dict(contexts[delivery.user_id]))
        except Exception as exc:  # a template that fails for this learner: recorded, retried
            _fail(delivery, now, f"{type(exc).__name__}: {exc}", final=False)
            continue
        html = message.html
        if delivery.channel == Channel.EMAIL:
            html += f'\n<img src="{open_url(delivery.pk)}" width="1" height="1" alt="">'
        delivery.subject = message.subject
        delivery.body = _channel_body(delivery.channel, message)
        delivery.html = html
        delivery.personalised_by = personalised.by if personalised else ""
        delivery.ai_cost_usd = personalised.cost_usd if personalised else None
        delivery.ai_latency_ms = personalised.latency_ms if personalised else None
        delivery.ai_error = personalised.error if personalised else ""
        links.append(DeliveryLink(delivery=delivery, position=0, url=destination))
        rendered.append((delivery, message))
    # What is about to leave is stored before it leaves (a worker lost mid-batch leaves
    # "sending" rows with their text, reconciled as interrupted, never sent twice).
    rows_insert(
        DeliveryLink,
        (("delivery_id", "bigint"), ("position", "integer"), ("url", "varchar")),
        [(link.delivery_id, link.position, link.url) for link in links],
        conflict=("delivery_id", "position"),
    )
    rows_update(
        Delivery,
        RENDERED_COLUMNS,
        [
            (
                d.pk,
                d.subject,
                d.body,
                d.html,
                d.personalised_by,
                d.ai_cost_usd,
                d.ai_latency_ms,
                d.ai_error,
            )
            for d, _ in rendered
        ],
    )
    done: list[Delivery] = []
    with _Outbox([d for d, _ in rendered]) as outbox:
        for delivery, message in rendered:
            try:
                status, provider_id = outbox.send(delivery, message)
            except ChannelUnavailable as exc:
                _fail(delivery, now, str(exc), final=True)
                continue
            except Exception as exc:  # any channel error: recorded, then retried with backoff
                _fail(delivery, now, f"{type(exc).__name__}: {exc}", final=False)
                continue
            delivery.status = status
            delivery.sent_at = now  # the run's clock (a batch takes seconds)
            delivery.delivered_at = now if status == Delivery.Status.DELIVERED else None
            delivery.provider_message_id = provider_id
            delivery.error = ""
            done.append(delivery)
    rows_update(
        Delivery,
        SENT_COLUMNS,
        [(d.pk, d.status, d.sent_at, d.delivered_at, d.provider_message_id, d.error) for d in done],
    )
    return len(done)


SMS_SUBJECT_CHARS = 120
PUSH_BODY_CHARS = 180


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _Outbox:
    """A batch's way out on each channel: one email connection, one push and one SMS backend
    (made when first needed), and the learners' push subscriptions and numbers, read at once.
    When the batch closes, push subscriptions their service says are gone are deleted and
    those that took a push are stamped, one query each."""

    def __init__(self, deliveries: Sequence[Delivery]) -> None:
        by_channel: dict[str, list[int]] = {}
        for d in deliveries:
            by_channel.setdefault(d.channel, []).append(d.user_id)
        self.subscriptions: dict[int, list[PushSubscription]] = {}
        for sub in PushSubscription.objects.filter(user_id__in=by_channel.get(Channel.PUSH, [])):
            self.subscriptions.setdefault(sub.user_id, []).append(sub)
        self.numbers = dict(
            SmsContact.objects.filter(
                user_id__in=by_channel.get(Channel.SMS, []), consented_at__isnull=False
            ).values_list("user_id", "number")
        )
        self.email = get_connection() if Channel.EMAIL in by_channel else None
        self._push: Any = None
        self._sms: Any = None
        self.gone: list[int] = []
        self.pushed: list[int] = []  # subscriptions that took a push

    def __enter__(self) -> _Outbox:
        if self.email is not None:
            self.email.open()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.email is not None:
            self.email.close()
        for backend in (self._push, self._sms):
            if backend is not None:
                backend.close()
        if self.gone:
            push_subscriptions_expire(self.gone)
        if self.pushed:
            PushSubscription.objects.filter(pk__in=self.pushed).update(last_sent_at=timezone.now())

    def send(self, delivery: Delivery, message: Any) -> tuple[str, str]:
        """Hand one delivery to its channel; return (status, the provider's message id)."""
        if delivery.channel == Channel.EMAIL:
            provider_id = send_email(
                to=delivery.user.email,
                subject=message.subject,
                text=message.text,
                html=delivery.html,
                unsubscribe=unsubscribe_url(delivery.user_id, delivery.channel),
                delivery_id=delivery.pk,
                connection=self.email,
            )
            return Delivery.Status.SENT, provider_id
        if delivery.channel == Channel.PUSH:
            return Delivery.Status.SENT, self._send_push(delivery, message)
        if delivery.channel == Channel.SMS:
            number = self.numbers.get(delivery.user_id)
            if not number:
                raise ChannelUnavailable("The learner has no SMS number with consent.")
            if self._sms is None:
                self._sms = sms_backend()
            return Delivery.Status.SENT, self._sms.send(to=number, text=delivery.body)
        return Delivery.Status.DELIVERED, ""  # in-app: the student pages show it

    def _send_push(self, delivery: Delivery, message: Any) -> str:
        subscriptions = self.subscriptions.get(delivery.user_id, [])
        if not subscriptions:
            raise ChannelUnavailable("The learner has no push subscription.")
        if self._push is None:
            self._push = push_backend()
        outcome = self._push.send(
            subscriptions,
            PushPayload(
                title=message.subject,
                body=delivery.body,
                url=message.cta_url or site_url("/me/"),
                tag=f"stride-{delivery.pk}",
            ),
        )
        self.gone.extend(outcome.gone)
        self.pushed.extend(outcome.accepted)
        if outcome.accepted:
            return outcome.message_id[:200]
        if outcome.errors:
            raise RuntimeError("; ".join(outcome.errors))  # retried with backoff
        raise ChannelUnavailable("Every push subscription of the learner has expired.")


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
