"""`codex exec` exporting logs, traces and metrics to a real OTLP receiver (issue 17).

The real CLI runs against the mock model, its commands really run under bubblewrap and the
network request really goes through the session proxy; a real OTLP receiver on loopback decodes
what arrives over HTTP protobuf, HTTP JSON and gRPC. The run: a shell command (which prints the
API key the model pasted into it, and tries a host the proxy denies), a patch, a forbidden
command, then the answer.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from codex_admin.sandbox import bwrap_status
from tests.agent.conftest import API_KEY, ExecRun, Workspace
from tests.support import (
    assistant_turn,
    custom_tool_call_item,
    function_call_item,
    function_call_turn,
    responses_turn,
    usage,
)
from tests.support.otlp_receiver import OtlpReceiver
from tests.telemetry.conftest import PROTOCOLS, otel_table

pytestmark = pytest.mark.timeout(180)

PROMPT = "PROMPT-MARKER-7f3a please tidy up"
OUTPUT_MARKER = "OUTPUT-MARKER-91c2"
PATCH = "*** Begin Patch\n*** Add File: notes.txt\n+PATCH-MARKER-55d1\n*** End Patch\n"
SCRIPT = (
    f"echo {OUTPUT_MARKER} {API_KEY}; "
    "curl -sS --max-time 5 -o /dev/null -w '%{http_code}' http://denied.example/secret/path?q=1"
)
FLUSH_BOUND_S = 1.0


@pytest.fixture(autouse=True)
def _needs_bwrap() -> None:
    if not bwrap_status().usable:
        pytest.skip(f"bubblewrap unusable on this machine: {bwrap_status().error}")


@pytest.fixture
def rx() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


def governed_run(workspace: Workspace, otel: dict[str, Any] | None) -> ExecRun:
    """The scenario of the module docstring, with `[otel]` = ``otel``."""
    extra: dict[str, Any] = {
        "network": {"enabled": True, "allow_local_binding": True, "domains": {}},
    }
    if otel is not None:
        extra["otel"] = otel
    workspace.config(**extra)
    rules = workspace.home / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "org.rules").write_text(
        'prefix_rule(pattern=["touch"], decision="forbidden", justification="no touching")\n'
    )
    workspace.server.enqueue(
        responses_turn(
            function_call_item("shell", {"command": ["bash", "-c", SCRIPT]}, call_id="call_sh"),
            custom_tool_call_item("apply_patch", PATCH, call_id="call_patch"),
            function_call_item("shell", {"command": ["touch", "pwned"]}, call_id="call_touch"),
            usage=usage(input_tokens=30, output_tokens=7, cached=10),
        ),
        assistant_turn("all done", usage=usage(input_tokens=50, output_tokens=3)),
    )
    return workspace.exec(
        ["--json", "-s", "workspace-write", PROMPT],
        env={"CODEX_OTEL_FLUSH_TIMEOUT_MS": str(int(FLUSH_BOUND_S * 1000))},
    )


def only(rx: OtlpReceiver, name: str, **attrs: Any) -> Any:
    found = [
        log
        for log in rx.logs_named(name)
        if all(log.attributes.get(k) == v for k, v in attrs.items())
    ]
    assert len(found) == 1, (name, attrs, [log.attributes for log in rx.logs_named(name)])
    return found[0]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_exec_exports_every_governance_decision(
    workspace: Workspace, rx: OtlpReceiver, protocol: str
) -> None:
    run = governed_run(workspace, otel_table(rx, protocol))
    assert run.returncode == 0, run.stderr
    assert run.events[-1]["type"] == "turn.completed"  # nothing to report at exit
    assert (workspace.root / "notes.txt").exists() and not (workspace.root / "pwned").exists()
    # Everything was flushed before the process exited: no waiting here.
    rx.wait_for_metric("codex.turn.token_usage", timeout=2)
    thread_id = run.events[0]["thread_id"]

    start = only(rx, "codex.conversation_starts")
    assert start.resource["service.name"] == "codex_exec"
    assert start.attributes["conversation.id"] == thread_id
    assert start.attributes["approval_policy"] == "never"
    assert start.attributes["sandbox_policy"] == "workspace-write"
    assert start.attributes["model"] == "gpt-test"
    assert start.transport == ("grpc" if protocol == "grpc" else f"http/{_http(protocol)}")

    prompt = only(rx, "codex.user_prompt")
    assert prompt.attributes["prompt"] == "[REDACTED]"
    assert prompt.attributes["prompt_length"] == len(PROMPT)

    requests = rx.logs_named("codex.api_request")
    assert [r.attributes["http.response.status_code"] for r in requests] == [200, 200]
    assert all(r.attributes["auth.header_name"] == "Authorization" for r in requests)
    completed = [
        e
        for e in rx.logs_named("codex.sse_event")
        if e.attributes["event.kind"] == "response.completed"
    ]
    assert sorted(e.attributes["input_token_count"] for e in completed) == [30, 50]

    decisions = {
        log.attributes["call_id"]: (log.attributes["decision"], log.attributes["source"])
        for log in rx.logs_named("codex.tool_decision")
    }
    assert decisions == {
        "call_sh": ("approved", "config"),
        "call_patch": ("approved", "config"),
        "call_touch": ("denied", "config"),
    }
    assert rx.spans_named("codex.tool_decision") == []  # log-only, as in Codex

    forbidden = only(rx, "codex.execpolicy.decision", call_id="call_touch")
    assert forbidden.attributes["decision"] == "forbidden"
    assert forbidden.attributes["source"] == "rule"
    assert "prefix_rule touch -> forbidden" in forbidden.attributes["matched_rules"]
    assert "org.rules" in forbidden.attributes["matched_rules"]
    allowed = only(rx, "codex.execpolicy.decision", call_id="call_sh")
    assert allowed.attributes["decision"] == "allow"
    assert allowed.attributes["source"] == "heuristics"

    [outcome] = rx.logs_named("codex.sandbox_outcome")  # only the command that ran
    assert outcome.attributes["call_id"] == "call_sh"
    assert outcome.attributes["outcome"] == "success"
    assert outcome.attributes["sandbox"] == "workspace-write"

    denied = only(rx, "codex.network_proxy.policy_decision", **{"server.address": "denied.example"})
    assert denied.attributes["network.policy.decision"] == "deny"
    assert denied.attributes["http.request.method"] == "GET"
    assert denied.attributes["server.port"] == 80
    assert "secret/path" not in repr(denied.attributes)  # host, port, method: never the URL

    result = only(rx, "codex.tool_result", call_id="call_sh")
    assert result.attributes["tool_name"] == "shell"
    assert result.attributes["success"] == "true"
    assert OUTPUT_MARKER in result.attributes["output"]
    assert OUTPUT_MARKER in result.attributes["arguments"]
    patch = only(rx, "codex.tool_result", call_id="call_patch")
    assert "PATCH-MARKER-55d1" in patch.attributes["arguments"]
    touch = only(rx, "codex.tool_result", call_id="call_touch")
    assert touch.attributes["success"] == "false"

    # Traces: a turn span with the usage, a span per tool call, sizes and counts only.
    [turn] = rx.spans_named("codex.turn")
    assert turn.attributes["gen_ai.usage.input_tokens"] == 80
    assert turn.attributes["gen_ai.usage.output_tokens"] == 10
    assert turn.attributes["tool_call_count"] == 3
    tools = {s.attributes["call_id"]: s for s in rx.spans_named("codex.tool_call")}
    assert set(tools) == {"call_sh", "call_patch", "call_touch"}
    assert all(s.parent_span_id == turn.span_id for s in tools.values())
    shell_span = tools["call_sh"]
    assert shell_span.attributes["output_length"] > 0
    event = shell_span.event("codex.tool_result")
    assert event.attributes["arguments_length"] > 0 and "output" not in event.attributes
    assert "prompt" not in turn.event("codex.user_prompt").attributes
    assert tools["call_touch"].event("codex.execpolicy.decision").attributes["decision"] == (
        "forbidden"
    )

    # The split: content only on logs.
    for span in rx.spans:
        text = repr((span.attributes, [e.attributes for e in span.events]))
        assert OUTPUT_MARKER not in text and "PATCH-MARKER" not in text, span.name
    # Redaction: the prompt is never exported by default; the key never, anywhere.
    assert not rx.saw("PROMPT-MARKER-7f3a")
    assert not rx.saw(API_KEY)

    # Metrics, from exec too (Codex #12913, #33668).
    names = rx.metric_names()
    for metric in (
        "codex.thread.started",
        "codex.api_request",
        "codex.api_request.duration_ms",
        "codex.sse_event",
        "codex.tool.call",
        "codex.tool.call.duration_ms",
        "codex.turn.e2e_duration_ms",
        "codex.turn.ttft.duration_ms",
        "codex.turn.tool.call",
        "codex.turn.network_proxy",
        "codex.execpolicy.decision",
        "codex.sandbox.outcome",
    ):
        assert metric in names, (metric, sorted(names))
    assert rx.metric_total("codex.turn.token_usage", token_type="input") == 80
    assert rx.metric_total("codex.turn.token_usage", token_type="cached_input") == 10
    assert rx.metric_total("codex.tool.call", tool="shell") == 2
    assert rx.metric_total("codex.turn.network_proxy", decision="deny") >= 1
    point = rx.points_named("codex.tool.call", tool="apply_patch")[0]
    assert point.attributes["originator"] == "codex_exec"
    assert point.attributes["session_source"] == "exec"


def _http(protocol: str) -> str:
    return "protobuf" if protocol == "binary" else "json"


def test_log_user_prompt_exports_the_prompt_on_logs_only(
    workspace: Workspace, rx: OtlpReceiver
) -> None:
    workspace.config(otel=otel_table(rx, "binary", log_user_prompt=True))
    workspace.server.enqueue(assistant_turn("hi"))
    run = workspace.exec(["--json", PROMPT])
    assert run.returncode == 0, run.stderr
    assert only(rx, "codex.user_prompt").attributes["prompt"] == PROMPT
    [turn] = rx.spans_named("codex.turn")
    assert "prompt" not in turn.event("codex.user_prompt").attributes
    assert not any(PROMPT in text for span in rx.spans for text in map(str, span.events))
    assert not rx.saw(API_KEY)


def test_requirement_fallbacks_and_hook_runs_are_exported(
    workspace: Workspace, rx: OtlpReceiver
) -> None:
    blocker = "cat >/dev/null; echo 'no rm here (DEV-7)' >&2; exit 2"
    (workspace.system / "requirements.toml").write_text(
        'allowed_web_search_modes = ["cached"]\n'
        "[[hooks.PreToolUse]]\n"
        'matcher = "Bash"\n'
        "[[hooks.PreToolUse.hooks]]\n"
        'type = "command"\n'
        f"command = {json.dumps(blocker)}\n"
    )
    workspace.config(otel=otel_table(rx, "json"), web_search="live")
    workspace.server.enqueue(
        function_call_turn("shell", {"command": ["rm", "x"]}, call_id="call_rm"),
        assistant_turn("ok"),
    )
    run = workspace.exec(["--json", "-s", "workspace-write", "tidy"])
    assert run.returncode == 0, run.stderr
    fallback = only(rx, "codex.requirements.fallback")
    assert fallback.attributes["requirements.field"] == "web_search"
    assert fallback.attributes["requirements.rejected"] == "live"
    assert fallback.attributes["requirements.value"] == "cached"
    assert "requirements.toml" in fallback.attributes["requirements.source"]
    hook = only(rx, "codex.hook.run", **{"hook.event": "PreToolUse"})
    assert hook.attributes["hook.outcome"] == "blocked"
    assert hook.attributes["hook.decision"] == "deny"
    assert hook.attributes["hook.exit_code"] == 2
    assert hook.attributes["call_id"] == "call_rm"
    assert "DEV-7" in hook.attributes["hook.message"]
    assert only(rx, "codex.tool_decision").attributes["source"] == "config"
    assert rx.metric_total("codex.hook.run", outcome="blocked") == 1
    assert rx.metric_total("codex.requirements.fallback", field="web_search") == 1


def test_guardian_reviews_are_exported_with_the_automated_reviewer_source(
    workspace: Workspace, rx: OtlpReceiver, tmp_path: Any
) -> None:
    target = tmp_path / "marker"
    workspace.config(otel=otel_table(rx, "grpc"))
    workspace.server.enqueue(
        function_call_turn(
            "shell",
            {
                "command": ["bash", "-c", f"echo deployed > {target}"],
                "sandbox_permissions": "require_escalated",
                "justification": "write the deploy marker the user asked for",
            },
            call_id="call_deploy",
        ),
        assistant_turn(
            json.dumps(
                {"outcome": "deny", "risk_level": "high", "rationale": "RATIONALE-MARKER no"}
            )
        ),
        assistant_turn("understood"),
    )
    auto = ["-a", "on-request", "-c", 'approvals_reviewer="auto_review"']
    run = workspace.exec([*auto, "--json", "-s", "workspace-write", "deploy"])
    assert run.returncode == 0, run.stderr
    assert not target.exists()
    review = only(rx, "codex.guardian.review")
    assert review.attributes["call_id"] == "call_deploy"
    assert review.attributes["terminal_status"] == "denied"
    assert review.attributes["action"] == "shell"
    assert review.attributes["risk_level"] == "high"
    assert "RATIONALE-MARKER" in review.attributes["rationale"]
    [span_event] = rx.span_events("codex.guardian.review")
    assert "rationale" not in span_event.attributes
    decision = only(rx, "codex.tool_decision", call_id="call_deploy")
    assert decision.attributes["decision"] == "denied"
    assert decision.attributes["source"] == "automated_reviewer"
    assert rx.metric_total("codex.guardian.review", terminal_status="denied") == 1


def _wall(workspace: Workspace, otel: dict[str, Any] | None) -> tuple[float, ExecRun]:
    started = time.monotonic()
    run = governed_run(workspace, otel)
    return time.monotonic() - started, run


@pytest.mark.parametrize(
    ("mode", "protocol"),
    [("stall", "binary"), ("stall", "json"), ("stall", "grpc"), ("down", "grpc")],
)
def test_a_bad_receiver_costs_at_most_the_flush_bound_at_exit(
    workspace: Workspace, mode: str, protocol: str
) -> None:
    """Wall time of the same `codex exec` run with telemetry off and exporting to a receiver
    that stalls (or is down): the difference stays under the flush bound (+ noise)."""
    off = []
    for _ in range(2):
        seconds, run = _wall(workspace, None)
        assert run.returncode == 0, run.stderr
        off.append(seconds)
    with OtlpReceiver(mode=mode) as bad:
        on, run = _wall(workspace, otel_table(bad, protocol))
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("Traceback") == 0
    warnings = [i["message"] for i in run.items("error") if "telemetry" in i["message"]]
    # A stalled receiver means records were dropped: said once, as a warning, never an error.
    assert warnings and run.events[-1]["type"] == "item.completed"
    # The OTel SDK's import and two interpreters on a busy 2-core machine (the suite runs
    # on every core): without the bound a stalled export costs its 10 s timeout, far above.
    slack = 3.0
    assert on - statistics.median(off) < FLUSH_BOUND_S + slack, (on, off)


def test_without_otel_exec_loads_no_telemetry_session_code_and_no_sdk(
    workspace: Workspace,
) -> None:
    """A run without `[otel]` never loads the OpenTelemetry SDK, grpc, protobuf or even the
    telemetry session code (checked in the real `codex exec` process, at its exit)."""
    probe = (
        "import atexit, sys\n"
        "heavy = ('opentelemetry', 'grpc', 'google.protobuf', 'codex_admin.telemetry.session')\n"
        "atexit.register(lambda: print('LOADED', sorted({m.split('.')[0] if not"
        " m.startswith('codex_admin') else m for m in sys.modules if m.startswith(heavy)}),"
        " file=sys.stderr))\n"
        "from codex_admin.cli.main import main\n"
        "main()\n"
    )
    workspace.server.enqueue(
        function_call_turn("shell", {"command": ["touch", "x"]}), assistant_turn("ok")
    )
    run = subprocess.run(
        [sys.executable, "-c", probe, "exec", "--json", "-s", "workspace-write", "hi"],
        cwd=workspace.root,
        env=workspace.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "LOADED []" in run.stderr, run.stderr
