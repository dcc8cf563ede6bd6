"""Without an exporter: every call is a no-op and nothing heavy is ever imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from codex_admin.telemetry import SessionMeta, Telemetry, TokenUsage, start_telemetry

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("opentelemetry", "grpc", "google.protobuf", "pydantic", "httpx", "requests")


def test_no_otel_table_means_a_disabled_session(tmp_path: Path) -> None:
    for table in (None, {}, {"environment": "prod", "log_user_prompt": True},
                  {"exporter": "none", "trace_exporter": "none", "metrics_exporter": "none"}):  # fmt: skip
        telemetry = start_telemetry(table, codex_home=tmp_path, environ={})
        assert not telemetry.enabled and telemetry.signals == frozenset()
        assert telemetry.warnings == []


def test_every_emitter_and_scope_is_a_no_op() -> None:
    telemetry = Telemetry.disabled("codex_exec", "1.0")
    telemetry.update_meta(model="m", conversation_id="c")
    telemetry.register_secret("a-secret-value")
    telemetry.conversation_starts(provider_name="p", approval_policy="never", sandbox_policy="ro")
    with telemetry.turn("t") as turn:
        turn.first_token()
        turn.first_message()
        turn.token_usage(TokenUsage(1, 0, 1))
        with telemetry.tool_call("shell", "c"):
            telemetry.tool_result(
                tool_name="shell", call_id="c", arguments="", output="", duration_ms=1, success=True
            )
    telemetry.user_prompt("p")
    telemetry.api_request(attempt=1, duration_ms=1, status_code=200)
    telemetry.sse_event(kind="k", duration_ms=1)
    telemetry.tool_decision(tool_name="t", call_id="c", decision="approved", source="user")
    telemetry.sandbox_outcome(tool_name="t", call_id="c", outcome="success", initial_duration_ms=1)
    telemetry.network_policy_decision(
        scope="domain", decision="deny", source="s", reason="r", protocol="http", host="h", port=1
    )
    telemetry.execpolicy_decision(call_id="c", command=["ls"], decision="allow", source="rule")
    telemetry.requirements_fallback(field="f", rejected="a", value="b", allowed=["b"],
                                    requirement_source="s")  # fmt: skip
    telemetry.guardian_review(review_id="r", call_id="c", action="shell", decision="approved",
                              terminal_status="approved", duration_ms=1)  # fmt: skip
    telemetry.hook_run(hook_event="Stop", source="user", command="x", outcome="success",
                       duration_ms=1)  # fmt: skip
    assert telemetry.force_flush()
    report = telemetry.shutdown()
    assert report.flushed and report.warnings == ()
    assert telemetry.meta == SessionMeta(model="m", conversation_id="c")


def test_a_session_without_exporters_imports_no_sdk_pydantic_or_http_client() -> None:
    """Commands without [otel] pay nothing: checked in a fresh interpreter."""
    script = f"""
import json, sys
from pathlib import Path
from codex_admin.telemetry import start_telemetry
t = start_telemetry(None, codex_home=Path("."), originator="codex_exec")
with t.turn("x"):
    t.tool_result(tool_name="s", call_id="c", arguments="", output="", duration_ms=1, success=True)
t.shutdown()
print(json.dumps(sorted(m for m in sys.modules if m.startswith({HEAVY!r}))))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


def test_importing_the_package_loads_no_submodule_until_used() -> None:
    script = (
        "import sys, codex_admin.telemetry as t; "
        "print(sorted(m for m in sys.modules if m.startswith('codex_admin.telemetry.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
