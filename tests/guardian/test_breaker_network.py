"""The circuit breaker and the network gate's session memory."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from codex_admin.guardian import (
    CircuitBreaker,
    DecidedBy,
    GuardianEvent,
    GuardianWarning,
    NetworkContext,
    NetworkGate,
    ReviewStatus,
    TranscriptEntry,
    parse_request,
)
from codex_admin.proxy import SessionDecider
from tests.support import MockResponsesServer, assistant_turn, stall

from .helpers import CWD, guardian


def test_three_consecutive_denials_trip() -> None:
    breaker = CircuitBreaker()
    assert not breaker.record("t", denied=True)
    assert not breaker.record("t", denied=True)
    assert breaker.record("t", denied=True)
    assert breaker.tripped("t") and not breaker.tripped("other")
    assert breaker.record("t", denied=False)  # stays tripped for the turn


def test_approvals_reset_the_run_but_not_the_window() -> None:
    breaker = CircuitBreaker()
    tripped = []
    for _ in range(4):
        tripped.append(breaker.record("t", denied=True))
        tripped.append(breaker.record("t", denied=True))
        tripped.append(breaker.record("t", denied=False))
    assert not any(tripped)  # 8 denials, never 3 in a row
    assert not breaker.record("t", denied=True)
    assert breaker.record("t", denied=True)  # the 10th denial of the last 50
    assert "10 denials" in breaker.reason("t")


def test_window_forgets_old_denials() -> None:
    breaker = CircuitBreaker()
    for _ in range(9):
        breaker.record("t", denied=True)
        breaker.record("t", denied=False)
    for _ in range(40):
        breaker.record("t", denied=False)
    assert not breaker.record("t", denied=True)


def _deny_request(turn: str = "turn-1") -> object:
    return parse_request(
        {"action": {"type": "shell", "command": ["rm", "-rf", "/"], "cwd": CWD}, "turn_id": turn}
    )


def test_guardian_interrupts_the_turn_and_warns(tmp_path: Path) -> None:
    events: list[GuardianEvent] = []

    async def go() -> list[bool]:
        async with guardian(None, tmp_path, events=events, offline=True) as g:
            return [(await g.review(_deny_request())).interrupt_turn for _ in range(4)]  # type: ignore[arg-type]

    assert asyncio.run(go()) == [False, False, True, True]
    assert (
        sum(1 for e in events if isinstance(e, GuardianWarning) and e.kind == "circuit_breaker")
        == 1
    )


def test_fail_closed_and_timeouts_do_not_count(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(*[stall(seconds=3) for _ in range(6)])
    pip = parse_request(
        {
            "action": {"type": "shell", "command": ["pip", "install", "x"], "cwd": CWD},
            "turn_id": "t",
        }
    )

    async def go() -> tuple[list[bool], list[str]]:
        async with guardian(None, tmp_path, offline=True) as offline:
            flags = [(await offline.review(pip)).interrupt_turn for _ in range(4)]
        async with guardian(responses_server, tmp_path, timeout=0.2) as online:
            statuses = []
            for _ in range(3):
                verdict = await online.review(pip)
                statuses.append(verdict.status.value)
                flags.append(verdict.interrupt_turn)
        return flags, statuses

    flags, statuses = asyncio.run(go())
    assert not any(flags) and statuses == ["timed_out"] * 3


def _verdict(outcome: str, **more: str) -> object:
    return assistant_turn(json.dumps({"outcome": outcome, **more}))


def test_network_approval_is_remembered_per_host_and_port(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(_verdict("allow", risk_level="low"))
    context = NetworkContext(
        trigger=("pip", "install", "requests"),
        transcript=(TranscriptEntry("user", "install requests"),),
    )

    async def go():  # type: ignore[no-untyped-def]
        async with guardian(responses_server, tmp_path) as g:
            gate = NetworkGate(g)
            first = await gate.decide("PyPI.org", 443, "https", context=context)
            again = await gate.decide("pypi.org", 443, "https", context=context)
            return first, again

    first, again = asyncio.run(go())
    assert first.allowed and first.source == "review"
    assert again.allowed and again.source == "session_allow"
    assert len(responses_server.model_requests) == 1
    sent = json.dumps(responses_server.model_requests[0].json["input"])
    assert "triggering command" in sent and "pip" in sent


def test_network_denial_blocks_the_host_on_every_port(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(_verdict("deny", risk_level="high"))

    async def go():  # type: ignore[no-untyped-def]
        async with guardian(responses_server, tmp_path) as g:
            gate = NetworkGate(g)
            decide = gate.decider(lambda: NetworkContext(turn_id="t"))
            return await decide("paste.example.net", 443, "https"), await decide(
                "paste.example.net", 80, "http"
            )

    first, second = asyncio.run(go())
    assert first[0] == "deny" and second == (
        "deny",
        "paste.example.net was denied earlier in this session",
    )
    assert len(responses_server.model_requests) == 1


def test_deny_lists_are_never_reviewable(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    async def go():  # type: ignore[no-untyped-def]
        events: list[GuardianEvent] = []
        async with guardian(responses_server, tmp_path, events=events) as g:
            gate = NetworkGate(g)
            out = [
                await gate.decide("evil.example", 443, "https", blocked_by=b)
                for b in ("denied", "managed_denied", "not_allowed_local")
            ]
        return out, events

    decisions, events = asyncio.run(go())
    assert all(not d.allowed and d.source == "not_reviewable" for d in decisions)
    assert not responses_server.model_requests and not events


def test_concurrent_misses_share_one_review(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(_verdict("allow"))

    async def go():  # type: ignore[no-untyped-def]
        async with guardian(responses_server, tmp_path) as g:
            gate = NetworkGate(g)
            return await asyncio.gather(
                *[gate.decide("files.example.com", 443, "https") for _ in range(5)]
            )

    results = asyncio.run(go())
    assert all(r.allowed for r in results)
    assert len(responses_server.model_requests) == 1


def test_a_timed_out_network_review_is_not_remembered(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(stall(seconds=3), stall(seconds=3), _verdict("allow"))

    async def go():  # type: ignore[no-untyped-def]
        async with guardian(responses_server, tmp_path, timeout=0.2) as g:
            gate = NetworkGate(g)
            first = await gate.decide("slow.example.com", 443, "https")
            second = await gate.decide("slow.example.com", 443, "https")
            return first, second

    first, second = asyncio.run(go())
    assert (
        not first.allowed
        and first.verdict is not None
        and first.verdict.status is ReviewStatus.TIMED_OUT
    )
    assert second.allowed and second.source == "review"


def test_a_failed_network_review_is_not_remembered_by_the_gate_or_the_proxy(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    """A reviewer that answers garbage fails closed for that connection only: the host is not
    blocked for the rest of the session, in the gate or in the proxy's session memory."""
    responses_server.enqueue(assistant_turn("not a verdict"), _verdict("allow", risk_level="low"))

    async def go():  # type: ignore[no-untyped-def]
        async with guardian(responses_server, tmp_path) as g:
            gate = NetworkGate(g)
            decide = SessionDecider(gate.decider(lambda: NetworkContext(turn_id="t")))
            first = await decide("files.example.com", 443, "https_connect")
            second = await decide("files.example.com", 443, "https_connect")
            third = await decide("files.example.com", 443, "https_connect")
            return first, second, third, decide.approved

    first, second, third, approved = asyncio.run(go())
    assert first[0] == "deny" and "earlier in this session" not in first[1]
    assert second[0] == "allow" and third[0] == "allow"
    assert approved == frozenset({"files.example.com"})
    assert len(responses_server.model_requests) == 2


def test_a_failed_review_is_marked_as_nobody_judging(
    responses_server: MockResponsesServer, tmp_path: Path
) -> None:
    responses_server.enqueue(assistant_turn("{}"))

    async def go():  # type: ignore[no-untyped-def]
        async with guardian(responses_server, tmp_path) as g:
            return await NetworkGate(g).decide("files.example.com", 443, "https")

    decision = asyncio.run(go())
    assert not decision.allowed and decision.source == "fail_closed" and not decision.judged
    assert decision.verdict is not None and decision.verdict.decided_by is DecidedBy.FAIL_CLOSED
