"""The Chat Completions wire (``wire_api = "chat"``), sans-IO, for local and gateway servers.

Newest Codex removed this wire; we keep it (spec runtime §3.5) so Ollama's, vLLM's, llama.cpp's
and LiteLLM's `/chat/completions` keep working, and produce the **same typed events** as the
Responses wire, so the agent cannot tell them apart.

Request (POST ``{base_url}/chat/completions``): ``instructions`` become the first ``system``
message; ``message`` items keep their role (``developer`` becomes ``system``), text parts are
concatenated and ``input_image`` parts become ``image_url`` parts; consecutive ``function_call``
/ ``custom_tool_call`` / ``local_shell_call`` items become one assistant message with
``tool_calls[{id, type: "function", function: {name, arguments}}]``; their outputs become
``role: "tool"`` messages with ``tool_call_id``. Only function tools are sent.

Stream: ``choices[0].delta.content`` -> text deltas; ``delta.reasoning`` /
``delta.reasoning_content`` (a string or ``{text|content}``) -> reasoning deltas;
``delta.tool_calls[]`` accumulate per ``index`` (the ``id`` and ``name`` arrive first, the
``arguments`` are concatenated). ``finish_reason``: ``stop`` flushes reasoning + the assistant
message, then completes; ``tool_calls`` flushes them and one ``function_call`` item per call
(calls without a name are dropped); ``length`` is a :class:`ContextWindowExceeded`; ``[DONE]`` or
the end of the stream without a finish flushes and completes. The completion has an empty
response id, and usage only if the server sends it (we ask with ``stream_options``).

What degrades compared with the Responses wire: no hosted tools (web search, ``local_shell``
as a tool), no freeform/custom tools (their earlier calls are replayed as function calls), no
reasoning summaries or encrypted reasoning (prior ``reasoning`` items are not sent back), no
``text.format`` structured output, no ``store`` / ``include`` / ``prompt_cache_key`` /
``service_tier``, and ``parallel_tool_calls`` is sent only when tools are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from codex_admin.providers.errors import ContextWindowExceeded, InvalidResponse
from codex_admin.providers.events import (
    Completed,
    Created,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    ReasoningTextDelta,
    ResponseEvent,
    TokenUsage,
)
from codex_admin.providers.request import ModelRequest
from codex_admin.providers.responses_wire import (
    CONTEXT_WINDOW_MESSAGE,
    classify_error,
    parse_json_event,
)
from codex_admin.providers.sse import SSEEvent

__all__ = ["ChatParser", "chat_body", "chat_messages", "chat_tools"]

_CALL_TYPES = ("function_call", "custom_tool_call", "local_shell_call")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for part in content:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "".join(parts)


def _user_content(content: Any) -> str | list[dict[str, Any]]:
    """Text, or a parts list when the message carries images."""
    if not isinstance(content, list) or not any(
        isinstance(p, dict) and p.get("type") == "input_image" for p in content
    ):
        return _text_of(content)
    parts: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "input_image" and isinstance(part.get("image_url"), str):
            parts.append({"type": "image_url", "image_url": {"url": part["image_url"]}})
        elif isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
    return parts


def _call(item: Mapping[str, Any], index: int) -> dict[str, Any]:
    kind = item.get("type")
    call_id = str(item.get("call_id") or item.get("id") or f"call_{index}")
    if kind == "function_call":
        name, arguments = str(item.get("name") or ""), str(item.get("arguments") or "")
    elif kind == "custom_tool_call":
        name, arguments = str(item.get("name") or ""), str(item.get("input") or "")
    else:  # local_shell_call
        name, arguments = "local_shell", json.dumps(item.get("action") or {})
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, dict) and isinstance(output.get("content"), str):
        return str(output["content"])
    if isinstance(output, list):
        return _text_of(output)
    return json.dumps(output)


def chat_messages(instructions: str, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Responses history items -> Chat ``messages`` (see the module docstring)."""
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    for index, item in enumerate(items):
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            role = str(item.get("role") or "user")
            role = "system" if role == "developer" else role
            if role == "user":
                messages.append({"role": "user", "content": _user_content(item.get("content"))})
            else:
                messages.append({"role": role, "content": _text_of(item.get("content"))})
        elif kind in _CALL_TYPES:
            last = messages[-1] if messages else None
            if last is not None and last.get("role") == "assistant":
                # calls right after assistant text (or other calls) belong to the same turn
                last.setdefault("tool_calls", []).append(_call(item, index))
                last["content"] = last.get("content") or None
            else:
                messages.append(
                    {"role": "assistant", "content": None, "tool_calls": [_call(item, index)]}
                )
        elif kind in ("function_call_output", "custom_tool_call_output"):
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": str(item.get("call_id") or ""),
                    "content": _output_text(item.get("output")),
                }
            )
        # reasoning, web_search_call, compaction markers: not representable on this wire
    return messages


def chat_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Function tools only, in Chat's ``{type, function: {name, description, parameters}}``."""
    out = []
    for tool in tools:
        if tool.get("type") != "function":
            continue
        function = {k: tool[k] for k in ("name", "description", "parameters") if k in tool}
        if "strict" in tool:
            function["strict"] = tool["strict"]
        out.append({"type": "function", "function": function})
    return out


