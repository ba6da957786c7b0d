"""Web Push: the subscribe API and its checks, and sending through a push service stand-in on
loopback that verifies the VAPID signature and decrypts the payload (push_service.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from interventions.models import Delivery, PushSubscription
from interventions.services.contacts import channel_preferences_set
from interventions.services.deliveries import Skip, deliveries_queue, deliveries_send_due
from tests.accounts.factories import UserFactory
from tests.interventions.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db

SUBSCRIBE = "/api/v1/me/push-subscriptions/"
REMOVE = "/api/v1/me/push-subscriptions/remove/"


@pytest.fixture
def learner():
    return UserFactory(first_name="Ada", role="student")


@pytest.fixture
def template():
    return MessageTemplateFactory(
        slug="nudge",
        channel="push",
        subject="{{ first_name }}, five minutes today?",
        body="Your lesson is waiting where you left it.",
        cta_label="Resume",
        cta_path="/me/",
    )


def subscribe(client, user, sub):
    client.force_login(user)
    return client.post(SUBSCRIBE, sub.subscription_json(), content_type="application/json")


def test_a_browser_subscribes_once_and_can_unsubscribe(client, learner, push_service):
    sub = push_service.subscriber()
    first = subscribe(client, learner, sub)
    assert first.status_code == 201 and first.json()["created"] is True
    again = client.post(SUBSCRIBE, sub.subscription_json(), content_type="application/json")
    assert again.status_code == 200 and again.json()["created"] is False
    assert PushSubscription.objects.get().user == learner
    gone = client.post(REMOVE, {"endpoint": sub.endpoint}, content_type="application/json")
    assert gone.json() == {"removed": True}
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "endpoint, reason",
    [
        ("http://169.254.169.254/latest/meta-data/", "is not a known push service"),
        ("https://evil.example/push/1", "is not a known push service"),
        ("https://user:pw@fcm.googleapis.com/fcm/send/x", "Enter the https URL"),
        ("http://fcm.googleapis.com/fcm/send/x", "must use https"),
    ],
)
def test_an_endpoint_outside_the_known_push_services_is_refused(
    client, learner, push_service, endpoint, reason, settings
):
    """The server POSTs to the endpoint: an arbitrary URL would make it call any host."""
    settings.STRIDE_PUSH_SERVICE_HOSTS = ["127.0.0.1", "fcm.googleapis.com"]
    body = {**push_service.subscriber().subscription_json(), "endpoint": endpoint}
    client.force_login(learner)
    response = client.post(SUBSCRIBE, body, content_type="application/json")
    assert response.status_code == 400
    assert reason in str(response.json()["fields"]["endpoint"])
    assert not PushSubscription.objects.exists()


def test_keys_that_are_not_a_p256_key_and_a_16_byte_secret_are_refused(
    client, learner, push_service
):
    body = push_service.subscriber().subscription_json()
    body["keys"] = {"p256dh": "AAAA", "auth": "c2hvcnQ"}
    client.force_login(learner)
    response = client.post(SUBSCRIBE, body, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"keys.p256dh", "keys.auth"}


def test_only_a_signed_in_person_subscribes_and_nobody_removes_anothers(
    client, learner, push_service
):
    sub = push_service.subscriber()
    assert (
        client.post(SUBSCRIBE, sub.subscription_json(), content_type="application/json")
    ).status_code in (401, 403)
    subscribe(client, learner, sub)
    client.force_login(UserFactory(role="student"))
    answer = client.post(REMOVE, {"endpoint": sub.endpoint}, content_type="application/json")
    assert answer.json() == {"removed": False}
    assert PushSubscription.objects.filter(user=learner).exists()


def test_a_push_reaches_the_service_signed_with_vapid_and_decrypts_to_the_message(
    client, learner, template, push_service
):
    sub = push_service.subscriber()
    subscribe(client, learner, sub)
    result = deliveries_queue(template=template, user_ids=[learner.pk], source="t:1")
    assert deliveries_send_due() == 1
    (received,) = push_service.received
    assert received.token == sub.token and received.vapid_key == push_service.server_public_key
    assert received.claims["sub"].startswith("mailto:") and received.ttl > 0
    assert received.payload["title"] == "Ada, five minutes today?"
    assert received.payload["body"] == "Your lesson is waiting where you left it."
    delivery = Delivery.objects.get(pk=result.queued[learner.pk])
    assert delivery.status == "sent" and delivery.provider_message_id.endswith("/messages/1")
    # The notification opens the tracked link, which counts the click and goes to the CTA.
    response = client.get(received.payload["url"])
    assert response.status_code == 302 and response["Location"].endswith("/me/")
    delivery.refresh_from_db()
    assert delivery.status == "clicked" and delivery.clicks == 1


def test_an_expired_subscription_is_removed_and_the_others_still_get_the_message(
    client, learner, template, push_service
):
    old, current = push_service.subscriber(), push_service.subscriber()
    subscribe(client, learner, old)
    subscribe(client, learner, current)
    old.gone = True  # the push service answers 410 Gone
    deliveries_queue(template=template, user_ids=[learner.pk], source="t:2")
    assert deliveries_send_due() == 1
    assert [r.token for r in push_service.received] == [current.token]
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [current.endpoint]
    assert PushSubscription.objects.get().last_sent_at is not None


def test_when_every_subscription_has_expired_the_delivery_fails_for_good(
    client, learner, template, push_service
):
    sub = push_service.subscriber()
    subscribe(client, learner, sub)
    sub.gone = True
    result = deliveries_queue(template=template, user_ids=[learner.pk], source="t:3")
    assert deliveries_send_due() == 0
    delivery = Delivery.objects.get(pk=result.queued[learner.pk])
    assert delivery.status == "failed" and "expired" in delivery.error
    assert not PushSubscription.objects.exists()


def test_a_push_service_error_is_retried_later_not_lost(client, learner, template, push_service):
    sub = push_service.subscriber()
    subscribe(client, learner, sub)
    sub.fail_with = 503
    result = deliveries_queue(template=template, user_ids=[learner.pk], source="t:4")
    assert deliveries_send_due() == 0
    delivery = Delivery.objects.get(pk=result.queued[learner.pk])
    assert delivery.status == "queued" and "503" in delivery.error
    assert delivery.due_at > delivery.created_at  # backoff
    assert PushSubscription.objects.exists()


def test_learners_without_a_subscription_or_who_turned_push_off_are_skipped(
    client, learner, template, push_service
):
    off = UserFactory(role="student")
    subscribe(client, off, push_service.subscriber())
    channel_preferences_set(user_id=off.pk, off=["push"])
    result = deliveries_queue(template=template, user_ids=[learner.pk, off.pk], source="t:5")
    assert result.skipped == {learner.pk: Skip.NO_ADDRESS, off.pk: Skip.OPTED_OUT}


def test_without_a_vapid_key_push_deliveries_fail_saying_what_to_set(
    client, learner, template, push_service, settings
):
    subscribe(client, learner, push_service.subscriber())
    settings.STRIDE_VAPID_PRIVATE_KEY = ""
    result = deliveries_queue(template=template, user_ids=[learner.pk], source="t:6")
    deliveries_send_due()
    delivery = Delivery.objects.get(pk=result.queued[learner.pk])
    assert delivery.status == "failed" and "STRIDE_VAPID_PRIVATE_KEY" in delivery.error
    assert push_service.received == []


def test_the_service_worker_is_served_for_the_student_pages(client):
    response = client.get(reverse("interventions:service_worker"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b'addEventListener("push"' in response.content
