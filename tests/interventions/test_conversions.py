"""A learner who does what the message asked, within its window, converts the delivery."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from interventions.models import Delivery
from interventions.services.deliveries import deliveries_queue, deliveries_send_due
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events
from tests.interventions.factories import MessageTemplateFactory
from tests.learning.factories import LessonFactory

pytestmark = pytest.mark.django_db


def sent_delivery(learner, *, hours=72):
    template = MessageTemplateFactory(goal_event="lesson_completed", attribution_hours=hours)
    now = timezone.now() - datetime.timedelta(hours=10)
    result = deliveries_queue(template=template, user_ids=[learner.pk], source="c", now=now)
    deliveries_send_due(now=now)
    return Delivery.objects.get(pk=result.queued[learner.pk])


def test_the_goal_event_after_the_send_converts_it_with_the_event_as_evidence():
    learner = UserFactory()
    lesson = LessonFactory()
    delivery = sent_delivery(learner)
    before = delivery.sent_at - datetime.timedelta(hours=1)
    make_events(
        learner, [("lesson_completed", before), ("page_view", timezone.now())], lesson=lesson
    )
    delivery.refresh_from_db()
    assert delivery.status == "sent"  # a goal event before the send is not its doing

    (done,) = make_events(learner, [("lesson_completed", timezone.now())], lesson=lesson)

    delivery.refresh_from_db()
    assert delivery.status == "converted" and delivery.conversion_event_id == done.pk
    assert delivery.converted_at == done.occurred_at
    make_events(learner, [("lesson_completed", timezone.now())], lesson=lesson)  # counted once
    delivery.refresh_from_db()
    assert delivery.conversion_event_id == done.pk


def test_a_goal_event_after_the_window_or_by_someone_else_converts_nothing():
    learner, other = UserFactory(), UserFactory()
    lesson = LessonFactory()
    delivery = sent_delivery(learner, hours=2)
    make_events(learner, [("lesson_completed", timezone.now())], lesson=lesson)  # 10 h: late
    make_events(other, [("lesson_completed", timezone.now())], lesson=lesson)
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.converted_at is None
