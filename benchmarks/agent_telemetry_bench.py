"""What telemetry costs the governed agent: per tool call through a real session, the disabled
path on its own, and the exit time of `codex exec` with a stalled receiver.

1. Per tool call, in process: a real session (governance loaded from a real CODEX_HOME, the mock
   Responses server on 127.0.0.1) runs one turn whose response holds 100 tool calls -- 50
   ``update_plan`` and 50 shell commands a ``forbidden`` rule refuses (so every governed step
   runs: hooks wrapper, execpolicy, decision, result -- but no process is spawned to drown the
   difference) -- with telemetry off (no `[otel]`) and exporting all three signals to a real
   OTLP receiver over HTTP protobuf and gRPC. Alternating rounds, medians; printed per tool call
   and as the extra over "off" (the SSE events of the call's items are included).
2. The disabled path alone: the observability calls one governed tool call makes, against a
   session without `[otel]`, in nanoseconds (what "a session without [otel] costs ~nothing"
   means), and the import time of the modules it loads.
3. Exit: wall time of a one-message `codex exec` (a real process) with telemetry off, with a
   healthy receiver, and with a receiver that accepts and never answers (flush bound 1 s);
   medians of alternating runs.

    .venv/bin/python benchmarks/agent_telemetry_bench.py     # ~40 s on 2 busy cores
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import tomlkit  # noqa: E402

from tests.support import (  # noqa: E402
    MockResponsesServer,
    assistant_turn,
    function_call_item,
    responses_turn,
)
from tests.support.otlp_receiver import OtlpReceiver  # noqa: E402
from tests.telemetry.conftest import otel_table  # noqa: E402

CALLS = 100
ROUNDS = 5
KEY = "sk-bench-abcdefghijklmnopqrstuvwxyz0123"
CODEX = [sys.executable, "-c", "from codex_admin.cli.main import main; main()"]
# Byte-compiled once into a scratch prefix, so wall times exclude compiling our sources.
PYC_ENV = {**os.environ, "PYTHONPYCACHEPREFIX": os.path.join(tempfile.gettempdir(), "codex-pyc")}
PYC_ENV.pop("PYTHONDONTWRITEBYTECODE", None)


def tool_calls() -> list[dict[str, Any]]:
    plan = {
        "plan": [{"step": "look", "status": "in_progress"}, {"step": "fix", "status": "pending"}]
    }
    items = []
    for index in range(CALLS // 2):
        items.append(function_call_item("update_plan", plan, call_id=f"plan_{index}"))
        items.append(
            function_call_item("shell", {"command": ["touch", f"f{index}"]}, call_id=f"sh_{index}")
        )
    return items


def make_home(root: Path, name: str, server: MockResponsesServer, otel: Any) -> Path:
    home = root / name
    (home / "rules").mkdir(parents=True)
    (home / "rules" / "org.rules").write_text(
        'prefix_rule(pattern=["touch"], decision="forbidden", justification="not here")\n'
    )
    config: dict[str, Any] = {
        "model": "gpt-test",
        "model_provider": "mock",
        "model_providers": {"mock": server.provider_config(env_key="BENCH_KEY")},
    }
    if otel is not None:
        config["otel"] = otel
    (home / "config.toml").write_text(tomlkit.dumps(config))
    return home


async def one_turn(home: Path, repo: Path, server: MockResponsesServer) -> float:
    """Seconds from the prompt to ``turn.completed`` (session start and shutdown excluded)."""
    from codex_admin.agent.bootstrap import SessionOptions, open_session
    from codex_admin.agent.events import TurnCompleted
    from codex_admin.agent.submissions import Shutdown, UserInput
    from codex_admin.governance import GovernanceRequest, load_governance

    os.environ["CODEX_HOME"] = str(home)
    governance = load_governance(GovernanceRequest(cwd=repo))
    server.enqueue(responses_turn(*tool_calls()), assistant_turn("done"))
    async with open_session(governance, SessionOptions(ephemeral=True)) as session:
        started = time.perf_counter()
        await session.submit(UserInput("go"))
        async for event in session.events():
            if isinstance(event, TurnCompleted):
                elapsed = time.perf_counter() - started
                break
        await session.submit(Shutdown())
    return elapsed


def bench_session(root: Path) -> None:
    repo = root / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    os.environ.update(
        BENCH_KEY=KEY, CODEX_SYSTEM_DIR=str(root / "system"), CODEX_MDM_PLIST="", TERM="xterm"
    )
    with MockResponsesServer() as server, OtlpReceiver() as rx:
        homes = {
            "off": make_home(root, "off", server, None),
            "on, http/protobuf": make_home(root, "binary", server, otel_table(rx, "binary")),
            "on, grpc": make_home(root, "grpc", server, otel_table(rx, "grpc")),
        }
        samples: dict[str, list[float]] = {name: [] for name in homes}
        for home in homes.values():  # warm-up: imports, rules, SDK
            asyncio.run(one_turn(home, repo, server))
        for _ in range(ROUNDS):
            for name, home in homes.items():
                samples[name].append(asyncio.run(one_turn(home, repo, server)) / CALLS * 1e6)
        exported = len(rx.logs_named("codex.tool_result"))
    base = statistics.median(samples["off"])
    print(f"per governed tool call through a session ({CALLS} calls per turn, {ROUNDS} rounds):")
    print(f"  telemetry off            {base:8.0f} us")
    for name in list(homes)[1:]:
        median = statistics.median(samples[name])
        print(f"  {name:<24} {median:8.0f} us   (+{median - base:.0f} us, {median / base:.2f}x)")
    print(f"  ({exported} codex.tool_result records reached the receiver)")


def bench_disabled_path() -> None:
    from codex_admin.agent.observability import SessionObservability
    from codex_admin.agent.reviewers import DecisionSource, ReviewDecision

    observe = SessionObservability.off()
    n = 200_000

    def one() -> None:
        with observe.tool_call("shell", "call", "{}") as tool:
            observe.tool_decision(ReviewDecision.APPROVED, DecisionSource.CONFIG)
            observe.sandbox_outcome("success", initial_s=0.01, sandbox="workspace-write")
            tool.finished("output", True)

    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            one()
        runs.append((time.perf_counter() - start) / n * 1e9)
    print(
        f"disabled path: the observability calls of one tool call cost"
        f" {statistics.median(runs):.0f} ns without [otel]"
    )
    # Without `[otel]` a session loads only the observability module (the telemetry session
    # code, the SDK, grpc and protobuf stay unloaded): its own import time, median of 5.
    times = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import codex_admin.agent.observability"],
            cwd=REPO,
            env=PYC_ENV,
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        line = next(x for x in out.splitlines() if x.endswith("codex_admin.agent.observability"))
        times.append(int(line.split("|")[0].split(":")[1]) / 1000)
    print(f"  import of the observability module (self time): {statistics.median(times):.1f} ms")


def exec_wall(env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [*CODEX, "exec", "--json", "hi"],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def bench_exit(root: Path) -> None:
    repo = root / "exit-repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    with (
        MockResponsesServer() as server,
        OtlpReceiver() as healthy,
        OtlpReceiver(mode="stall") as stalled,
    ):
        server.default_turn = assistant_turn("hello")
        homes = {
            "telemetry off": make_home(root, "x-off", server, None),
            "healthy receiver (grpc)": make_home(root, "x-ok", server, otel_table(healthy, "grpc")),
            "stalled receiver (grpc)": make_home(
                root, "x-stall", server, otel_table(stalled, "grpc")
            ),
            "stalled receiver (http)": make_home(
                root, "x-stall-http", server, otel_table(stalled, "binary")
            ),
        }
        base_env = {k: v for k, v in PYC_ENV.items() if not k.startswith(("CODEX_", "OPENAI_"))}
        base_env.update(
            BENCH_KEY=KEY,
            CODEX_SYSTEM_DIR=str(root / "system"),
            CODEX_MDM_PLIST="",
            CODEX_OTEL_FLUSH_TIMEOUT_MS="1000",
        )
        samples: dict[str, list[float]] = {name: [] for name in homes}
        exec_wall({**base_env, "CODEX_HOME": str(homes["telemetry off"])}, repo)  # warm
        for _ in range(3):
            for name, home in homes.items():
                samples[name].append(exec_wall({**base_env, "CODEX_HOME": str(home)}, repo))
    print("`codex exec` wall time, one-message turn, flush bound 1 s (medians of 3 alternating):")
    base = statistics.median(samples["telemetry off"])
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:<24} {median * 1000:6.0f} ms   (+{(median - base) * 1000:.0f} ms)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bench_session(root)
        bench_disabled_path()
        bench_exit(root)


if __name__ == "__main__":
    main()
