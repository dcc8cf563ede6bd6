"""Every exit-code and output rule of spec §3.3-3.4, and the per-event folds, with real hooks."""

from __future__ import annotations

import json
import shlex

import pytest

from codex_admin.hooks import (
    HookBlockedError,
    PermissionDecision,
    RunStatus,
    ToolCall,
)
from tests.hooks.conftest import PY, Hooks, emit, group, run

BASH = ToolCall.shell("rm -rf ~", "call-1")
PATCH = ToolCall.apply_patch("*** Begin Patch\n*** End Patch\n", "call-2", files=["a.py"])


def deny(reason: str | None = "no") -> dict[str, object]:
    out: dict[str, object] = {"hookEventName": "PreToolUse", "permissionDecision": "deny"}
    if reason is not None:
        out["permissionDecisionReason"] = reason
    return {"hookSpecificOutput": out}


def rewrite(command: str, decision: str = "allow") -> dict[str, object]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": decision,
            "updatedInput": {"command": command},
        }
    }


def pre(hk: Hooks, *commands: str, matcher: str = "Bash", call: ToolCall = BASH):  # type: ignore[no-untyped-def]
    engine = hk.user_hooks({"PreToolUse": [group(c, matcher) for c in commands]})
    return run(engine.pre_tool_use(call, turn_id="turn-1"))


# --- PreToolUse ---------------------------------------------------------------------------


def test_json_deny_blocks_and_the_input_is_unreachable(hk: Hooks) -> None:
    outcome = pre(hk, emit(deny("destructive command")))
    assert outcome.blocked and outcome.reason == "destructive command"
    assert outcome.runs[0].status is RunStatus.BLOCKED
    with pytest.raises(HookBlockedError) as info:
        outcome.tool_input()
    assert info.value.reason == "destructive command"
    assert outcome.to_json()["decision"] == "deny" and outcome.to_json()["tool_input"] is None


def test_deny_without_reason_is_still_enforced(hk: Hooks) -> None:
    outcome = pre(hk, emit(deny(None)))
    assert outcome.blocked and outcome.reason == "PreToolUse hook denied this tool call"


def test_exit_2_blocks_with_stderr(hk: Hooks) -> None:
    outcome = pre(hk, "cat >/dev/null; echo 'rm -rf is not allowed' >&2; exit 2")
    assert outcome.blocked and outcome.reason == "rm -rf is not allowed"


def test_exit_2_without_stderr_is_still_a_block(hk: Hooks) -> None:
    outcome = pre(hk, "exit 2")
    assert outcome.blocked and "without giving a reason" in (outcome.reason or "")
    assert any("wrote no reason" in w for w in outcome.warnings)


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ("echo oops >&2; exit 1", "hook exited with code 1: oops"),
        ("exit 7", "hook exited with code 7"),
        ("kill -TERM $$", "hook exited without a status code (signal 15)"),
        ("echo '{not json'", "invalid PreToolUse JSON output"),
        ("echo '[1, 2]'", "invalid PreToolUse JSON output"),
    ],
)
def test_failures_fail_open(hk: Hooks, command: str, error: str) -> None:
    outcome = pre(hk, command)
    assert not outcome.blocked and outcome.tool_input() == {"command": "rm -rf ~"}
    assert outcome.runs[0].status is RunStatus.FAILED
    assert any(error in e for e in outcome.errors), outcome.errors


@pytest.mark.timeout(30)
def test_timeout_fails_open(hk: Hooks) -> None:
    engine = hk.user_hooks({"PreToolUse": [group("sleep 20", "Bash", timeout=1)]})
    outcome = run(engine.pre_tool_use(BASH, turn_id="t"))
    assert not outcome.blocked
    assert outcome.errors == (f"{outcome.runs[0].hook.id}: hook timed out after 1s",)
    assert outcome.runs[0].timed_out  # telemetry's codex.hook.run outcome "timeout"


def test_plain_text_and_empty_stdout_are_ignored(hk: Hooks) -> None:
    outcome = pre(hk, "echo looks fine", "true")
    assert not outcome.blocked and outcome.additional_contexts == ()
    assert [r.status for r in outcome.runs] == [RunStatus.COMPLETED, RunStatus.COMPLETED]
    assert all(r.entries == () for r in outcome.runs)


