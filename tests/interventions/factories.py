"""Interventions factories: templates (the defaults are re-installed when a transactional
test's flush emptied them) and variants."""

from __future__ import annotations

import factory

from interventions.defaults import DEFAULT_TEMPLATES
from interventions.models import MessageTemplate, Variant


def default_template(slug: str) -> MessageTemplate:
    """The default template `slug` (e.g. "gentle-reminder"), installed if it is missing."""
    spec = next(s for s in DEFAULT_TEMPLATES if s["intervention_type"].replace("_", "-") == slug)
    template, _ = MessageTemplate.objects.get_or_create(slug=slug, defaults=spec)
    return template


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    slug = factory.Sequence(lambda n: f"template-{n}")
    intervention_type = "gentle_reminder"
    channel = "email"
    subject = "Hi {{ first_name }}"
    body = "Your course {{ course }} is waiting."
    cta_label = "Continue"
    goal_event = "lesson_completed"


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Variant

    template = factory.SubFactory(MessageTemplateFactory)
    name = factory.Sequence(lambda n: f"variant-{n}")
    weight = 1
