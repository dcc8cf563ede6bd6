"""ModelClient on the Responses wire against the real-socket mock server."""

from __future__ import annotations

import time

import pytest

from codex_admin.providers import (
    AuthenticationFailed,
    Completed,
    ContextWindowExceeded,
    Created,
    ErrorKind,
    InvalidResponse,
    OutputItemDone,
    OutputTextDelta,
    QuotaExceeded,
    RateLimits,
    ReasoningSummaryDelta,
    RequestRejected,
    Retrying,
    ServerError,
    StreamError,
    TransportError,
    UsageNotIncluded,
    backoff_delay,
    output_schema_format,
)
from tests.providers.helpers import KEY, request, stream
from tests.support import (
    MockResponsesServer,
    SSETurn,
    assistant_turn,
    completed,
    created,
    custom_tool_call_item,
    early_close,
    failed_turn,
    function_call_item,
    http_error,
    message_item,
    non_sse,
    output_item_done,
    rate_limited,
    reasoning_item,
    responses_turn,
    server_error,
    stall,
    usage,
)


@pytest.mark.parametrize("chunking", ["awkward", 1, [3, 1, 7]])
@pytest.mark.parametrize("line_ending", ["\n", "\r\n"])
def test_full_turn_survives_any_chunking(chunking: object, line_ending: str) -> None:
    with MockResponsesServer() as server:
        server.enqueue(
            responses_turn(
                reasoning_item("plan: ✓ étape"),
                message_item("héllo wörld ✓ 😀"),
                function_call_item("shell", {"command": ["ls", "-la"]}, call_id="call_A"),
                custom_tool_call_item(
                    "apply_patch", "*** Begin Patch\n*** End Patch", call_id="call_B"
                ),
                usage=usage(100, 20, cached=40, reasoning=7),
                chunking=chunking,
                line_ending=line_ending,
                multiline=True,
            )
        )
        run = stream(server.provider_config())
    assert run.error is None
    assert isinstance(run.events[0], Created) and run.events[0].response_id == "resp_1"
    done = [e.item for e in run.of(OutputItemDone)]
    assert [i["type"] for i in done] == [
        "reasoning",
        "message",
        "function_call",
        "custom_tool_call",
    ]
    assert done[1]["content"][0]["text"] == "héllo wörld ✓ 😀"
    assert "".join(e.delta for e in run.of(OutputTextDelta)) == "héllo wörld ✓ 😀"
    assert "".join(e.delta for e in run.of(ReasoningSummaryDelta)) == "plan: ✓ étape"
    assert done[2]["arguments"] == '{"command": ["ls", "-la"]}' and done[2]["call_id"] == "call_A"
    assert done[3]["input"].startswith("*** Begin Patch")
    end = run.events[-1]
    assert isinstance(end, Completed) and end.usage is not None
    assert (end.usage.input_tokens, end.usage.cached_input_tokens) == (100, 40)
    assert (end.usage.output_tokens, end.usage.reasoning_output_tokens, end.usage.total_tokens) == (
        20,
        7,
        120,
    )


def test_request_body_and_headers() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    req = request(
        instructions="be brief",
        tools=[
            {"type": "function", "name": "shell", "parameters": {"type": "object"}, "strict": False}
        ],
        parallel_tool_calls=True,
        reasoning={"effort": "high", "summary": "auto"},
        prompt_cache_key="thread-9",
        text={"format": output_schema_format(schema)},
        extra_headers={"x-openai-subagent": "guardian"},
    )
    with MockResponsesServer() as server:
        server.enqueue(assistant_turn("ok"))
        run = stream(
            server.provider_config(
                http_headers={"x-static": "1"}, env_http_headers={"x-env": "XENV"}
            ),
            req,
            environ={"MOCK_KEY": KEY, "XENV": "from-env"},
        )
        sent = server.requests[0]
    assert run.error is None
    assert sent.method == "POST" and sent.path == "/v1/responses"
    body = sent.json
    assert body["model"] == "gpt-test" and body["instructions"] == "be brief"
    assert body["input"] == req.input[0:1] or body["input"] == [dict(req.input[0])]
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is True
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["store"] is False and body["stream"] is True
    assert body["include"] == ["reasoning.encrypted_content"]  # reasoning without store
    assert body["prompt_cache_key"] == "thread-9"
    assert body["text"]["format"] == {
        "type": "json_schema",
        "name": "codex_output_schema",
        "strict": True,
        "schema": schema,
    }
    assert sent.header("authorization") == f"Bearer {KEY}"
    assert sent.header("originator") == "codex_exec"
    assert sent.header("session-id") == "sess-1" and sent.header("thread-id") == "sess-1"
    assert sent.header("x-openai-subagent") == "guardian"
    assert sent.header("x-static") == "1" and sent.header("x-env") == "from-env"
    assert sent.header("accept") == "text/event-stream"


