"""Mock model servers: the Responses API and Chat Completions, over real sockets and real SSE.

Usage from a sync pytest test (the server runs its own loop in a thread)::

    from tests.support import MockResponsesServer, responses_turn, message_item, rate_limited

    with MockResponsesServer(chunking="awkward") as server:
        server.enqueue(rate_limited(1.5), responses_turn(message_item("héllo")))
        config = {"model_provider": "mock", "model_providers": {"mock": server.provider_config()}}
        ...  # run `codex exec` with that config, or a ModelClient
        body = server.requests[-1].json          # what the client sent
        assert server.requests[-1].header("authorization") == "Bearer test-key"

Every POST to ``/v1/responses`` or ``/v1/chat/completions`` (or ``/responses`` ...) pops the next
scripted turn (FIFO). With the queue empty the server answers ``418`` with
"mock server: no scripted turn left", so a test that under-scripts fails loudly (set
``default_turn`` to answer every extra request the same way). Requests are recorded in order in
``server.requests`` (method, path, headers, body, ``.json``).

Turns:

* :class:`SSETurn` -- status 200 ``text/event-stream``; ``events`` are dicts (written as
  ``event: <type>`` + ``data: <json>``) or raw ``bytes``; ``chunking`` cuts the body (see
  :data:`~tests.support.http_server.Chunking`: ``"awkward"`` splits between CR and LF, inside
  multi-byte UTF-8 and after every colon); ``line_ending="\\r\\n"`` uses CRLF; ``multiline``
  spreads the JSON over several ``data:`` lines; ``framing`` is ``chunked`` or ``close``;
  ``after`` is ``"end"`` (a clean end), ``"close"`` (drop the connection mid-body) or ``"stall"``
  (stop sending for ``stall_seconds``, None = until the server stops); ``delay`` pauses between
  writes; ``head_delay`` takes the request, sends nothing for that long, then drops the line
  (a server that never answers).
* :class:`ErrorTurn` -- any status with a body (JSON dict, text or bytes) and headers.

Builders: Responses events (:func:`created`, :func:`output_item_added`,
:func:`output_text_delta`, :func:`reasoning_summary_delta`, :func:`output_item_done`,
:func:`completed`, :func:`failed`), items (:func:`message_item`, :func:`function_call_item`,
:func:`custom_tool_call_item`, :func:`reasoning_item`), :func:`usage`, whole turns
(:func:`responses_turn`, :func:`assistant_turn`, :func:`function_call_turn`,
:func:`custom_tool_call_turn`, :func:`failed_turn`, :func:`early_close`, :func:`stall`), HTTP
failures (:func:`http_error`, :func:`server_error`, :func:`rate_limited`, :func:`non_sse`), and
for the Chat wire (:func:`chat_chunk`, :func:`chat_text_turn`, :func:`chat_tool_call_turn`,
:func:`chat_turn`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.support.http_server import (
    Chunking,
    RecordedRequest,
    ResponseWriter,
    ThreadedHttpServer,
    split_chunks,
)

__all__ = [
    "ErrorTurn",
    "MockChatServer",
    "MockModelServer",
    "MockResponsesServer",
    "SSETurn",
    "Turn",
    "assistant_turn",
    "chat_chunk",
    "chat_text_turn",
    "chat_tool_call_turn",
    "chat_turn",
    "completed",
    "created",
    "custom_tool_call_item",
    "custom_tool_call_turn",
    "early_close",
    "failed",
    "failed_turn",
    "function_call_item",
    "function_call_turn",
    "http_error",
    "message_item",
    "non_sse",
    "output_item_added",
    "output_item_done",
    "output_text_delta",
    "rate_limited",
    "reasoning_item",
    "reasoning_summary_delta",
    "responses_turn",
    "server_error",
    "sse_frame",
    "stall",
    "usage",
]

_ids = itertools.count(1)


def _next_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids)}"


# ------------------------------------------------------------------------------------- turns


@dataclass
class SSETurn:
    events: Sequence[Mapping[str, Any] | bytes]
    chunking: Chunking = None
    line_ending: str = "\n"
    multiline: bool = False
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"
    framing: str = "chunked"
    after: str = "end"  # end | close | stall
    stall_seconds: float | None = None
    delay: float = 0.0
    head_delay: float = 0.0


@dataclass
class ErrorTurn:
    status: int
    body: Any = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None


Turn = SSETurn | ErrorTurn


def sse_frame(
    event: Mapping[str, Any] | bytes, *, line_ending: str = "\n", multiline: bool = False
) -> bytes:
    """One SSE frame: ``event: <type>`` and the JSON as ``data:`` line(s), then a blank line."""
    if isinstance(event, bytes):
        return event
    text = json.dumps(event, ensure_ascii=False, indent=1 if multiline else None)
    lines = []
    if "type" in event:
        lines.append(f"event: {event['type']}")
    lines += [f"data: {line}" for line in text.split("\n")]
    return (line_ending.join(lines) + line_ending + line_ending).encode("utf-8")


# ------------------------------------------------------------------------------ the server


class MockModelServer(ThreadedHttpServer):
    """Serves scripted turns for the Responses and the Chat wire (see the module docstring)."""

    api_prefix = "/v1"

    def __init__(self, *, chunking: Chunking = None, delay: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chunking = chunking  # default for SSE turns that do not set their own
        self.delay = delay
        self.default_turn: Turn | None = None
        self._turns: deque[Turn] = deque()
        self._turn_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.origin + self.api_prefix

    def enqueue(self, *turns: Turn) -> None:
        with self._turn_lock:
            self._turns.extend(turns)

    @property
    def pending(self) -> int:
        with self._turn_lock:
            return len(self._turns)

    @property
    def model_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST"]

    def provider_config(self, *, wire_api: str = "responses", **extra: Any) -> dict[str, Any]:
        """A ``[model_providers.<id>]`` table pointing at this server (short test timeouts)."""
        table: dict[str, Any] = {
            "name": "Mock",
            "base_url": self.base_url,
            "wire_api": wire_api,
            "request_max_retries": 2,
            "stream_max_retries": 2,
            "stream_idle_timeout_ms": 2000,
        }
        table.update(extra)
        return table

    def _pop(self) -> Turn | None:
        with self._turn_lock:
            if self._turns:
                return self._turns.popleft()
        return self.default_turn

    async def handle(self, request: RecordedRequest, w: ResponseWriter) -> None:
        path = request.path
        if request.method != "POST" or not (
            path.endswith("/responses") or path.endswith("/chat/completions")
        ):
            await w.send(404, {"content-type": "text/plain"}, f"mock server: no route {path}")
            return
        turn = self._pop()
        if turn is None:
            await w.send(
                418,
                {"content-type": "application/json"},
                json.dumps({"error": {"message": "mock server: no scripted turn left"}}),
            )
            return
        if isinstance(turn, ErrorTurn):
            await self._error(turn, w)
        else:
            await self._sse(turn, w)

    async def _error(self, turn: ErrorTurn, w: ResponseWriter) -> None:
        body = turn.body
        ctype = turn.content_type
        if isinstance(body, Mapping | list):
            data = json.dumps(body).encode()
            ctype = ctype or "application/json"
        elif isinstance(body, str):
            data = body.encode("utf-8")
            ctype = ctype or "text/plain; charset=utf-8"
        else:
            data = body
            ctype = ctype or "application/octet-stream"
        await w.send(turn.status, {"content-type": ctype, **turn.headers}, data)

    async def _sse(self, turn: SSETurn, w: ResponseWriter) -> None:
        if turn.head_delay:
            await w.stall(turn.head_delay)
            return
        await w.start(
            turn.status, {"content-type": turn.content_type, **turn.headers}, framing=turn.framing
        )
        chunking = turn.chunking if turn.chunking is not None else self.chunking
        delay = turn.delay or self.delay
        if chunking is None:
            pieces = [
                sse_frame(e, line_ending=turn.line_ending, multiline=turn.multiline)
                for e in turn.events
            ]
        else:
            body = b"".join(
                sse_frame(e, line_ending=turn.line_ending, multiline=turn.multiline)
                for e in turn.events
            )
            pieces = split_chunks(body, chunking)
            delay = delay or 0.0005  # separate TCP segments, so the client really sees the cuts
        for piece in pieces:
            await w.write(piece)
            if delay:
                await asyncio.sleep(delay)
        if turn.after == "close":
            w.close()
        elif turn.after == "stall":
            await w.stall(turn.stall_seconds)
        else:
            await w.end()


class MockResponsesServer(MockModelServer):
    """A :class:`MockModelServer` for the Responses wire (``POST /v1/responses``)."""


class MockChatServer(MockModelServer):
    """A :class:`MockModelServer` for the Chat wire (``POST /v1/chat/completions``)."""

    def provider_config(self, *, wire_api: str = "chat", **extra: Any) -> dict[str, Any]:
        return super().provider_config(wire_api=wire_api, **extra)


# ------------------------------------------------------------------ Responses event builders


def usage(
    input_tokens: int = 10,
    output_tokens: int = 5,
    *,
    cached: int = 0,
    reasoning: int = 0,
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


def created(response_id: str = "resp_1") -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": response_id}}


def completed(
    response_id: str = "resp_1", usage: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {"id": response_id}
    if usage is not None:
        response["usage"] = dict(usage)
    return {"type": "response.completed", "response": response}


def failed(code: str, message: str = "", response_id: str = "resp_1") -> dict[str, Any]:
    return {
        "type": "response.failed",
        "response": {"id": response_id, "error": {"code": code, "message": message or code}},
    }


def output_item_added(item: Mapping[str, Any]) -> dict[str, Any]:
    added = dict(item)
    if added.get("type") == "message":
        added["content"] = []
    return {"type": "response.output_item.added", "item": added}


def output_item_done(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.done", "item": dict(item)}


def output_text_delta(delta: str, item_id: str | None = None) -> dict[str, Any]:
    return {"type": "response.output_text.delta", "delta": delta, "item_id": item_id}


def reasoning_summary_delta(
    delta: str, summary_index: int = 0, item_id: str | None = None
) -> dict[str, Any]:
    return {
        "type": "response.reasoning_summary_text.delta",
        "delta": delta,
        "summary_index": summary_index,
        "item_id": item_id,
    }


def message_item(text: str, *, item_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id or _next_id("msg"),
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def function_call_item(name: str, arguments: Any, *, call_id: str | None = None) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "type": "function_call",
        "id": _next_id("fc"),
        "name": name,
        "arguments": args,
        "call_id": call_id or _next_id("call"),
    }


def custom_tool_call_item(name: str, input: str, *, call_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "custom_tool_call",
        "id": _next_id("ctc"),
        "name": name,
        "input": input,
        "call_id": call_id or _next_id("call"),
    }


def reasoning_item(*summary: str, encrypted_content: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": _next_id("rs"),
        "summary": [{"type": "summary_text", "text": text} for text in summary],
    }
    if encrypted_content is not None:
        item["encrypted_content"] = encrypted_content
    return item


def _deltas(text: str, pieces: int) -> list[str]:
    if pieces <= 1 or len(text) <= 1:
        return [text]
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


def responses_turn(
    *items: Mapping[str, Any],
    response_id: str = "resp_1",
    usage: Mapping[str, Any] | None = None,
    deltas: int = 3,
    **turn: Any,
) -> SSETurn:
    """created, then per item: added, deltas (messages, reasoning summaries), done; completed."""
    events: list[Mapping[str, Any] | bytes] = [created(response_id)]
    for item in items:
        events.append(output_item_added(item))
        if item.get("type") == "message":
            text = "".join(part.get("text", "") for part in item.get("content", []))
            events += [output_text_delta(d, item.get("id")) for d in _deltas(text, deltas)]
        elif item.get("type") == "reasoning":
            for index, part in enumerate(item.get("summary", [])):
                events += [
                    reasoning_summary_delta(d, index, item.get("id"))
                    for d in _deltas(part.get("text", ""), deltas)
                ]
        events.append(output_item_done(item))
    events.append(completed(response_id, usage))
    return SSETurn(events, **turn)


def assistant_turn(text: str, **kwargs: Any) -> SSETurn:
    return responses_turn(message_item(text), **kwargs)


def function_call_turn(
    name: str, arguments: Any, *, call_id: str | None = None, **kwargs: Any
) -> SSETurn:
    return responses_turn(function_call_item(name, arguments, call_id=call_id), **kwargs)


def custom_tool_call_turn(
    name: str, input: str, *, call_id: str | None = None, **kwargs: Any
) -> SSETurn:
    return responses_turn(custom_tool_call_item(name, input, call_id=call_id), **kwargs)


def failed_turn(code: str, message: str = "", **turn: Any) -> SSETurn:
    """created, then ``response.failed`` with ``error.code`` = ``code``."""
    return SSETurn([created(), failed(code, message)], **turn)


def early_close(*events: Mapping[str, Any] | bytes, **turn: Any) -> SSETurn:
    """Send ``events`` (default: just ``response.created``) and drop the connection."""
    return SSETurn(list(events) or [created()], after="close", **turn)


def stall(*events: Mapping[str, Any] | bytes, seconds: float | None = None, **turn: Any) -> SSETurn:
    """Send ``events`` (default: ``response.created``), then nothing for ``seconds``."""
    return SSETurn(list(events) or [created()], after="stall", stall_seconds=seconds, **turn)


# ------------------------------------------------------------------------- HTTP failures


def http_error(
    status: int,
    message: str = "error",
    *,
    code: str | None = None,
    type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ErrorTurn:
    error: dict[str, Any] = {"message": message, "type": type, "code": code, "param": None}
    return ErrorTurn(status, {"error": error}, dict(headers or {}))


def server_error(status: int = 500, message: str = "The server had an error") -> ErrorTurn:
    return http_error(status, message, type="server_error")


def rate_limited(seconds: float = 1.5, *, retry_after_header: bool = False) -> ErrorTurn:
    """429 with OpenAI's wording: "... Please try again in 1.5s." (optionally Retry-After)."""
    text = f"{seconds:g}s" if seconds >= 1 else f"{int(seconds * 1000)}ms"
    headers = {"retry-after": f"{seconds:g}"} if retry_after_header else None
    return http_error(
        429,
        f"Rate limit reached for requests. Please try again in {text}.",
        code="rate_limit_exceeded",
        type="requests",
        headers=headers,
    )