def test_allow_with_updated_input_rewrites(hk: Hooks) -> None:
    outcome = pre(hk, emit(rewrite("rm -rf ./build")))
    assert outcome.rewritten and outcome.tool_input() == {"command": "rm -rf ./build"}


def test_allow_without_updated_input_grants_nothing(hk: Hooks) -> None:
    outcome = pre(hk, emit({"hookSpecificOutput": {"permissionDecision": "allow"}}))
    assert not outcome.blocked and not outcome.rewritten and not outcome.requires_approval
    assert any("cannot skip approvals" in w for w in outcome.warnings)


def test_ask_forces_the_approval_path(hk: Hooks) -> None:
    outcome = pre(
        hk,
        emit(
            {
                "hookSpecificOutput": {
                    "permissionDecision": "ask",
                    "permissionDecisionReason": "sure?",
                }
            }
        ),
    )
    assert outcome.requires_approval and outcome.approval_reason == "sure?" and not outcome.blocked
    assert outcome.to_json()["decision"] == "ask"


def test_deprecated_block_blocks_and_approve_grants_nothing(hk: Hooks) -> None:
    assert pre(hk, emit({"decision": "block", "reason": "legacy no"})).reason == "legacy no"
    outcome = pre(hk, emit({"decision": "approve"}))
    assert not outcome.blocked and outcome.runs[0].status is RunStatus.COMPLETED


@pytest.mark.parametrize(
    "output",
    [
        {"hookSpecificOutput": {"updatedInput": {"command": "x"}}},
        {"hookSpecificOutput": {"permissionDecision": "maybe"}},
        {"hookSpecificOutput": {"permissionDecision": "allow", "updatedInput": "x"}},
        {"continue": "no"},
        {"hookSpecificOutput": []},
    ],
)
def test_invalid_shapes_fail_open(hk: Hooks, output: object) -> None:
    outcome = pre(hk, emit(output))
    assert not outcome.blocked and not outcome.rewritten
    assert outcome.runs[0].status is RunStatus.FAILED


def test_context_and_system_message(hk: Hooks) -> None:
    outcome = pre(
        hk,
        emit(
            {
                "systemMessage": "checked by policy",
                "hookSpecificOutput": {"additionalContext": "prefer trash over rm"},
            }
        ),
    )
    assert outcome.additional_contexts == ("prefer trash over rm",)
    assert outcome.warnings == ("checked by policy",)


def test_continue_false_blocks_and_stops(hk: Hooks) -> None:
    outcome = pre(hk, emit({"continue": False, "stopReason": "halt"}))
    assert outcome.blocked and outcome.stop and outcome.stop_reason == "halt"


def test_any_deny_wins_over_rewrites(hk: Hooks) -> None:
    outcome = pre(hk, emit(rewrite("ls")), emit(deny("nope")), "true")
    assert outcome.blocked and not outcome.rewritten
    assert [r.status for r in outcome.runs] == [
        RunStatus.COMPLETED,
        RunStatus.BLOCKED,
        RunStatus.COMPLETED,
    ]
    with pytest.raises(HookBlockedError):
        outcome.tool_input()


def test_all_deny_reasons_are_joined(hk: Hooks) -> None:
    outcome = pre(hk, emit(deny("first")), "echo second >&2; exit 2")
    assert outcome.reason == "first\n\nsecond"


def test_last_finished_rewrite_wins_and_runs_keep_configured_order(hk: Hooks) -> None:
    slow = "sleep 0.6; " + emit(rewrite("echo slow"))
    fast = emit(rewrite("echo fast"))
    outcome = pre(hk, slow, fast)
    assert outcome.tool_input() == {"command": "echo slow"}
    assert [r.hook.command for r in outcome.runs] == [slow, fast]
    assert outcome.runs[0].completion_order > outcome.runs[1].completion_order


