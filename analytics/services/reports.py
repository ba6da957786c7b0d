"""Staff reports: opting in, rendering, and sending each report once per person and period.

Sending goes the way interventions' email channel goes out (Django's `EmailMultiAlternatives`
with a text and an HTML part, through EMAIL_BACKEND: the console on `make run`, any anymail
ESP in production) but not through the channel itself: `interventions.channels.email` is
made for learner deliveries (a delivery id in the Message-ID, the one-click unsubscribe of a
learner's messages), which a staff report is not.

Every send is recorded before the email goes out (`ReportSend`, unique per kind, person and
period): a run creates the rows it needs (`ignore_conflicts`), claims each with a conditional
UPDATE (pending or failed -> sending), sends, then marks it sent or failed. A retried or
concurrent run finds the rows claimed or sent and sends nothing; a failed send is retried by
the next run (up to MAX_ATTEMPTS, for the periods of the last RETRY_DAYS). A claim left
"sending" by a worker that died mid-send is taken again after STALE_CLAIM (the one case where
a report might arrive twice, rather than never).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from analytics.models import ReportKind, ReportSend, ReportSubscription
from analytics.selectors.reports import Report, report_for, report_period
from core.errors import DomainValidationError, invalid_choice_message
from interventions.services.tracking import site_url

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RETRY_DAYS = {ReportKind.DAILY_SUMMARY: 2, ReportKind.WEEKLY_GROWTH: 7}
STALE_CLAIM = datetime.timedelta(hours=1)
ERROR_LENGTH = 500


@dataclass(frozen=True)
class RenderedReport:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class SendOutcome:
    """What one `reports_send` run did: `recipients` the opted-in staff addresses of the
    period; `sent` and `failed` the emails this run sent or failed (retries included)."""

    kind: str
    period: datetime.date
    recipients: list[str] = field(default_factory=list)
    sent: int = 0
    failed: int = 0
    dry_run: bool = False


def _check_kind(kind: object) -> str:
    if kind not in ReportKind.values:
        raise DomainValidationError({"kind": invalid_choice_message(kind, ReportKind.values)})
    return str(kind)


def report_subscriber_check(user: User) -> None:
    """Raise unless `user` may get staff reports: active staff (the reports show every
    learner's and course's figures)."""
    if not (user.is_active and user.is_staff):
        raise DomainValidationError(
            {"user": "Only active staff can subscribe to staff reports."}, code="not_staff"
        )


@transaction.atomic
def report_subscription_set(*, user: User, kind: str, active: bool) -> ReportSubscription:
    """Turn `user`'s email of report `kind` on or off (one row per person and kind, upserted);
    refuse an unknown kind (field "kind") and anyone but active staff (field "user")."""
    kind = _check_kind(kind)
    report_subscriber_check(user)
    subscription, created = ReportSubscription.objects.select_for_update().get_or_create(
        user=user, kind=kind, defaults={"is_active": active}
    )
    if not created and subscription.is_active != active:
        subscription.is_active = active
        subscription.save(update_fields=["is_active", "updated_at"])
    return subscription


def report_subscriptions_of(user: User) -> dict[str, bool]:
    """Whether `user` gets each report kind (False where never chosen), in one query."""
    chosen = dict(ReportSubscription.objects.filter(user=user).values_list("kind", "is_active"))
    return {kind: chosen.get(kind, False) for kind in ReportKind.values}


def _subject(report: Report) -> str:
    if report.kind == ReportKind.WEEKLY_GROWTH:
        return f"Stride weekly growth: {report.week_start:%d %b} to {report.week_end:%d %b %Y}"
    return f"Stride daily summary: {report.day:%a %d %b %Y}"


def report_render(report: Report, *, user: User | None = None) -> RenderedReport:
    """The email of `report` for `user`: subject, text and HTML (tables, inline styles, no
    external resource), each figure with its change and the link of its dashboard page."""
    context = {
        "report": report,
        "user": user,
        "subject": _subject(report),
        "manage_url": site_url(reverse("analytics:reports")),
    }
    name = f"analytics/email/{report.kind}"
    return RenderedReport(
        subject=context["subject"],
        text=render_to_string(f"{name}.txt", context),
        html=render_to_string(f"{name}.html", context),
    )


def _recipients(kind: str) -> list[tuple[int, str]]:
    """(user id, address) of the active staff with an address subscribed to `kind`."""
    return list(
        ReportSubscription.objects.filter(
            kind=kind, is_active=True, user__is_active=True, user__is_staff=True
        )
        .exclude(user__email="")
        .order_by("user_id")
        .values_list("user_id", "user__email")
    )


def _claimable(now: datetime.datetime) -> Q:
    return Q(status__in=[ReportSend.Status.PENDING, ReportSend.Status.FAILED]) | Q(
        status=ReportSend.Status.SENDING, claimed_at__lt=now - STALE_CLAIM
    )


def _claim(candidates: list[int], now: datetime.datetime) -> list[int]:
    """The ids among `candidates` this run claimed: a conditional UPDATE each, so of two runs
    at once only one moves a row to "sending"."""
    return [
        pk
        for pk in candidates
        if ReportSend.objects.filter(_claimable(now), pk=pk, attempts__lt=MAX_ATTEMPTS).update(
            status=ReportSend.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    ]


def _message(
    send: ReportSend, rendered: RenderedReport, connection: object
) -> EmailMultiAlternatives:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].rstrip(">") or "stride.local"
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[send.user.email],
        connection=connection,
        headers={"Message-ID": f"<report-{send.pk}@{domain}>"},
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def _failed(send_ids: list[int], error: Exception) -> None:
    """Record that the sends `send_ids` failed with `error` (the next run retries them)."""
    logger.warning("report sends %s failed: %r", send_ids, error)
    ReportSend.objects.filter(pk__in=send_ids).update(
        status=ReportSend.Status.FAILED, error=f"{type(error).__name__}: {error}"[:ERROR_LENGTH]
    )


def reports_send(
    kind: str,
    *,
    period: datetime.date | None = None,
    now: datetime.datetime | None = None,
    dry_run: bool = False,
) -> SendOutcome:
    """Email report `kind` of `period` (default: the one due at `now`, see `report_period`)
    to every opted-in active staff member who has not had it, and retry the failed sends of
    the recent periods; return what was done. With `dry_run` nothing is recorded or sent (the
    outcome lists who would get it)."""
    kind = _check_kind(kind)
    now = now or timezone.now()
    period = period or report_period(kind, now=now)
    recipients = _recipients(kind)
    addresses = [email for _, email in recipients]
    if dry_run:
        return SendOutcome(kind=kind, period=period, recipients=addresses, dry_run=True)
    ReportSend.objects.bulk_create(
        [ReportSend(kind=kind, user_id=pk, period=period, to=email) for pk, email in recipients],
        ignore_conflicts=True,
    )
    candidates = list(
        ReportSend.objects.filter(
            _claimable(now),
            kind=kind,
            user_id__in=[pk for pk, _ in recipients],  # a retry only while still subscribed
            period__gte=period - datetime.timedelta(days=RETRY_DAYS[kind]),
            period__lte=period,
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("period", "id")
        .values_list("pk", flat=True)
    )
    claimed = _claim(candidates, now)
    if not claimed:
        return SendOutcome(kind=kind, period=period, recipients=addresses)
    sends = (
        ReportSend.objects.filter(pk__in=claimed).select_related("user").order_by("period", "id")
    )
    reports: dict[datetime.date, Report] = {}
    sent = failed = 0
    connection = get_connection()
    try:
        connection.open()  # one connection for the run (an SMTP server down fails them all)
    except Exception as error:
        _failed(claimed, error)
        return SendOutcome(kind=kind, period=period, recipients=addresses, failed=len(claimed))
    try:
        for send in sends:
            if send.period not in reports:
                reports[send.period] = report_for(kind, send.period)
            try:
                message = _message(
                    send, report_render(reports[send.period], user=send.user), connection
                )
                message.send()
            except Exception as error:  # the ESP's or SMTP's: recorded, retried next run
                _failed([send.pk], error)
                failed += 1
                continue
            # anymail's id of the message at the ESP (which may be 0 or a dict), else ours.
            provider_id = getattr(getattr(message, "anymail_status", None), "message_id", None)
            ReportSend.objects.filter(pk=send.pk).update(
                status=ReportSend.Status.SENT,
                sent_at=timezone.now(),
                to=send.user.email,
                error="",
                message_id=str(
                    message.extra_headers["Message-ID"] if provider_id is None else provider_id
                )[:200],
            )
            sent += 1
    finally:
        connection.close()
    logger.info("reports %s %s: %d sent, %d failed", kind, period, sent, failed)
    return SendOutcome(kind=kind, period=period, recipients=addresses, sent=sent, failed=failed)