def test_500s_are_retried_up_to_request_max_retries() -> None:
    with MockResponsesServer() as server:
        server.enqueue(server_error(500), server_error(502), assistant_turn("recovered"))
        run = stream(server.provider_config(request_max_retries=2))
        assert len(server.model_requests) == 3
    assert run.error is None
    retries = run.of(Retrying)
    assert [(r.attempt, r.max_attempts, r.scope, r.kind) for r in retries] == [
        (1, 2, "request", "server"),
        (2, 2, "request", "server"),
    ]
    assert retries[0].message == "Reconnecting... 1/2"
    assert run.sleeps == [r.delay for r in retries]


def test_500s_exhaust_the_retries() -> None:
    with MockResponsesServer() as server:
        server.enqueue(*[server_error(503, "overloaded")] * 3)
        run = stream(server.provider_config(request_max_retries=2))
        assert len(server.model_requests) == 3
    assert isinstance(run.error, ServerError) and not run.error.retryable
    assert run.error.status == 503
    assert "exceeded retry limit, last status: 503" in run.error.message


def test_429_is_not_a_request_retry_but_waits_the_servers_delay() -> None:
    with MockResponsesServer() as server:
        server.enqueue(rate_limited(1.5), assistant_turn("after the wait"))
        run = stream(server.provider_config(request_max_retries=4, stream_max_retries=1))
        assert len(server.model_requests) == 2
    assert run.error is None
    (retry,) = run.of(Retrying)
    assert (retry.scope, retry.kind, retry.delay) == ("stream", "rate_limit", 1.5)
    assert run.sleeps == [1.5]


def test_429_delay_is_really_waited() -> None:
    with MockResponsesServer() as server:
        server.enqueue(rate_limited(0.3), assistant_turn("ok"))
        start = time.monotonic()
        run = stream(server.provider_config(), real_sleep=True)
        first, second = server.model_requests
    assert run.error is None
    assert second.received_at - first.received_at >= 0.3
    assert time.monotonic() - start < 5


def test_429_with_retry_after_header_and_exhausted() -> None:
    with MockResponsesServer() as server:
        server.enqueue(
            http_error(429, "slow down", headers={"retry-after": "2"}), http_error(429, "slow down")
        )
        run = stream(server.provider_config(stream_max_retries=1))
    assert run.sleeps == [2.0]
    assert (
        run.error is not None and run.error.kind is ErrorKind.RATE_LIMIT and run.error.status == 429
    )


@pytest.mark.parametrize(
    ("code", "cls", "retryable"),
    [
        ("context_length_exceeded", ContextWindowExceeded, False),
        ("insufficient_quota", QuotaExceeded, False),
        ("usage_not_included", UsageNotIncluded, False),
        ("invalid_prompt", RequestRejected, False),
        ("rate_limit_exceeded", None, True),
        ("server_is_overloaded", StreamError, True),
    ],
)
def test_each_response_failed_class(code: str, cls: type | None, retryable: bool) -> None:
    message = (
        "Rate limit reached. Please try again in 20ms."
        if code == "rate_limit_exceeded"
        else f"boom {code}"
    )
    with MockResponsesServer() as server:
        server.enqueue(failed_turn(code, message), failed_turn(code, message))
        run = stream(server.provider_config(stream_max_retries=1))
        attempts = len(server.model_requests)
    assert run.error is not None and run.error.code == code
    if cls is not None:
        assert isinstance(run.error, cls)
    assert run.error.retryable is retryable
    assert attempts == (2 if retryable else 1)
    if code == "rate_limit_exceeded":
        assert run.sleeps == [0.02]
    if code == "context_length_exceeded":
        assert "exceeds the context window" in run.error.message