def test_stdin_payload_is_claude_compatible(hk: Hooks) -> None:
    out = hk.tmp / "stdin.json"
    outcome = pre(hk, f"cat > {out}")
    assert not outcome.blocked
    payload = json.loads(out.read_text())
    assert payload == {
        "session_id": "sess-1",
        "transcript_path": None,
        "cwd": str(hk.env.root),
        "hook_event_name": "PreToolUse",
        "model": "gpt-test",
        "permission_mode": "default",
        "turn_id": "turn-1",
        "tool_name": "Bash",
        "tool_input": {"command": "rm -rf ~"},
        "tool_use_id": "call-1",
    }
    assert outcome.runs[0].run_id.endswith(":call-1")


def test_apply_patch_is_matched_by_write_and_edit_once(hk: Hooks) -> None:
    out = hk.tmp / "count"
    engine = hk.user_hooks(
        {
            "PreToolUse": [
                group(f"cat >> {out}; echo >> {out}", "Edit|Write"),
                group("echo bash-only >&2; exit 2", "Bash"),
            ]
        }
    )
    outcome = run(engine.pre_tool_use(PATCH, turn_id="t"))
    assert not outcome.blocked and len(outcome.runs) == 1
    [line] = [ln for ln in out.read_text().splitlines() if ln]
    payload = json.loads(line)
    assert payload["tool_name"] == "apply_patch"
    assert payload["tool_input"]["file_path"] == "a.py"


def test_mcp_tool_names_match_regexes(hk: Hooks) -> None:
    engine = hk.user_hooks({"PreToolUse": [group(emit(deny("no writes")), "mcp__.*__write.*")]})
    blocked = run(engine.pre_tool_use(ToolCall.mcp("fs", "write_file", {"p": 1}, "c"), turn_id="t"))
    allowed = run(engine.pre_tool_use(ToolCall.mcp("fs", "read_file", {"p": 1}, "c"), turn_id="t"))
    assert blocked.blocked and not allowed.blocked and allowed.runs == ()


def test_codex_shell_names_map_to_bash(hk: Hooks) -> None:
    engine = hk.user_hooks({"PreToolUse": [group(emit(deny("x")), "Bash")]})
    call = ToolCall.for_tool("exec_command", {"command": ["rm", "-rf", "/"]}, "c")
    assert call.name == "Bash" and call.input["command"] == "rm -rf /"
    assert run(engine.pre_tool_use(call, turn_id="t")).blocked


def test_truncated_output_fails_open_with_a_warning(hk: Hooks) -> None:
    engine = hk.user_hooks({"PreToolUse": [group(emit(deny("x" * 5000)), "Bash")]})
    engine = hk.engine(engine.hooks, max_output=100)
    outcome = run(engine.pre_tool_use(BASH, turn_id="t"))
    assert not outcome.blocked
    assert any("truncated" in w for w in outcome.warnings)


def test_untrusted_hooks_do_not_run(hk: Hooks) -> None:
    marker = hk.tmp / "ran"
    hk.hooks_json(hk.env.home, {"PreToolUse": [group(f"touch {marker}; exit 2", "*")]})
    engine = hk.engine(hk.discover())
    outcome = run(engine.pre_tool_use(BASH, turn_id="t"))
    assert outcome.runs == () and not marker.exists()
    assert engine.hooks.problems  # reported instead


def test_async_hooks_never_block_and_are_collected(hk: Hooks) -> None:
    engine = hk.user_hooks(
        {"PreToolUse": [group("echo late >&2; exit 2", "Bash", **{"async": True})]}
    )

    async def scenario():  # type: ignore[no-untyped-def]
        outcome = await engine.pre_tool_use(BASH, turn_id="t")
        await engine.wait_async(timeout=10)
        return outcome, engine.take_async_results(), engine.take_async_results()

    outcome, late, again = run(scenario())
    assert not outcome.blocked and outcome.runs == ()
    assert [r.status for r in late] == [RunStatus.BLOCKED] and again == ()


