"""Personalisation of a rendered message for templates marked `ai_personalise`.

With ANTHROPIC_API_KEY set, Claude rewrites the subject and body from the template's own text
and a short learner summary, which holds the first name and behaviour only (course, level,
streak, risk level, what raises the risk in plain words): never an email address, an id or
anything about another person. Guardrails: a timeout; a JSON answer with a subject of at most
SUBJECT_MAX and a body of at most BODY_MAX characters; no link, address or e-mail in it (the
CTA link is added by Stride outside the text, verbatim); anything else falls back to the
template as rendered, with the reason kept. Cost and latency are kept on the delivery.

Without a key, a deterministic built-in writer personalises from the drivers: it opens with
the strongest reason the learner's risk is up, in plain words.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from core.claude import claude_client, claude_cost, reply_text

SUBJECT_MAX = 120
BODY_MAX = 1200
_LINK = re.compile(
    r"(https?://|www\.|\b[\w.+-]+@[\w-]+\.[\w.]+|\b[\w-]+\.(com|org|net|io)\b)", re.I
)
SYSTEM = (
    "You rewrite short messages from an online-learning platform to one learner, to sound "
    "personal, warm and specific without pressure. Keep the meaning and the facts of the "
    "template; use only facts from the learner summary; never add links, addresses or "
    'promises. Answer with JSON only: {"subject": "...", "body": "..."}.'
)


@dataclass(frozen=True)
class Personalised:
    subject: str
    body: str
    by: str  # "ai", "builtin", or "" (the template unchanged)
    cost_usd: Decimal | None = None
    latency_ms: int | None = None
    error: str = ""


def learner_summary(context: Mapping[str, Any]) -> dict[str, Any]:
    """What the AI may know about the learner: first name and behaviour, nothing else."""
    keys = ("first_name", "course", "lesson", "streak_days", "level", "risk_level", "drivers")
    return {key: context.get(key) for key in keys if context.get(key) not in (None, "", [])}


def builtin_personalise(subject: str, body: str, context: Mapping[str, Any]) -> Personalised:
    """The deterministic writer: the body opens with the strongest driver, if any."""
    drivers = context.get("drivers") or []
    if not drivers:
        return Personalised(subject, body, "")
    reason = str(drivers[0]).rstrip(".")
    opening = f"We noticed: {reason[:1].lower()}{reason[1:]}."
    return Personalised(subject, f"{opening}\n\n{body}"[:BODY_MAX], "builtin")


def personalise(
    subject: str,
    body: str,
    context: Mapping[str, Any],
    *,
    client: Any = None,
) -> Personalised:
    """Personalise a rendered subject and body (see the module docstring); never raises."""
    if client is None and not settings.ANTHROPIC_API_KEY:
        return builtin_personalise(subject, body, context)
    import anthropic  # see core.claude.claude_client

    client = client or claude_client()
    prompt = json.dumps(
        {"template": {"subject": subject, "body": body}, "learner": learner_summary(context)},
        ensure_ascii=False,
    )
    started = time.perf_counter()
    try:
        reply = client.messages.create(
            model=settings.STRIDE_AI_MODEL,
            max_tokens=600,
            system=SYSTEM,
            messages=[{"role": "user", "content": prompt}],
            timeout=settings.STRIDE_AI_TIMEOUT_SECONDS,
        )
    except anthropic.APIError as exc:
        return _fallback(subject, body, started, f"{type(exc).__name__}: {exc}")
    latency = int((time.perf_counter() - started) * 1000)
    cost = _cost(reply.usage)
    text = reply_text(reply)
    try:
        answer = json.loads(text)
        new_subject, new_body = str(answer["subject"]).strip(), str(answer["body"]).strip()
    except (ValueError, KeyError, TypeError):
        return _fallback(subject, body, started, "The answer was not the JSON asked for.", cost)
    problem = _check(new_subject, new_body)
    if problem:
        return _fallback(subject, body, started, problem, cost)
    return Personalised(new_subject, new_body, "ai", cost, latency)


def _check(subject: str, body: str) -> str:
    if not subject or not body:
        return "The answer had an empty subject or body."
    if len(subject) > SUBJECT_MAX or len(body) > BODY_MAX:
        return f"The answer was longer than {SUBJECT_MAX} / {BODY_MAX} characters."
    if _LINK.search(subject) or _LINK.search(body):
        return "The answer contained a link or an address."
    return ""


def _cost(usage: Any) -> Decimal | None:
    return None if usage is None else claude_cost(usage.input_tokens, usage.output_tokens)


def _fallback(
    subject: str, body: str, started: float, error: str, cost: Decimal | None = None
) -> Personalised:
    latency = int((time.perf_counter() - started) * 1000)
    return Personalised(subject, body, "", cost, latency, error[:300])
