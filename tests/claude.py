"""Claude faked at its transport: the real anthropic client over an httpx2 MockTransport
(see shared STACK-NOTES), with canned Messages API replies."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import httpx2


def client_answering(handler: Callable[[httpx2.Request], httpx2.Response]) -> anthropic.Anthropic:
    """The real client; every request it sends is answered by `handler`."""
    return anthropic.Anthropic(
        api_key="test",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def reply(
    text: str, status: int = 200, *, input_tokens: int = 1000, output_tokens: int = 200
) -> httpx2.Response:
    """A Messages API answer holding `text`, with its token usage."""
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
    return httpx2.Response(status, json=body)
