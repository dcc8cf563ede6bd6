"""The Responses wire, sans-IO: SSE events in, typed events (or a classified error) out.

=====================================  =========================================================
SSE ``type``                           becomes
=====================================  =========================================================
``response.created``                   :class:`Created` (``response.id``)
``response.output_item.added``         :class:`OutputItemAdded`
``response.output_text.delta``         :class:`OutputTextDelta`
``response.reasoning_summary_text.delta``  :class:`ReasoningSummaryDelta` (``summary_index``)
``response.reasoning_summary_part.added``  :class:`ReasoningSummaryPartAdded`
``response.reasoning_text.delta``      :class:`ReasoningTextDelta` (``content_index``)
``response.output_item.done``          :class:`OutputItemDone` -- the authoritative item
``response.completed``                 :class:`Completed` (id, usage incl. cached/reasoning)
``response.failed`` / ``error``        an error, classified by ``error.code`` (below)
``response.incomplete``                a retryable :class:`StreamError` naming the reason
anything else                          ignored (new event types must not break old clients)
=====================================  =========================================================

``error.code``: ``context_length_exceeded`` -> :class:`ContextWindowExceeded`;
``insufficient_quota`` / ``usage_limit_reached`` -> :class:`QuotaExceeded`; ``usage_not_included``
-> :class:`UsageNotIncluded`; ``rate_limit_exceeded`` -> :class:`RateLimited` with the delay from
"try again in N s/ms"; ``invalid_prompt`` -> :class:`RequestRejected`; anything else -> a
retryable :class:`StreamError`. A ``data`` field that is not a JSON object, or an item that is
not an object, is an :class:`InvalidResponse`. The same classifier reads HTTP error bodies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from codex_admin.providers.errors import (
    ContextWindowExceeded,
    InvalidResponse,
    ModelProviderError,
    QuotaExceeded,
    RateLimited,
    RequestRejected,
    StreamError,
    UsageNotIncluded,
    parse_retry_after,
    redact,
)
from codex_admin.providers.events import (
    Completed,
    Created,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    ReasoningSummaryDelta,
    ReasoningSummaryPartAdded,
    ReasoningTextDelta,
    ResponseEvent,
    TokenUsage,
)
from codex_admin.providers.sse import SSEEvent

__all__ = ["CONTEXT_WINDOW_MESSAGE", "ResponsesParser", "classify_error", "parse_json_event"]

CONTEXT_WINDOW_MESSAGE = (
    "Your input exceeds the context window of this model. Please adjust your input and try again."
)
QUOTA_MESSAGE = "Quota exceeded. Check your plan and billing details."
USAGE_NOT_INCLUDED_MESSAGE = (
    "To use Codex with your ChatGPT plan, upgrade to Plus: https://openai.com/chatgpt/pricing."
)


def classify_error(
    error: Any,
    *,
    provider: str | None,
    secrets: Iterable[str | None] = (),
    status: int | None = None,
    retry_after_header: str | None = None,
) -> ModelProviderError:
    """The typed error for a Responses ``error`` object ({code, message, type})."""
    err = error if isinstance(error, dict) else {}
    code = err.get("code") or err.get("type")
    code = str(code) if code is not None else None
    message = redact(str(err.get("message") or code or "unknown error"), secrets)
    common: dict[str, Any] = {"provider": provider, "status": status, "code": code}
    if code == "context_length_exceeded":
        return ContextWindowExceeded(CONTEXT_WINDOW_MESSAGE, **common)
    if code in ("insufficient_quota", "usage_limit_reached"):
        text = QUOTA_MESSAGE if code == "insufficient_quota" else message
        return QuotaExceeded(text, hint="check the plan and billing of this account", **common)
    if code == "usage_not_included":
        return UsageNotIncluded(USAGE_NOT_INCLUDED_MESSAGE, **common)
    if code == "rate_limit_exceeded" or status == 429:
        return RateLimited(
            f"rate limited by provider `{provider}`: {message}",
            retry_after=parse_retry_after(message, retry_after_header),
            **common,
        )
    if code == "invalid_prompt":
        return RequestRejected(f"the request was rejected: {message}", **common)
    return StreamError(f"stream error from provider `{provider}`: {message}", **common)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_lone_surrogates(value: Any) -> None:
    """Replace, in place, lone surrogates (``"\\ud800"`` decodes to one) by U+FFFD: no UTF-8
    encoder takes them, so the next request, the rollout or the terminal would fail on
    model text. Iterative, so a deeply nested event cannot exhaust the stack here."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, dict):
            if any(_LONE_SURROGATE.search(key) for key in current):
                fixed = {_LONE_SURROGATE.sub("\ufffd", k): v for k, v in current.items()}
                current.clear()
                current.update(fixed)
            for key, item in current.items():
                if isinstance(item, str):
                    current[key] = _LONE_SURROGATE.sub("\ufffd", item)
                else:
                    pending.append(item)
        elif isinstance(current, list):
            for index, item in enumerate(current):
                if isinstance(item, str):
                    current[index] = _LONE_SURROGATE.sub("\ufffd", item)
                else:
                    pending.append(item)


