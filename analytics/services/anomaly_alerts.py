"""Telling staff of new anomalies: once each, by email through the configured EMAIL_BACKEND.

Stride's staff have no in-app inbox (interventions' in-app messages are the learners'; the
unread count is hidden for staff) and engagement's alerts are about a learner, so staff are
told the way Stride already writes to people outside a learner's channels: Django's mail, the
backend chosen by EMAIL_BACKEND (the console on `make run`, any anymail ESP in production).

Each anomaly is claimed with a conditional UPDATE (`notified_at` from empty to now) before
anything is sent: a rerun, or two runs at once, find it claimed and send nothing. Recipients:
every active staff member with an address, and for a course's anomaly that course's
instructor (who sees its trends); nobody else. One message per recipient lists their
anomalies.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Sequence
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from analytics.models import Anomaly
from interventions.services.tracking import site_url

logger = logging.getLogger(__name__)

TRENDS_DAYS = 28  # the trends link shows the anomaly's day at the end of four weeks
METRIC_LABELS = {
    "dau": "Daily active learners",
    "wau": "Weekly active learners",
    "mau": "Monthly active learners",
    "events": "Events",
    "enrollments": "Enrollments",
    "completions": "Completions",
    "new_learners": "New learners",
}


def _claim(anomaly_ids: Sequence[int], now: datetime.datetime) -> list[int]:
    return [
        pk
        for pk in anomaly_ids
        if Anomaly.objects.filter(pk=pk, notified_at__isnull=True).update(notified_at=now)
    ]


def trends_url(anomaly: Anomaly) -> str:
    """The trends page of the anomaly's metric and scope, ending on its day."""
    query = {
        "range": "custom",
        "from": (anomaly.day - datetime.timedelta(days=TRENDS_DAYS - 1)).isoformat(),
        "to": anomaly.day.isoformat(),
        "metric": anomaly.metric,
    }
    if anomaly.course is not None:
        query["course"] = anomaly.course.external_id
    return site_url(f"{reverse('analytics:trends')}?{urlencode(query)}")


def anomaly_line(anomaly: Anomaly) -> str:
    """One anomaly in words: metric, scope, day, value against its baseline, and the link."""
    metric = METRIC_LABELS.get(anomaly.metric, anomaly.metric)
    scope = f"course {anomaly.course.title}" if anomaly.course is not None else "the platform"
    direction = "above" if anomaly.value > anomaly.baseline else "below"
    return (
        f"{metric}, {scope}, {anomaly.day:%a %d %b %Y}: {anomaly.value:g} against a baseline of "
        f"{anomaly.baseline:g} ({direction}; robust score {anomaly.score:.1f}).\n"
        f"  Trends: {trends_url(anomaly)}"
    )


def _message(user: User, anomalies: list[Anomaly]) -> EmailMessage:
    if len(anomalies) == 1:
        a = anomalies[0]
        subject = (
            f"Stride analytics: {METRIC_LABELS.get(a.metric, a.metric)} anomaly on {a.day:%d %b %Y}"
        )
    else:
        subject = f"Stride analytics: {len(anomalies)} new anomalies"
    lines = "\n\n".join(anomaly_line(a) for a in anomalies)
    body = (
        f"The nightly analytics run found {'a day' if len(anomalies) == 1 else 'days'} far from "
        "the usual for its weekday (the median of the previous same weekdays):\n\n"
        f"{lines}\n\nYou get this because you are {'staff' if user.is_staff else 'the instructor'}"
        " on Stride."
    )
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def anomaly_alerts_send(anomaly_ids: Sequence[int], *, now: datetime.datetime | None = None) -> int:
    """Tell staff (and a course's instructor) of the anomalies among `anomaly_ids` nobody was
    told of yet; return how many anomalies were newly told of. Each is claimed before the
    messages go out, so it is never told twice, even by a rerun; a failure to send is raised
    (the run's task shows it on the health page) and not retried."""
    now = now or timezone.now()
    claimed = _claim(list(anomaly_ids), now)
    if not claimed:
        return 0
    anomalies = list(
        Anomaly.objects.filter(pk__in=claimed)
        .select_related("course__instructor")
        .order_by("day", "course_id", "metric")
    )
    staff = list(User.objects.filter(is_staff=True, is_active=True).exclude(email=""))
    users: dict[int, User] = {}
    by_user: dict[int, list[Anomaly]] = defaultdict(list)
    for anomaly in anomalies:
        recipients = {u.pk: u for u in staff}
        instructor = anomaly.course.instructor if anomaly.course is not None else None
        if instructor is not None and instructor.is_active and instructor.email:
            recipients.setdefault(instructor.pk, instructor)
        for pk, user in recipients.items():
            users[pk] = user
            by_user[pk].append(anomaly)
    messages = [_message(users[pk], found) for pk, found in by_user.items()]
    if messages:
        with get_connection() as connection:
            connection.send_messages(messages)
    logger.info("anomaly alerts: %d anomalies, %d messages", len(anomalies), len(messages))
    return len(anomalies)
