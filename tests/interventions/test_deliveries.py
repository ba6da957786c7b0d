"""Queueing respects people (opt-outs, suppressions, caps, quiet hours); sending is claimed so
that retries and concurrent workers never send a delivery twice."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings

from engagement.models import PersonalizationProfile
from interventions.models import ChannelOptOut, Delivery, Suppression
from interventions.services.deliveries import (
    MAX_ATTEMPTS,
    STALE_CLAIM,
    Skip,
    deliveries_queue,
    deliveries_send_due,
)
from tests.accounts.factories import UserFactory
from tests.interventions.factories import MessageTemplateFactory, default_template
from tests.locks import needs_postgresql

pytestmark = pytest.mark.django_db
NOON = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def queue(template, users, *, source="test:1", now=NOON, **kwargs):
    return deliveries_queue(
        template=template, user_ids=[u.pk for u in users], source=source, now=now, **kwargs
    )


def test_opted_out_suppressed_inactive_and_capped_learners_are_skipped_with_the_reason():
    template = MessageTemplateFactory()
    ok, opted, bounced, gone, busy = UserFactory.create_batch(5)
    ChannelOptOut.objects.create(user=opted, channel="email")
    Suppression.objects.create(address=bounced.email.lower(), reason="bounced")
    gone.is_active = False
    gone.save()
    queue(template, [busy], source="earlier", now=NOON - datetime.timedelta(hours=3))

    result = queue(template, [ok, opted, bounced, gone, busy])

    assert list(result.queued) == [ok.pk]
    assert result.skipped == {
        opted.pk: Skip.OPTED_OUT,
        bounced.pk: Skip.SUPPRESSED,
        gone.pk: Skip.INACTIVE,
        busy.pk: Skip.CAPPED,
    }
    # Opting out of email is not opting out of the student pages.
    assert list(queue(template, [opted], source="t:2", channel="in_app").queued) == [opted.pk]


def test_the_weekly_cap_counts_every_channel():
    template = MessageTemplateFactory()
    learner = UserFactory()
    for day in (1, 3, 5):
        queue(template, [learner], source=f"d{day}", now=NOON - datetime.timedelta(days=day))
    result = queue(template, [learner], source="today", channel="in_app")
    assert result.skipped == {learner.pk: Skip.CAPPED}
    later = queue(template, [learner], source="next week", now=NOON + datetime.timedelta(days=2))
    assert list(later.queued) == [learner.pk]  # the oldest left the 7-day window


def test_a_learner_at_critical_risk_may_get_one_message_more_than_the_cap():
    from django.utils import timezone

    from tests.engagement.factories import make_run, make_score
    from tests.learning.factories import CourseFactory

    template = MessageTemplateFactory()
    critical, high = UserFactory(), UserFactory()
    run, course = make_run(timezone.localdate()), CourseFactory()
    make_score(run, critical, 93, course=course)
    make_score(run, high, 75, course=course)
    queue(template, [critical, high], source="morning", now=NOON - datetime.timedelta(hours=4))
    second = queue(template, [critical, high], source="noon")
    assert list(second.queued) == [critical.pk] and second.skipped == {high.pk: Skip.CAPPED}
    third = queue(template, [critical], source="evening", now=NOON + datetime.timedelta(hours=2))
    assert third.skipped == {critical.pk: Skip.CAPPED}  # by one, not more


def test_one_message_on_several_channels_counts_once_towards_the_caps():
    template = MessageTemplateFactory()
    learner = UserFactory()
    assert list(queue(template, [learner], source="urgent").queued) == [learner.pk]
    # The same message (source) on a second channel is not a second message ...
    assert list(queue(template, [learner], source="urgent", channel="in_app").queued)
    # ... but another message the same day is.
    assert queue(template, [learner], source="other").skipped == {learner.pk: Skip.CAPPED}


def test_a_type_may_have_caps_of_its_own(settings):
    settings.STRIDE_INTERVENTION_TYPE_CAPS = {"achievement_notification": (2, 5)}
    news = MessageTemplateFactory(intervention_type="achievement_notification")
    reminder = MessageTemplateFactory(intervention_type="gentle_reminder")
    learner = UserFactory()
    assert list(queue(news, [learner], source="a").queued)
    assert list(queue(news, [learner], source="b").queued)  # two a day for this type
    assert queue(news, [learner], source="c").skipped == {learner.pk: Skip.CAPPED}
    assert queue(reminder, [learner], source="d").skipped == {learner.pk: Skip.CAPPED}


def test_a_replayed_source_queues_nothing_more_and_answers_the_same_deliveries():
    template = MessageTemplateFactory()
    learners = UserFactory.create_batch(3)
    first = queue(template, learners)
    again = queue(template, learners)
    assert again.queued == first.queued and not again.skipped
    assert Delivery.objects.count() == 3


def test_a_message_due_in_quiet_hours_waits_for_the_learners_morning(settings):
    settings.STRIDE_QUIET_HOURS = (21, 8)
    template = MessageTemplateFactory()
    tokyo = UserFactory(timezone="Asia/Tokyo")  # noon UTC is 21:00 in Tokyo: quiet
    result = queue(template, [tokyo])

    delivery = Delivery.objects.get(pk=result.queued[tokyo.pk])
    assert delivery.status == Delivery.Status.DEFERRED and result.deferred == {tokyo.pk}
    # 08:00 the next morning in Tokyo is 23:00 UTC the same day.
    assert delivery.due_at == datetime.datetime(2026, 12, 1, 23, 0, tzinfo=datetime.UTC)
    assert deliveries_send_due(now=NOON) == 0
    assert deliveries_send_due(now=delivery.due_at) == 1


def test_the_learners_best_send_hour_is_used_when_it_is_outside_the_quiet_hours(settings):
    settings.STRIDE_QUIET_HOURS = (21, 8)
    tokyo = UserFactory(timezone="Asia/Tokyo")
    PersonalizationProfile.objects.create(user=tokyo, best_send_hour=19)
    delivery_id = queue(MessageTemplateFactory(), [tokyo]).queued[tokyo.pk]
    # 19:00 the next day in Tokyo (UTC+9) is 10:00 UTC on 2 December.
    due = Delivery.objects.get(pk=delivery_id).due_at
    assert due == datetime.datetime(2026, 12, 2, 10, 0, tzinfo=datetime.UTC)


def test_an_email_leaves_once_with_tracked_links_and_one_click_unsubscribe_headers():
    template = default_template("gentle-reminder")
    learner = UserFactory(first_name="Ada")
    delivery_id = queue(template, [learner]).queued[learner.pk]

    assert deliveries_send_due(now=NOON) == 1
    assert deliveries_send_due(now=NOON) == 0  # a second worker, a redelivered task

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [learner.email]
    assert email.subject == "Ada, your next lesson is waiting"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in email.extra_headers["List-Unsubscribe"]
    html = email.alternatives[0][0]
    assert "/t/o/" in html and "/t/c/" in html
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == Delivery.Status.SENT and delivery.sent_at is not None
    assert delivery.provider_message_id == email.extra_headers["Message-ID"]
    assert delivery.links.get().url.endswith("/me/")


def test_an_in_app_message_is_delivered_without_a_transport():
    template = default_template("streak-warning")
    learner = UserFactory()
    delivery_id = queue(template, [learner]).queued[learner.pk]
    deliveries_send_due(now=NOON)
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == Delivery.Status.DELIVERED and not mail.outbox
    assert delivery.subject == "Your 0-day streak ends tonight"  # no streak yet: 0 days


@override_settings(EMAIL_BACKEND="tests.interventions.failing_backend.RefusingBackend")
def test_a_failing_channel_is_retried_with_backoff_then_marked_failed():
    template = MessageTemplateFactory()
    learner = UserFactory()
    delivery_id = queue(template, [learner]).queued[learner.pk]
    now = NOON
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert deliveries_send_due(now=now) == 0
        delivery = Delivery.objects.get(pk=delivery_id)
        assert delivery.attempts == attempt
        now = delivery.due_at
    assert delivery.status == Delivery.Status.FAILED
    assert "SMTP server refused" in delivery.error


def test_a_claim_whose_worker_died_is_not_sent_again():
    template = MessageTemplateFactory()
    learner = UserFactory()
    delivery_id = queue(template, [learner]).queued[learner.pk]
    Delivery.objects.filter(pk=delivery_id).update(status="sending", claimed_at=NOON)

    assert deliveries_send_due(now=NOON + STALE_CLAIM + datetime.timedelta(seconds=1)) == 0

    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == Delivery.Status.FAILED and "Interrupted" in delivery.error
    assert not mail.outbox


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_at_once_send_each_delivery_exactly_once():
    needs_postgresql()
    template = MessageTemplateFactory()
    learners = UserFactory.create_batch(60)
    queue(template, learners)
    counts: list[int] = []
    start = threading.Barrier(2)

    def worker() -> None:
        try:
            start.wait()
            counts.append(deliveries_send_due(now=NOON, limit=7))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(counts) == 60
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in learners)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