def test_early_close_is_retried_then_fails_with_codex_message() -> None:
    with MockResponsesServer() as server:
        server.enqueue(
            early_close(), early_close(created(), framing="close"), assistant_turn("third time")
        )
        run = stream(server.provider_config(stream_max_retries=2))
    assert run.error is None
    assert [r.attempt for r in run.of(Retrying)] == [1, 2]
    assert run.of(OutputItemDone)[-1].item["content"][0]["text"] == "third time"
    with MockResponsesServer() as server:
        server.enqueue(early_close(created(), framing="close"))
        run = stream(server.provider_config(stream_max_retries=0))
    assert isinstance(run.error, StreamError)
    assert run.error.message == "stream closed before response.completed"


def test_mid_body_abort_is_a_retryable_disconnect() -> None:
    with MockResponsesServer() as server:
        server.enqueue(early_close(created()))  # chunked body cut without its last chunk
        run = stream(server.provider_config(stream_max_retries=0))
    assert isinstance(run.error, StreamError)
    assert (
        "before completion" in run.error.message or "before response.completed" in run.error.message
    )


def test_idle_stall_times_out_and_is_retried() -> None:
    with MockResponsesServer() as server:
        server.enqueue(stall(created(), seconds=5), assistant_turn("after stall"))
        start = time.monotonic()
        run = stream(server.provider_config(stream_idle_timeout_ms=300))
        elapsed = time.monotonic() - start
    assert run.error is None
    (retry,) = run.of(Retrying)
    assert "idle timeout waiting for SSE" in retry.reason
    assert 0.3 <= elapsed < 3


def test_a_server_that_never_answers_is_bounded_by_the_idle_timeout_and_retried() -> None:
    """The request is taken but no response head comes: the wait is bounded by
    stream_idle_timeout_ms (the client has no read timeout of its own), then retried."""
    with MockResponsesServer() as server:
        server.enqueue(SSETurn([created()], head_delay=5), assistant_turn("answered"))
        start = time.monotonic()
        run = stream(server.provider_config(stream_idle_timeout_ms=300))
        elapsed = time.monotonic() - start
        server.enqueue(SSETurn([created()], head_delay=5))
        silent = stream(server.provider_config(stream_idle_timeout_ms=300, request_max_retries=0))
    assert run.error is None and 0.3 <= elapsed < 3
    (retry,) = run.of(Retrying)
    assert retry.kind == "transport" and "no response within 0.3 s" in retry.reason
    assert isinstance(silent.error, TransportError)
    assert "no response within 0.3 s" in silent.error.message


def test_backoff_schedule_with_jitter_bounds() -> None:
    assert backoff_delay(1, lambda: 0.5) == pytest.approx(0.2)
    assert backoff_delay(3, lambda: 0.0) == pytest.approx(0.8 * 0.9)
    assert backoff_delay(3, lambda: 0.999999) == pytest.approx(0.8 * 1.1, rel=1e-5)
    with MockResponsesServer() as server:
        server.enqueue(*[early_close(created(), framing="close")] * 4)
        run = stream(server.provider_config(stream_max_retries=3))
    assert [r.attempt for r in run.of(Retrying)] == [1, 2, 3]
    for n, slept in enumerate(run.sleeps, start=1):
        nominal = 0.2 * 2 ** (n - 1)
        assert nominal * 0.9 <= slept <= nominal * 1.1
    assert isinstance(run.error, StreamError)


def test_non_sse_body_is_a_clear_error() -> None:
    with MockResponsesServer() as server:
        server.enqueue(non_sse({"id": "resp_1", "output": []}))
        run = stream(server.provider_config())
    assert isinstance(run.error, InvalidResponse) and not run.error.retryable
    assert "did not answer with an event stream" in run.error.message
    assert "application/json" in run.error.message