@pytest.mark.timeout(30)
def test_aclose_kills_running_async_hooks(hk: Hooks) -> None:
    pidfile = hk.tmp / "pid"
    engine = hk.user_hooks(
        {"Stop": [group(f"echo $$ > {pidfile}; exec sleep 30", **{"async": True})]}
    )

    async def scenario() -> None:
        await engine.stop(turn_id="t", stop_hook_active=False, last_assistant_message=None)
        for _ in range(100):
            if pidfile.exists() and pidfile.read_text().strip():
                break
            await __import__("asyncio").sleep(0.05)
        await engine.aclose()

    run(scenario())
    pid = int(pidfile.read_text())
    import time

    time.sleep(0.2)
    from tests.hooks.test_runner import _alive

    assert not _alive(pid) and engine.take_async_results() == ()


# --- PermissionRequest ----------------------------------------------------------------------


def perm(behavior: str, **extra: object) -> str:
    return emit(
        {
            "hookSpecificOutput": {
                "hookEventName": "PermissionRequest",
                "decision": {"behavior": behavior, **extra},
            }
        }
    )


def permission(hk: Hooks, *commands: str):  # type: ignore[no-untyped-def]
    engine = hk.user_hooks({"PermissionRequest": [group(c, "Bash") for c in commands]})
    return run(engine.permission_request(BASH, turn_id="t"))


def test_permission_deny_overrides_allow(hk: Hooks) -> None:
    outcome = permission(hk, perm("allow"), perm("deny", message="not on prod"))
    assert outcome.decision is PermissionDecision.DENY and outcome.reason == "not on prod"


def test_permission_allow_when_none_deny(hk: Hooks) -> None:
    outcome = permission(hk, perm("allow"), "true")
    assert outcome.decision is PermissionDecision.ALLOW and not outcome.allowed_by_managed


def test_permission_none_when_nobody_decides(hk: Hooks) -> None:
    assert permission(hk, "true", "echo text").decision is PermissionDecision.NONE


def test_permission_exit_2_denies(hk: Hooks) -> None:
    outcome = permission(hk, "echo 'ask a human' >&2; exit 2")
    assert outcome.decision is PermissionDecision.DENY and outcome.reason == "ask a human"


@pytest.mark.parametrize(
    "extra",
    [{"updatedPermissions": [{"x": 1}]}, {"updatedInput": {"command": "x"}}, {"interrupt": True}],
)
def test_permission_reserved_fields_give_no_verdict(hk: Hooks, extra: dict[str, object]) -> None:
    outcome = permission(hk, perm("allow", **extra))
    assert outcome.decision is PermissionDecision.NONE
    assert outcome.runs[0].status is RunStatus.FAILED


def test_permission_allow_by_managed_hook_is_flagged(hk: Hooks) -> None:
    hk.env.requirements(
        '[[hooks.PermissionRequest]]\nmatcher = "Bash"\n[[hooks.PermissionRequest.hooks]]\n'
        f"command = {json.dumps(perm('allow'))}\n"
    )
    engine = hk.engine(hk.discover())
    outcome = run(engine.permission_request(BASH, turn_id="t"))
    assert outcome.decision is PermissionDecision.ALLOW and outcome.allowed_by_managed


# --- PostToolUse ----------------------------------------------------------------------------


def post(hk: Hooks, *commands: str, response: object = None):  # type: ignore[no-untyped-def]
    engine = hk.user_hooks({"PostToolUse": [group(c, "Bash") for c in commands]})
    return run(engine.post_tool_use(BASH, response or {"exit_code": 0}, turn_id="t"))


def test_post_block_is_feedback_not_stop(hk: Hooks) -> None:
    outcome = post(hk, emit({"decision": "block", "reason": "lint failed: E501"}))
    assert outcome.feedback == "lint failed: E501" and not outcome.stop
    assert outcome.runs[0].status is RunStatus.BLOCKED


def test_post_context_and_exit_2_feedback_are_joined(hk: Hooks) -> None:
    outcome = post(
        hk,
        emit({"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": "ctx"}}),
        "echo 'tests failed' >&2; exit 2",
        emit({"decision": "block", "reason": "second"}),
    )
    assert outcome.additional_contexts == ("ctx",)
    assert outcome.feedback == "tests failed\n\nsecond"


def test_post_continue_false_stops_with_feedback(hk: Hooks) -> None:
    outcome = post(hk, emit({"continue": False, "stopReason": "enough"}))
    assert outcome.stop and outcome.stop_reason == "enough" and outcome.feedback == "enough"


