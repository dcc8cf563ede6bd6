"""Every event and metric, exported over each protocol to a real OTLP receiver and decoded."""

from __future__ import annotations

import socket

import pytest

from codex_admin.telemetry import DecisionSource, Telemetry, TokenUsage, ToolDecision
from tests.support.otlp_receiver import OtlpReceiver, ReceivedLog, ReceivedSpan
from tests.telemetry.conftest import MakeTelemetry

pytestmark = pytest.mark.timeout(60)

TRANSPORT = {"binary": "http/protobuf", "json": "http/json", "grpc": "grpc"}


def only_log(rx: OtlpReceiver, name: str) -> ReceivedLog:
    logs = rx.logs_named(name)
    assert len(logs) == 1, rx.summary()
    return logs[0]


def emit_everything(t: Telemetry) -> None:
    t.conversation_starts(
        provider_name="openai",
        approval_policy="on-request",
        sandbox_policy="workspace-write",
        reasoning_effort="high",
        reasoning_summary="auto",
        context_window=272000,
        auto_compact_token_limit=200000,
        mcp_servers=["docs", "jira"],
        active_profile="work",
    )
    with t.turn("turn-1") as turn:
        t.user_prompt("fix the build", image_inputs=1)
        t.api_request(attempt=1, duration_ms=120.5, status_code=200, endpoint="/v1/responses")
        t.api_request(attempt=2, duration_ms=30, status_code=503, error="upstream overloaded")
        turn.first_token()
        t.sse_event(kind="response.output_item.done", duration_ms=4)
        t.sse_event(kind="response.failed", duration_ms=2, error="boom")
        usage = TokenUsage(
            input_tokens=3, cached_input_tokens=1, output_tokens=5, reasoning_output_tokens=2,
            tool_tokens=0, total_tokens=9,
        )  # fmt: skip
        t.sse_event(kind="response.completed", duration_ms=7, usage=usage)
        turn.first_message()
        turn.token_usage(usage)
        t.execpolicy_decision(
            call_id="call-1",
            command=["git", "push", "--force", "origin main"],
            decision="forbidden",
            source="rule",
            matched_rules=['prefix_rule(pattern=["git", "push", "--force"])'],
            justification="force pushes rewrite shared history",
        )
        t.guardian_review(
            review_id="rev-1",
            call_id="call-2",
            turn_id="turn-1",
            action="shell",
            decision="denied",
            terminal_status="denied",
            duration_ms=850,
            ttft_ms=300,
            risk_level="high",
            user_authorization="low",
            outcome="deny",
            rule="exfiltration.unknown_host",
            rationale="sends the workspace to an unknown host",
            guardian_model="codex-auto-review",
            guardian_reasoning_effort="low",
            approval_request_source="main_turn",
            session_kind="interactive",
            usage=TokenUsage(input_tokens=100, output_tokens=20),
        )
        t.tool_decision(
            tool_name="shell",
            call_id="call-2",
            decision=ToolDecision.DENIED,
            source=DecisionSource.AUTOMATED_REVIEWER,
        )
        t.hook_run(
            hook_event="PreToolUse",
            source="managed",
            command="/opt/hooks/check.sh --strict",
            matcher="shell",
            exit_code=2,
            outcome="blocked",
            decision="deny",
            duration_ms=15,
            message="rm -rf is not allowed",
            call_id="call-3",
        )
        with t.tool_call("shell", "call-4"):
            t.tool_decision(
                tool_name="shell", call_id="call-4", decision="approved", source="config"
            )
            t.sandbox_outcome(
                tool_name="shell",
                call_id="call-4",
                outcome="success",
                initial_duration_ms=40,
                sandbox="workspace-write",
            )
            t.tool_result(
                tool_name="shell",
                call_id="call-4",
                arguments='{"command":["ls","-la"]}',
                output="total 0\nfile-a\nfile-b",
                duration_ms=42,
                success=True,
            )
        t.tool_result(
            tool_name="mcp__docs__search",
            call_id="call-5",
            arguments='{"q":"otel"}',
            output="no results",
            duration_ms=0,
            success=False,
            mcp_server="docs",
            mcp_server_origin="user",
        )
    t.network_policy_decision(
        scope="domain",
        decision="deny",
        source="baseline_policy",
        reason="not_allowed",
        protocol="https_connect",
        host="evil.example",
        port=443,
        method="CONNECT",
        client="127.0.0.1:5555",
        timestamp="2025-01-01T00:00:00.000Z",
    )
    t.network_policy_decision(
        scope="domain",
        decision="allow",
        source="baseline_policy",
        reason="allow",
        protocol="http",
        host="pypi.org",
        port=80,
        method="GET",
        matched_pattern="pypi.org",
    )
    t.requirements_fallback(
        field="sandbox_mode",
        rejected="danger-full-access",
        rejected_from="user",
        value="read-only",
        allowed=["read-only", "workspace-write"],
        requirement_source="/etc/codex/requirements.toml",
    )


