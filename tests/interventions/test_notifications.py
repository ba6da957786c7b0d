"""In-app messages: on the student's Messages page with an unread count, and through the API."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from interventions.services.deliveries import deliveries_queue, deliveries_send_due
from tests.accounts.factories import UserFactory
from tests.interventions.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db
NOON = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def send_in_app(learner, subject="Keep your streak", source="n1"):
    template = MessageTemplateFactory(channel="in_app", subject=subject, cta_label="Open lesson")
    deliveries_queue(template=template, user_ids=[learner.pk], source=source, now=NOON)
    deliveries_send_due(now=NOON)


@pytest.fixture
def student(client):
    learner = UserFactory(first_name="Ada")
    client.force_login(learner)
    return learner


def test_the_student_sees_their_messages_with_an_unread_count_and_marks_them_read(client, student):
    other = UserFactory()
    send_in_app(student)
    send_in_app(other, subject="Not yours", source="n2")

    page = client.get(reverse("interventions:messages"))
    html = page.content.decode()
    assert 'aria-label="1 unread"' in html
    assert "Keep your streak" in html and "Not yours" not in html
    assert "/t/c/" in html and "Open lesson" in html  # the CTA is the tracked link

    client.post(reverse("interventions:messages_read"))
    html = client.get(reverse("interventions:messages")).content.decode()
    assert "unread" not in html


def test_an_empty_inbox_says_what_will_arrive(client, student):
    page = client.get(reverse("interventions:messages"))
    assert b"No messages yet" in page.content


def test_the_api_lists_and_marks_only_the_learners_own_messages(client, student):
    other = UserFactory()
    send_in_app(student)
    send_in_app(other, source="n2")
    listed = client.get("/api/v1/me/notifications/").json()
    assert [m["title"] for m in listed["results"]] == ["Keep your streak"]
    mine = listed["results"][0]["id"]

    theirs = other.deliveries.get().pk
    refused = client.post(
        "/api/v1/me/notifications/read/", {"ids": [theirs]}, content_type="application/json"
    )
    assert refused.json() == {"marked": 0, "unread": 1}
    done = client.post(
        "/api/v1/me/notifications/read/", {"ids": [mine]}, content_type="application/json"
    )
    assert done.json() == {"marked": 1, "unread": 0}
    assert other.deliveries.get().read_at is None


def test_an_api_key_has_no_me(make_key):
    assert make_key("*").get("/api/v1/me/notifications/").status_code == 403