def parse_json_event(data: str, provider: str | None) -> dict[str, Any]:
    """An SSE ``data`` payload as a JSON object (raises InvalidResponse). Strict JSON, as
    Codex's parser: ``NaN``/``Infinity`` are malformed (and would make the next request body
    unencodable); lone surrogates become U+FFFD."""
    try:
        value = json.loads(data, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise InvalidResponse(
            f"malformed event stream from provider `{provider}`: an event's data is not JSON",
            hint="check that base_url points at an OpenAI-compatible API",
            provider=provider,
        ) from None
    if not isinstance(value, dict):
        raise InvalidResponse(
            f"malformed event stream from provider `{provider}`: an event is not a JSON object",
            provider=provider,
        )
    _replace_lone_surrogates(value)
    return value


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class ResponsesParser:
    """Feed SSE events; get typed events. ``done`` turns true at ``response.completed``."""

    def __init__(self, provider: str | None, secrets: Callable[[], Iterable[str | None]]) -> None:
        self._provider = provider
        self._secrets = secrets
        self.done = False
        self.last_kind: str | None = None  # the ``type`` of the event fed last (telemetry)

    def _item(self, payload: dict[str, Any]) -> dict[str, Any]:
        item = payload.get("item")
        if not isinstance(item, dict):
            raise InvalidResponse(
                f"malformed event stream from provider `{self._provider}`:"
                f" {payload.get('type')} without an item object",
                provider=self._provider,
            )
        return item

    def feed(self, event: SSEEvent) -> list[ResponseEvent]:
        self.last_kind = event.event if event.event != "message" else None
        payload = parse_json_event(event.data, self._provider)
        kind = payload.get("type") or (event.event if event.event != "message" else None)
        self.last_kind = kind if isinstance(kind, str) else None
        item_id = _str(payload.get("item_id"))
        if kind == "response.created":
            response = payload.get("response")
            rid = _str(response.get("id")) if isinstance(response, dict) else None
            return [Created(rid)]
        if kind == "response.output_item.added":
            return [OutputItemAdded(self._item(payload))]
        if kind == "response.output_item.done":
            return [OutputItemDone(self._item(payload))]
        if kind == "response.output_text.delta":
            return [OutputTextDelta(str(payload.get("delta") or ""), item_id)]
        if kind == "response.reasoning_summary_text.delta":
            delta = str(payload.get("delta") or "")
            return [ReasoningSummaryDelta(delta, _int(payload.get("summary_index")), item_id)]
        if kind == "response.reasoning_summary_part.added":
            return [ReasoningSummaryPartAdded(_int(payload.get("summary_index")), item_id)]
        if kind == "response.reasoning_text.delta":
            delta = str(payload.get("delta") or "")
            return [ReasoningTextDelta(delta, _int(payload.get("content_index")), item_id)]
        if kind == "response.completed":
            response = payload.get("response")
            response = response if isinstance(response, dict) else {}
            self.done = True
            return [
                Completed(
                    _str(response.get("id")) or "", TokenUsage.from_responses(response.get("usage"))
                )
            ]
        if kind == "response.failed":
            response = payload.get("response")
            error = response.get("error") if isinstance(response, dict) else None
            raise classify_error(error, provider=self._provider, secrets=self._secrets())
        if kind == "error":
            raise classify_error(
                payload.get("error", payload), provider=self._provider, secrets=self._secrets()
            )
        if kind == "response.incomplete":
            response = payload.get("response")
            details = response.get("incomplete_details") if isinstance(response, dict) else None
            reason = details.get("reason") if isinstance(details, dict) else None
            raise StreamError(
                f"Incomplete response returned, reason: {reason or 'unknown'}",
                provider=self._provider,
            )
        return []