def chat_body(request: ModelRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "messages": chat_messages(request.instructions, request.input),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    tools = chat_tools(request.tools)
    if tools:
        body["tools"] = tools
        body["tool_choice"] = (
            request.tool_choice if isinstance(request.tool_choice, str) else "auto"
        )
        body["parallel_tool_calls"] = request.parallel_tool_calls
    return body


@dataclass
class _ToolCall:
    """A Chat tool call being assembled from its streamed pieces."""

    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


def _reasoning_text(delta: Mapping[str, Any]) -> str:
    for key in ("reasoning", "reasoning_content"):
        value = delta.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            for inner in ("text", "content"):
                if isinstance(value.get(inner), str):
                    return str(value[inner])
    return ""


class ChatParser:
    """Feed Chat SSE chunks; get the Responses-shaped typed events. ``done`` after finishing."""

    def __init__(self, provider: str | None, secrets: Callable[[], Iterable[str | None]]) -> None:
        self._provider = provider
        self._secrets = secrets
        self.done = False
        self.last_kind: str | None = None  # what was fed last, for telemetry
        self._started = False
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, _ToolCall] = {}
        self._usage: TokenUsage | None = None
        self._message_added = False
        self._reasoning_added = False
        self._finish: str | None = None

    @property
    def finish_seen(self) -> bool:
        """A ``finish_reason`` arrived; only trailing usage or ``[DONE]`` may follow."""
        return self._finish is not None

    def _start(self) -> list[ResponseEvent]:
        if self._started:
            return []
        self._started = True
        return [Created(None)]

    def feed(self, event: SSEEvent) -> list[ResponseEvent]:
        if self.done:
            self.last_kind = None
            return []
        if event.data.strip() == "[DONE]":
            self.last_kind = "done"
            return self.finish()
        self.last_kind = "chat.completion.chunk"
        chunk = parse_json_event(event.data, self._provider)
        if "error" in chunk:
            raise classify_error(chunk["error"], provider=self._provider, secrets=self._secrets())
        out = self._start()
        usage = TokenUsage.from_responses(chunk.get("usage"))
        if usage is not None:
            self._usage = usage
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            if "usage" in chunk:
                return out
            raise InvalidResponse(
                f"malformed chat stream from provider `{self._provider}`: a chunk has no choices",
                provider=self._provider,
            )
        for choice in choices[:1]:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                out.extend(self._delta(delta))
            finish = choice.get("finish_reason")
            if isinstance(finish, str) and finish:
                self._finish = finish
                if finish == "length":
                    raise ContextWindowExceeded(
                        CONTEXT_WINDOW_MESSAGE, provider=self._provider, code="length"
                    )
        return out

    def _delta(self, delta: Mapping[str, Any]) -> list[ResponseEvent]:
        out: list[ResponseEvent] = []
        reasoning = _reasoning_text(delta)
        if reasoning:
            if not self._reasoning_added:
                self._reasoning_added = True
                out.append(OutputItemAdded({"type": "reasoning", "summary": [], "content": []}))
            self._reasoning.append(reasoning)
            out.append(ReasoningTextDelta(reasoning, 0))
        content = delta.get("content")
        if isinstance(content, str) and content:
            if not self._message_added:
                self._message_added = True
                out.append(OutputItemAdded({"type": "message", "role": "assistant", "content": []}))
            self._text.append(content)
            out.append(OutputTextDelta(content))
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for position, call in enumerate(calls):
                if not isinstance(call, dict):
                    continue
                index = call.get("index")
                key = index if isinstance(index, int) else position
                if not isinstance(index, int) and isinstance(call.get("id"), str):
                    key = next(
                        (k for k, c in self._calls.items() if c.id == call["id"]),
                        len(self._calls),
                    )
                acc = self._calls.setdefault(key, _ToolCall())
                if isinstance(call.get("id"), str) and call["id"]:
                    acc.id = acc.id or call["id"]
                function = call.get("function")
                if isinstance(function, dict):
                    if isinstance(function.get("name"), str) and function["name"]:
                        acc.name = acc.name or function["name"]
                    if isinstance(function.get("arguments"), str):
                        acc.arguments.append(function["arguments"])
        return out

    def finish(self) -> list[ResponseEvent]:
        """Flush reasoning, the message and tool calls; complete (end of stream or ``[DONE]``)."""
        if self.done:
            return []
        out = self._start()
        self.done = True
        if self._reasoning:
            text = "".join(self._reasoning)
            out.append(
                OutputItemDone(
                    {
                        "type": "reasoning",
                        "summary": [],
                        "content": [{"type": "reasoning_text", "text": text}],
                    }
                )
            )
        if self._text:
            out.append(
                OutputItemDone(
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": "".join(self._text)}],
                    }
                )
            )
        for number, key in enumerate(sorted(self._calls)):
            call = self._calls[key]
            if not call.name:
                continue
            out.append(
                OutputItemDone(
                    {
                        "type": "function_call",
                        "name": call.name,
                        "arguments": "".join(call.arguments),
                        "call_id": call.id or f"call_{number}",
                    }
                )
            )
        out.append(Completed("", self._usage))
        return out
