"""The model tier against the real mock Responses server: verdicts, every failure class,
the retry, the timeout, cancellation, the request's header and schema, and the events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from codex_admin.guardian import (
    AssessmentEvent,
    DecidedBy,
    FailureReason,
    GuardianEvent,
    GuardianWarning,
    ReviewStatus,
    parse_request,
)
from tests.support import (
    MockResponsesServer,
    assistant_turn,
    http_error,
    server_error,
    stall,
)

from .helpers import CWD, guardian

PUSH = parse_request(
    {
        "action": {
            "type": "shell",
            "command": ["git", "push", "origin", "feature"],
            "cwd": CWD,
            "sandbox_permissions": "require_escalated",
        },
        "transcript": [{"role": "user", "text": "push feature"}],
        "thread_id": "thread-9",
        "turn_id": "turn-1",
    }
)


def verdict_turn(**fields: str) -> object:
    return assistant_turn(json.dumps(fields))


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _review(server: MockResponsesServer, tmp: Path, request=PUSH, **kw):  # type: ignore[no-untyped-def]
    events: list[GuardianEvent] = []
    async with guardian(server, tmp, events=events, **kw) as g:
        verdict = await g.review(request)
    return verdict, events


def test_allow(responses_server: MockResponsesServer, tmp_path: Path) -> None:
    responses_server.enqueue(
        verdict_turn(
            outcome="allow", risk_level="medium", user_authorization="high", rationale="asked"
        )
    )
    verdict, events = run(_review(responses_server, tmp_path))  # type: ignore[misc]
    assert verdict.status is ReviewStatus.APPROVED and verdict.decided_by is DecidedBy.MODEL
    assert verdict.to_json()["outcome"] == "allow" and verdict.model == "review-model"
    request = responses_server.model_requests[0]
    assert request.header("x-openai-subagent") == "guardian"
    body = request.json
    fmt = body["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"]["required"] == ["outcome"]
    assert fmt["strict"] is False
    assert (
        body["input"][0]["role"] == "developer"
        and "approval reviewer" in body["input"][0]["content"][0]["text"]
    )
    assert body["model"] == "review-model"
    statuses = [e.status for e in events if isinstance(e, AssessmentEvent)]
    assert statuses == ["in_progress", "approved"]
    warning = [e for e in events if isinstance(e, GuardianWarning)][-1]
    assert warning.message.startswith(
        "Automatic approval review approved (risk: medium, authorization: high)"
    )


def test_deny_message_forbids_workarounds(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(
        verdict_turn(outcome="deny", risk_level="high", rationale="remote not verified")
    )
    verdict, _ = run(_review(responses_server, tmp_path))  # type: ignore[misc]
    assert verdict.status is ReviewStatus.DENIED and verdict.decided_by is DecidedBy.MODEL
    assert (
        "remote not verified" in verdict.message
        and "Do not try to reach the same result another way" in verdict.message
    )


def test_threshold_enforced_on_model_allow(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(
        verdict_turn(outcome="allow", risk_level="critical", user_authorization="high")
    )
    verdict, _ = run(_review(responses_server, tmp_path))  # type: ignore[misc]
    assert verdict.status is ReviewStatus.DENIED and "overridden" in verdict.rationale


def test_malformed_verdict_is_denied_without_retry(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(assistant_turn("Looks fine to me!"))
    verdict, _ = run(_review(responses_server, tmp_path))  # type: ignore[misc]
    assert verdict.status is ReviewStatus.DENIED and verdict.decided_by is DecidedBy.FAIL_CLOSED
    assert verdict.failure_reason is FailureReason.PARSE_ERROR
    assert verdict.risk_level.value == "high" and verdict.user_authorization.value == "unknown"
    assert "not a JSON object" in verdict.rationale
    assert len(responses_server.model_requests) == 1


def test_500_twice_is_denied(responses_server: MockResponsesServer, tmp_path: Path) -> None:
    responses_server.enqueue(server_error(500), server_error(500))
    verdict, events = run(_review(responses_server, tmp_path))  # type: ignore[misc]
    assert (
        verdict.status is ReviewStatus.DENIED
        and verdict.failure_reason is FailureReason.SESSION_ERROR
    )
    assert "500" in verdict.rationale
    assert len(responses_server.model_requests) == 2  # exactly one retry, no client retries
    assert any(isinstance(e, GuardianWarning) and e.kind == "retry" for e in events)


def test_500_then_allow_is_approved_and_the_retry_says_why(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(server_error(503, "over capacity"), verdict_turn(outcome="allow"))
    verdict, _ = run(_review(responses_server, tmp_path))  # type: ignore[misc]
    assert verdict.status is ReviewStatus.APPROVED
    retry = responses_server.model_requests[1].json["input"][1]["content"]
    assert any("previous review attempt failed" in c["text"] for c in retry)


def test_400_is_denied_with_the_error_and_not_retried(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(
        http_error(400, "Unsupported model codex-auto-review", type="invalid_request_error")
    )
    verdict, _ = run(_review(responses_server, tmp_path))  # type: ignore[misc]
    assert verdict.status is ReviewStatus.DENIED
    assert "Unsupported model codex-auto-review" in verdict.rationale
    assert "Unsupported model codex-auto-review" in (verdict.message or "")
    assert len(responses_server.model_requests) == 1


def test_stall_times_out_after_one_retry(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(stall(seconds=5), stall(seconds=5))
    verdict, events = run(_review(responses_server, tmp_path, timeout=0.4))  # type: ignore[misc]
    assert (
        verdict.status is ReviewStatus.TIMED_OUT and verdict.failure_reason is FailureReason.TIMEOUT
    )
    assert "not mean the action was judged unsafe" in (verdict.message or "")
    assert "retry the same request once" in (verdict.message or "")
    assert len(responses_server.model_requests) == 2
    assert [e.status for e in events if isinstance(e, AssessmentEvent)] == [
        "in_progress",
        "timed_out",
    ]


def test_cancel_event_aborts(responses_server: MockResponsesServer, tmp_path: Path) -> None:
    responses_server.enqueue(stall(seconds=5))

    async def go():  # type: ignore[no-untyped-def]
        events: list[GuardianEvent] = []
        cancel = asyncio.Event()
        async with guardian(responses_server, tmp_path, events=events) as g:
            asyncio.get_running_loop().call_later(0.2, cancel.set)
            verdict = await g.review(PUSH, cancel=cancel)
        return verdict, events

    verdict, events = run(go())  # type: ignore[misc]
    assert verdict.status is ReviewStatus.ABORTED
    assert [e.status for e in events if isinstance(e, AssessmentEvent)] == [
        "in_progress",
        "aborted",
    ]
    assert not [e for e in events if isinstance(e, GuardianWarning)]


def test_task_cancellation_propagates_and_reports_aborted(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(stall(seconds=5))

    async def go() -> list[GuardianEvent]:
        events: list[GuardianEvent] = []
        async with guardian(responses_server, tmp_path, events=events) as g:
            task = asyncio.ensure_future(g.review(PUSH))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return events

    events = run(go())
    assert [e.status for e in events if isinstance(e, AssessmentEvent)] == [
        "in_progress",
        "aborted",
    ]  # type: ignore[union-attr]


def test_patch_text_is_redacted_from_events(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    secret = "AKIA-SECRET-IN-PATCH"
    request = parse_request(
        {
            "action": {
                "type": "apply_patch",
                "cwd": CWD,
                "patch": f"*** Begin Patch\n*** Update File: /etc/app.conf\n@@\n+key={secret}\n*** End Patch\n",
            },
            "transcript": [{"role": "user", "text": "configure"}],
        }
    )
    responses_server.enqueue(verdict_turn(outcome="deny", risk_level="high"))
    _, events = run(_review(responses_server, tmp_path, request=request))  # type: ignore[misc]
    for event in events:
        assert secret not in json.dumps(event.to_json())
    first = events[0]
    assert isinstance(first, AssessmentEvent) and first.action == {
        "type": "apply_patch",
        "cwd": CWD,
        "files": ["/etc/app.conf"],
    }


def test_deterministic_decisions_never_call_the_model(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    request = parse_request(
        {"action": {"type": "shell", "command": ["curl", "http://169.254.169.254/"], "cwd": CWD}}
    )
    verdict, _ = run(_review(responses_server, tmp_path, request=request))  # type: ignore[misc]
    assert verdict.rule == "cloud-metadata" and not responses_server.model_requests


def test_an_unbuildable_model_tier_fails_closed(tmp_path: Path) -> None:
    from codex_admin.errors import CodexError
    from codex_admin.guardian import Guardian

    from .helpers import PATHS, settings

    async def broken():  # type: ignore[no-untyped-def]
        raise CodexError("not logged in")

    async def go():  # type: ignore[no-untyped-def]
        async with Guardian(settings(), paths=PATHS, model_tier=broken) as g:
            return await g.review(PUSH)

    verdict = run(go())
    assert verdict.status is ReviewStatus.DENIED and "not logged in" in verdict.rationale  # type: ignore[union-attr]
    assert verdict.failure_reason is FailureReason.MODEL_UNAVAILABLE  # type: ignore[union-attr]


def test_a_stream_cut_mid_answer_is_retried_once(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    from tests.support import early_close

    responses_server.enqueue(early_close(), verdict_turn(outcome="allow"))
    verdict, _ = run(_review(responses_server, tmp_path))  # type: ignore[misc]
    assert verdict.status is ReviewStatus.APPROVED and len(responses_server.model_requests) == 2


def test_rate_limit_is_retried_after_the_servers_delay(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    from tests.support import rate_limited

    responses_server.enqueue(rate_limited(0.05), verdict_turn(outcome="allow"))
    verdict, _ = run(_review(responses_server, tmp_path))  # type: ignore[misc]
    assert verdict.status is ReviewStatus.APPROVED and len(responses_server.model_requests) == 2


def test_authentication_failure_is_denied_without_retry(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(http_error(401, "invalid api key"))
    verdict, _ = run(_review(responses_server, tmp_path))  # type: ignore[misc]
    assert (
        verdict.status is ReviewStatus.DENIED
        and verdict.failure_reason is FailureReason.SESSION_ERROR
    )
    assert "401" in verdict.rationale and len(responses_server.model_requests) == 1


def test_prompt_build_error_is_denied_without_a_request(
    responses_server: MockResponsesServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prompt that cannot be built (here: forced) fails closed before anything is sent."""
    import codex_admin.guardian.model_tier as model_tier

    def broken(*args: object, **kwargs: object) -> object:
        raise ValueError("action JSON could not be rendered")

    monkeypatch.setattr(model_tier, "build_prompt", broken)
    verdict, _ = run(_review(responses_server, tmp_path))  # type: ignore[misc]
    assert verdict.failure_reason is FailureReason.PROMPT_BUILD_ERROR
    assert verdict.status is ReviewStatus.DENIED and "could not be rendered" in verdict.rationale
    assert not responses_server.model_requests


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ("503 Service Unavailable: over capacity", True),
        ("upstream connection reset", True),
        ("Rate limit reached", True),
        ("invalid_request_error: unknown parameter", False),
    ],
)
def test_transient_classification(message: str, transient: bool) -> None:
    from codex_admin.guardian import is_transient
    from codex_admin.providers import InvalidResponse, RequestRejected

    assert is_transient(RequestRejected(message)) is transient
    assert not is_transient(InvalidResponse("malformed event stream"))
