"""execpolicy benchmark: load time and check throughput at 10 vs 10,000 rules, CLI start-up.

Run: .venv/bin/python benchmarks/execpolicy_bench.py

Prints, side by side in one run:
* policy load time for 10 and 10,000 rules;
* checks per second against each policy (goal: 10-rule/10,000-rule ratio within 1.5, i.e. the
  cost of a check does not grow with the number of rules);
* wall time of `codex execpolicy check` against `python -c pass` (goal: at most 8x).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codex_admin.execpolicy import load_policy_files

PROGRAMS = ["git", "npm", "cargo", "docker", "kubectl", "make", "pip", "go", "terraform", "aws"]


def write_rules(directory: Path, count: int) -> Path:
    """``count`` rules over 10 programs plus generated tool names, each with an example."""
    lines = []
    for i in range(count):
        program = PROGRAMS[i % len(PROGRAMS)] if i < 10 else f"tool{i}"
        decision = ("allow", "prompt", "forbidden")[i % 3]
        lines.append(
            f'prefix_rule(pattern=["{program}", "sub{i}", ["a", "b"]], decision="{decision}", '
            f'match=["{program} sub{i} a x"])'
        )
    path = directory / f"bench-{count}.rules"
    path.write_text("\n".join(lines) + "\n")
    return path


def time_load(path: Path, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        load_policy_files([path])
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def checks_per_second(path: Path, seconds: float = 1.0) -> float:
    policy = load_policy_files([path])
    commands = [
        ["git", "sub0", "a", "--x"],
        ["npm", "install"],
        ["/usr/bin/git", "sub0", "b"],
        ["unknown-tool", "run"],
        ["cargo", "sub2", "b"],
    ]
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for cmd in commands:
            policy.check(cmd, resolve_host_executables=True)
        done += len(commands)
    return done / (time.perf_counter() - start)


def wall(argv: list[str], repeat: int = 15) -> float:
    env = dict(os.environ)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        small, large = write_rules(directory, 10), write_rules(directory, 10_000)
        load_small, load_large = time_load(small, 20), time_load(large, 3)
        cps_small, cps_large = checks_per_second(small), checks_per_second(large)
        codex = [sys.executable, "-m", "codex_admin.cli.main"]
        baseline = wall([sys.executable, "-c", "pass"])
        check_small = wall([*codex, "execpolicy", "check", "-r", str(small), "git", "sub0", "a"])
        check_large = wall(
            [*codex, "execpolicy", "check", "-r", str(large), "git", "sub0", "a"], repeat=3
        )
    print(f"{'measure':<44}{'10 rules':>14}{'10,000 rules':>16}{'ratio':>10}")
    print(
        f"{'policy load time (ms)':<44}{load_small * 1e3:>14.1f}{load_large * 1e3:>16.1f}"
        f"{load_large / load_small:>10.1f}"
    )
    print(
        f"{'checks per second':<44}{cps_small:>14,.0f}{cps_large:>16,.0f}"
        f"{cps_small / cps_large:>10.2f}   (goal <= 1.5)"
    )
    print(f"{'python -c pass (ms)':<44}{baseline * 1e3:>14.1f}")
    print(
        f"{'codex execpolicy check wall time (ms)':<44}{check_small * 1e3:>14.1f}"
        f"{check_large * 1e3:>16.1f}"
    )
    print(
        f"{'check / python -c pass':<44}{check_small / baseline:>14.1f}"
        f"{check_large / baseline:>16.1f}   (goal <= 8 for typical policies)"
    )


if __name__ == "__main__":
    main()
