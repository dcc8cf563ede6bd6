"""Wall time of `true` under each sandbox mode against running it directly, in one run.

    .venv/bin/python benchmarks/sandbox_bench.py [--runs N]

Everything goes through the library's own runner (asyncio subprocess), so the baseline pays the
same spawn cost and the ratios show what bubblewrap, the mounts and the proxy bridge add.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from codex_admin.sandbox import (
    NetworkMode,
    RunResult,
    SandboxMode,
    SandboxPolicy,
    bwrap_status,
    run_command,
)


async def _measure(runs: int, once: Callable[[], Awaitable[RunResult]]) -> list[float]:
    await once()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await once()
        times.append(time.perf_counter() - started)
        if result.exit_code != 0:
            raise SystemExit(f"`true` failed with {result.exit_code}")
    return times


async def main(runs: int) -> None:
    status = bwrap_status()
    if not status.usable:
        raise SystemExit(f"bubblewrap unusable: {status.error}")
    work = Path(tempfile.mkdtemp(prefix="sandbox-bench-"))
    home = work / "home"
    home.mkdir()
    net = {"enabled": True, "mode": "full", "domains": {"example.com": "allow"}}

    def case(mode: SandboxMode, network: NetworkMode) -> Callable[[], Awaitable[RunResult]]:
        pol = SandboxPolicy(mode=mode, cwd=work, network=network, exclude_slash_tmp=True)
        return lambda: run_command(pol, ["true"], codex_home=home, network_config=net)

    async def direct() -> RunResult:
        proc = await asyncio.create_subprocess_exec("true")
        return RunResult(exit_code=await proc.wait(), sandboxed=False)

    cases: list[tuple[str, Callable[[], Awaitable[RunResult]]]] = [
        ("direct (asyncio subprocess)", direct),
        ("danger-full-access (no sandbox)", case(SandboxMode.DANGER_FULL_ACCESS, NetworkMode.FULL)),
        ("read-only, network none", case(SandboxMode.READ_ONLY, NetworkMode.NONE)),
        ("workspace-write, network none", case(SandboxMode.WORKSPACE_WRITE, NetworkMode.NONE)),
        ("workspace-write, network proxy", case(SandboxMode.WORKSPACE_WRITE, NetworkMode.PROXY)),
    ]
    print(f"bwrap {status.version} at {status.path}; {runs} runs each; cpus={os.cpu_count()}")
    baseline = None
    for name, once in cases:
        times = await _measure(runs, once)
        median = statistics.median(times)
        baseline = baseline or median
        print(
            f"{name:<34} median {median * 1000:7.2f} ms  p90 "
            f"{sorted(times)[int(len(times) * 0.9) - 1] * 1000:7.2f} ms  "
            f"x{median / baseline:5.1f} vs direct"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    asyncio.run(main(parser.parse_args().runs))
