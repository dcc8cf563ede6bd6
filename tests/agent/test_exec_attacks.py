"""Attacks on `codex exec` by a model (a prompt injection) or a hostile repository, end to end.

Each test is the attack as a model would run it: scripted turns from the mock Responses server,
the real CLI as a process, real bubblewrap. The file a test checks for lives where the sandbox
cannot write ($CODEX_HOME), so finding it proves the governance was bypassed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from codex_admin.sandbox import bwrap_status
from tests.agent.conftest import Workspace
from tests.support import assistant_turn, function_call_turn


@pytest.fixture(autouse=True)
def _needs_bwrap() -> None:
    status = bwrap_status()
    if not status.usable:
        pytest.skip(f"bubblewrap unusable on this machine: {status.error}")


def shell(argv: list[str], **extra: Any) -> Any:
    return function_call_turn("shell", {"command": argv, **extra})


def tool_outputs(workspace: Workspace) -> list[str]:
    body = workspace.server.requests[-1].json
    return [
        str(item["output"])
        for item in body["input"]
        if item.get("type") in ("function_call_output", "custom_tool_call_output")
    ]


def test_an_allowed_command_in_a_planted_workdir_stays_in_the_sandbox(
    workspace: Workspace, tmp_path: Path
) -> None:
    """`git status` is allowed (and so runs outside the sandbox), but the rules never see the
    `workdir` argument: in a repository the sandbox made under /tmp, core.fsmonitor would run
    the attacker's program on the host."""
    rules = workspace.home / "rules"
    rules.mkdir()
    shutil.copy(Path(__file__).parents[2] / "policies" / "git.rules", rules / "git.rules")
    marker = workspace.home / "pwned"
    evil = tmp_path / "evil-repo"
    setup = (
        f"mkdir -p {evil} && cd {evil} && git init -q && "
        f"git config core.fsmonitor 'touch {marker}; false' && echo planted"
    )
    workspace.server.enqueue(
        shell(["bash", "-c", setup]),
        shell(["git", "status"], workdir=str(evil)),
        shell(["git", "status"]),
        assistant_turn("done"),
    )
    run = workspace.exec(["--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    planted, elsewhere, here = run.items("command_execution")
    assert planted["aggregated_output"] == "planted\n"
    assert elsewhere["status"] == "completed"  # still allowed: it just ran in the sandbox
    assert here["status"] == "completed"
    assert not marker.exists()


def test_the_last_message_file_is_never_written_through_a_planted_symlink(
    workspace: Workspace,
) -> None:
    """`-o answer.txt` in the workspace: a sandboxed command replaces it with a symlink to a
    file the sandbox cannot write; codex (unsandboxed) must not write the model's text there."""
    victim = workspace.home / "config.toml"
    before = victim.read_text()
    (workspace.root / "answer.txt").write_text("old answer\n")
    workspace.server.enqueue(
        shell(["ln", "-sf", str(victim), "answer.txt"]),
        assistant_turn('sandbox_mode = "danger-full-access"'),
    )
    run = workspace.exec(["--json", "-s", "workspace-write", "-o", "answer.txt", "x"])
    assert run.returncode == 0, run.stderr
    assert run.items("command_execution")[0]["status"] == "completed"
    assert victim.read_text() == before
    answer = workspace.root / "answer.txt"
    assert not answer.is_symlink()
    assert answer.read_text() == 'sandbox_mode = "danger-full-access"'
    assert sorted(p.name for p in workspace.root.iterdir()) == [".git", "answer.txt"]


def test_a_last_message_file_in_a_missing_folder_fails_before_the_run(
    workspace: Workspace,
) -> None:
    run = workspace.exec(["--json", "-o", "no/such/answer.txt", "x"])
    assert run.returncode == 1
    assert "cannot write the last message to no/such/answer.txt" in run.stderr
    assert workspace.server.requests == []


def test_the_model_credential_never_reaches_commands_whatever_its_variable_is_called(
    workspace: Workspace,
) -> None:
    """`env_key = "LLM_GATEWAY_ACCESS"` matches none of the secret-name patterns: a prompt
    injection asking for `env` would read the key (and could send it anywhere)."""
    secret = "gw-live-0123456789abcdef0123456789"
    workspace.config(
        model_providers={
            "mock": workspace.server.provider_config(
                env_key="LLM_GATEWAY_ACCESS", env_http_headers={"x-tenant": "LLM_TENANT_ID"}
            )
        },
        shell_environment_policy={"ignore_default_excludes": True},
    )
    workspace.server.enqueue(shell(["env"]), assistant_turn("done"))
    run = workspace.exec(
        ["--json", "-s", "workspace-write", "x"],
        env={
            "LLM_GATEWAY_ACCESS": secret,
            "LLM_TENANT_ID": "tenant-7f3e9a",
            "DEPLOY_HEADER": f"Bearer {secret}",
        },
    )
    assert run.returncode == 0, run.stderr
    [item] = run.items("command_execution")
    output = item["aggregated_output"]
    assert "PATH=" in output
    assert secret not in output and "tenant-7f3e9a" not in output
    assert "LLM_GATEWAY_ACCESS" not in output and "DEPLOY_HEADER" not in output
    assert workspace.server.requests[0].header("authorization") == f"Bearer {secret}"
    assert secret not in tool_outputs(workspace)[0]