@pytest.mark.parametrize(
    "output",
    [
        {"hookSpecificOutput": {"updatedMCPToolOutput": {"ok": True}}},
        {"hookSpecificOutput": {"updatedToolOutput": "x"}},
        {"decision": "block"},
    ],
)
def test_post_unsupported_fails_open(hk: Hooks, output: object) -> None:
    outcome = post(hk, emit(output))
    assert outcome.feedback is None and outcome.runs[0].status is RunStatus.FAILED


def test_post_payload_carries_tool_response(hk: Hooks) -> None:
    out = hk.tmp / "post.json"
    post(hk, f"cat > {out}", response={"exit_code": 1, "output": "boom"})
    payload = json.loads(out.read_text())
    assert payload["hook_event_name"] == "PostToolUse"
    assert payload["tool_response"] == {"exit_code": 1, "output": "boom"}
    assert payload["tool_use_id"] == "call-1"


# --- UserPromptSubmit -----------------------------------------------------------------------


def prompt(hk: Hooks, *commands: str, matcher: str | None = None):  # type: ignore[no-untyped-def]
    engine = hk.user_hooks({"UserPromptSubmit": [group(c, matcher) for c in commands]})
    return run(engine.user_prompt_submit("deploy to prod", turn_id="t"))


def test_prompt_block_with_reason(hk: Hooks) -> None:
    outcome = prompt(hk, emit({"decision": "block", "reason": "no prod deploys"}))
    assert outcome.blocked and outcome.reason == "no prod deploys"
    with pytest.raises(HookBlockedError, match="no prod deploys"):
        outcome.prompt()


def test_prompt_continue_false_stops_and_keeps_context(hk: Hooks) -> None:
    outcome = prompt(
        hk,
        emit(
            {
                "continue": False,
                "stopReason": "pause",
                "hookSpecificOutput": {"additionalContext": "kept"},
            }
        ),
    )
    assert outcome.blocked and outcome.reason == "pause"
    assert outcome.additional_contexts == ("kept",)
    assert outcome.runs[0].status is RunStatus.STOPPED


def test_prompt_block_without_reason_is_enforced(hk: Hooks) -> None:
    outcome = prompt(hk, emit({"decision": "block"}))
    assert outcome.blocked and outcome.reason == "UserPromptSubmit hook blocked this prompt"


def test_prompt_exit_2_blocks(hk: Hooks) -> None:
    outcome = prompt(hk, "echo 'blocked by policy' >&2; exit 2")
    assert outcome.blocked and outcome.reason == "blocked by policy"


def test_prompt_plain_stdout_is_context_and_matcher_is_ignored(hk: Hooks) -> None:
    out = hk.tmp / "p.json"
    outcome = prompt(hk, f"cat > {out}; echo 'branch: main'", matcher="[")
    assert not outcome.blocked and outcome.prompt() == "deploy to prod"
    assert outcome.additional_contexts == ("branch: main",)
    assert json.loads(out.read_text())["prompt"] == "deploy to prod"


# --- Stop -----------------------------------------------------------------------------------


def stop(hk: Hooks, *commands: str, active: bool = False):  # type: ignore[no-untyped-def]
    engine = hk.user_hooks({"Stop": [group(c) for c in commands]})
    return run(engine.stop(turn_id="t", stop_hook_active=active, last_assistant_message="done"))


def test_stop_block_continues_with_joined_reasons(hk: Hooks) -> None:
    outcome = stop(
        hk,
        emit({"decision": "block", "reason": "run the tests"}),
        "true",
        "echo 'and update the changelog' >&2; exit 2",
    )
    assert outcome.should_continue
    assert outcome.continuation == "run the tests\n\nand update the changelog"


def test_stop_continue_false_wins_over_block(hk: Hooks) -> None:
    outcome = stop(
        hk,
        emit({"decision": "block", "reason": "more"}),
        emit({"continue": False, "stopReason": "budget exhausted"}),
    )
    assert (
        not outcome.should_continue and outcome.stop and outcome.stop_reason == "budget exhausted"
    )