def test_every_event_reaches_the_logs_with_its_attributes(
    make_telemetry: MakeTelemetry, rx: OtlpReceiver, protocol: str
) -> None:
    telemetry = make_telemetry()
    emit_everything(telemetry)
    assert telemetry.shutdown().flushed, telemetry.warnings
    assert rx.errors == []

    start = only_log(rx, "codex.conversation_starts")
    assert start.transport == TRANSPORT[protocol]
    assert start.body == "codex.conversation_starts"
    assert start.scope == "codex_otel"
    assert start.attributes["mcp_servers"] == "docs,jira"
    assert "mcp_server_count" not in start.attributes
    for key, value in {
        "provider_name": "openai",
        "approval_policy": "on-request",
        "sandbox_policy": "workspace-write",
        "reasoning_effort": "high",
        "reasoning_summary": "auto",
        "context_window": 272000,
        "auto_compact_token_limit": 200000,
        "active_profile": "work",
        # common fields (spec §2.3)
        "event.name": "codex.conversation_starts",
        "conversation.id": "conv-1",
        "app.version": "9.9.9",
        "auth_mode": "apikey",
        "originator": "codex_exec",
        "user.account_id": "acct-42",
        "user.email": "dev@example.com",
        "terminal.type": "xterm",
        "model": "gpt-test",
        "slug": "gpt-test",
    }.items():
        assert start.attributes[key] == value, key
    assert start.attributes["event.timestamp"].endswith("Z")

    requests = rx.logs_named("codex.api_request")
    assert [r.attributes["attempt"] for r in requests] == [1, 2]
    assert requests[0].attributes["http.response.status_code"] == 200
    assert requests[0].attributes["duration_ms"] == 120
    assert requests[0].attributes["endpoint"] == "/v1/responses"
    assert requests[1].attributes["error.message"] == "upstream overloaded"

    sse = {log.attributes["event.kind"]: log.attributes for log in rx.logs_named("codex.sse_event")}
    assert sse["response.failed"]["error.message"] == "boom"
    completed = sse["response.completed"]
    assert (
        completed["input_token_count"],
        completed["output_token_count"],
        completed["cached_token_count"],
        completed["reasoning_token_count"],
        completed["tool_token_count"],
    ) == (3, 5, 1, 2, 0)

    prompt = only_log(rx, "codex.user_prompt")
    assert prompt.attributes["prompt"] == "[REDACTED]"
    assert prompt.attributes["prompt_length"] == len("fix the build")

    decisions = {
        d.attributes["call_id"]: d.attributes for d in rx.logs_named("codex.tool_decision")
    }
    assert decisions["call-2"]["decision"] == "denied"
    assert decisions["call-2"]["source"] == "automated_reviewer"
    assert (decisions["call-4"]["decision"], decisions["call-4"]["source"]) == (
        "approved",
        "config",
    )

    results = {r.attributes["call_id"]: r.attributes for r in rx.logs_named("codex.tool_result")}
    shell = results["call-4"]
    assert shell["arguments"] == '{"command":["ls","-la"]}'
    assert shell["output"] == "total 0\nfile-a\nfile-b"
    assert (shell["success"], shell["duration_ms"]) == ("true", 42)
    assert (shell["mcp_server"], shell["mcp_server_origin"]) == ("", "")
    mcp = results["call-5"]
    assert (mcp["success"], mcp["mcp_server"], mcp["mcp_server_origin"]) == (
        "false",
        "docs",
        "user",
    )

    sandbox = only_log(rx, "codex.sandbox_outcome").attributes
    assert (sandbox["outcome"], sandbox["initial_duration_ms"]) == ("success", 40)
    assert sandbox["sandbox"] == "workspace-write"

    network = rx.logs_named("codex.network_proxy.policy_decision")
    denied = next(
        n.attributes for n in network if n.attributes["network.policy.decision"] == "deny"
    )
    assert denied["server.address"] == "evil.example"
    assert denied["server.port"] == 443
    assert denied["http.request.method"] == "CONNECT"
    assert denied["network.transport.protocol"] == "https_connect"
    assert denied["network.policy.reason"] == "not_allowed"
    assert denied["network.policy.source"] == "baseline_policy"
    assert denied["network.policy.scope"] == "domain"
    assert denied["client.address"] == "127.0.0.1:5555"
    allowed = next(
        n.attributes for n in network if n.attributes["network.policy.decision"] == "allow"
    )
    assert allowed["network.policy.matched_pattern"] == "pypi.org"

    rules = only_log(rx, "codex.execpolicy.decision").attributes
    assert rules["command"] == "git push --force 'origin main'"
    assert (rules["decision"], rules["source"]) == ("forbidden", "rule")
    assert rules["matched_rules"] == 'prefix_rule(pattern=["git", "push", "--force"])'
    assert rules["justification"] == "force pushes rewrite shared history"

    review = only_log(rx, "codex.guardian.review").attributes
    assert review["rationale"] == "sends the workspace to an unknown host"
    for key, value in {
        "guardian.review_id": "rev-1",
        "decision": "denied",
        "terminal_status": "denied",
        "failure_reason": "none",
        "risk_level": "high",
        "user_authorization": "low",
        "action": "shell",
        "guardian_model": "codex-auto-review",
        "guardian.rule": "exfiltration.unknown_host",
        "duration_ms": 850,
    }.items():
        assert review[key] == value, key

    hook = only_log(rx, "codex.hook.run").attributes
    assert hook["hook.command"] == "/opt/hooks/check.sh --strict"
    assert hook["hook.message"] == "rm -rf is not allowed"
    assert (hook["hook.event"], hook["hook.outcome"], hook["hook.exit_code"]) == (
        "PreToolUse",
        "blocked",
        2,
    )

    fallback = only_log(rx, "codex.requirements.fallback").attributes
    assert fallback["requirements.field"] == "sandbox_mode"
    assert fallback["requirements.rejected"] == "danger-full-access"
    assert fallback["requirements.value"] == "read-only"
    assert fallback["requirements.allowed"] == "read-only,workspace-write"
    assert fallback["requirements.source"] == "/etc/codex/requirements.toml"


