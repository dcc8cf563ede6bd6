"""Hooks engine speed: dispatch overhead, concurrent launch, and discovery.

Prints medians of alternating runs measured in this process:

1. one PreToolUse hook (`true`) through HookEngine vs spawning `/bin/sh -lc true` directly with
   asyncio (the floor): the ratio is the engine's overhead (payload, matching, folding);
2. eight 0.2 s hooks vs one: concurrent launch keeps the ratio near 1 (sequential would be 8);
3. discovering 60 trusted hooks (user hooks.json + config) in-process.

    .venv/bin/python benchmarks/hooks_bench.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from codex_admin.config import LoadOptions, load_config
from codex_admin.hooks import HookEngine, SessionInfo, ToolCall, discover_hooks, trust_hooks

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SHELL": "/bin/sh", "HOME": "/nonexistent"}
CALL = ToolCall.shell("ls -la", "call")


def setup(root: Path, commands: list[str]) -> HookEngine:
    home = root / "home"
    home.mkdir(exist_ok=True)
    groups = [{"matcher": "Bash", "hooks": [{"command": c}]} for c in commands]
    (home / "hooks.json").write_text(json.dumps({"hooks": {"PreToolUse": groups}}))
    (home / "config.toml").unlink(missing_ok=True)
    opts = LoadOptions(cwd=root, codex_home=home, system_dir=root / "sys", no_mdm=True)
    hooks = discover_hooks(load_config(opts))
    trust_hooks(home, hooks.hooks)
    hooks = discover_hooks(load_config(opts))
    return HookEngine(hooks, SessionInfo("bench", root), ENV)


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


async def alternate(
    a: Callable[[], Awaitable[object]], b: Callable[[], Awaitable[object]], rounds: int
) -> tuple[float, float]:
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(await timed(a))
        tb.append(await timed(b))
    return statistics.median(ta), statistics.median(tb)


async def raw_spawn() -> None:
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-lc",
        "true",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=ENV,
    )
    await proc.communicate(b"{}")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sys").mkdir()
        (root / "one").mkdir()
        one = setup(root / "one", ["true"])

        async def engine_one() -> None:
            outcome = await one.pre_tool_use(CALL, turn_id="t")
            outcome.tool_input()

        engine_t, raw_t = await alternate(engine_one, raw_spawn, 40)
        print(
            f"one hook via engine: {engine_t * 1000:.2f} ms, raw sh spawn: {raw_t * 1000:.2f} ms,"
            f" ratio {engine_t / raw_t:.2f}x"
        )

        eight_root, single_root = root / "eight", root / "single"
        eight_root.mkdir()
        single_root.mkdir()
        eight = setup(eight_root, ["sleep 0.2"] * 8)
        single = setup(single_root, ["sleep 0.2"])
        eight_t, single_t = await alternate(
            lambda: eight.pre_tool_use(CALL, turn_id="t"),
            lambda: single.pre_tool_use(CALL, turn_id="t"),
            5,
        )
        print(
            f"8 x 0.2 s hooks: {eight_t:.3f} s, 1 hook: {single_t:.3f} s,"
            f" ratio {eight_t / single_t:.2f}x (sequential would be 8x)"
        )

        many = root / "many"
        many.mkdir()
        setup(many, [f"echo {i}" for i in range(60)])
        opts = LoadOptions(cwd=many, codex_home=many / "home", system_dir=root / "sys", no_mdm=True)
        samples = []
        for _ in range(20):
            start = time.perf_counter()
            hooks = discover_hooks(load_config(opts))
            samples.append(time.perf_counter() - start)
        assert len(hooks.runnable) == 60
        print(
            f"load config + discover 60 trusted hooks: {statistics.median(samples) * 1000:.2f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
