"""The top-level telemetry/ folder: the collector config is wired, the queries and dashboard
name only events and metrics that exist, and the jq audit queries work on real OTLP/JSON."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from codex_admin.telemetry import Event, Metric, TokenUsage, start_telemetry
from tests.support.otlp_receiver import OtlpReceiver

ADMIN = Path(__file__).resolve().parents[2] / "telemetry"
EVENTS = {e.value for e in Event}
METRIC_NAMES = {m.value.replace(".", "_") for m in Metric}


def test_collector_pipelines_reference_defined_components() -> None:
    config = yaml.safe_load((ADMIN / "collector" / "otelcol.yaml").read_text())
    connectors = set(config.get("connectors", {}))
    pipelines = config["service"]["pipelines"]
    assert {"traces", "metrics"} <= set(pipelines) and any(p.startswith("logs") for p in pipelines)
    for name, pipeline in pipelines.items():
        for receiver in pipeline["receivers"]:
            assert receiver in config["receivers"] or receiver in connectors, (name, receiver)
        for processor in pipeline.get("processors", []):
            assert processor in config["processors"], (name, processor)
        for exporter in pipeline["exporters"]:
            assert exporter in config["exporters"] or exporter in connectors, (name, exporter)
        if "batch" in pipeline.get("processors", []):  # request metadata (team) is lost after batch
            processors = pipeline["processors"]
            assert processors.index("resource/team") < processors.index("batch")
    routing = config["connectors"]["routing/governance"]
    for route in routing["table"]:
        for pipeline in route["pipelines"]:
            assert pipeline in pipelines
    named = set(re.findall(r'"(codex\.[a-z_.]+)"', routing["table"][0]["condition"]))
    assert named and named <= EVENTS
    otlp = config["receivers"]["otlp"]["protocols"]
    assert otlp["grpc"]["endpoint"].endswith(":4317") and otlp["http"]["endpoint"].endswith(":4318")


def _metric_refs(text: str) -> set[str]:
    refs = set(re.findall(r"\bcodex_[a-z0-9_]+", text))
    return {re.sub(r"_(bucket|sum|count)$", "", ref) for ref in refs}


def test_queries_and_dashboard_name_only_real_events_and_metrics() -> None:
    texts = [p.read_text() for p in (ADMIN / "queries").iterdir()]
    dashboard = json.loads((ADMIN / "dashboards" / "codex-governance.json").read_text())
    texts.append(json.dumps(dashboard))
    events = set().union(*(re.findall(r"codex\.[a-z_]+(?:\.[a-z_]+)*", t) for t in texts))
    metrics = set().union(*(_metric_refs(t) for t in texts))
    assert events and metrics
    assert events <= EVENTS | {m.value for m in Metric}, events - EVENTS
    assert metrics <= METRIC_NAMES, metrics - METRIC_NAMES
    for panel in dashboard["panels"]:
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]


def _audit_lines(tmp_path: Path) -> Path:
    """What the collector's file exporter writes: one OTLP/JSON logs request per line."""
    with OtlpReceiver() as rx:
        telemetry = start_telemetry(
            {"exporter": {"otlp-http": {"endpoint": rx.http_url("logs"), "protocol": "json"}}},
            codex_home=tmp_path,
            environ={"OTEL_RESOURCE_ATTRIBUTES": "team=payments"},
        )
        for host, decision in (("evil.example", "deny"), ("evil.example", "deny"),
                               ("pastebin.com", "deny"), ("pypi.org", "allow")):  # fmt: skip
            telemetry.network_policy_decision(
                scope="domain", decision=decision, source="baseline_policy",
                reason="not_allowed" if decision == "deny" else "allow",
                protocol="https_connect", host=host, port=443,
            )  # fmt: skip
        telemetry.execpolicy_decision(
            call_id="c1", command=["git", "push", "--force"], decision="forbidden",
            source="rule", matched_rules=["git push --force"],
        )  # fmt: skip
        telemetry.execpolicy_decision(call_id="c2", command=["ls"], decision="allow", source="rule")
        telemetry.tool_decision(tool_name="shell", call_id="c3", decision="denied", source="user")
        for rule in ("exfiltration", "exfiltration", None):
            telemetry.guardian_review(
                review_id="r", call_id="c4", action="shell", decision="denied",
                terminal_status="denied", duration_ms=5, rule=rule, usage=TokenUsage(1, 0, 1),
            )  # fmt: skip
        assert telemetry.shutdown().flushed
        bodies = [r.body for r in rx.requests if r.transport == "http/json"]
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"\n".join(bodies) + b"\n")
    return path


def _jq(query: str, audit: Path) -> Any:
    jq = shutil.which("jq")
    if jq is None:
        pytest.skip("jq is not installed")
    out = subprocess.run(
        [jq, "-s", "-L", str(ADMIN / "queries"), "-f", str(ADMIN / "queries" / query), str(audit)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_jq_audit_queries_on_real_otlp_json(tmp_path: Path) -> None:
    audit = _audit_lines(tmp_path)
    assert _jq("blocked-hosts.jq", audit) == [
        {"host": "evil.example", "blocked": 2, "reasons": ["not_allowed"]},
        {"host": "pastebin.com", "blocked": 1, "reasons": ["not_allowed"]},
    ]
    denied = _jq("denied-commands.jq", audit)
    assert denied["forbidden_by_rules"] == [
        {"command": "git push --force", "rules": "git push --force", "team": "payments",
         "conversation": None},
    ]  # fmt: skip
    assert [d["call_id"] for d in denied["denied_tool_calls"]] == ["c3"]
    assert _jq("guardian-denials-by-rule.jq", audit) == [
        {"rule": "exfiltration", "denials": 2},
        {"rule": "model", "denials": 1},
    ]
