"""What the Linux sandbox costs, as ratios measured in the same run (alternating, medians).

    .venv/bin/python benchmarks/sandbox_bench.py [--runs N]

1. Start-up of the CLI: ``codex sandbox linux -- true`` against ``python -c pass`` (goal: at
   most 5x), and ``--network proxy -- true`` against ``--network none -- true`` (goal: within
   15 ms). Each is a fresh process, as a script or hook would run it.
2. Per call inside one process: a governed ``true`` through one :class:`SandboxSession` (the
   agent's path: plan, protected-name scan, seccomp, status, repair) against a bare
   ``bwrap --ro-bind / / ... true`` started the same way (asyncio subprocess).

Cases of a pair alternate run by run, so load on this shared machine hits both alike. The CLI
runs get a private CODEX_HOME/system dir, and bytecode caching on (a real install has .pyc
files; ``PYTHONDONTWRITEBYTECODE`` would make every run compile the package from source).
The proxy - none gap is also given as the median of the per-round differences (the two runs
of a round see the same load, so a load swing between rounds cancels out) and in CPU time
(user + system of the CLI and its children), which waiting for a busy core does not inflate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from codex_admin.governance import GovernanceRequest, load_governance
from codex_admin.sandbox import SandboxMode, bwrap_status
from codex_admin.vocabulary import NetworkMode

NETWORK = ["-c", "network.enabled=true", "-c", 'network.domains={"example.com"="allow"}']


def _median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def _alternate(
    runs: int, cases: dict[str, Callable[[], None]]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU seconds (of the children) per case and round."""
    for once in cases.values():
        once()  # warm-up (and .pyc files for the CLI)
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, once in cases.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            once()
            times[name].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return times, cpu


def _process(argv: list[str], env: dict[str, str], cwd: Path) -> Callable[[], None]:
    def once() -> None:
        proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{argv} failed ({proc.returncode}): {proc.stderr.decode()}")

    return once


def startup(runs: int, work: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(CODEX_HOME=str(work / "home"), CODEX_SYSTEM_DIR=str(work / "system"))
    cli = [sys.executable, "-m", "codex_admin.cli.main", "sandbox", "linux"]
    times, cpu = _alternate(
        runs,
        {
            "python -c pass": _process([sys.executable, "-c", "pass"], env, work),
            "sandbox linux -- true": _process([*cli, "--", "true"], env, work),
            "--network none -- true": _process(
                [*cli, *NETWORK, "--network", "none", "--", "true"], env, work
            ),
            "--network proxy -- true": _process(
                [*cli, *NETWORK, "--network", "proxy", "--", "true"], env, work
            ),
        },
    )
    results = {name: _median_ms(values) for name, values in times.items()}
    base = results["python -c pass"]
    print("start-up (fresh process each run)")
    for name, value in results.items():
        print(f"  {name:<28} median {value:7.1f} ms   x{value / base:4.1f} vs python -c pass")
    proxy, none = "--network proxy -- true", "--network none -- true"
    gap = results[proxy] - results[none]
    paired = _median_ms([p - n for p, n in zip(times[proxy], times[none], strict=True)])
    cpu_gap = _median_ms(cpu[proxy]) - _median_ms(cpu[none])
    print(
        f"  proxy - none: {gap:+.1f} ms (goal: <= 15 ms); per round {paired:+.1f} ms;"
        f" CPU {cpu_gap:+.1f} ms; sandbox linux -- true:"
        f" x{results['sandbox linux -- true'] / base:.1f} (goal: <= 5)"
    )


async def _time_async(
    runs: int, cases: dict[str, Callable[[], Awaitable[int]]]
) -> dict[str, float]:
    for once in cases.values():
        if await once() != 0:
            raise SystemExit("warm-up run failed")
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, once in cases.items():
            started = time.perf_counter()
            code = await once()
            times[name].append(time.perf_counter() - started)
            if code != 0:
                raise SystemExit(f"{name}: exit {code}")
    return {name: _median_ms(values) for name, values in times.items()}


async def per_call(runs: int, work: Path, bwrap: str) -> None:
    os.environ.update(CODEX_HOME=str(work / "home"), CODEX_SYSTEM_DIR=str(work / "system"))
    workspace = work / "ws"
    for i in range(50):
        (workspace / f"pkg{i}" / "src").mkdir(parents=True, exist_ok=True)
    overrides = ["network.enabled=true", 'network.domains={"example.com"="allow"}']
    governance = load_governance(GovernanceRequest(cwd=workspace, overrides=overrides))
    read_only = governance.sandbox_policy(sandbox=SandboxMode.READ_ONLY, network=NetworkMode.NONE)
    writable = governance.sandbox_policy(
        sandbox=SandboxMode.WORKSPACE_WRITE, network=NetworkMode.NONE
    )
    proxied = governance.sandbox_policy(sandbox=SandboxMode.READ_ONLY, network=NetworkMode.PROXY)
    bare = [
        bwrap,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--unshare-pid",
        "--unshare-net",
        "--die-with-parent",
        "--new-session",
        "--",
        "true",
    ]

    async def direct() -> int:
        proc = await asyncio.create_subprocess_exec(*bare, env={})
        return await proc.wait()

    async with governance.sandbox_session() as session:

        def governed(policy: object) -> Callable[[], Awaitable[int]]:
            async def once() -> int:
                return (await session.run(policy, ["true"])).exit_code  # type: ignore[arg-type]

            return once

        results = await _time_async(
            runs,
            {
                "bare bwrap ... true": direct,
                "session: read-only, none": governed(read_only),
                "session: workspace-write, none": governed(writable),
                "session: read-only, proxy": governed(proxied),
            },
        )
    base = results["bare bwrap ... true"]
    print(f"per call, one SandboxSession (workspace: {len(list(workspace.rglob('*')))} dirs)")
    for name, value in results.items():
        print(f"  {name:<32} median {value:7.2f} ms   x{value / base:4.2f} vs bare bwrap")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    status = bwrap_status()
    if not status.usable or status.path is None:
        raise SystemExit(f"bubblewrap unusable: {status.error}")
    print(
        f"{status.version} at {status.path} ({status.source}); {runs} runs; cpus={os.cpu_count()}"
    )
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        work = Path(tmp)
        for name in ("home", "system", "ws"):
            (work / name).mkdir()
        startup(runs, work)
        asyncio.run(per_call(runs, work, status.path))


if __name__ == "__main__":
    main()
