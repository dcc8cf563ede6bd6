"""Guardian cost: deterministic decisions per second, and the latency a model review adds.

Run: .venv/bin/python benchmarks/guardian_bench.py [ROUNDS]   (default 5)

1. deterministic: the shipped case pack's requests through ``decide_deterministic`` against the
   baseline of what execpolicy already does for every command (``commands_for_exec_policy`` +
   ``is_known_safe_command`` on shell actions): decisions/s and the ratio.
2. model tier: one full review (prompt build, request, stream, parse, thresholds, events) on
   the real-socket mock Responses server against the baseline of one bare ``ModelClient`` turn
   with a one-line prompt on the same server: the added latency per reviewed action and the
   ratio. Runs alternate; medians of ROUNDS.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codex_admin.auth import auth_settings
from codex_admin.execpolicy import commands_for_exec_policy, is_known_safe_command
from codex_admin.guardian import (
    DeterministicContext,
    Guardian,
    GuardianSettings,
    ModelTier,
    ShellAction,
    builtin_rules,
    compose_policy,
    decide_deterministic,
    load_cases,
    parse_request,
)
from codex_admin.providers import ModelClient, ModelRequest, resolve_credentials, resolve_provider
from tests.support import MockResponsesServer, assistant_turn

PACK = Path(__file__).resolve().parent.parent / "policies" / "guardian"


def median_alternating(fns: list[Callable[[], object]], rounds: int) -> list[float]:
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def deterministic(rounds: int) -> None:
    cases = load_cases([PACK])
    rules = builtin_rules()
    contexts = [(c.request, DeterministicContext(c.paths, c.workspace_roots)) for c in cases]

    def baseline() -> None:
        for request, _ in contexts:
            action = request.action
            if isinstance(action, ShellAction):
                commands_for_exec_policy(list(action.command))
                is_known_safe_command(list(action.command))

    def tier() -> None:
        for request, context in contexts:
            decide_deterministic(request, rules, context)

    base, ours = median_alternating([baseline, tier], rounds)
    n = len(contexts)
    print(f"deterministic tier: {n} requests of the shipped case pack, median of {rounds}")
    print(f"  execpolicy split + known-safe (baseline): {n / base:10.0f} actions/s")
    print(f"  decide_deterministic:                     {n / ours:10.0f} decisions/s")
    print(
        f"  ratio: {ours / base:.2f}x the baseline ({(ours - base) / n * 1e6:.0f} µs added per action)"
    )


def model_tier(rounds: int) -> None:
    verdict = '{"outcome": "allow", "risk_level": "low", "rationale": "requested"}'
    request = parse_request(
        {
            "action": {
                "type": "shell",
                "command": ["pip", "install", "-r", "requirements.txt"],
                "cwd": "/home/user/repo",
                "sandbox_permissions": "require_escalated",
            },
            "transcript": [{"role": "user", "text": "set up the environment"}]
            + [{"role": "tool", "name": "shell", "kind": "result", "text": "ok " * 200}] * 10,
            "thread_id": "bench",
        }
    )
    with MockResponsesServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.default_turn = assistant_turn(verdict)
        config = {"model_provider": "mock", "model_providers": {"mock": server.provider_config()}}
        provider = resolve_provider(config)
        credentials = resolve_credentials(provider, auth_settings({}, codex_home=Path(tmp)))
        settings = GuardianSettings(policy=compose_policy(), model="m", timeout=30)

        async def run() -> tuple[float, float]:
            async with ModelClient(provider, credentials) as client:
                tier = ModelTier(provider, credentials, settings)
                guardian = Guardian(settings, model_tier=tier)
                bare = ModelRequest(
                    model="m",
                    input=[
                        {
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_text", "text": "hi"}],
                        }
                    ],
                )

                async def baseline() -> None:
                    async for _ in client.stream(bare):
                        pass

                async def review() -> None:
                    await guardian.review(request)

                await baseline()
                await review()  # warm both connections
                times: list[list[float]] = [[], []]
                for _ in range(rounds * 4):
                    for i, fn in enumerate((baseline, review)):
                        start = time.perf_counter()
                        await fn()
                        times[i].append(time.perf_counter() - start)
                await guardian.aclose()
                return statistics.median(times[0]), statistics.median(times[1])

        base, ours = asyncio.run(run())
    print(f"model tier: one review on the mock Responses server, median of {rounds * 4}")
    print(f"  bare ModelClient turn (baseline): {base * 1000:7.2f} ms")
    print(f"  full guardian review:             {ours * 1000:7.2f} ms")
    print(
        f"  added latency per reviewed action: {(ours - base) * 1000:.2f} ms ({ours / base:.2f}x the baseline)"
    )


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    deterministic(rounds)
    model_tier(rounds)


if __name__ == "__main__":
    main()