def test_resources_name_the_service_and_host_only_on_logs(
    make_telemetry: MakeTelemetry, rx: OtlpReceiver
) -> None:
    telemetry = make_telemetry(environment="staging")
    emit_everything(telemetry)
    assert telemetry.shutdown().flushed
    log_resource = rx.logs[0].resource
    assert log_resource["service.name"] == "codex_exec"
    assert log_resource["service.version"] == "9.9.9"
    assert log_resource["env"] == "staging"
    assert log_resource["host.name"] == socket.gethostname().strip()
    for resource in [s.resource for s in rx.spans] + [p.resource for p in rx.points]:
        assert resource["service.name"] == "codex_exec"
        assert resource["env"] == "staging"
        assert "host.name" not in resource


def test_spans_carry_sizes_and_counts_never_content(
    make_telemetry: MakeTelemetry, rx: OtlpReceiver
) -> None:
    telemetry = make_telemetry()
    emit_everything(telemetry)
    assert telemetry.shutdown().flushed

    turn = rx.spans_named("codex.turn")[0]
    assert turn.attributes["turn.id"] == "turn-1"
    assert turn.attributes["tool_call_count"] == 1
    assert turn.attributes["gen_ai.usage.input_tokens"] == 3
    assert turn.attributes["gen_ai.usage.cache_read.input_tokens"] == 1
    assert turn.attributes["gen_ai.usage.output_tokens"] == 5
    assert turn.attributes["codex.usage.reasoning_output_tokens"] == 2
    assert turn.attributes["codex.usage.total_tokens"] == 9
    tool = rx.spans_named("codex.tool_call")[0]
    assert tool.parent_span_id == turn.span_id and tool.trace_id == turn.trace_id
    assert tool.attributes["output_length"] == len("total 0\nfile-a\nfile-b")
    assert tool.attributes["output_line_count"] == 3
    assert tool.attributes["tool_origin"] == "builtin"

    # trace-safe span events: attached to the span that was open when they were emitted
    prompt = turn.event("codex.user_prompt").attributes
    assert prompt == prompt | {
        "prompt_length": 13,
        "text_input_count": 1,
        "image_input_count": 1,
        "local_image_input_count": 0,
    }
    assert "prompt" not in prompt
    result = tool.event("codex.tool_result").attributes
    assert result["arguments_length"] == len('{"command":["ls","-la"]}')
    assert result["output_line_count"] == 3
    assert result["mcp_tool"] is False and result["tool_origin"] == "builtin"
    assert "arguments" not in result and "output" not in result
    mcp = turn.event("codex.tool_result").attributes  # emitted outside the tool-call scope
    assert (mcp["tool_origin"], mcp["mcp_tool"]) == ("mcp", True)
    rules = turn.event("codex.execpolicy.decision").attributes
    assert "command" not in rules and rules["argv_count"] == 4
    review = turn.event("codex.guardian.review").attributes
    assert "rationale" not in review and review["rationale_length"] > 0
    hook = turn.event("codex.hook.run").attributes
    assert "hook.command" not in hook and "hook.message" not in hook
    start = rx.spans_named("codex.conversation_starts")[0].event("codex.conversation_starts")
    assert start.attributes["mcp_server_count"] == 2 and "mcp_servers" not in start.attributes

    # log-only events never reach traces; user identity never reaches traces
    names = {e.name for span in rx.spans for e in span.events}
    assert "codex.tool_decision" not in names
    assert "codex.network_proxy.policy_decision" not in names
    for span in rx.spans:
        for attributes in [span.attributes, *(e.attributes for e in span.events)]:
            assert "user.email" not in attributes and "user.account_id" not in attributes
            assert "dev@example.com" not in str(attributes)
    for content in ("fix the build", "file-a", "origin main", "unknown host", "check.sh"):
        assert not any(content in text for s in rx.spans for text in _span_strings(s)), content


