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


# Headless Chromium has no push service of its own (pushManager.subscribe() is refused), so the
# browser's push service is stood in for: subscribe() answers with a subscription at the
# loopback push service of push_service.py. Everything else is real: the page's script, the
# service worker, Stride's API and Web Push sending, VAPID and encryption.
FAKE_PUSH_SERVICE = """
(() => {
  const fake = %s;
  let current = null;
  PushManager.prototype.subscribe = function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.__applicationServerKey = btoa(String.fromCharCode(...key))
      .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    current = {
      endpoint: fake.endpoint,
      expirationTime: null,
      toJSON: () => fake,
      unsubscribe: () => { current = null; return Promise.resolve(true); },
    };
    return Promise.resolve(current);
  };
  PushManager.prototype.getSubscription = () => Promise.resolve(current);
})();
"""


def test_a_student_turns_on_notifications_and_the_service_worker_shows_a_push(
    live_server, page, settings, push_service
):
    import json

    from interventions.models import PushSubscription

    settings.STRIDE_SITE_URL = live_server.url
    learner = UserFactory(first_name="Ada")
    sub = push_service.subscriber()
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    page.add_init_script(FAKE_PUSH_SERVICE % json.dumps(sub.subscription_json()))
    _sign_in(page, live_server.url, learner.email)

    page.goto(f"{live_server.url}/me/messages/")
    page.get_by_role("link", name="Message settings").click()
    status = page.locator("[data-push-status]")
    expect(status).to_have_text("Notifications are off for this browser.")
    page.get_by_role("button", name="Turn on notifications").click()
    expect(status).to_have_text("Notifications are on for this browser.")
    assert page.evaluate("window.__applicationServerKey") == push_service.server_public_key
    assert PushSubscription.objects.get(user=learner).endpoint == sub.endpoint

    delivery = _send(learner, "push")
    assert delivery.status == "sent"
    (received,) = push_service.received
    # The push service hands the decrypted message to the browser's service worker.
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    for _ in range(50):  # the registrations arrive as CDP events
        mine = [r for r in registrations if r["scopeURL"].endswith("/me/") and not r["isDeleted"]]
        if mine:
            break
        page.wait_for_timeout(100)
    (registration,) = mine
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": live_server.url,
            "registrationId": registration["registrationId"],
            "data": json.dumps(received.payload),
        },
    )
    shown = page.wait_for_function(
        """async () => {
          const reg = await navigator.serviceWorker.getRegistration("/me/");
          const list = await reg.getNotifications();
          return list.length ? list.map(n => [n.title, n.body, n.data.url]) : null;
        }"""
    ).json_value()
    assert shown == [["Your streak needs you", delivery.body, received.payload["url"]]]

    page.get_by_role("button", name="Turn off on this device").click()
    expect(status).to_have_text("Notifications are off for this browser.")
    assert not PushSubscription.objects.filter(user=learner).exists()
