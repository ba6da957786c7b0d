"""Reads of message templates."""

from __future__ import annotations

from django.db.models import QuerySet

from interventions.models import MessageTemplate


def template_list() -> QuerySet[MessageTemplate]:
    """Every template, by name, with its variants."""
    return MessageTemplate.objects.prefetch_related("variants").order_by("name")


def template_get(*, slug: str) -> MessageTemplate | None:
    """The template with this slug, or None (one query)."""
    return MessageTemplate.objects.filter(slug=slug).first()
