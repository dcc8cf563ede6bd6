"""The ModelClient observer seam (telemetry's `codex.api_request` / `codex.sse_event`), against
the real-socket mock server: every HTTP attempt and every server-sent event is reported, failures
included, secrets never, and the stream is the same with or without an observer."""

from __future__ import annotations

from typing import Any

from codex_admin.providers import (
    ApiAttempt,
    OutputItemDone,
    SseObservation,
    StreamError,
    TokenUsage,
)
from tests.providers.helpers import KEY, stream
from tests.support import (
    MockChatServer,
    MockResponsesServer,
    SSETurn,
    assistant_turn,
    chat_text_turn,
    created,
    early_close,
    failed_turn,
    http_error,
    server_error,
    stall,
    usage,
)


class Recorder:
    def __init__(self) -> None:
        self.attempts: list[ApiAttempt] = []
        self.sse: list[SseObservation] = []

    def on_attempt(self, attempt: ApiAttempt) -> None:
        self.attempts.append(attempt)

    def on_sse(self, event: SseObservation) -> None:
        self.sse.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.sse]


def observed(table: dict[str, Any], **kwargs: Any) -> tuple[Any, Recorder]:
    recorder = Recorder()
    run = stream(table, client_kwargs={"observer": recorder}, **kwargs)
    return run, recorder


def test_one_attempt_and_every_event_with_usage_on_completion() -> None:
    with MockResponsesServer() as server:
        server.enqueue(assistant_turn("hi", usage=usage(input_tokens=3, output_tokens=5, cached=1)))
        run, rec = observed(server.provider_config())
    assert run.error is None
    [attempt] = rec.attempts
    assert attempt.attempt == 1 and attempt.status_code == 200 and attempt.error is None
    assert attempt.endpoint.endswith("/responses") and attempt.duration_ms >= 0
    assert attempt.auth_header_attached and attempt.auth_header_name == "Authorization"
    kinds = rec.kinds()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds and "response.output_item.done" in kinds
    assert all(e.error is None for e in rec.sse)
    assert [e.usage for e in rec.sse if e.usage is not None] == [
        TokenUsage(input_tokens=3, cached_input_tokens=1, output_tokens=5, total_tokens=8)
    ]
    assert all(e.duration_ms >= 0 for e in rec.sse)


def test_the_stream_is_the_same_with_and_without_an_observer() -> None:
    with MockResponsesServer() as server:
        server.enqueue(assistant_turn("same"), assistant_turn("same"))
        plain = stream(server.provider_config())
        watched, _ = observed(server.provider_config())
    assert [type(e) for e in plain.events] == [type(e) for e in watched.events]

    def text(run: Any) -> Any:
        return run.of(OutputItemDone)[0].item["content"]

    assert text(plain) == text(watched)


def test_each_http_attempt_of_request_retries_is_reported_without_the_key() -> None:
    with MockResponsesServer() as server:
        server.enqueue(server_error(500, f"boom {KEY}"), assistant_turn("ok"))
        run, rec = observed(server.provider_config(request_max_retries=2))
    assert run.error is None
    assert [(a.attempt, a.status_code) for a in rec.attempts] == [(1, 500), (2, 200)]
    assert rec.attempts[0].error is not None and "boom" in rec.attempts[0].error
    assert all(KEY not in (a.error or "") for a in rec.attempts)


def test_attempts_are_numbered_across_stream_retries() -> None:
    with MockResponsesServer() as server:
        server.enqueue(early_close(created(), framing="close"), assistant_turn("second"))
        run, rec = observed(server.provider_config(stream_max_retries=1))
    assert run.error is None
    assert [a.attempt for a in rec.attempts] == [1, 2]
    failures = [e for e in rec.sse if e.error is not None]
    assert [(e.kind, e.error) for e in failures] == [
        ("unknown", "stream closed before response.completed")
    ]


def test_a_refused_connection_is_an_attempt_without_status() -> None:
    with MockResponsesServer() as server:
        table = server.provider_config(request_max_retries=0)
    run, rec = observed(table)
    assert run.error is not None
    [attempt] = rec.attempts
    assert attempt.status_code is None and attempt.error and "Connect" in attempt.error


def test_a_client_error_is_reported_once_with_its_status() -> None:
    with MockResponsesServer() as server:
        server.enqueue(http_error(400, "bad request"))
        run, rec = observed(server.provider_config())
    assert run.error is not None
    [attempt] = rec.attempts
    assert attempt.status_code == 400 and attempt.error and "bad request" in attempt.error
    assert rec.sse == []


def test_response_failed_and_parse_errors_carry_the_event_kind() -> None:
    with MockResponsesServer() as server:
        server.enqueue(failed_turn("invalid_prompt", "the prompt was refused"))
        _, failed = observed(server.provider_config(stream_max_retries=0))
        server.enqueue(
            SSETurn([created(), b"event: response.output_item.done\ndata: {not json\n\n"])
        )
        _, broken = observed(server.provider_config(stream_max_retries=0))
    last = failed.sse[-1]
    assert last.kind == "response.failed" and "the prompt was refused" in (last.error or "")
    assert broken.sse[-1].kind == "response.output_item.done" and broken.sse[-1].error
    assert len([e for e in broken.sse if e.error]) == 1  # reported once, not twice


def test_idle_timeout_is_an_unknown_kind_failure() -> None:
    with MockResponsesServer() as server:
        server.enqueue(stall(created(), seconds=3))
        run, rec = observed(
            server.provider_config(stream_idle_timeout_ms=200, stream_max_retries=0)
        )
    assert isinstance(run.error, StreamError)
    assert rec.kinds() == ["response.created", "unknown"]
    assert "idle timeout" in (rec.sse[-1].error or "")
    assert rec.sse[-1].duration_ms >= 150


def test_the_chat_wire_reports_chunks_and_completion() -> None:
    with MockChatServer() as server:
        server.enqueue(chat_text_turn("hello", usage={"prompt_tokens": 4, "completion_tokens": 2}))
        run, rec = observed(server.provider_config())
    assert run.error is None
    assert rec.attempts[0].status_code == 200
    assert set(rec.kinds()) <= {"chat.completion.chunk", "done"}
    completed = [e.usage for e in rec.sse if e.usage is not None]
    assert completed and completed[-1].input_tokens == 4 and completed[-1].output_tokens == 2
