"""Start-up of every measured command, as a ratio to a bare `python -c pass` in the same run.

Issue 11's goals: `config show --json`, `network check`, `sandbox linux -- true` within 5x,
`doctor` within 6x; `execpolicy check` stays on its fast path. Each command runs in a throwaway
CODEX_HOME / system dir with bytecode caching on (a first, discarded round writes the caches, as
any installed copy has them), alternating with the baseline; medians are reported.

    .venv/bin/python benchmarks/startup_bench.py [--runs 11]
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
CODEX = [sys.executable, "-c", "from codex_admin.cli.main import main; main()"]

COMMANDS: list[tuple[str, list[str], float | None]] = [
    ("config show --json", ["config", "show", "--json"], 5.0),
    (
        "network check",
        [
            "network",
            "check",
            "--url",
            "https://example.com/",
            "--resolve",
            "example.com=93.184.216.34",
        ],
        5.0,
    ),
    ("sandbox linux -- true", ["sandbox", "linux", "--", "true"], 5.0),
    ("doctor --json", ["doctor", "--json"], 6.0),
    (
        "execpolicy check",
        [
            "execpolicy",
            "check",
            "--rules",
            str(ROOT / "policies" / "git.rules"),
            "--",
            "git",
            "status",
        ],
        None,
    ),
]


def _time(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home, system, work = Path(tmp, "home"), Path(tmp, "system"), Path(tmp, "work")
        for folder in (home, system, work):
            folder.mkdir()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CODEX_", "OPENAI_")) and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(CODEX_HOME=str(home), CODEX_SYSTEM_DIR=str(system), CODEX_MDM_PLIST="")
        print(f"{'command':28} {'median':>9} {'python':>9} {'ratio':>7}  goal")
        for name, command, goal in COMMANDS:
            ours, bare = [], []
            for index in range(args.runs + 1):
                base = _time([sys.executable, "-c", "pass"], env, work)
                mine = _time([*CODEX, *command], env, work)
                if index:  # the first round writes the bytecode caches
                    ours.append(mine)
                    bare.append(base)
            ratio = statistics.median(ours) / statistics.median(bare)
            target = f"<= {goal:g}x" if goal else "-"
            print(
                f"{name:28} {statistics.median(ours) * 1000:7.1f}ms "
                f"{statistics.median(bare) * 1000:7.1f}ms {ratio:6.2f}x  {target}"
            )


if __name__ == "__main__":
    main()
