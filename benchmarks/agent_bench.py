"""The governed agent's own costs, as ratios against baselines measured in the same run.

1. Cold start to the first model request: `codex exec --json` started as a process until the
   mock Responses server receives the request, against a bare `python -c pass`.
2. Per tool call: a turn of N `shell` calls running `true` against a turn of N `update_plan`
   calls (same model round trips, no command), divided by N -- what a governed command adds
   (rules, approval policy, sandbox plan, bubblewrap, output formatting) -- against a bare
   `bwrap --ro-bind / / --unshare-net ... true`; with `--network none` and through the session
   proxy (`--network proxy`).

Runs alternate between the measured thing and its baseline and report medians.

    .venv/bin/python benchmarks/agent_bench.py [--runs 7] [--calls 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tomlkit  # noqa: E402

from codex_admin.sandbox import locate_bwrap  # noqa: E402
from tests.support import (  # noqa: E402
    MockResponsesServer,
    assistant_turn,
    function_call_item,
    responses_turn,
)

CODEX = [sys.executable, "-c", "from codex_admin.cli.main import main; main()"]


def _env(home: Path, system: Path) -> dict[str, str]:
    # Bytecode caching on, as in any installed copy: otherwise every run measures compilation.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CODEX_", "OPENAI_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(CODEX_HOME=str(home), CODEX_SYSTEM_DIR=str(system), CODEX_MDM_PLIST="")
    return env


def _config(home: Path, server: MockResponsesServer, **extra: object) -> None:
    document: dict[str, object] = {
        "model": "gpt-test",
        "model_provider": "mock",
        "model_providers": {"mock": server.provider_config()},
    }
    document.update(extra)
    (home / "config.toml").write_text(tomlkit.dumps(document))


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def cold_start(runs: int, work: Path) -> None:
    home, system, repo = work / "home", work / "system", work / "repo"
    for folder in (home, system, repo):
        folder.mkdir(exist_ok=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    ours, bare = [], []
    with MockResponsesServer() as server:
        server.default_turn = assistant_turn("ok")
        _config(home, server)
        env = _env(home, system)
        for _ in range(runs + 1):  # the first round warms caches and is dropped
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            bare.append(time.perf_counter() - started)
            seen = len(server.requests)
            started = time.perf_counter()
            proc = subprocess.Popen(
                [*CODEX, "exec", "--json", "--ephemeral", "hi"],
                cwd=repo,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            while len(server.requests) == seen:
                time.sleep(0.0005)
            ours.append(time.perf_counter() - started)
            proc.wait()
    ours, bare = ours[1:], bare[1:]
    print(f"cold start to first request: {_median_ms(ours):7.1f} ms")
    print(f"python -c pass:              {_median_ms(bare):7.1f} ms")
    print(
        f"ratio:                       {statistics.median(ours) / statistics.median(bare):7.2f}x"
        "  (goal <= 8x)"
    )


def _turn_seconds(
    server: MockResponsesServer,
    argv: list[str],
    env: dict[str, str],
    repo: Path,
    items: list[dict[str, object]],
) -> float:
    before = len(server.requests)
    server.enqueue(*(responses_turn(item) for item in items), assistant_turn("done"))
    subprocess.run(
        argv,
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    stamps = [r.received_at for r in server.requests[before:]]
    return (stamps[-1] - stamps[0]) / len(items)


def per_call(runs: int, calls: int, work: Path) -> None:
    bwrap, source = locate_bwrap()
    if bwrap is None:
        print("per tool call: skipped (no bubblewrap)")
        return
    home, system, repo = work / "home2", work / "system2", work / "repo2"
    for folder in (home, system, repo):
        folder.mkdir(exist_ok=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    bare_argv = [
        bwrap,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
        "--",
        "true",
    ]
    shell = [function_call_item("shell", {"command": ["true"]}) for _ in range(calls)]
    plan = [
        function_call_item("update_plan", {"plan": [{"step": "s", "status": "pending"}]})
        for _ in range(calls)
    ]
    with MockResponsesServer() as server:
        env = _env(home, system)
        for network in ("none", "proxy"):
            extra: dict[str, object] = {}
            if network == "proxy":
                extra["network"] = {"enabled": True, "domains": {"example.com": "allow"}}
            _config(home, server, **extra)
            argv = [*CODEX, "exec", "--json", "--ephemeral", "-s", "workspace-write", "go"]
            governed, baseline, bare = [], [], []
            for _ in range(runs):
                governed.append(_turn_seconds(server, argv, env, repo, shell))
                baseline.append(_turn_seconds(server, argv, env, repo, plan))
                started = time.perf_counter()
                subprocess.run(bare_argv, check=True)
                bare.append(time.perf_counter() - started)
            added = [g - b for g, b in zip(governed, baseline, strict=True)]
            print(
                f"per tool call ({network:5}): governed `true` adds {_median_ms(added):6.1f} ms;"
                f" bare bwrap true {_median_ms(bare):6.1f} ms; over bare "
                f"{_median_ms(added) - _median_ms(bare):+6.1f} ms "
                f"(goal <= {30 if network == 'none' else 40} ms)  [{source} bwrap]"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cold_start(args.runs, Path(tmp))
        per_call(max(3, args.runs // 2), args.calls, Path(tmp))


if __name__ == "__main__":
    main()
