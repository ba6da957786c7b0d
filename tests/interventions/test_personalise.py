"""AI personalisation: the real anthropic client over a mocked transport (success, timeout,
rate limit, malformed or unsafe answers), and the built-in writer without a key."""

from __future__ import annotations

import datetime
import json

import httpx2
import pytest
from django.core import mail

from interventions.models import Delivery
from interventions.services.deliveries import deliveries_queue, deliveries_send_due
from interventions.services.personalise import learner_summary, personalise
from tests.accounts.factories import UserFactory
from tests.claude import client_answering, reply
from tests.interventions.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db
CONTEXT = {
    "first_name": "Ada",
    "course": "Python",
    "level": "Explorer",
    "risk_level": "high",
    "drivers": ["No activity for 9 days (the course's typical gap is 2 days)"],
    "cta_url": "https://stride.example/t/c/x/",
    "unsubscribe_url": "https://stride.example/unsubscribe/x/",
}


def test_a_good_answer_is_used_with_its_cost_and_the_prompt_holds_no_personal_data():
    seen = {}

    def handler(request):
        seen["body"] = json.loads(request.content)
        return reply(json.dumps({"subject": "Ada, 10 minutes?", "body": "Python misses you."}))

    context = {**CONTEXT, "email": "ada@example.com", "external_id": "learner-7"}
    result = personalise("Hi Ada", "Come back", context, client=client_answering(handler))

    assert (result.subject, result.body, result.by) == (
        "Ada, 10 minutes?",
        "Python misses you.",
        "ai",
    )
    assert float(result.cost_usd) == pytest.approx(1000 * 3e-6 + 200 * 15e-6)
    prompt = seen["body"]["messages"][0]["content"]
    assert "ada@example.com" not in prompt and "learner-7" not in prompt and "/t/c/" not in prompt
    assert json.loads(prompt)["learner"]["first_name"] == "Ada"


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (
            lambda request: (_ for _ in ()).throw(httpx2.ReadTimeout("slow", request=request)),
            "APITimeoutError",
        ),
        (
            lambda request: httpx2.Response(
                429,
                json={
                    "type": "error",
                    "error": {"type": "rate_limit_error", "message": "slow down"},
                },
            ),
            "RateLimitError",
        ),
        (lambda request: reply("Sure! Here is a nicer message."), "not the JSON"),
        (
            lambda request: reply(
                json.dumps({"subject": "Hi", "body": "Visit https://evil.example now"})
            ),
            "link",
        ),
        (lambda request: reply(json.dumps({"subject": "Hi", "body": "x" * 5000})), "longer than"),
    ],
)
def test_any_failure_falls_back_to_the_template_with_the_reason(handler, reason):
    result = personalise("Hi Ada", "Come back", CONTEXT, client=client_answering(handler))
    assert (result.subject, result.body, result.by) == ("Hi Ada", "Come back", "")
    assert reason in result.error


def test_without_a_key_the_built_in_writer_opens_with_the_strongest_driver(settings):
    settings.ANTHROPIC_API_KEY = ""
    template = MessageTemplateFactory(ai_personalise=True, body="Your course is waiting.")
    learner = UserFactory()
    noon = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
    deliveries_queue(template=template, user_ids=[learner.pk], source="ai", now=noon)
    deliveries_send_due(now=noon)
    delivery = Delivery.objects.get()
    # A learner with no score has no drivers: the template is sent as it is.
    assert delivery.personalised_by == "" and "Your course is waiting." in mail.outbox[0].body


def test_the_summary_keeps_only_first_name_and_behaviour():
    summary = learner_summary({**CONTEXT, "email": "a@b.c", "xp": 10})
    assert set(summary) == {"first_name", "course", "level", "risk_level", "drivers"}


def test_the_built_in_writer_words_the_strongest_driver(settings):
    settings.ANTHROPIC_API_KEY = ""
    result = personalise("Hi Ada", "Come back to Python.", CONTEXT)
    assert result.by == "builtin"
    assert result.body.startswith("We noticed: no activity for 9 days")
    assert result.body.endswith("Come back to Python.")