def _span_strings(span: ReceivedSpan) -> list[str]:
    out: list[str] = []
    for attributes in [span.attributes, *(e.attributes for e in span.events)]:
        out.extend(str(v) for v in attributes.values())
    return out


def test_metrics_with_names_and_tags(make_telemetry: MakeTelemetry, rx: OtlpReceiver) -> None:
    telemetry = make_telemetry()
    emit_everything(telemetry)
    assert telemetry.shutdown().flushed

    assert {
        "codex.thread.started",
        "codex.tool.call",
        "codex.tool.call.duration_ms",
        "codex.api_request",
        "codex.api_request.duration_ms",
        "codex.sse_event",
        "codex.sse_event.duration_ms",
        "codex.turn.e2e_duration_ms",
        "codex.turn.ttft.duration_ms",
        "codex.turn.ttfm.duration_ms",
        "codex.turn.tool.call",
        "codex.turn.token_usage",
        "codex.turn.network_proxy",
        "codex.guardian.review",
        "codex.guardian.review.duration_ms",
        "codex.guardian.review.ttft.duration_ms",
        "codex.guardian.review.token_usage",
        "codex.sandbox.outcome",
        "codex.execpolicy.decision",
        "codex.requirements.fallback",
        "codex.hook.run",
        "codex.hook.run.duration_ms",
    } <= rx.metric_names()

    session_tags = {
        "auth_mode": "apikey",
        "session_source": "exec",
        "originator": "codex_exec",
        "service_name": "codex_exec",
        "model": "gpt-test",
        "app_version": "9.9.9",
    }
    for point in rx.points:
        assert point.attributes == point.attributes | session_tags, point
        assert "user.email" not in point.attributes
        assert "le" not in point.attributes

    assert rx.metric_total("codex.tool.call", tool="shell", success="true") == 1
    assert rx.metric_total("codex.tool.call", tool="mcp__docs__search", success="false") == 1
    assert rx.metric_total("codex.api_request", status="200", success="true") == 1
    assert rx.metric_total("codex.api_request", status="503", success="false") == 1
    assert rx.metric_total("codex.sse_event", kind="response.failed", success="false") == 1
    tokens = {
        t: rx.metric_total("codex.turn.token_usage", token_type=t)
        for t in (
            "total",
            "input",
            "cached_input",
            "non_cached_input",
            "output",
            "reasoning_output",
        )
    }
    assert tokens == {
        "total": 9,
        "input": 3,
        "cached_input": 1,
        "non_cached_input": 2,
        "output": 5,
        "reasoning_output": 2,
    }
    assert rx.metric_total("codex.turn.tool.call") == 1
    assert rx.metric_total("codex.turn.network_proxy", decision="deny", scope="domain") == 1
    assert rx.metric_total("codex.turn.network_proxy", decision="allow") == 1
    review = rx.points_named("codex.guardian.review")[0].attributes
    assert review == review | {
        "decision": "denied",
        "terminal_status": "denied",
        "failure_reason": "none",
        "approval_request_source": "main_turn",
        "action": "shell",
        "session_kind": "interactive",
        "had_prior_review_context": "false",
        "reviewed_action_truncated": "false",
        "risk_level": "high",
        "user_authorization": "low",
        "outcome": "deny",
        "rule": "exfiltration.unknown_host",
        "guardian_model": "codex-auto-review",
        "guardian_reasoning_effort": "low",
    }
    assert rx.metric_total("codex.guardian.review.token_usage", token_type="input") == 100
    assert rx.metric_total("codex.execpolicy.decision", decision="forbidden", source="rule") == 1
    assert rx.metric_total("codex.hook.run", hook_event="PreToolUse", outcome="blocked") == 1
    assert rx.metric_total("codex.requirements.fallback", field="sandbox_mode") == 1

    duration = rx.points_named("codex.tool.call.duration_ms", tool="shell")[0]
    assert (duration.kind, duration.unit, duration.count, duration.value) == (
        "histogram",
        "ms",
        1,
        42.0,
    )
    counter = rx.points_named("codex.tool.call", tool="shell")[0]
    assert (counter.kind, counter.temporality) == ("sum", 1)  # delta, like Codex
    assert rx.points_named("codex.turn.token_usage")[0].unit == "{token}"