def non_sse(
    body: Any = None, *, status: int = 200, content_type: str = "application/json"
) -> ErrorTurn:
    """A 200 (by default) whose body is not an event stream."""
    return ErrorTurn(
        status, {"id": "resp_1", "output": []} if body is None else body, {}, content_type
    )


# ---------------------------------------------------------------------------- Chat builders


def chat_chunk(
    *,
    content: str | None = None,
    reasoning: str | None = None,
    tool_calls: Sequence[Mapping[str, Any]] | None = None,
    finish_reason: str | None = None,
    usage: Mapping[str, Any] | None = None,
    choices: bool = True,
) -> bytes:
    """One ``data: {...}`` frame of a Chat Completions stream (no ``event:`` line)."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning"] = reasoning
    if tool_calls is not None:
        delta["tool_calls"] = [dict(c) for c in tool_calls]
    chunk: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk"}
    chunk["choices"] = (
        [{"index": 0, "delta": delta, "finish_reason": finish_reason}] if choices else []
    )
    if usage is not None:
        chunk["usage"] = dict(usage)
    return b"data: " + json.dumps(chunk, ensure_ascii=False).encode("utf-8") + b"\n\n"


_DONE = b"data: [DONE]\n\n"


def chat_turn(*chunks: bytes, done: bool = True, **turn: Any) -> SSETurn:
    return SSETurn([*chunks, *([_DONE] if done else [])], **turn)


def chat_text_turn(
    text: str,
    *,
    reasoning: str | None = None,
    pieces: int = 3,
    usage: Mapping[str, Any] | None = None,
    **turn: Any,
) -> SSETurn:
    chunks = []
    if reasoning:
        chunks += [chat_chunk(reasoning=d) for d in _deltas(reasoning, pieces)]
    chunks += [chat_chunk(content=d) for d in _deltas(text, pieces)]
    chunks.append(chat_chunk(finish_reason="stop"))
    if usage is not None:
        chunks.append(chat_chunk(usage=usage, choices=False))
    return chat_turn(*chunks, **turn)


def chat_tool_call_turn(
    calls: Iterable[tuple[str, Any, str]],
    *,
    text: str | None = None,
    pieces: int = 3,
    **turn: Any,
) -> SSETurn:
    """Tool calls ``(name, arguments, call_id)`` streamed the way OpenAI does: id and name in the
    first delta of each index, arguments in ``pieces`` fragments."""
    chunks = [chat_chunk(content=text)] if text else []
    for index, (name, arguments, call_id) in enumerate(calls):
        args = arguments if isinstance(arguments, str) else json.dumps(arguments)
        first = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        chunks.append(chat_chunk(tool_calls=[first]))
        for fragment in _deltas(args, pieces):
            chunks.append(
                chat_chunk(tool_calls=[{"index": index, "function": {"arguments": fragment}}])
            )
    chunks.append(chat_chunk(finish_reason="tool_calls"))
    return chat_turn(*chunks, **turn)
