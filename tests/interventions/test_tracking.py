"""Open pixel, click redirect and unsubscribe: signed, never cacheable, never an open redirect."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail

from interventions.models import ChannelOptOut, Delivery
from interventions.services.deliveries import Skip, deliveries_queue, deliveries_send_due
from interventions.services.tracking import click_url, open_url, unsubscribe_url
from tests.accounts.factories import UserFactory
from tests.interventions.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db
NOON = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def sent():
    learner = UserFactory()
    template = MessageTemplateFactory(cta_path="https://lms.example/courses/py101/")
    result = deliveries_queue(template=template, user_ids=[learner.pk], source="t", now=NOON)
    deliveries_send_due(now=NOON)
    return Delivery.objects.get(pk=result.queued[learner.pk])


def path_of(url: str) -> str:
    return url.split("127.0.0.1:8000", 1)[1]


def test_the_pixel_counts_every_open_and_stamps_the_first(client, sent):
    for _ in range(2):
        response = client.get(path_of(open_url(sent.pk)))
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
        assert "no-store" in response["Cache-Control"]
    sent.refresh_from_db()
    assert (sent.status, sent.opens) == ("opened", 2)
    first = sent.opened_at
    client.get(path_of(open_url(sent.pk)))
    sent.refresh_from_db()
    assert sent.opened_at == first and sent.opens == 3


def test_a_click_goes_only_to_the_stored_link_and_counts_as_an_open(client, sent):
    response = client.get(path_of(click_url(sent.pk, 0)) + "?next=https://evil.example/")
    assert response.status_code == 302
    assert response["Location"] == "https://lms.example/courses/py101/"
    assert "no-store" in response["Cache-Control"]
    sent.refresh_from_db()
    assert (sent.status, sent.clicks) == ("clicked", 1) and sent.opened_at is not None
    # The email's own CTA is exactly this tracked link.
    assert path_of(click_url(sent.pk, 0)) in mail.outbox[0].alternatives[0][0]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # altered signature
        lambda token: "999999" + token[token.index(".") :],  # another delivery, same signature
        lambda token: token.split(".")[0],  # no signature at all
    ],
)
def test_forged_or_altered_tokens_are_404(client, sent, tamper):
    for url in (open_url(sent.pk), click_url(sent.pk, 0)):
        prefix, token = path_of(url).rstrip("/").rsplit("/", 1)
        suffix = ".gif" if token.endswith(".gif") else "/"
        forged = tamper(token.removesuffix(".gif"))
        assert client.get(f"{prefix}/{forged}{suffix}").status_code == 404
    sent.refresh_from_db()
    assert sent.opens == sent.clicks == 0


def test_a_click_on_a_link_position_that_was_never_sent_is_404(client, sent):
    assert client.get(path_of(click_url(sent.pk, 5))).status_code == 404


def test_unsubscribe_asks_then_opts_out_of_that_channel_only(client, sent):
    url = path_of(unsubscribe_url(sent.user_id, "email"))
    page = client.get(url)
    assert page.status_code == 200 and b"Unsubscribe from email messages?" in page.content
    assert not ChannelOptOut.objects.exists()  # a link scanner's GET changes nothing

    done = client.post(url)  # RFC 8058 one-click: no session, no CSRF token
    assert done.status_code == 200 and b"You are unsubscribed" in done.content
    assert client.post(url).status_code == 200  # twice is fine
    assert list(ChannelOptOut.objects.values_list("user_id", "channel")) == [
        (sent.user_id, "email")
    ]
    again = deliveries_queue(
        template=sent.template, user_ids=[sent.user_id], source="later", now=NOON
    )
    assert again.skipped == {sent.user_id: Skip.OPTED_OUT}
    assert client.get(url.replace(url.rstrip("/")[-3:], "xyz")).status_code == 404
