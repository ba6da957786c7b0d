"""Templates render over the plain-data context; mistakes are caught before anything is sent."""

from __future__ import annotations

from collections import Counter

import pytest

from interventions.selectors.context import sample_context
from interventions.services.rendering import message_render, template_errors, variant_choose
from tests.interventions.factories import MessageTemplateFactory, VariantFactory, default_template

pytestmark = pytest.mark.django_db


def test_syntax_errors_and_unknown_variables_are_named_per_field():
    errors = template_errors(
        {
            "subject": "Hi {{ first_name }}",
            "body": "{% if lesson %}Resume {{ lesson }}",
            "cta_path": "/courses/{{ course_slug }}/",
        }
    )
    assert set(errors) == {"body", "cta_path"}
    assert errors["body"].startswith("Template syntax error")
    assert "Unknown variable: course_slug" in errors["cta_path"]


def test_every_default_template_renders_without_an_error():
    for slug in (
        "human-outreach",
        "discount-offer",
        "gentle-reminder",
        "streak-warning",
        "personalized-content",
        "peer-comparison",
        "milestone-celebration",
        "achievement-notification",
    ):
        template = default_template(slug)
        assert template_errors({"subject": template.subject, "body": template.body}) == {}
        message = message_render(template, None, sample_context())
        assert "Ada" in message.subject + message.text or template.channel == "in_app"


def test_a_learners_name_cannot_inject_markup_into_the_html_part():
    template = MessageTemplateFactory(body="Hello {{ first_name }}!")
    context = {**sample_context(), "first_name": '<a href="https://evil.example">x</a>'}

    message = message_render(template, None, context)

    assert message.text.startswith('Hello <a href="https://evil.example">x</a>!')
    assert 'evil.example">' not in message.html
    assert "&lt;a href=&quot;https://evil.example&quot;&gt;" in message.html
    assert f'href="{context["cta_url"]}"' in message.html  # the CTA is the one real link


def test_a_learner_always_gets_the_same_variant_and_weights_are_honoured():
    template = MessageTemplateFactory()
    heavy = VariantFactory(template=template, name="heavy", weight=3, subject="A")
    light = VariantFactory(template=template, name="light", weight=1, subject="B")
    variants = [heavy, light]

    picks = [variant_choose(variants, user_id=u, template_id=template.pk) for u in range(4000)]

    assert picks[:50] == [
        variant_choose(variants, user_id=u, template_id=template.pk) for u in range(50)
    ]
    share = Counter(v.name for v in picks)["heavy"] / len(picks)
    assert 0.72 < share < 0.78
    assert message_render(template, light, sample_context()).subject == "B"