def test_stop_block_without_reason_fails(hk: Hooks) -> None:
    outcome = stop(hk, emit({"decision": "block"}), "exit 2")
    assert not outcome.should_continue
    assert [r.status for r in outcome.runs] == [RunStatus.FAILED, RunStatus.FAILED]


def test_stop_payload_has_stop_hook_active(hk: Hooks) -> None:
    out = hk.tmp / "s.json"
    outcome = stop(hk, f"cat > {out}", active=True)
    assert not outcome.should_continue
    payload = json.loads(out.read_text())
    assert payload["stop_hook_active"] is True and payload["last_assistant_message"] == "done"


def test_stop_continuation_loop_ends_when_hook_sees_stop_hook_active(hk: Hooks) -> None:
    """A Claude-style guard: block once, let the model stop on the re-entry."""
    script = hk.script(
        "guard.sh",
        "#!/bin/sh\nif grep -q '\"stop_hook_active\": true' ; then exit 0; fi\n"
        "echo 'not yet: run the tests' >&2; exit 2\n",
    )
    engine = hk.user_hooks({"Stop": [group(shlex.quote(str(script)))]})
    first = run(engine.stop(turn_id="t", stop_hook_active=False, last_assistant_message="x"))
    second = run(engine.stop(turn_id="t", stop_hook_active=True, last_assistant_message="x"))
    assert first.continuation == "not yet: run the tests" and not second.should_continue


# --- SessionStart, SessionEnd, compaction ---------------------------------------------------


def test_session_start_context_env_and_source_matcher(hk: Hooks) -> None:
    engine = hk.user_hooks(
        {
            "SessionStart": [
                group("echo 'plain context'", "startup"),
                group(
                    emit(
                        {
                            "hookSpecificOutput": {
                                "additionalContext": "json context",
                                "env": {"A": "1", "B": "1"},
                            }
                        }
                    )
                ),
                group(emit({"hookSpecificOutput": {"env": {"B": "2"}}})),
                group("echo resumed", "resume"),
            ]
        }
    )
    outcome = run(engine.session_start("startup"))
    assert outcome.additional_contexts == ("plain context", "json context")
    assert dict(outcome.env) == {"A": "1", "B": "2"}
    assert len(outcome.runs) == 3
    resumed = run(engine.session_start("resume"))
    assert resumed.additional_contexts == ("json context", "resumed")


def test_session_start_bad_env_fails(hk: Hooks) -> None:
    engine = hk.user_hooks(
        {"SessionStart": [group(emit({"hookSpecificOutput": {"env": {"1BAD": "x"}}}))]}
    )
    outcome = run(engine.session_start())
    assert outcome.env == {} and outcome.runs[0].status is RunStatus.FAILED


def test_session_end_and_compaction(hk: Hooks) -> None:
    out = hk.tmp / "events"
    record = f"cat >> {out}; echo >> {out}"
    engine = hk.user_hooks(
        {
            "SessionEnd": [group(record)],
            "PreCompact": [group(record, "auto")],
            "PostCompact": [group(emit({"systemMessage": "compacted"}))],
        }
    )
    run(engine.pre_compact(trigger="manual"))  # matcher "auto": does not fire
    run(engine.pre_compact(trigger="auto", custom_instructions="keep todos"))
    post_outcome = run(engine.post_compact(trigger="auto"))
    end = run(engine.session_end(reason="logout"))
    assert post_outcome.warnings == ("compacted",) and end.runs[0].status is RunStatus.COMPLETED
    events = [json.loads(line) for line in out.read_text().splitlines() if line]
    assert [(e["hook_event_name"], e.get("trigger"), e.get("reason")) for e in events] == [
        ("PreCompact", "auto", None),
        ("SessionEnd", None, "logout"),
    ]
    assert events[0]["custom_instructions"] == "keep todos"


def test_deeply_nested_hook_output_fails_open(hk: Hooks) -> None:
    outcome = pre(hk, f"cat >/dev/null; {PY} -c \"print('[' * 200000)\"")
    assert not outcome.blocked and outcome.runs[0].status is RunStatus.FAILED
