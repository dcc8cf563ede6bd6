"""The Chat Completions wire: history conversion and streaming into the same typed events."""

from __future__ import annotations

import json

import pytest

from codex_admin.providers import (
    Completed,
    ContextWindowExceeded,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    RateLimited,
    ReasoningTextDelta,
    chat_messages,
)
from tests.providers.helpers import request, stream, user
from tests.support import (
    MockChatServer,
    chat_chunk,
    chat_text_turn,
    chat_tool_call_turn,
    chat_turn,
    rate_limited,
)

HISTORY = [
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
    {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": "look:"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
        ],
    },
    {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hidden"}]},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Sure."}]},
    {"type": "function_call", "name": "shell", "arguments": '{"command":["ls"]}', "call_id": "c1"},
    {
        "type": "custom_tool_call",
        "name": "apply_patch",
        "input": "*** Begin Patch",
        "call_id": "c2",
    },
    {"type": "function_call_output", "call_id": "c1", "output": "a\nb"},
    {"type": "custom_tool_call_output", "call_id": "c2", "output": "Done!"},
    {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c3"},
    {"type": "function_call_output", "call_id": "c3", "output": {"content": "x"}},
]


def test_history_conversion() -> None:
    messages = chat_messages("base instructions", HISTORY)
    assert messages[0] == {"role": "system", "content": "base instructions"}
    assert messages[1] == {"role": "system", "content": "rules"}  # developer -> system
    assert messages[2]["role"] == "user" and messages[2]["content"] == [
        {"type": "text", "text": "look:"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    assistant = messages[3]
    assert assistant["role"] == "assistant" and assistant["content"] == "Sure."
    assert [c["id"] for c in assistant["tool_calls"]] == ["c1", "c2"]
    assert assistant["tool_calls"][1]["function"] == {
        "name": "apply_patch",
        "arguments": "*** Begin Patch",
    }
    assert messages[4] == {"role": "tool", "tool_call_id": "c1", "content": "a\nb"}
    assert messages[5] == {"role": "tool", "tool_call_id": "c2", "content": "Done!"}
    assert messages[6] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c3", "type": "function", "function": {"name": "shell", "arguments": "{}"}}
        ],
    }
    assert messages[7]["content"] == "x"
    assert len(messages) == 8  # the reasoning item is not representable


def test_request_body_sends_function_tools_only() -> None:
    tools = [
        {
            "type": "function",
            "name": "shell",
            "description": "run",
            "parameters": {"type": "object"},
        },
        {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
        {"type": "web_search"},
    ]
    with MockChatServer() as server:
        server.enqueue(chat_text_turn("ok"))
        run = stream(
            server.provider_config(), request(input=[user("hi")], tools=tools, instructions="sys")
        )
        sent = server.requests[0]
    assert run.error is None
    assert sent.path == "/v1/chat/completions"
    body = sent.json
    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hi"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "shell", "description": "run", "parameters": {"type": "object"}},
        }
    ]
    assert body["stream"] is True and "store" not in body and "input" not in body


@pytest.mark.parametrize("chunking", ["awkward", 2])
def test_text_and_reasoning_stream(chunking: object) -> None:
    with MockChatServer(chunking=chunking) as server:
        server.enqueue(
            chat_text_turn(
                "héllo ✓ wörld",
                reasoning="thinking…",
                usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
            )
        )
        run = stream(server.provider_config())
    assert run.error is None
    assert [e.item["type"] for e in run.of(OutputItemAdded)] == ["reasoning", "message"]
    assert "".join(e.delta for e in run.of(OutputTextDelta)) == "héllo ✓ wörld"
    assert "".join(e.delta for e in run.of(ReasoningTextDelta)) == "thinking…"
    done = [e.item for e in run.of(OutputItemDone)]
    assert done[0] == {
        "type": "reasoning",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": "thinking…"}],
    }
    assert done[1]["content"] == [{"type": "output_text", "text": "héllo ✓ wörld"}]
    end = run.events[-1]
    assert isinstance(end, Completed) and end.response_id == ""
    assert end.usage is not None and (end.usage.input_tokens, end.usage.output_tokens) == (9, 4)


def test_tool_calls_accumulate_per_index() -> None:
    calls = [
        ("shell", {"command": ["echo", "ünïcode"]}, "call_1"),
        ("read", {"path": "a.txt"}, "call_2"),
    ]
    with MockChatServer(chunking="awkward") as server:
        server.enqueue(chat_tool_call_turn(calls, text="Let me check.", pieces=4))
        run = stream(server.provider_config())
    done = [e.item for e in run.of(OutputItemDone)]
    assert done[0]["type"] == "message"
    assert done[1:] == [
        {
            "type": "function_call",
            "name": "shell",
            "arguments": json.dumps({"command": ["echo", "ünïcode"]}),
            "call_id": "call_1",
        },
        {
            "type": "function_call",
            "name": "read",
            "arguments": json.dumps({"path": "a.txt"}),
            "call_id": "call_2",
        },
    ]


def test_calls_without_a_name_are_dropped_and_stream_end_without_finish_completes() -> None:
    nameless = chat_chunk(tool_calls=[{"index": 0, "id": "x", "function": {"arguments": "{}"}}])
    with MockChatServer() as server:
        server.enqueue(chat_turn(chat_chunk(content="partial"), nameless, done=False))
        run = stream(server.provider_config())
    assert run.error is None
    assert [e.item["type"] for e in run.of(OutputItemDone)] == ["message"]
    assert isinstance(run.events[-1], Completed)


def test_finish_reason_length_is_a_context_window_error() -> None:
    with MockChatServer() as server:
        server.enqueue(chat_turn(chat_chunk(content="abc"), chat_chunk(finish_reason="length")))
        run = stream(server.provider_config())
    assert isinstance(run.error, ContextWindowExceeded) and not run.error.retryable


def test_error_chunk_and_http_429_are_classified() -> None:
    error = b'data: {"error": {"message": "Rate limit. Please try again in 10ms", "code": "rate_limit_exceeded"}}\n\n'
    with MockChatServer() as server:
        server.enqueue(chat_turn(error, done=False), rate_limited(0.05), chat_text_turn("ok"))
        run = stream(server.provider_config(stream_max_retries=2))
    assert run.error is None
    assert run.sleeps == [0.01, 0.05]
    with MockChatServer() as server:
        server.enqueue(rate_limited(0.05))
        run = stream(server.provider_config(stream_max_retries=0))
    assert isinstance(run.error, RateLimited)


def test_finish_without_done_completes_after_a_short_grace() -> None:
    with MockChatServer() as server:
        server.enqueue(
            chat_turn(
                chat_chunk(content="hi"),
                chat_chunk(finish_reason="stop"),
                done=False,
                after="stall",
                stall_seconds=10,
            )
        )
        run = stream(server.provider_config(stream_idle_timeout_ms=60000))
    assert run.error is None and isinstance(run.events[-1], Completed)
