"""A process that configures telemetry, emits one of everything, and exits (for exit-time tests).

``python -m tests.telemetry.probe PROTOCOL ENDPOINT [--shutdown]``: exports all three signals to
ENDPOINT (``binary`` / ``json`` use ``ENDPOINT/v1/<signal>``; ``grpc`` uses it as is), prints
``READY`` right before the interpreter starts exiting, and relies on the session's ``atexit``
flush unless ``--shutdown`` asks for an explicit one (whose report is printed as JSON first).
The flush bound comes from ``CODEX_OTEL_FLUSH_TIMEOUT_MS``, as in a real deployment.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from codex_admin.telemetry import SessionMeta, TokenUsage, start_telemetry


def main(argv: list[str]) -> int:
    protocol, endpoint = argv[0], argv[1]
    if protocol == "grpc":
        exporters = {signal: {"otlp-grpc": {"endpoint": endpoint}} for signal in ("l", "t", "m")}
    else:
        exporters = {
            signal: {"otlp-http": {"endpoint": f"{endpoint}/v1/{name}", "protocol": protocol}}
            for signal, name in (("l", "logs"), ("t", "traces"), ("m", "metrics"))
        }
    telemetry = start_telemetry(
        {
            "exporter": exporters["l"],
            "trace_exporter": exporters["t"],
            "metrics_exporter": exporters["m"],
        },
        codex_home=Path(tempfile.gettempdir()),
        originator="codex_exec",
        version="0.0.1",
        meta=SessionMeta(conversation_id="probe", session_source="exec", model="m"),
    )
    telemetry.conversation_starts(
        provider_name="openai", approval_policy="never", sandbox_policy="read-only"
    )
    with telemetry.turn("turn-1") as turn:
        telemetry.user_prompt("hello")
        with telemetry.tool_call("shell", "c1"):
            telemetry.tool_result(
                tool_name="shell",
                call_id="c1",
                arguments="{}",
                output="ok",
                duration_ms=3,
                success=True,
            )
        turn.token_usage(TokenUsage(input_tokens=3, output_tokens=5))
    if "--shutdown" in argv:
        report = telemetry.shutdown()
        print(json.dumps({"flushed": report.flushed, "elapsed_s": report.elapsed_s,
                          "warnings": list(report.warnings)}))  # fmt: skip
    print("READY", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
