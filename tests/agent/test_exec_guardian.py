"""`codex exec -a on-request` with the guardian auto-reviewer, end to end.

One mock Responses server plays both the agent and the reviewer (the reviewer's requests carry
``x-openai-subagent: guardian``); the escalated command really runs (or not) on this machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codex_admin.sandbox import bwrap_status
from tests.agent.conftest import Workspace
from tests.support import assistant_turn, function_call_turn, server_error, stall

AUTO = ["-a", "on-request", "-c", 'approvals_reviewer="auto_review"']


@pytest.fixture(autouse=True)
def _needs_bwrap() -> None:
    if not bwrap_status().usable:
        pytest.skip(f"bubblewrap unusable on this machine: {bwrap_status().error}")


def escalated(target: Path) -> Any:
    """A command the deterministic tier cannot decide: the model tier is asked."""
    return function_call_turn(
        "shell",
        {
            "command": ["bash", "-c", f"echo deployed > {target}"],
            "sandbox_permissions": "require_escalated",
            "justification": "write the deploy marker the user asked for",
        },
    )


def verdict(**fields: Any) -> Any:
    return assistant_turn(json.dumps(fields))


def _reviews(workspace: Workspace) -> list[Any]:
    return [r for r in workspace.server.requests if r.header("x-openai-subagent") == "guardian"]


def _final_output(workspace: Workspace) -> str:
    body = workspace.server.requests[-1].json
    outputs = [i["output"] for i in body["input"] if i.get("type") == "function_call_output"]
    return str(outputs[-1])


def test_allow_runs_the_escalated_command(workspace: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "outside" / "marker"
    target.parent.mkdir()
    workspace.server.enqueue(
        escalated(target),
        verdict(outcome="allow", risk_level="low", rationale="the user asked for it"),
        assistant_turn("done"),
    )
    run = workspace.exec([*AUTO, "--json", "-s", "workspace-write", "deploy please"])
    assert run.returncode == 0, run.stderr
    assert target.read_text() == "deployed\n"
    [review] = _reviews(workspace)
    fmt = review.json["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"]["required"] == ["outcome"]
    prompt = json.dumps(review.json["input"])
    assert "TRANSCRIPT START" in prompt and "deploy please" in prompt
    assert "require_escalated" in prompt


def test_deny_keeps_it_from_running(workspace: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "marker"
    workspace.server.enqueue(
        escalated(target),
        verdict(
            outcome="deny",
            risk_level="high",
            user_authorization="unknown",
            rationale="not authorised",
        ),
        assistant_turn("ok"),
    )
    run = workspace.exec([*AUTO, "--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert not target.exists()
    assert run.items("command_execution")[0]["status"] == "declined"
    output = _final_output(workspace)
    assert "not authorised" in output and "unacceptable risk" in output


def test_a_malformed_verdict_is_a_denial(workspace: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "marker"
    workspace.server.enqueue(
        escalated(target), assistant_turn("sure, go ahead!"), assistant_turn("ok")
    )
    run = workspace.exec([*AUTO, "--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert not target.exists()
    assert "review failed" in _final_output(workspace).lower()


def test_reviewer_500_twice_is_a_denial(workspace: Workspace, tmp_path: Path) -> None:
    workspace.config(
        model_providers={
            "mock": workspace.server.provider_config(env_key="MOCK_API_KEY", request_max_retries=0)
        }
    )
    target = tmp_path / "marker"
    workspace.server.enqueue(
        escalated(target), server_error(500), server_error(500), assistant_turn("ok")
    )
    run = workspace.exec([*AUTO, "--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert not target.exists()
    assert len(_reviews(workspace)) == 2  # exactly one retry for a transient error


def test_a_stalled_reviewer_times_out_and_the_agent_may_retry(
    workspace: Workspace, tmp_path: Path
) -> None:
    workspace.config(
        model_providers={"mock": workspace.server.provider_config(env_key="MOCK_API_KEY")},
        auto_review={"timeout_seconds": 1},
    )
    target = tmp_path / "marker"
    workspace.server.enqueue(
        escalated(target), stall(seconds=5), stall(seconds=5), assistant_turn("ok")
    )
    run = workspace.exec([*AUTO, "--json", "-s", "workspace-write", "x"], timeout=90)
    assert run.returncode == 0, run.stderr
    assert not target.exists()
    output = _final_output(workspace).lower()
    assert (
        "did not finish within 1 seconds" in output
        and "not mean the action was judged unsafe" in output
    )
    assert "retry" in output


def test_without_auto_review_exec_stays_never(workspace: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "marker"
    workspace.server.enqueue(escalated(target), assistant_turn("ok"))
    run = workspace.exec(["-a", "on-request", "--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert not target.exists()
    assert any("approval policy in force is never" in i["message"] for i in run.items("error"))
    assert _reviews(workspace) == []
