"""Telemetry cost: per-event overhead with exporters off vs on, and exit time with a stalled
receiver, against baselines measured in the same run.

1. Per event: one "tool call" (a `tool_call` span, `tool_decision`, `tool_result` with 2 KiB of
   output, so redaction and the content path are included) emitted by a disabled session, and by
   a live session exporting all three signals over each protocol to a real receiver on
   127.0.0.1. Alternating rounds, medians of per-round means; printed as microseconds and as the
   ratio to the disabled session.
2. Import: ``import codex_admin.telemetry`` + a disabled session, vs ``python -c pass``.
3. Exit: a subprocess that emits and exits, time from its last line to its exit, with a healthy
   receiver vs a stalled one (flush bound 1 s), medians of alternating runs.

    .venv/bin/python benchmarks/telemetry_bench.py          # ~40 s on 2 busy cores
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from codex_admin.telemetry import Telemetry, start_telemetry  # noqa: E402
from tests.support.otlp_receiver import OtlpReceiver  # noqa: E402
from tests.telemetry.conftest import otel_table  # noqa: E402

OUTPUT = ("line of tool output with a path /home/dev/project/src/main.py:42\n" * 32)[:2048]
ROUNDS, EVENTS = 5, 200
# Byte-compiled once into a scratch prefix, so start-up numbers exclude compiling our sources
# (this machine sets PYTHONDONTWRITEBYTECODE).
PYC_ENV = {
    **os.environ,
    "PYTHONPYCACHEPREFIX": os.path.join(tempfile.gettempdir(), "codex-bench-pyc"),
}
PYC_ENV.pop("PYTHONDONTWRITEBYTECODE", None)


def one_tool_call(telemetry: Telemetry, index: int) -> None:
    call_id = f"call-{index}"
    with telemetry.tool_call("shell", call_id):
        telemetry.tool_decision(tool_name="shell", call_id=call_id, decision="approved",
                                source="config")  # fmt: skip
        telemetry.tool_result(tool_name="shell", call_id=call_id, arguments='{"command":["ls"]}',
                              output=OUTPUT, duration_ms=12, success=True)  # fmt: skip


def per_event_us(telemetry: Telemetry) -> float:
    start = time.perf_counter()
    for index in range(EVENTS):
        one_tool_call(telemetry, index)
    return (time.perf_counter() - start) / EVENTS * 1e6


def bench_events(home: Path) -> None:
    print(f"per tool call (span + 2 events + 2 metrics, 2 KiB output), {ROUNDS} rounds:")
    off = Telemetry.disabled()
    with OtlpReceiver() as rx:
        live = {
            protocol: start_telemetry(otel_table(rx, protocol), codex_home=home, environ={})
            for protocol in ("binary", "json", "grpc")
        }
        samples: dict[str, list[float]] = {"off": [], **{p: [] for p in live}}
        for _ in range(ROUNDS):
            samples["off"].append(per_event_us(off))
            for protocol, telemetry in live.items():
                samples[protocol].append(per_event_us(telemetry))
                telemetry.force_flush(5)  # export between rounds, outside the timed part
        for telemetry in live.values():
            telemetry.shutdown(5)
    base = statistics.median(samples["off"])
    print(f"  exporters off        {base:9.2f} us   (1.0x)")
    for protocol in live:
        median = statistics.median(samples[protocol])
        print(f"  on, {protocol:<16} {median:9.2f} us   ({median / base:,.0f}x off)")


def wall(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=REPO, env=PYC_ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def bench_import() -> None:
    code = (
        "from pathlib import Path; from codex_admin.telemetry import start_telemetry;"
        " start_telemetry(None, codex_home=Path('.'))"
    )
    stdlib = "import dataclasses, datetime, enum, re, typing, contextvars, pathlib"
    runs: dict[str, list[float]] = {"pass": [], "stdlib": [], "telemetry": []}
    wall([sys.executable, "-c", code])  # warm the byte-code cache
    for _ in range(ROUNDS):
        runs["pass"].append(wall([sys.executable, "-c", "pass"]))
        runs["stdlib"].append(wall([sys.executable, "-c", stdlib]))
        runs["telemetry"].append(wall([sys.executable, "-c", code]))
    p, s, t = (statistics.median(runs[k]) * 1000 for k in ("pass", "stdlib", "telemetry"))
    print(f"start-up without [otel]: python -c pass {p:.0f} ms; the stdlib modules every command"
          f" already loads {s:.0f} ms; + telemetry package and a disabled session {t:.0f} ms"
          f" (+{t - s:.0f} ms over the stdlib, no SDK/pydantic/grpc loaded)")  # fmt: skip


def exit_time(url: str, protocol: str) -> float:
    env = {**PYC_ENV, "CODEX_OTEL_FLUSH_TIMEOUT_MS": "1000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.telemetry.probe", protocol, url],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    while (line := proc.stdout.readline()) and not line.startswith("READY"):
        pass
    start = time.perf_counter()
    proc.wait()
    proc.stdout.close()
    return time.perf_counter() - start


def bench_exit() -> None:
    print("exit time after the last event (flush bound 1 s), medians of 3 alternating runs:")
    with OtlpReceiver() as ok, OtlpReceiver(mode="stall") as stalled:
        for protocol in ("binary", "json", "grpc"):
            healthy, stuck = [], []
            for _ in range(3):
                url_ok = ok.grpc_url if protocol == "grpc" else ok.http_base
                url_bad = stalled.grpc_url if protocol == "grpc" else stalled.http_base
                healthy.append(exit_time(url_ok, protocol))
                stuck.append(exit_time(url_bad, protocol))
            h, s = statistics.median(healthy), statistics.median(stuck)
            print(f"  {protocol:<7} healthy receiver {h * 1000:5.0f} ms   stalled {s * 1000:5.0f} ms"
                  f"   (+{(s - h) * 1000:.0f} ms, bound 1000 ms)")  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench_events(Path(tmp))
    bench_import()
    bench_exit()


if __name__ == "__main__":
    main()
