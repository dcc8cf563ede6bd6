"""Auto-compaction through `codex exec` and the exact JSONL shapes of a run."""

from __future__ import annotations

import json

from tests.agent.conftest import Workspace
from tests.support import assistant_turn, function_call_turn, usage

PLAN = {"plan": [{"step": "work", "status": "in_progress"}]}


def test_compaction_replaces_history_and_is_recorded(workspace: Workspace) -> None:
    workspace.config(model_auto_compact_token_limit=500)
    big = usage(input_tokens=5000, output_tokens=10)
    workspace.server.enqueue(
        function_call_turn("update_plan", PLAN, usage=big),
        assistant_turn("SUMMARY-ONE of the work so far"),
        function_call_turn("update_plan", PLAN, usage=big),
        assistant_turn("SUMMARY-TWO of the work so far"),
        assistant_turn("all done"),
    )
    run = workspace.exec(["--json", "please do the long task"])
    assert run.returncode == 0, run.stderr
    first, compact, after, compact2, final = (r.json for r in workspace.server.requests)
    assert compact["tools"] == [] == compact2["tools"]
    assert "context checkpoint" in json.dumps(compact["input"][-1])
    texts = json.dumps(after["input"])
    assert "SUMMARY-ONE of the work so far" in texts and "please do the long task" in texts
    assert "<environment_context>" in texts  # the initial context is re-injected
    assert len(after["input"]) < len(first["input"]) + 4
    assert "SUMMARY-TWO" in json.dumps(final["input"])
    warnings = [i["message"] for i in run.items("error")]
    assert any("repeated compactions" in w for w in warnings), warnings
    thread_id = run.events[0]["thread_id"]
    [rollout] = (workspace.home / "sessions").glob(f"*/*/*/rollout-*-{thread_id}.jsonl")
    records = [json.loads(line) for line in rollout.read_text().splitlines()]
    compacted = [r for r in records if r["type"] == "compacted"]
    assert len(compacted) == 2
    assert "SUMMARY-TWO" in json.dumps(compacted[-1]["payload"]["replacement_history"])
    resumed = workspace.exec(["resume", "--json", thread_id, "and one more thing"])
    assert resumed.returncode == 1  # nothing scripted; the point is the history it sent
    sent = json.dumps(workspace.server.requests[-1].json["input"])
    assert "SUMMARY-TWO" in sent and "SUMMARY-ONE" not in sent


def test_jsonl_shapes_line_by_line(workspace: Workspace) -> None:
    patch = "*** Begin Patch\n*** Add File: a.txt\n+a\n*** End Patch\n"
    workspace.server.enqueue(
        function_call_turn("update_plan", PLAN, call_id="p1"),
        function_call_turn("apply_patch", {"input": patch}, call_id="x1"),
        assistant_turn("finished"),
    )
    workspace.config(experimental_use_freeform_apply_patch=False)
    run = workspace.exec(["--json", "-s", "workspace-write", "go"])
    assert run.returncode == 0, run.stderr
    lines = run.events
    thread, turn = lines[0], lines[1]
    assert thread == {"type": "thread.started", "thread_id": thread["thread_id"]}
    assert turn == {"type": "turn.started", "turn_id": turn["turn_id"]}
    turn_id = turn["turn_id"]
    shapes = [(e["type"], e.get("item", {}).get("type")) for e in lines[2:]]
    assert shapes == [
        ("item.started", "todo_list"),
        ("item.started", "file_change"),
        ("item.completed", "file_change"),
        ("item.completed", "agent_message"),
        ("item.completed", "todo_list"),
        ("turn.completed", None),
    ]
    for event in lines[2:]:
        assert event["turn_id"] == turn_id
    started = {e["item"]["id"] for e in lines if e["type"] == "item.started"}
    completed = [e["item"]["id"] for e in lines if e["type"] == "item.completed"]
    assert started <= set(completed) and len(completed) == len(set(completed))
    todo = lines[2]["item"]
    assert todo == {
        "id": todo["id"],
        "type": "todo_list",
        "items": [{"text": "work", "completed": False}],
    }
    change = lines[4]["item"]
    assert set(change) == {"id", "type", "changes", "status"}
    assert change["changes"][0]["kind"] == "add" and "diff" in change["changes"][0]
    assert set(lines[-1]["usage"]) == {
        "input_tokens",
        "cached_input_tokens",
        "cache_write_input_tokens",
        "output_tokens",
        "reasoning_output_tokens",
    }
