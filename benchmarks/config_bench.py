"""Config engine speed, every ratio measured in this run against a baseline from the same run.

1. in-process resolve of a configuration with system, user, two project, managed, MDM and `-c`
   layers plus requirements (mean ms per load);
2. project discovery with 50 nested trusted `.codex` layers against one layer: discovery alone
   and the whole load (alternating runs, medians);
3. how many times one load parses the user's config.toml (must be once);
4. start-up: `codex config show --json` against `python -c pass`, alternating runs, medians
   (goal: at most 5x).

    .venv/bin/python benchmarks/config_bench.py [--runs N] [--baseline-rev REV]

``--baseline-rev`` (e.g. the commit before the canonical-path cache, ec73c55) also times that
revision's project discovery in the same run.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import os
import plistlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codex_admin.config import LoadOptions, load_config

# The engine's private modules are patched here only to count and time their work.
from codex_admin.config import loader as _loader
from codex_admin.config import project as _project


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


def nested(root: Path, depth: int) -> tuple[Path, Path, Path]:
    """A trusted project with ``depth`` nested `.codex` layers: (home, project, deepest dir)."""
    home, project = root / f"home{depth}", root / f"nested{depth}"
    home.mkdir()
    (project / ".git").mkdir(parents=True)
    (home / "config.toml").write_text(f'[projects."{project}"]\ntrust_level = "trusted"\n')
    directory = project
    for level in range(depth):
        if level:
            directory = directory / f"d{level}"
        (directory / ".codex").mkdir(parents=True)
        (directory / ".codex" / "config.toml").write_text(f'model = "level{level}"\n')
    return home, project, directory


def median_time(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def alternate(fns: dict[str, Callable[[], object]], rounds: int, repeat: int) -> dict[str, float]:
    """Medians of ``rounds`` alternating rounds, each the median of ``repeat`` calls."""
    results: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            results[name].append(median_time(fn, repeat))
    return {name: statistics.median(values) for name, values in results.items()}


def baseline_module(revision: str) -> Any:
    """``codex_admin/config/project.py`` as of a git revision, to compare in the same run."""
    repo = Path(__file__).resolve().parents[1]
    source = subprocess.run(
        ["git", "show", f"{revision}:codex_admin/config/project.py"],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    spec = importlib.util.spec_from_loader("baseline_project", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_project"] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:project.py", "exec"), module.__dict__)
    return module


def discovery_bench(tmp: Path, baseline: Any) -> None:
    sysdir = tmp / "emptysys"
    sysdir.mkdir()
    cases = {depth: nested(tmp, depth) for depth in (1, 50)}
    discover = {}
    loads = {}
    for depth, (home, project, cwd) in cases.items():
        opts = LoadOptions(cwd=cwd, codex_home=home, system_dir=sysdir, no_mdm=True)
        result = load_config(opts)  # records the trust, warms caches
        assert result.config["model"] == f"level{depth - 1}", result.warnings
        projects = {str(project): {"trust_level": "trusted"}}

        for name, module in (("d", _project), ("b", baseline)):
            if module is None:
                continue

            def run_discover(
                cwd: Path = cwd, home: Path = home, p: dict = projects, m: Any = module
            ) -> object:
                return m.discover_project(cwd, [".git"], p, home, home / "config.toml")

            discover[f"{name}{depth}"] = run_discover
        loads[depth] = lambda opts=opts: load_config(opts)
    times = alternate(discover, rounds=7, repeat=20)
    print(
        f"project discovery, 1 layer:       {times['d1'] * 1000:7.3f} ms\n"
        f"project discovery, 50 layers:     {times['d50'] * 1000:7.3f} ms"
        f"  ({times['d50'] / times['d1']:.1f}x one layer)"
    )
    if baseline is not None:
        print(
            f"  baseline revision, 1 layer:     {times['b1'] * 1000:7.3f} ms\n"
            f"  baseline revision, 50 layers:   {times['b50'] * 1000:7.3f} ms"
            f"  ({times['b50'] / times['b1']:.1f}x one layer;"
            f" {times['b50'] / times['d50']:.1f}x this revision)"
        )
    times = alternate({f"l{d}": fn for d, fn in loads.items()}, rounds=7, repeat=5)
    print(
        f"whole load, 1 project layer:      {times['l1'] * 1000:7.2f} ms\n"
        f"whole load, 50 project layers:    {times['l50'] * 1000:7.2f} ms"
        f"  ({times['l50'] / times['l1']:.1f}x one layer)"
    )


def user_parse_count(options: LoadOptions, user_path: Path) -> int:
    """Parses of the user's config.toml during one load."""
    original = _loader.parse_toml_text
    count = 0

    def counting(text: str, where: str) -> object:
        nonlocal count
        count += where == str(user_path)
        return original(text, where)

    _loader.parse_toml_text = counting  # type: ignore[assignment]
    try:
        load_config(options)
    finally:
        _loader.parse_toml_text = original
    return count


def startup_bench(cwd: Path, runs: int) -> None:
    base_cmd = [sys.executable, "-c", "pass"]
    show_cmd = [sys.executable, "-m", "codex_admin.cli.main", "config", "show", "--json"]
    show_cmd += ["-C", str(cwd)]
    samples: dict[str, list[float]] = {"base": [], "show": []}
    for cmd in (base_cmd, show_cmd):  # warm the page cache and the bytecode
        subprocess.run(cmd, check=True, capture_output=True)
    for _ in range(runs):
        for name, cmd in (("base", base_cmd), ("show", show_cmd)):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            samples[name].append(time.perf_counter() - start)
    base = statistics.median(samples["base"])
    show = statistics.median(samples["show"])
    print(f"python -c pass:                   {base * 1000:7.1f} ms (median of {runs})")
    print(f"codex config show --json:         {show * 1000:7.1f} ms (median of {runs})")
    print(f"ratio config show / python:       {show / base:7.1f}x (goal <= 5x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21, help="start-up runs of each command")
    parser.add_argument(
        "--baseline-rev", help="also time project discovery as of this git revision"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cwd = build(root)
        options = LoadOptions(cwd=cwd, overrides=["model=cli", "tui.animations=false"])
        load_config(options)
        n = 200
        start = time.perf_counter()
        for _ in range(n):
            load_config(options)
        per_call = (time.perf_counter() - start) / n
        print(f"in-process resolve (7 layers + requirements): {per_call * 1000:.2f} ms per load")
        parses = user_parse_count(options, root / "home" / "config.toml")
        print(f"user config.toml parsed {parses} time(s) per load")
        discovery_bench(root, baseline_module(args.baseline_rev) if args.baseline_rev else None)
        startup_bench(cwd, args.runs)


if __name__ == "__main__":
    main()
