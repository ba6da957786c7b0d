"""The one way Stride talks to Claude (the anthropic SDK): the client, the cost of a reply,
its text. Used by interventions' personalisation and analytics' weekly insights."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings


def claude_client() -> Any:
    """A client with Stride's key and timeout and no retries of its own (callers decide)."""
    import anthropic  # a second and a half to import: only when a key is set

    return anthropic.Anthropic(
        api_key=settings.ANTHROPIC_API_KEY,
        max_retries=0,
        timeout=settings.STRIDE_AI_TIMEOUT_SECONDS,
    )


def claude_cost(input_tokens: int, output_tokens: int) -> Decimal:
    """US dollars for the tokens at STRIDE_AI_PRICE_PER_MTOK, to the millionth."""
    per_in, per_out = settings.STRIDE_AI_PRICE_PER_MTOK
    dollars = (input_tokens * per_in + output_tokens * per_out) / 1_000_000
    return Decimal(str(round(dollars, 6)))


def reply_text(reply: Any) -> str:
    """The text blocks of a Messages API reply, joined and stripped."""
    return "".join(getattr(block, "text", "") for block in reply.content).strip()
