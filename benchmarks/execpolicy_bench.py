"""execpolicy benchmark: load time, check throughput at 10 vs 10,000 rules, CLI start-up.

Run: .venv/bin/python benchmarks/execpolicy_bench.py [--quick]

Prints, measured in the same run (throughput cases alternate round by round; medians):
* policy load time for 10 rules, 10,000 rules over many programs, 10,000 rules that share one
  program, 100,000 rules (a flat generated file) and 10,000 rules that need the Starlark
  interpreter (the file uses a variable); goal: 100,000 rules in under 10 s;
* checks per second against 10 rules, 10,000 rules over many programs and 10,000 rules that all
  share the program ``git``; goal: each within 2x of the 10-rule policy (the index by program
  and leading tokens keeps a check from scanning a program's rules);
* wall time of ``codex execpolicy check`` against ``python -c pass`` (goal: at most 8x).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from codex_admin.execpolicy import Policy, load_policy_files

PROGRAMS = ["git", "npm", "cargo", "docker", "kubectl", "make", "pip", "go", "terraform", "aws"]
COMMANDS = [
    ["git", "sub0", "a", "--x"],
    ["npm", "install"],
    ["/usr/bin/git", "sub0", "b"],
    ["unknown-tool", "run"],
    ["cargo", "sub2", "b"],
    ["git", "sub9999", "b", "x"],
    ["git", "status"],
]


def write_rules(
    directory: Path, count: int, *, shared: bool = False, starlark: bool = False
) -> Path:
    """``count`` rules, each with an example. ``shared``: every rule is for ``git``;
    otherwise 10 well-known programs and then generated tool names. ``starlark``: the decision
    comes from a variable, so the file cannot take the literal fast path."""
    lines = ['ALLOW = "allow"'] if starlark else []
    for i in range(count):
        generated = PROGRAMS[i % len(PROGRAMS)] if i < 10 else f"tool{i}"
        program = "git" if shared else generated
        decision = ("allow", "prompt", "forbidden")[i % 3]
        value = "ALLOW" if starlark and decision == "allow" else f'"{decision}"'
        lines.append(
            f'prefix_rule(pattern=["{program}", "sub{i}", ["a", "b"]], decision={value}, '
            f'match=["{program} sub{i} a x"])'
        )
    name = f"bench-{count}{'-shared' if shared else ''}{'-starlark' if starlark else ''}.rules"
    path = directory / name
    path.write_text("\n".join(lines) + "\n")
    return path


def time_load(path: Path, repeat: int) -> tuple[float, float]:
    """Median (wall seconds, CPU seconds of this process and its children)."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), _cpu()
        load_policy_files([path])
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def _cpu() -> float:
    self, children = os.times()[0:2], os.times()[2:4]
    return sum(self) + sum(children)


def checks_per_second(policy: Policy, seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for cmd in COMMANDS:
            policy.check(cmd, resolve_host_executables=True)
        done += len(COMMANDS)
    return done / (time.perf_counter() - start)


def alternating(cases: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, measure in cases.items():
            samples[name].append(measure())
    return {name: statistics.median(values) for name, values in samples.items()}


def wall(argv: list[str], repeat: int) -> float:
    env = dict(os.environ)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    quick = "--quick" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        small = write_rules(directory, 10)
        large = write_rules(directory, 10_000)
        shared = write_rules(directory, 10_000, shared=True)
        huge = write_rules(directory, 100_000)
        interpreted = write_rules(directory, 10_000, starlark=True)
        loads = {
            "10 rules": time_load(small, 5),
            "10,000 rules, many programs": time_load(large, 3),
            "10,000 rules, one program": time_load(shared, 3),
            "10,000 rules, Starlark path": time_load(interpreted, 1 if quick else 3),
            "100,000 rules": time_load(huge, 1),
        }
        policies = {
            "10 rules": load_policy_files([small]),
            "10,000 rules, many programs": load_policy_files([large]),
            "10,000 rules, one program": load_policy_files([shared]),
        }
        seconds = 0.2 if quick else 0.5
        cps = alternating(
            {name: (lambda p=p: checks_per_second(p, seconds)) for name, p in policies.items()},
            rounds=3 if quick else 5,
        )
        codex = [sys.executable, "-m", "codex_admin.cli.main"]
        repeat = 5 if quick else 15
        baseline = wall([sys.executable, "-c", "pass"], repeat)
        check_small = wall(
            [*codex, "execpolicy", "check", "-r", str(small), "git", "sub0", "a"], repeat
        )
        check_large = wall([*codex, "execpolicy", "check", "-r", str(large), "git", "sub0", "a"], 3)
    print(f"{'policy load time':<44}{'wall s':>12}{'CPU s':>12}{'rules/s':>12}")
    counts = {"10 rules": 10, "100,000 rules": 100_000}
    for name, (wall_s, cpu_s) in loads.items():
        goal = "   (goal < 10 s)" if name == "100,000 rules" else ""
        rate = counts.get(name, 10_000) / wall_s
        print(f"  {name:<42}{wall_s:>12.3f}{cpu_s:>12.3f}{rate:>12,.0f}{goal}")
    print(f"{'checks per second':<44}{'checks/s':>12}{'10 rules /':>12}")
    for name, value in cps.items():
        goal = "   (goal <= 2)" if name != "10 rules" else ""
        print(f"  {name:<42}{value:>12,.0f}{cps['10 rules'] / value:>12.2f}{goal}")
    print(
        f"{'python -c pass (ms)':<44}{baseline * 1e3:>12.1f}   (machine load: {os.getloadavg()[0]:.1f})"
    )
    print(
        f"{'codex execpolicy check, 10 rules (ms)':<44}{check_small * 1e3:>12.1f}"
        f"{check_small / baseline:>12.1f}   (x python -c pass; goal <= 8)"
    )
    print(
        f"{'codex execpolicy check, 10,000 rules (ms)':<44}{check_large * 1e3:>12.1f}"
        f"{check_large / baseline:>12.1f}"
    )


if __name__ == "__main__":
    main()
