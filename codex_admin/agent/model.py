"""What the agent needs from a model client, and how a streamed response becomes items.

The client is :class:`codex_admin.providers.ModelClient` in production and any object with the
same ``stream`` in tests. :func:`collect_response` consumes one request's event stream and
returns the *authoritative* output items (``output_item.done``) and the usage; when the client
announces a retry, what the failed attempt produced is discarded, so a tool call is never run
twice and never run from a response that did not complete. Every message in the output is
the assistant's, whatever role the stream gives it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from codex_admin.agent.events import Usage

if TYPE_CHECKING:  # the provider's event types load with the first response (start-up)
    from codex_admin.providers import ModelRequest, ResponseEvent, Retrying, TokenUsage

__all__ = ["ModelResponse", "ModelStreamer", "collect_response", "usage_of"]


class ModelStreamer(Protocol):
    def stream(self, request: ModelRequest) -> AsyncIterator[ResponseEvent]: ...


@dataclass
class ModelResponse:
    """The output items and usage of one completed response."""

    items: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    response_id: str = ""


def usage_of(token_usage: TokenUsage | None) -> Usage:
    if token_usage is None:
        return Usage()
    return Usage(
        input_tokens=token_usage.input_tokens,
        cached_input_tokens=token_usage.cached_input_tokens,
        output_tokens=token_usage.output_tokens,
        reasoning_output_tokens=token_usage.reasoning_output_tokens,
    )


async def collect_response(
    client: ModelStreamer,
    request: ModelRequest,
    on_retry: Callable[[Retrying], None],
) -> ModelResponse:
    """Run ``request`` to completion (the client retries; errors propagate)."""
    response = ModelResponse()
    async for event in client.stream(request):
        # Here, not at the top: the event types load with the stream, after the request went
        # out (start-up); from the second event on this is a lookup.
        from codex_admin.providers import Completed, OutputItemDone, Retrying

        if isinstance(event, Retrying):
            response = ModelResponse()
            on_retry(event)
        elif isinstance(event, OutputItemDone):
            response.items.append(_as_model_output(dict(event.item)))
        elif isinstance(event, Completed):
            response.usage = usage_of(event.usage)
            response.response_id = event.response_id
    return response


def _as_model_output(item: dict[str, Any]) -> dict[str, Any]:
    """An output item as what it is: the model's. A ``message`` the stream labels ``user`` or
    ``developer`` (a hostile or broken provider, a local model's template) would become the
    user's instructions in the history -- for the guardian, and in every compaction after --
    so every message the model outputs is an assistant message."""
    if item.get("type") == "message" and item.get("role") != "assistant":
        item["role"] = "assistant"
        content = item.get("content")
        if isinstance(content, list):
            item["content"] = [
                {**part, "type": "output_text"}
                if isinstance(part, dict) and part.get("type") == "input_text"
                else part
                for part in content
            ]
    return item
