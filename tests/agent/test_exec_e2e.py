"""`codex exec` end to end against a mock Responses server (real SSE on loopback).

These cover the turn loop, the JSONL shapes, prompts, output files, schemas, rollouts, resume,
retries, context overflow, plans and patches. Commands that run in the sandbox are in
test_exec_commands.py.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tests.agent.conftest import API_KEY, Workspace
from tests.support import (
    MockResponsesServer,
    assistant_turn,
    custom_tool_call_turn,
    failed_turn,
    function_call_turn,
    message_item,
    reasoning_item,
    responses_turn,
    server_error,
    usage,
)


def test_a_one_message_turn_in_jsonl(workspace: Workspace) -> None:
    workspace.server.enqueue(
        responses_turn(
            reasoning_item("Thinking about it"),
            message_item("Hello there."),
            usage=usage(input_tokens=12, output_tokens=7, cached=4),
        )
    )
    run = workspace.exec(["--json", "say hello"])
    assert run.returncode == 0, run.stderr
    events = run.events
    types = [e["type"] for e in events]
    assert types[0] == "thread.started" and "turn.started" in types
    assert types[-1] == "turn.completed"
    turn_id = events[types.index("turn.started")]["turn_id"]
    assert all(e.get("turn_id") == turn_id for e in events[types.index("turn.started") :])
    reasoning, message = run.items("reasoning"), run.items("agent_message")
    assert reasoning[0]["text"] == "Thinking about it"
    assert message == [{"id": message[0]["id"], "type": "agent_message", "text": "Hello there."}]
    assert events[-1]["usage"]["input_tokens"] == 12
    assert events[-1]["usage"]["cached_input_tokens"] == 4
    assert events[-1]["usage"]["output_tokens"] == 7
    ids = [e["item"]["id"] for e in events if e["type"].startswith("item.")]
    assert all(i.startswith("item_") for i in ids) and len(set(ids)) == len(ids)


def test_request_body_and_headers_follow_codex(workspace: Workspace) -> None:
    (workspace.root / "AGENTS.md").write_text("Use tabs, not spaces.\n")
    workspace.server.enqueue(assistant_turn("ok"))
    run = workspace.exec(["--json", "do the thing"])
    assert run.returncode == 0, run.stderr
    request = workspace.server.requests[-1]
    body = request.json
    assert request.path.endswith("/responses")
    assert request.header("authorization") == f"Bearer {API_KEY}"
    assert request.header("originator") == "codex_exec"
    thread_id = run.events[0]["thread_id"]
    assert body["prompt_cache_key"] == thread_id and body["stream"] is True
    assert body["tool_choice"] == "auto" and "previous_response_id" not in body
    names = {tool.get("name") for tool in body["tools"]}
    assert {"shell", "apply_patch", "update_plan"} <= names
    texts = [c.get("text", "") for item in body["input"] for c in item.get("content", [])]
    assert any(t.startswith("<permissions instructions>") for t in texts)
    assert any("Use tabs, not spaces." in t and "<INSTRUCTIONS>" in t for t in texts)
    env = next(t for t in texts if t.startswith("<environment_context>"))
    assert f"<cwd>{workspace.root.resolve()}</cwd>" in env
    assert "<approval_policy>never</approval_policy>" in env
    assert texts[-1] == "do the thing"
    assert API_KEY not in json.dumps(body)


def test_human_mode_prints_only_the_answer_on_stdout(workspace: Workspace) -> None:
    workspace.server.enqueue(assistant_turn("The answer is 42."))
    run = workspace.exec(["what is it?"])
    assert run.returncode == 0, run.stderr
    assert run.stdout == "The answer is 42.\n"
    assert "codex" in run.stderr and "tokens used" in run.stderr and "user" in run.stderr


def test_prompt_from_stdin_and_the_stdin_block(workspace: Workspace) -> None:
    workspace.server.enqueue(assistant_turn("a"), assistant_turn("b"))
    assert workspace.exec(["--json"], stdin="from stdin").returncode == 0
    assert workspace.exec(["--json", "summarise"], stdin="log line\n").returncode == 0
    first, second = (r.json["input"][-1]["content"][0]["text"] for r in workspace.server.requests)
    assert first == "from stdin"
    assert second == "summarise\n\n<stdin>\nlog line\n</stdin>"


def test_outside_a_git_repository_needs_the_flag(workspace: Workspace, tmp_path: Path) -> None:
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    run = workspace.exec(["--json", "hi"], cwd=elsewhere)
    assert run.returncode == 1
    assert "Not inside a trusted directory and --skip-git-repo-check was not specified." in (
        run.stderr
    )
    assert workspace.server.requests == []
    workspace.server.enqueue(assistant_turn("fine"))
    assert workspace.exec(["--json", "--skip-git-repo-check", "hi"], cwd=elsewhere).returncode == 0


def test_output_last_message_and_schema(workspace: Workspace, tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"ok": {"type": "boolean"}}}))
    out = tmp_path / "last.txt"
    workspace.server.enqueue(assistant_turn('{"ok": true}'))
    run = workspace.exec(["--json", "--output-schema", str(schema), "-o", str(out), "check"])
    assert run.returncode == 0, run.stderr
    assert out.read_text() == '{"ok": true}'
    fmt = workspace.server.requests[-1].json["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["strict"] is True
    assert fmt["name"] == "codex_output_schema" and fmt["schema"]["type"] == "object"


def test_invalid_output_schema_is_exit_1(workspace: Workspace, tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text("{not json")
    run = workspace.exec(["--json", "--output-schema", str(schema), "x"])
    assert run.returncode == 1 and "not valid JSON" in run.stderr
    assert workspace.server.requests == []


def test_rollout_is_recorded_private_and_redacted(workspace: Workspace) -> None:
    workspace.server.enqueue(assistant_turn(f"the key is {API_KEY}"))
    run = workspace.exec(["--json", "leak it"])
    assert run.returncode == 0, run.stderr
    thread_id = run.events[0]["thread_id"]
    [rollout] = list((workspace.home / "sessions").glob(f"*/*/*/rollout-*-{thread_id}.jsonl"))
    assert stat.S_IMODE(rollout.stat().st_mode) == 0o600
    text = rollout.read_text()
    assert API_KEY not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["type"] == "session_meta" and records[0]["payload"]["id"] == thread_id
    assert {"response_item", "event_msg"} <= {r["type"] for r in records}


def test_ephemeral_records_nothing(workspace: Workspace) -> None:
    workspace.server.enqueue(assistant_turn("hi"))
    assert workspace.exec(["--json", "--ephemeral", "hi"]).returncode == 0
    assert not (workspace.home / "sessions").exists()


def test_resume_continues_the_recorded_history(workspace: Workspace) -> None:
    workspace.server.enqueue(assistant_turn("first answer"), assistant_turn("second answer"))
    first = workspace.exec(["--json", "first question"])
    thread_id = first.events[0]["thread_id"]
    second = workspace.exec(["resume", "--json", "--last", "second question"])
    assert second.returncode == 0, second.stderr
    assert second.events[0] == {"type": "thread.started", "thread_id": thread_id}
    texts = [
        c.get("text")
        for item in workspace.server.requests[-1].json["input"]
        for c in item.get("content", [])
    ]
    assert "first question" in texts and "first answer" in texts
    assert texts[-1] == "second question"
    by_id = workspace.exec(["resume", "--json", thread_id, "third"], stdin="")
    assert by_id.returncode == 1  # nothing scripted: the model call fails, the id was found
    assert "no recorded session" not in by_id.stderr


def test_resume_of_an_unknown_session_is_a_clear_error(workspace: Workspace) -> None:
    run = workspace.exec(["resume", "--json", "no-such-id", "x"])
    assert run.returncode == 1 and "no recorded session with id no-such-id" in run.stderr


def test_a_5xx_is_retried_and_announced(workspace: Workspace) -> None:
    workspace.server.enqueue(server_error(500), assistant_turn("recovered"))
    run = workspace.exec(["--json", "go"])
    assert run.returncode == 0, run.stderr
    errors = [i["message"] for i in run.items("error")]
    assert any(m.startswith("Reconnecting... 1/") for m in errors), errors
    assert run.items("agent_message")[-1]["text"] == "recovered"


def test_context_overflow_fails_the_turn(workspace: Workspace) -> None:
    workspace.server.enqueue(failed_turn("context_length_exceeded", "too long"))
    run = workspace.exec(["--json", "go"])
    assert run.returncode == 1
    assert run.events[-1]["type"] == "turn.failed"
    assert "context window" in run.events[-1]["error"]["message"]
    assert any(e["type"] == "error" for e in run.events)


def test_plan_updates_are_a_todo_list(workspace: Workspace) -> None:
    plan = {
        "plan": [{"step": "read", "status": "in_progress"}, {"step": "fix", "status": "pending"}]
    }
    done = {
        "plan": [{"step": "read", "status": "completed"}, {"step": "fix", "status": "in_progress"}]
    }
    workspace.server.enqueue(
        function_call_turn("update_plan", plan, call_id="c1"),
        function_call_turn("update_plan", done, call_id="c2"),
        assistant_turn("done"),
    )
    run = workspace.exec(["--json", "plan it"])
    assert run.returncode == 0, run.stderr
    started = run.items("todo_list", "item.started")
    updated = run.items("todo_list", "item.updated")
    completed = run.items("todo_list")
    assert started[0]["items"] == [
        {"text": "read", "completed": False},
        {"text": "fix", "completed": False},
    ]
    assert updated[-1]["items"][0]["completed"] is True
    assert len(completed) == 1 and completed[0]["id"] == started[0]["id"]
    outputs = [
        item
        for item in workspace.server.requests[-1].json["input"]
        if item.get("type") == "function_call_output"
    ]
    assert [o["output"] for o in outputs] == ["Plan updated", "Plan updated"]


def test_a_patch_through_the_custom_tool(workspace: Workspace) -> None:
    patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"
    workspace.server.enqueue(custom_tool_call_turn("apply_patch", patch), assistant_turn("ok"))
    run = workspace.exec(["--json", "-s", "workspace-write", "add a file"])
    assert run.returncode == 0, run.stderr
    assert (workspace.root / "hello.txt").read_text() == "hello\n"
    [change] = run.items("file_change")
    assert change["status"] == "completed"
    assert change["changes"][0]["kind"] == "add"
    assert change["changes"][0]["path"].endswith("hello.txt")
    output = next(
        item
        for item in workspace.server.requests[-1].json["input"]
        if item.get("type") == "custom_tool_call_output"
    )
    assert output["output"].startswith("Success. Updated the following files:\nA ")


def test_a_patch_into_git_is_refused_under_never(workspace: Workspace) -> None:
    patch = "*** Begin Patch\n*** Add File: .git/hooks/post-checkout\n+#!/bin/sh\n*** End Patch\n"
    workspace.server.enqueue(custom_tool_call_turn("apply_patch", patch), assistant_turn("ok"))
    run = workspace.exec(["--json", "-s", "workspace-write", "sneaky"])
    assert run.returncode == 0, run.stderr
    assert not (workspace.root / ".git" / "hooks" / "post-checkout").exists()
    [change] = run.items("file_change")
    assert change["status"] == "declined"


def test_a_broken_patch_goes_back_to_the_model(workspace: Workspace) -> None:
    workspace.server.enqueue(custom_tool_call_turn("apply_patch", "nonsense"), assistant_turn("k"))
    run = workspace.exec(["--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0
    output = next(
        item
        for item in workspace.server.requests[-1].json["input"]
        if item.get("type") == "custom_tool_call_output"
    )
    assert output["output"].startswith("Invalid patch")


def test_unknown_tools_are_told_to_the_model(workspace: Workspace) -> None:
    workspace.server.enqueue(function_call_turn("teleport", {}), assistant_turn("ok"))
    run = workspace.exec(["--json", "x"])
    assert run.returncode == 0
    output = next(
        item
        for item in workspace.server.requests[-1].json["input"]
        if item.get("type") == "function_call_output"
    )
    assert output["output"] == "unsupported call: teleport"


def test_requirement_warnings_are_error_items(workspace: Workspace) -> None:
    (workspace.system / "requirements.toml").write_text('allowed_sandbox_modes = ["read-only"]\n')
    workspace.server.enqueue(assistant_turn("ok"))
    run = workspace.exec(["--json", "-s", "workspace-write", "x"])
    assert run.returncode == 0, run.stderr
    messages = [i["message"] for i in run.items("error")]
    assert any("sandbox_mode" in m and "read-only" in m for m in messages), messages
    env = next(
        c["text"]
        for item in workspace.server.requests[-1].json["input"]
        for c in item.get("content", [])
        if c.get("text", "").startswith("<environment_context>")
    )
    assert "<sandbox_mode>read-only</sandbox_mode>" in env


def test_missing_api_key_names_the_variable(workspace: Workspace) -> None:
    env = {k: v for k, v in workspace.env.items() if k != "MOCK_API_KEY"}
    run = workspace.exec(["--json", "x"], env={"MOCK_API_KEY": ""} | {})
    del env
    assert run.returncode == 1 and "MOCK_API_KEY" in run.stderr
    assert "Traceback" not in run.stderr
    assert os.environ.get("MOCK_API_KEY") is None


def test_respect_system_proxy_sends_model_traffic_through_the_proxy(workspace: Workspace) -> None:
    """``features.respect_system_proxy = true`` (user config): the turn's model request goes
    through ``HTTP_PROXY``, as sign-in's does; without it the variable is ignored. The "proxy"
    here is a second mock server: what reaches it answers the turn."""
    env = {"HTTP_PROXY": "", "http_proxy": "", "NO_PROXY": "", "no_proxy": ""}
    with MockResponsesServer() as proxy:
        env["HTTP_PROXY"] = env["http_proxy"] = proxy.origin
        proxy.enqueue(assistant_turn("via the proxy"))
        workspace.server.enqueue(assistant_turn("direct"))
        run = workspace.exec(["--json", "hi"], env=env)
        assert run.returncode == 0, run.stderr
        assert run.items("agent_message")[0]["text"] == "direct" and proxy.requests == []
        workspace.config(features={"respect_system_proxy": True})
        run = workspace.exec(["--json", "hi"], env=env)
        assert run.returncode == 0, run.stderr
        assert run.items("agent_message")[0]["text"] == "via the proxy"
        assert len(workspace.server.model_requests) == 1  # the first run's only
        assert not proxy.errors, proxy.errors
