"""Config engine speed: in-process five-layer resolution, and `codex config show --json` start-up.

Prints, from one run on this machine: the mean in-process time to resolve a configuration with
system, user, two project, managed, MDM and `-c` layers plus requirements; and the wall time of
`codex config show --json` next to `python -c pass` (the floor for any Python CLI).

    .venv/bin/python benchmarks/config_bench.py
"""

from __future__ import annotations

import base64
import os
import plistlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codex_admin.config import LoadOptions, load_config


def build(root: Path) -> Path:
    home, system, project = root / "home", root / "sys", root / "proj"
    for d in (home, system, project / ".git", project / ".codex", project / "pkg/.codex"):
        d.mkdir(parents=True)
    (system / "config.toml").write_text('model = "system"\n[features]\nhooks = true\n')
    (home / "config.toml").write_text(
        'model = "o3"\napproval_policy = "on-request"\n'
        f'[projects."{project}"]\ntrust_level = "trusted"\n'
        + "".join(f'[mcp_servers.s{i}]\ncommand = "srv{i}"\n' for i in range(20))
    )
    (project / ".codex/config.toml").write_text('sandbox_mode = "workspace-write"\n')
    (project / "pkg/.codex/config.toml").write_text('model_reasoning_effort = "high"\n')
    (system / "managed_config.toml").write_text('web_search = "cached"\n')
    (system / "requirements.toml").write_text(
        'allowed_approval_policies = ["on-request", "untrusted"]\n'
        'allowed_sandbox_modes = ["read-only", "workspace-write"]\n'
        '[[rules.prefix_rules]]\npattern = [{token = "git"}, {token = "push"}]\n'
        'decision = "prompt"\n'
    )
    plist = root / "mdm.plist"
    plist.write_bytes(
        plistlib.dumps(
            {
                "config_toml_base64": base64.b64encode(b'model_verbosity = "low"\n').decode(),
                "requirements_toml_base64": base64.b64encode(
                    b'enforce_residency = "us"\n'
                ).decode(),
            }
        )
    )
    os.environ.update(
        CODEX_HOME=str(home), CODEX_SYSTEM_DIR=str(system), CODEX_MDM_PLIST=str(plist)
    )
    return project / "pkg"


def wall(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = build(Path(tmp))
        options = LoadOptions(cwd=cwd, overrides=["model=cli", "tui.animations=false"])
        load_config(options)
        n = 200
        start = time.perf_counter()
        for _ in range(n):
            load_config(options)
        per_call = (time.perf_counter() - start) / n
        runs = 15
        base = wall([sys.executable, "-c", "pass"], runs)
        show = wall(
            [
                sys.executable,
                "-m",
                "codex_admin.cli.main",
                "config",
                "show",
                "--json",
                "-C",
                str(cwd),
            ],
            runs,
        )
    print(f"in-process resolve (7 layers + requirements): {per_call * 1000:.2f} ms per load")
    print(f"python -c pass:                 {base * 1000:7.1f} ms (median of {runs})")
    print(f"codex config show --json:       {show * 1000:7.1f} ms (median of {runs})")
    print(f"ratio config show / python:     {show / base:7.1f}x")


if __name__ == "__main__":
    main()
