"""Templates to messages: Django template syntax over the plain-data context, checked for
syntax errors and unknown variables before anything is saved or sent.

The engine is a private one with no loaders (``{% include %}`` and ``{% extends %}`` cannot
reach files) and autoescaping off: subjects and bodies are plain text. The HTML part is made
from the rendered text, every piece escaped, so a learner's name can never inject markup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.template import Context, Engine, TemplateSyntaxError
from django.utils.html import escape, linebreaks

from interventions.models import MessageTemplate, Variant
from interventions.selectors.context import CONTEXT_KEYS, sample_context

_UNKNOWN = "\x00unknown:%s\x00"
_ENGINE = Engine(autoescape=False, string_if_invalid=_UNKNOWN, libraries={}, loaders=[])
_STRICT = Engine(autoescape=False, libraries={}, loaders=[])


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready for a channel: subject, plain text, HTML, and the CTA."""

    subject: str
    text: str  # the body, then the CTA and unsubscribe links as text
    html: str
    cta_label: str
    cta_url: str
    body: str  # the body alone (in-app messages show the CTA as a button)


def template_errors(fields: Mapping[str, str]) -> dict[str, str]:
    """Return, per field (subject, body, cta_path, ...), why it cannot render: a syntax error,
    or a variable the context does not have (rendered against `sample_context`)."""
    errors: dict[str, str] = {}
    context = Context(sample_context(), autoescape=False)
    for field, source in fields.items():
        if not source:
            continue
        try:
            out = _ENGINE.from_string(source).render(context)
        except TemplateSyntaxError as exc:
            errors[field] = f"Template syntax error: {exc}"
            continue
        if "\x00unknown:" in out:
            unknown = sorted({part.split("\x00")[0] for part in out.split("\x00unknown:")[1:]})
            known = ", ".join(CONTEXT_KEYS)
            errors[field] = (
                f"Unknown variable{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
                f"Known: {known}."
            )
    return errors


@lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    """A template source compiled once per process (a batch renders the same few thousands of
    times)."""
    return _STRICT.from_string(source)


def _render(source: str, context: Mapping[str, Any]) -> str:
    return _compiled(source).render(Context(dict(context), autoescape=False)).strip()


def variant_choose(
    variants: Sequence[Variant], *, user_id: int, template_id: int
) -> Variant | None:
    """The learner's variant of a template: by weight, the same for the same learner, always.

    A stable hash of (template, learner) picks a point in the total weight; no state is kept.
    """
    if not variants:
        return None
    total = sum(v.weight for v in variants)
    digest = hashlib.sha256(f"{template_id}:{user_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return variants[-1]


def message_render(
    template: MessageTemplate, variant: Variant | None, context: Mapping[str, Any]
) -> RenderedMessage:
    """Render a template (its variant's subject, body and CTA label where set) for a context
    that already holds `cta_url` and `unsubscribe_url`."""
    subject = (variant.subject if variant and variant.subject else template.subject) or ""
    body = (variant.body if variant and variant.body else template.body) or ""
    cta_label = (variant.cta_label if variant and variant.cta_label else template.cta_label) or ""
    return message_compose(
        subject=" ".join(_render(subject, context).split()),
        body=_render(body, context),
        cta_label=cta_label,
        cta_url=str(context.get("cta_url") or ""),
        unsubscribe_url=str(context.get("unsubscribe_url") or ""),
    )


def message_compose(
    *, subject: str, body: str, cta_label: str, cta_url: str, unsubscribe_url: str
) -> RenderedMessage:
    """A message from its final subject and body text: the text part with the CTA and
    unsubscribe links after the body, the HTML part escaped from the same text."""
    parts = [linebreaks(escape(body))]
    text = body
    if cta_label and cta_url:
        parts.append(f'<p><a href="{escape(cta_url)}">{escape(cta_label)}</a></p>')
        text += f"\n\n{cta_label}: {cta_url}"
    if unsubscribe_url:
        parts.append(f'<p><small><a href="{escape(unsubscribe_url)}">Unsubscribe</a></small></p>')
        text += f"\n\nUnsubscribe: {unsubscribe_url}"
    return RenderedMessage(
        subject=subject,
        text=text,
        html="\n".join(parts),
        cta_label=cta_label,
        cta_url=cta_url,
        body=body,
    )


def link_render(source: str, context: Mapping[str, Any]) -> str:
    """A CTA link template rendered for a learner, whitespace removed."""
    return "".join(_render(source, context).split())
