"""In headless Chromium: a student reads an in-app message and follows its tracked link; an
email's unsubscribe link asks, then opts out."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from interventions.models import ChannelOptOut, Delivery
from interventions.services.deliveries import deliveries_queue, deliveries_send_due
from interventions.services.tracking import unsubscribe_url
from tests.accounts.factories import LEARNER_PASSWORD, UserFactory
from tests.interventions.factories import MessageTemplateFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _send(learner, channel: str) -> Delivery:
    template = MessageTemplateFactory(
        channel=channel, subject="Your streak needs you", cta_label="Open my progress"
    )
    now = timezone.now() - datetime.timedelta(minutes=5)
    result = deliveries_queue(template=template, user_ids=[learner.pk], source="b", now=now)
    deliveries_send_due(now=now)
    return Delivery.objects.get(pk=result.queued[learner.pk])


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/?next=/me/")
    page.fill("#id_username", email)
    page.fill("#id_password", LEARNER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/me/")


def test_a_student_reads_a_message_and_follows_its_tracked_link(live_server, page, settings):
    settings.STRIDE_SITE_URL = live_server.url
    learner = UserFactory(first_name="Ada")
    delivery = _send(learner, "in_app")
    _sign_in(page, live_server.url, learner.email)

    messages = page.get_by_role("link", name="Messages")
    expect(messages.locator(".count-badge")).to_have_text("1")
    messages.click()
    item = page.locator(f'[data-message="{delivery.pk}"]')
    expect(item).to_contain_text("Your streak needs you")
    item.get_by_role("link", name="Open my progress").click()
    page.wait_for_url(f"{live_server.url}/me/")
    delivery.refresh_from_db()
    assert delivery.status == "clicked" and delivery.clicks == 1

    page.goto(f"{live_server.url}/me/messages/")
    page.get_by_role("button", name="Mark read: Your streak needs you").click()
    expect(page.locator(".count-badge")).to_have_count(0)
    expect(page.locator(".message-unread")).to_have_count(0)


def test_the_unsubscribe_link_asks_then_opts_out_of_email(live_server, page, settings):
    settings.STRIDE_SITE_URL = live_server.url
    learner = UserFactory()
    _send(learner, "email")

    page.goto(unsubscribe_url(learner.pk, "email"))
    expect(page.locator("h1")).to_have_text("Unsubscribe from email messages?")
    assert not ChannelOptOut.objects.exists()  # looking is not unsubscribing
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("h1")).to_have_text("You are unsubscribed")
    assert ChannelOptOut.objects.filter(user=learner, channel="email").exists()
