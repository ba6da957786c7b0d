"""ESP webhooks: Amazon SES's own event payloads (../shared/data/email-webhooks, read in
place) arrive over SNS at anymail's webhook and update the delivery they are about."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path

import pytest
from django.test import Client

from interventions.models import ChannelOptOut, Delivery, Suppression
from interventions.services.deliveries import Skip, deliveries_queue, deliveries_send_due
from interventions.services.webhooks import esp_event_record
from tests.accounts.factories import UserFactory
from tests.interventions.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db
SES = Path(__file__).resolve().parents[3] / "shared" / "data" / "email-webhooks" / "amazon-ses"
URL = "/webhooks/anymail/amazon_ses/tracking/"
NOON = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
SECRET = "stride:webhook-secret"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


@pytest.fixture
def sent():
    learner = UserFactory(email="ada@example.com")
    template = MessageTemplateFactory()
    result = deliveries_queue(template=template, user_ids=[learner.pk], source="w", now=NOON)
    deliveries_send_due(now=NOON)
    delivery = Delivery.objects.get(pk=result.queued[learner.pk])
    # As an ESP backend would have recorded it: SES's own message id.
    Delivery.objects.filter(pk=delivery.pk).update(provider_message_id="ses-0001")
    delivery.refresh_from_db()
    return delivery


def post_ses(name: str, *, auth: str = SECRET, message_id: str = "ses-0001"):
    """POST the SES event `name` in its SNS envelope, as SNS does, about our message."""
    text = (SES / "event-publishing" / f"{name}.json").read_text()
    event = json.loads(text.replace("recipient@example.com", "ada@example.com"))
    event["mail"]["messageId"] = message_id
    envelope = {
        "Type": "Notification",
        "MessageId": f"sns-{name}",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
        "Message": json.dumps(event),
        "Timestamp": "2026-12-01T12:05:00.000Z",
        "SignatureVersion": "1",
        "Signature": "not-checked-here",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/unsubscribe",
    }
    return Client().post(
        URL,
        json.dumps(envelope),
        content_type="text/plain; charset=UTF-8",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID=envelope["MessageId"],
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(auth.encode()).decode(),
    )


def test_delivery_open_and_click_events_move_the_delivery_on(sent):
    for name in ("delivery", "open", "click"):
        assert post_ses(name).status_code == 200
    sent.refresh_from_db()
    assert sent.status == "clicked"
    assert sent.delivered_at and sent.opened_at and sent.clicked_at
    assert (sent.opens, sent.clicks) == (1, 1)
    post_ses("delivery")  # a late, redelivered "delivered" never moves it back
    sent.refresh_from_db()
    assert sent.status == "clicked"


def test_a_hard_bounce_suppresses_the_address_and_the_next_send_skips_it(sent):
    assert post_ses("bounce").status_code == 200
    sent.refresh_from_db()
    assert sent.status == "bounced"
    assert Suppression.objects.filter(address="ada@example.com", reason="bounced").exists()
    again = deliveries_queue(template=sent.template, user_ids=[sent.user_id], source="x")
    assert again.skipped == {sent.user_id: Skip.SUPPRESSED}


def test_a_complaint_suppresses_and_opts_the_learner_out_of_email(sent):
    assert post_ses("complaint").status_code == 200
    sent.refresh_from_db()
    assert sent.status == "complained"
    assert Suppression.objects.filter(address="ada@example.com", reason="complained").exists()
    assert ChannelOptOut.objects.filter(user_id=sent.user_id, channel="email").exists()


def test_a_webhook_without_the_secret_is_refused_and_changes_nothing(sent):
    assert post_ses("bounce", auth="stride:wrong").status_code == 400
    assert not Suppression.objects.exists()
    sent.refresh_from_db()
    assert sent.status == "sent"


def test_an_event_about_someone_elses_mail_is_ignored(sent):
    assert post_ses("open", message_id="not-ours").status_code == 200
    sent.refresh_from_db()
    assert sent.opens == 0


def test_an_esp_unsubscribe_opts_out_of_email(sent):
    assert esp_event_record(event_type="unsubscribed", message_id="ses-0001", recipient=None)
    sent.refresh_from_db()
    assert sent.status == "unsubscribed"
    assert ChannelOptOut.objects.filter(user_id=sent.user_id, channel="email").exists()
