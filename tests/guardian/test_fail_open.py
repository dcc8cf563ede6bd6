"""`allow_guardian_fail_open`: only a review that *failed* is approved, recorded and warned about.

Every failure class against the real mock Responses server (or a model tier that cannot be
built), and the decisions fail-open must never touch: a rule's deny, the model's deny, the
thresholds' override, an abort, `--offline`, the circuit breaker. Where the setting may come
from (requirements only) is tested in ``test_fail_open_sources.py``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from codex_admin.errors import CodexError
from codex_admin.guardian import (
    AssessmentEvent,
    DecidedBy,
    FailureReason,
    Guardian,
    GuardianEvent,
    GuardianWarning,
    NetworkContext,
    NetworkGate,
    ReviewStatus,
    Verdict,
    parse_request,
)
from codex_admin.proxy import SessionDecider
from tests.support import MockResponsesServer, assistant_turn, http_error, server_error, stall

from .helpers import CWD, PATHS, guardian, settings

PIP = parse_request(
    {
        "action": {
            "type": "shell",
            "command": ["pip", "install", "x"],
            "cwd": CWD,
            "sandbox_permissions": "require_escalated",
        },
        "transcript": [{"role": "user", "text": "install x"}],
        "turn_id": "turn-1",
    }
)
METADATA = parse_request(
    {
        "action": {"type": "shell", "command": ["curl", "http://169.254.169.254/"], "cwd": CWD},
        "turn_id": "turn-1",
    }
)


def _verdict(**fields: str) -> Any:
    return assistant_turn(json.dumps(fields))


def _review(
    server: MockResponsesServer | None, tmp: Path, request: Any = PIP, **kw: Any
) -> tuple[Verdict, list[GuardianEvent]]:
    events: list[GuardianEvent] = []

    async def go() -> Verdict:
        async with guardian(server, tmp, events=events, **kw) as g:
            return await g.review(request)

    return asyncio.run(go()), events


def _warnings(events: list[GuardianEvent], kind: str | None = None) -> list[GuardianWarning]:
    return [e for e in events if isinstance(e, GuardianWarning) and kind in (None, e.kind)]


def _terminal(events: list[GuardianEvent]) -> AssessmentEvent:
    [event] = [e for e in events if isinstance(e, AssessmentEvent) and e.status != "in_progress"]
    return event


def _assert_failed_open(
    verdict: Verdict, events: list[GuardianEvent], reason: FailureReason, error: str
) -> None:
    assert verdict.status is ReviewStatus.APPROVED and verdict.approved
    assert verdict.outcome.value == "allow" and verdict.message is None
    assert verdict.decided_by is DecidedBy.FAIL_OPEN and verdict.failure_reason is reason
    # Nothing was assessed: the verdict does not pretend the action is low risk.
    assert verdict.risk_level.value == "high" and verdict.user_authorization.value == "unknown"
    assert error in verdict.rationale and "allow_guardian_fail_open" in verdict.rationale
    assert verdict.to_json()["decided_by"] == "fail_open"
    terminal = _terminal(events)
    assert (terminal.status, terminal.decided_by, terminal.outcome) == (
        "approved",
        "fail_open",
        "allow",
    )
    assert terminal.failure_reason == reason.value
    [warning] = _warnings(events, "fail_open")
    assert "WITHOUT review" in warning.message and error in warning.message
    assert "requirements: /etc/codex/requirements.toml" in warning.message
    assert warning.turn_id == "turn-1"
    # One line for the user, not also a misleading "approved (risk: high ...)" decision line.
    assert not _warnings(events, "decision") and not _warnings(events, "timeout")


def test_a_malformed_verdict_fails_open(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(assistant_turn("Looks fine to me!"))
    verdict, events = _review(responses_server, tmp_path, fail_open=True)
    _assert_failed_open(verdict, events, FailureReason.PARSE_ERROR, "not a JSON object")
    assert len(responses_server.model_requests) == 1


def test_an_unknown_enum_value_fails_open(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(_verdict(outcome="allow", risk_level="extreme"))
    verdict, events = _review(responses_server, tmp_path, fail_open=True)
    _assert_failed_open(verdict, events, FailureReason.PARSE_ERROR, "extreme")


def test_500_twice_fails_open(responses_server: MockResponsesServer, tmp_path: Path) -> None:
    responses_server.enqueue(server_error(500), server_error(500))
    verdict, events = _review(responses_server, tmp_path, fail_open=True)
    _assert_failed_open(verdict, events, FailureReason.SESSION_ERROR, "500")
    assert len(responses_server.model_requests) == 2  # the single retry still happens first
    assert _warnings(events, "retry")


def test_a_400_fails_open(responses_server: MockResponsesServer, tmp_path: Path) -> None:
    responses_server.enqueue(http_error(400, "Unsupported model x", type="invalid_request_error"))
    verdict, events = _review(responses_server, tmp_path, fail_open=True)
    _assert_failed_open(verdict, events, FailureReason.SESSION_ERROR, "Unsupported model x")


def test_a_stalled_reviewer_fails_open(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(stall(seconds=5), stall(seconds=5))
    verdict, events = _review(responses_server, tmp_path, timeout=0.4, fail_open=True)
    _assert_failed_open(verdict, events, FailureReason.TIMEOUT, "0.4")
    assert len(responses_server.model_requests) == 2


def test_an_unbuildable_model_tier_fails_open(tmp_path: Path) -> None:
    async def broken() -> Any:
        raise CodexError("not logged in")

    events: list[GuardianEvent] = []

    async def go() -> Verdict:
        async with Guardian(
            settings(fail_open=True), paths=PATHS, model_tier=broken, on_event=events.append
        ) as g:
            return await g.review(PIP)

    verdict = asyncio.run(go())
    _assert_failed_open(verdict, events, FailureReason.MODEL_UNAVAILABLE, "not logged in")


def test_default_stays_fail_closed(responses_server: MockResponsesServer, tmp_path: Path) -> None:
    responses_server.enqueue(
        server_error(500), server_error(500), stall(seconds=5), stall(seconds=5)
    )
    verdict, events = _review(responses_server, tmp_path)
    assert verdict.status is ReviewStatus.DENIED and verdict.decided_by is DecidedBy.FAIL_CLOSED
    assert not _warnings(events, "fail_open")
    timed_out, events = _review(responses_server, tmp_path, timeout=0.3)
    assert timed_out.status is ReviewStatus.TIMED_OUT
    assert timed_out.decided_by is DecidedBy.FAIL_CLOSED and _warnings(events, "timeout")


@pytest.mark.parametrize(
    "answer",
    [
        {"outcome": "deny", "risk_level": "high", "rationale": "not authorised"},
        {"outcome": "deny"},
        # the model said allow, the thresholds overrode it: still a decision, not a failure
        {"outcome": "allow", "risk_level": "critical", "rationale": "fine"},
        {"outcome": "allow", "risk_level": "high", "user_authorization": "low"},
    ],
)
def test_a_model_deny_is_never_turned_into_an_allow(
    responses_server: MockResponsesServer, tmp_path: Path, answer: dict[str, str]
) -> None:
    responses_server.enqueue(_verdict(**answer))
    verdict, events = _review(responses_server, tmp_path, fail_open=True)
    assert verdict.status is ReviewStatus.DENIED and verdict.decided_by is DecidedBy.MODEL
    assert _terminal(events).decided_by == "model" and not _warnings(events, "fail_open")


def test_a_deterministic_deny_is_never_turned_into_an_allow(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    verdict, events = _review(responses_server, tmp_path, request=METADATA, fail_open=True)
    assert verdict.status is ReviewStatus.DENIED and verdict.decided_by is DecidedBy.DETERMINISTIC
    assert verdict.rule == "cloud-metadata" and not responses_server.model_requests
    assert not _warnings(events, "fail_open")


def test_offline_stays_closed(tmp_path: Path) -> None:
    verdict, events = _review(None, tmp_path, offline=True, fail_open=True)
    assert verdict.status is ReviewStatus.DENIED and verdict.decided_by is DecidedBy.FAIL_CLOSED
    assert not _warnings(events, "fail_open")


def test_an_abort_stays_an_abort(responses_server: MockResponsesServer, tmp_path: Path) -> None:
    responses_server.enqueue(stall(seconds=5))

    async def go() -> Verdict:
        cancel = asyncio.Event()
        async with guardian(responses_server, tmp_path, fail_open=True) as g:
            asyncio.get_running_loop().call_later(0.2, cancel.set)
            return await g.review(PIP, cancel=cancel)

    verdict = asyncio.run(go())
    assert verdict.status is ReviewStatus.ABORTED and not verdict.approved


def test_the_breaker_still_interrupts_and_fail_open_does_not_reset_it(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    """deny, deny, (failure approved), deny: three consecutive real denials trip the turn; the
    failed-open review in between neither resets the count nor escapes a tripped turn."""
    deny = _verdict(outcome="deny", risk_level="high")
    responses_server.enqueue(
        deny, deny, server_error(400), deny, server_error(400), http_error(400, "bad")
    )
    events: list[GuardianEvent] = []

    async def go() -> list[Verdict]:
        async with guardian(responses_server, tmp_path, events=events, fail_open=True) as g:
            return [await g.review(PIP) for _ in range(5)]

    verdicts = asyncio.run(go())
    assert [v.decided_by.value for v in verdicts] == [
        "model",
        "model",
        "fail_open",
        "model",
        "fail_open",
    ]
    assert [v.interrupt_turn for v in verdicts] == [False, False, False, True, True]
    assert len(_warnings(events, "circuit_breaker")) == 1


def test_a_network_review_that_fails_open_passes_once_and_is_not_remembered(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(
        http_error(400, "bad"), http_error(400, "bad"), _verdict(outcome="deny", risk_level="high")
    )
    context = NetworkContext(trigger=("pip", "install", "x"))

    async def go() -> list[tuple[str, str]]:
        async with guardian(responses_server, tmp_path, fail_open=True) as g:
            gate = NetworkGate(g)
            proxy = SessionDecider(gate.decider(lambda: context))
            results = [await proxy("pypi.org", 443, "https") for _ in range(3)]
            assert proxy.approved == frozenset() and not gate.approved_hosts
            return results

    results = asyncio.run(go())
    assert [r[0] for r in results] == ["allow", "allow", "deny"]
    assert len(responses_server.model_requests) == 3  # every connection was reviewed again