def test_malformed_event_data_is_a_clear_error() -> None:
    with MockResponsesServer() as server:
        server.enqueue(
            SSETurn([created(), b"event: response.output_item.done\ndata: {not json\n\n"])
        )
        run = stream(server.provider_config())
    assert isinstance(run.error, InvalidResponse)
    assert "not JSON" in run.error.message
    with MockResponsesServer() as server:
        server.enqueue(SSETurn([b"data: \xff\xfe\n\n"]))
        run = stream(server.provider_config())
    assert isinstance(run.error, InvalidResponse) and "UTF-8" in run.error.message


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_names_provider_and_status_without_the_key(status: int) -> None:
    with MockResponsesServer() as server:
        server.enqueue(
            http_error(status, f"Incorrect API key provided: {KEY}", code="invalid_api_key")
        )
        run = stream(server.provider_config())
        assert len(server.model_requests) == 1  # a static key cannot be refreshed: no retry
    assert isinstance(run.error, AuthenticationFailed)
    text = str(run.error)
    assert f"authentication failed for provider Mock (mock) (HTTP {status})" in text
    assert "MOCK_KEY" in text  # the hint names the variable to check
    assert KEY not in text and KEY not in repr(run.error.to_json())
    assert "sk-test-" in text  # the masked form survives so the user can tell which key


def test_keys_never_appear_in_any_error_text() -> None:
    echo = f"upstream said: Bearer {KEY}"
    cases = [
        http_error(400, echo),
        server_error(500, echo),
        non_sse(echo, content_type="text/plain"),
        failed_turn("server_error", echo),
    ]
    for turn in cases:
        with MockResponsesServer() as server:
            server.enqueue(turn, turn, turn)
            run = stream(server.provider_config(request_max_retries=0, stream_max_retries=0))
        assert run.error is not None
        assert KEY not in str(run.error) and KEY not in str(run.error.to_json())
        assert all(KEY not in r.reason for r in run.of(Retrying))


def test_connection_refused_is_retried_then_a_transport_error() -> None:
    with MockResponsesServer() as server:
        table = server.provider_config(request_max_retries=1)
    run = stream(table)  # the server is gone: connection refused
    assert isinstance(run.error, TransportError)
    assert [r.kind for r in run.of(Retrying)] == ["transport"]
    assert "cannot reach provider" in run.error.message


def test_rate_limit_headers_become_a_snapshot() -> None:
    headers = {
        "x-codex-primary-used-percent": "42.5",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": "1700000000",
        "x-codex-secondary-used-percent": "7",
    }
    with MockResponsesServer() as server:
        server.enqueue(assistant_turn("ok", headers=headers))
        run = stream(server.provider_config())
    (snap,) = run.of(RateLimits)
    assert snap.snapshot.primary is not None and snap.snapshot.primary.used_percent == 42.5
    assert (
        snap.snapshot.primary.window_minutes == 300
        and snap.snapshot.primary.resets_at == 1700000000
    )
    assert snap.snapshot.secondary is not None and snap.snapshot.secondary.used_percent == 7


def test_completed_ends_the_stream_even_if_the_server_lingers() -> None:
    with MockResponsesServer() as server:
        server.enqueue(
            stall(created(), output_item_done(message_item("done")), completed(), seconds=10)
        )
        start = time.monotonic()
        run = stream(server.provider_config())
    assert run.error is None and isinstance(run.events[-1], Completed)
    assert time.monotonic() - start < 3


def test_header_injection_through_an_env_header_is_refused_not_sent() -> None:
    from codex_admin.providers import ProviderConfigError

    with MockResponsesServer() as server:
        server.enqueue(assistant_turn("never"))
        run = stream(
            server.provider_config(env_http_headers={"x-tenant": "TENANT"}),
            environ={"MOCK_KEY": KEY, "TENANT": "t1\r\nx-injected: yes"},
        )
        assert server.model_requests == []
    assert isinstance(run.error, ProviderConfigError) and run.sleeps == []
