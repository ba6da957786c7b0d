"""Previews: a template as a learner would read it, before anything is sent."""

from __future__ import annotations

from accounts.models import User
from interventions.models import MessageTemplate, Variant
from interventions.selectors.context import learner_context
from interventions.services.rendering import RenderedMessage, message_render

PREVIEW_CTA = "https://stride.example/t/c/preview/"
PREVIEW_UNSUBSCRIBE = "https://stride.example/unsubscribe/preview/"


def message_preview(
    template: MessageTemplate,
    learner: User,
    *,
    variants: list[Variant | None] | None = None,
    course_id: int | None = None,
) -> list[RenderedMessage]:
    """The template (and each of `variants`, None meaning the template itself) rendered for
    the learner's own context, with stand-in links that track nothing."""
    context = learner_context(user=learner, course_id=course_id)
    context.update(cta_url=PREVIEW_CTA, unsubscribe_url=PREVIEW_UNSUBSCRIBE)
    return [message_render(template, variant, context) for variant in (variants or [None])]
