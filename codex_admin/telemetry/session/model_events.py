"""Emitters of the conversation and its model traffic (spec §2.4).

``codex.conversation_starts`` once per session, ``codex.api_request`` per HTTP attempt,
``codex.sse_event`` per streamed event (token counts on completion) and ``codex.user_prompt``,
whose text goes to logs only and only with ``log_user_prompt`` (else ``[REDACTED]``).
"""

from __future__ import annotations

from collections.abc import Sequence

from codex_admin.telemetry.model import TokenUsage
from codex_admin.telemetry.names import Event, Metric
from codex_admin.telemetry.redaction import REDACTED
from codex_admin.telemetry.session.core import TelemetryCore

__all__ = ["ModelEvents"]


class ModelEvents(TelemetryCore):
    """The conversation and model-traffic emitters of :class:`Telemetry`."""

    __slots__ = ()

    def conversation_starts(
        self,
        *,
        provider_name: str,
        approval_policy: str,
        sandbox_policy: str,
        reasoning_effort: str | None = None,
        reasoning_summary: str | None = None,
        context_window: int | None = None,
        auto_compact_token_limit: int | None = None,
        mcp_servers: Sequence[str] = (),
        active_profile: str | None = None,
    ) -> None:
        """``codex.conversation_starts`` (+ ``codex.thread.started``): once per session."""
        sink = self._sink
        if sink is None:
            return
        base = {
            "provider_name": provider_name,
            "reasoning_effort": reasoning_effort,
            "reasoning_summary": reasoning_summary,
            "context_window": context_window,
            "auto_compact_token_limit": auto_compact_token_limit,
            "approval_policy": approval_policy,
            "sandbox_policy": sandbox_policy,
            "active_profile": active_profile,
        }
        self._event(
            sink,
            Event.CONVERSATION_STARTS,
            {**base, "mcp_servers": ",".join(mcp_servers)},
            {**base, "mcp_server_count": len(mcp_servers)},
        )
        self._count(sink, Metric.THREAD_STARTED, {})

    def api_request(
        self,
        *,
        attempt: int,
        duration_ms: float,
        status_code: int | None = None,
        error: str | None = None,
        endpoint: str | None = None,
        auth_header_attached: bool | None = None,
        auth_header_name: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """``codex.api_request``: one per HTTP attempt to the model provider."""
        sink = self._sink
        if sink is None:
            return
        success = error is None and status_code is not None and 200 <= status_code < 300
        attributes = {
            "attempt": attempt,
            "duration_ms": int(duration_ms),
            "http.response.status_code": status_code,
            "error.message": error,
            "endpoint": endpoint,
            "auth.header_attached": auth_header_attached,
            "auth.header_name": auth_header_name,
            "auth.request_id": request_id,
        }
        self._event(sink, Event.API_REQUEST, attributes, attributes)
        tags = {"status": status_code if status_code is not None else "none", "success": success}
        self._count(sink, Metric.API_REQUEST, tags)
        self._duration(sink, Metric.API_REQUEST_DURATION, duration_ms, tags)

    def sse_event(
        self,
        *,
        kind: str,
        duration_ms: float,
        error: str | None = None,
        usage: TokenUsage | None = None,
    ) -> None:
        """``codex.sse_event``: one per streamed response event (token counts on completion)."""
        sink = self._sink
        if sink is None:
            return
        attributes: dict[str, object] = {
            "event.kind": kind,
            "duration_ms": int(duration_ms),
            "error.message": error,
        }
        if usage is not None:
            attributes.update(
                input_token_count=usage.input_tokens,
                output_token_count=usage.output_tokens,
                cached_token_count=usage.cached_input_tokens,
                reasoning_token_count=usage.reasoning_output_tokens,
                tool_token_count=usage.tool_tokens,
            )
        self._event(sink, Event.SSE_EVENT, attributes, attributes)
        tags = {"kind": kind, "success": error is None}
        self._count(sink, Metric.SSE_EVENT, tags)
        self._duration(sink, Metric.SSE_EVENT_DURATION, duration_ms, tags)

    def user_prompt(
        self,
        prompt: str,
        *,
        text_inputs: int = 1,
        image_inputs: int = 0,
        local_image_inputs: int = 0,
    ) -> None:
        """``codex.user_prompt``: the text only on logs, and only with ``log_user_prompt``."""
        sink = self._sink
        if sink is None:
            return
        text = self._content(prompt) if self._settings.log_user_prompt else REDACTED
        self._event(
            sink,
            Event.USER_PROMPT,
            {"prompt_length": len(prompt), "prompt": text},
            {
                "prompt_length": len(prompt),
                "text_input_count": text_inputs,
                "image_input_count": image_inputs,
                "local_image_input_count": local_image_inputs,
            },
        )
