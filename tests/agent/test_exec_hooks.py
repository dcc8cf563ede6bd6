"""Lifecycle hooks through `codex exec`: managed hooks that block, add context, continue a turn.

Hooks are real shell scripts in requirements (managed: always trusted) or in $CODEX_HOME
(user: must be trusted first); the model is the mock Responses server.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from codex_admin.sandbox import bwrap_status
from tests.agent.conftest import Workspace
from tests.support import assistant_turn, custom_tool_call_turn, function_call_turn


@pytest.fixture(autouse=True)
def _needs_bwrap() -> None:
    if not bwrap_status().usable:
        pytest.skip(f"bubblewrap unusable on this machine: {bwrap_status().error}")


def managed_hooks(workspace: Workspace, toml: str) -> None:
    (workspace.system / "requirements.toml").write_text(toml)


def hook(event: str, command: str, matcher: str | None = None) -> str:
    head = f"[[hooks.{event}]]\n" + (f'matcher = "{matcher}"\n' if matcher else "")
    return head + f'[[hooks.{event}.hooks]]\ntype = "command"\ncommand = {json.dumps(command)}\n'


def emit(obj: Any) -> str:
    return f"cat >/dev/null; printf '%s' {shlex.quote(json.dumps(obj))}"


def outputs(workspace: Workspace) -> list[str]:
    body = workspace.server.requests[-1].json
    return [
        str(i["output"])
        for i in body["input"]
        if i.get("type") in ("function_call_output", "custom_tool_call_output")
    ]


def shell(script: str) -> Any:
    return function_call_turn("shell", {"command": ["bash", "-c", script]})


def test_a_managed_pre_tool_use_hook_blocks_and_its_stderr_reaches_the_model(
    workspace: Workspace,
) -> None:
    blocker = "cat >/dev/null; echo 'rm is not allowed here (policy DEV-7)' >&2; exit 2"
    managed_hooks(workspace, hook("PreToolUse", blocker, "Bash"))
    (workspace.root / "keep.txt").write_text("keep")
    workspace.server.enqueue(shell("rm keep.txt"), assistant_turn("ok"))
    run = workspace.exec(["--json", "-s", "workspace-write", "clean up"])
    assert run.returncode == 0, run.stderr
    assert (workspace.root / "keep.txt").exists()
    assert run.items("command_execution") == []
    [output] = outputs(workspace)
    assert "rm is not allowed here (policy DEV-7)" in output


def test_pre_tool_use_fires_for_apply_patch_with_claude_matchers(workspace: Workspace) -> None:
    managed_hooks(
        workspace,
        hook("PreToolUse", emit({"decision": "block", "reason": "no edits"}), "Write|Edit"),
    )
    patch = "*** Begin Patch\n*** Add File: new.txt\n+x\n*** End Patch\n"
    workspace.server.enqueue(custom_tool_call_turn("apply_patch", patch), assistant_turn("ok"))
    run = workspace.exec(["--json", "-s", "workspace-write", "edit"])
    assert run.returncode == 0, run.stderr
    assert not (workspace.root / "new.txt").exists()
    assert "no edits" in outputs(workspace)[0]


def test_post_tool_use_adds_context(workspace: Workspace) -> None:
    context = {
        "hookSpecificOutput": {
            "hookEventName": "PostToolUse",
            "additionalContext": "LINT: 2 warnings in app.py",
        }
    }
    managed_hooks(workspace, hook("PostToolUse", emit(context), "Bash"))
    workspace.server.enqueue(shell("echo built"), assistant_turn("ok"))
    run = workspace.exec(["--json", "-s", "workspace-write", "build"])
    assert run.returncode == 0, run.stderr
    [output] = outputs(workspace)
    assert "built" in output and "LINT: 2 warnings in app.py" in output


def test_a_stop_hook_continues_the_turn(workspace: Workspace, tmp_path: Path) -> None:
    flag = tmp_path / "continued-once"
    script = (
        f"cat >/dev/null; if [ -e {flag} ]; then exit 0; fi; touch {flag}; "
        'printf \'%s\' \'{"decision": "block", "reason": "run the tests before stopping"}\''
    )
    managed_hooks(workspace, hook("Stop", script))
    workspace.server.enqueue(assistant_turn("done early"), assistant_turn("tests pass, done"))
    run = workspace.exec(["--json", "fix it"])
    assert run.returncode == 0, run.stderr
    assert [m["text"] for m in run.items("agent_message")] == ["done early", "tests pass, done"]
    second = workspace.server.requests[1].json["input"]
    texts = [c.get("text", "") for i in second for c in i.get("content", [])]
    assert "run the tests before stopping" in texts[-2] or "run the tests before stopping" in (
        " ".join(texts)
    )
    assert run.events[-1]["type"] == "turn.completed"


def test_user_prompt_submit_blocks_a_prompt(workspace: Workspace) -> None:
    blocker = emit({"decision": "block", "reason": "prompts may not mention the prod database"})
    managed_hooks(workspace, hook("UserPromptSubmit", blocker))
    run = workspace.exec(["--json", "drop the prod database"])
    assert run.returncode == 1
    assert workspace.server.requests == []
    assert "prompts may not mention the prod database" in run.events[-1]["error"]["message"]


def test_an_untrusted_user_hook_is_reported_not_run(workspace: Workspace, tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    (workspace.home / "hooks.json").write_text(
        json.dumps(
            {
                "hooks": {
                    "PreToolUse": [
                        {
                            "matcher": "Bash",
                            "hooks": [{"type": "command", "command": f"touch {ran}"}],
                        }
                    ]
                }
            }
        )
    )
    workspace.server.enqueue(shell("true"), assistant_turn("ok"))
    run = workspace.exec(["--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    assert not ran.exists()
    errors = [i["message"] for i in run.items("error")]
    assert any("hook" in m.lower() and "trust" in m.lower() for m in errors), errors
