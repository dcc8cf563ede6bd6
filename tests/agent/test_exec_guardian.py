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
from tests.support import (
    MockResponsesServer,
    assistant_turn,
    function_call_turn,
    server_error,
    stall,
)

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


# ------------------------------------------------------------------ warnings the user sees


def _warnings(run: Any) -> list[str]:
    return [str(i["message"]) for i in run.items("error")]


def test_the_review_decision_is_shown_as_a_warning_item(
    workspace: Workspace, tmp_path: Path
) -> None:
    workspace.server.enqueue(
        escalated(tmp_path / "marker"),
        verdict(outcome="deny", risk_level="high", rationale="DENY-MARKER not authorised"),
        assistant_turn("ok"),
    )
    run = workspace.exec([*AUTO, "--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert any(
        w.startswith("Automatic approval review denied (risk: high, authorization: unknown)")
        and "DENY-MARKER" in w
        for w in _warnings(run)
    ), _warnings(run)


def test_the_circuit_breaker_is_shown_and_ends_the_turn(
    workspace: Workspace, tmp_path: Path
) -> None:
    deny = verdict(outcome="deny", risk_level="high", rationale="no")
    workspace.server.enqueue(
        *[turn for i in range(3) for turn in (escalated(tmp_path / f"m{i}"), deny)],
        assistant_turn("never reached"),
    )
    run = workspace.exec([*AUTO, "--json", "-s", "workspace-write", "x"])
    assert any("denied too many actions in this turn" in w for w in _warnings(run)), run.stdout
    assert not any((tmp_path / f"m{i}").exists() for i in range(3))
    assert len(_reviews(workspace)) == 3


def test_ignored_local_guardian_policy_is_shown(workspace: Workspace, tmp_path: Path) -> None:
    (workspace.system / "requirements.toml").write_text(
        'guardian_policy_config = "Only the platform team deploys."\n'
    )
    workspace.config(auto_review={"policy": "approve everything"})
    workspace.server.enqueue(assistant_turn("ok"))
    run = workspace.exec([*AUTO, "--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert any(
        w.startswith("guardian: [auto_review] policy from") and "managed policy wins" in w
        for w in _warnings(run)
    ), _warnings(run)


def test_a_warning_with_terminal_escapes_is_made_visible_in_human_mode(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The decision line carries the reviewer's rationale (model text) to the terminal."""
    workspace.server.enqueue(
        escalated(tmp_path / "marker"),
        verdict(outcome="deny", risk_level="high", rationale="no \x1b]52;c;cHduZWQ=\x07 way"),
        assistant_turn("ok"),
    )
    run = workspace.exec([*AUTO, "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert "warning: Automatic approval review denied" in run.stderr
    assert "\x1b]52" not in run.stderr and "\\x1b]52" in run.stderr


# -------------------------------------------------------------- allow_guardian_fail_open

FAIL_OPEN = "allow_guardian_fail_open = true\n"


def _no_retries(workspace: Workspace, **extra: Any) -> None:
    workspace.config(
        model_providers={
            "mock": workspace.server.provider_config(env_key="MOCK_API_KEY", request_max_retries=0)
        },
        **extra,
    )


def test_fail_open_runs_the_command_after_a_failed_review_and_says_so(
    workspace: Workspace, tmp_path: Path
) -> None:
    from tests.support.otlp_receiver import OtlpReceiver
    from tests.telemetry.conftest import otel_table

    (workspace.system / "requirements.toml").write_text(FAIL_OPEN)
    target = tmp_path / "outside" / "marker"
    target.parent.mkdir()
    with OtlpReceiver() as rx:
        workspace.config(otel=otel_table(rx, "grpc"))
        workspace.server.enqueue(
            escalated(target), assistant_turn("sure, go ahead!"), assistant_turn("done")
        )
        run = workspace.exec([*AUTO, "--json", "-s", "workspace-write", "deploy"])
    assert run.returncode == 0, run.stderr
    assert target.read_text() == "deployed\n"
    [warning] = [w for w in _warnings(run) if "WITHOUT review" in w]
    assert warning.startswith("Automatic approval review failed (parse_error:")
    assert str(workspace.system / "requirements.toml") in warning
    [review] = rx.logs_named("codex.guardian.review")
    attributes = review.attributes
    assert attributes["terminal_status"] == "failed_open"
    assert attributes["guardian.decided_by"] == "fail_open"
    assert attributes["decision"] == "approved" and attributes["failure_reason"] == "parse_error"
    assert rx.metric_total("codex.guardian.review", decided_by="fail_open") == 1


def test_fail_open_in_human_mode_warns_on_stderr(workspace: Workspace, tmp_path: Path) -> None:
    (workspace.system / "requirements.toml").write_text(FAIL_OPEN)
    _no_retries(workspace)
    target = tmp_path / "marker"
    workspace.server.enqueue(
        escalated(target), server_error(500), server_error(500), assistant_turn("done")
    )
    run = workspace.exec([*AUTO, "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert target.exists()
    assert "warning: Automatic approval review failed (session_error:" in run.stderr
    assert "WITHOUT review" in run.stderr and run.stdout.strip() == "done"


def test_fail_open_never_turns_a_model_deny_into_an_allow(
    workspace: Workspace, tmp_path: Path
) -> None:
    (workspace.system / "requirements.toml").write_text(FAIL_OPEN)
    target = tmp_path / "marker"
    workspace.server.enqueue(
        escalated(target),
        verdict(outcome="deny", risk_level="high", rationale="not authorised"),
        assistant_turn("ok"),
    )
    run = workspace.exec([*AUTO, "--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert not target.exists()
    assert not any("WITHOUT review" in w for w in _warnings(run))
    assert "unacceptable risk" in _final_output(workspace)


def test_only_requirements_can_make_a_failed_review_pass(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The user's config, a `-c` flag and the environment all say fail open: still closed."""
    _no_retries(workspace, allow_guardian_fail_open=True)
    project = workspace.root / ".codex"
    project.mkdir()
    (project / "config.toml").write_text(FAIL_OPEN)
    target = tmp_path / "marker"
    workspace.server.enqueue(escalated(target), assistant_turn("sure!"), assistant_turn("ok"))
    run = workspace.exec(
        [*AUTO, "-c", "allow_guardian_fail_open=true", "--json", "-s", "workspace-write", "x"],
        env={"CODEX_ALLOW_GUARDIAN_FAIL_OPEN": "1", "ALLOW_GUARDIAN_FAIL_OPEN": "true"},
    )
    assert run.returncode == 0, run.stderr
    assert not target.exists()
    assert "review failed" in _final_output(workspace).lower()
    warnings = _warnings(run)
    assert not any("WITHOUT review" in w for w in warnings)
    assert any("allow_guardian_fail_open" in w and "requirements field" in w for w in warnings)


def test_the_reviewer_goes_through_the_system_proxy_with_the_agent(
    workspace: Workspace, tmp_path: Path
) -> None:
    """``features.respect_system_proxy = true``: the guardian's review request takes the same
    way as the agent's (``HTTP_PROXY``), not straight to the provider. The "proxy" is a second
    mock server that answers both."""
    target = tmp_path / "outside" / "marker"
    target.parent.mkdir()
    workspace.config(features={"respect_system_proxy": True})
    with MockResponsesServer() as proxy:
        proxy.enqueue(
            escalated(target),
            verdict(outcome="allow", risk_level="low", rationale="the user asked for it"),
            assistant_turn("done"),
        )
        env = {"HTTP_PROXY": proxy.origin, "http_proxy": proxy.origin}
        env |= {"NO_PROXY": "", "no_proxy": ""}
        run = workspace.exec([*AUTO, "--json", "-s", "workspace-write", "deploy"], env=env)
        assert run.returncode == 0, run.stderr
        assert target.read_text() == "deployed\n"
        reviews = [r for r in proxy.requests if r.header("x-openai-subagent") == "guardian"]
        assert len(reviews) == 1 and len(proxy.model_requests) == 3
        assert workspace.server.requests == []
        assert not proxy.errors, proxy.errors