def test_metric_tag_values_are_sanitised_on_the_wire(
    make_telemetry: MakeTelemetry, rx: OtlpReceiver
) -> None:
    telemetry = make_telemetry()
    for name in ("my tool!", "__", "x" * 300, "mcp__srv__do/it"):
        telemetry.tool_result(
            tool_name=name, call_id="c", arguments="", output="", duration_ms=1, success=True
        )
    assert telemetry.shutdown().flushed
    tools = {p.attributes["tool"] for p in rx.points_named("codex.tool.call")}
    assert tools == {"my_tool", "unspecified", "x" * 256, "mcp__srv__do/it"}


def test_span_attributes_tracestate_and_traceparent(
    make_telemetry: MakeTelemetry, rx: OtlpReceiver
) -> None:
    parent_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    telemetry = make_telemetry(
        span_attributes={"team": "payments"},
        tracestate={"codex": {"team": "payments", "tier": "1"}},
        environ={"TRACEPARENT": f"00-{parent_trace}-00f067aa0ba902b7-01", "TRACESTATE": "ci=1"},
    )
    with telemetry.turn("t"):
        pass
    telemetry.tool_result(
        tool_name="shell", call_id="c", arguments="", output="", duration_ms=1, success=True
    )
    assert telemetry.shutdown().flushed
    assert len(rx.spans) == 2
    for span in rx.spans:
        assert span.attributes["team"] == "payments"
        assert span.trace_id == parent_trace
        assert span.parent_span_id == "00f067aa0ba902b7"
        members = dict(item.split("=", 1) for item in span.trace_state.split(","))
        assert members == {"codex": "team:payments;tier:1", "ci": "1"}


def test_headers_reach_the_collector(rx: OtlpReceiver, protocol: str, tmp_path: object) -> None:
    from pathlib import Path

    from codex_admin.telemetry import start_telemetry
    from tests.telemetry.conftest import exporter_for

    otel = {
        "exporter": exporter_for(rx, protocol, "logs", headers={"X-Codex-Team": "payments"}),
    }
    telemetry = start_telemetry(otel, codex_home=Path(str(tmp_path)), environ={})
    assert telemetry.signals == {"logs"}
    telemetry.tool_decision(tool_name="shell", call_id="c", decision="approved", source="user")
    assert telemetry.shutdown().flushed
    assert rx.requests and all(r.headers["x-codex-team"] == "payments" for r in rx.requests)
    assert rx.spans == [] and rx.points == []
