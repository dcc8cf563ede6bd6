"""The shipped `.pre-commit-config.yaml` works: each hook run the way pre-commit runs a
`language: system` hook (entry + args + the matching files), on the repository and on a copy
with a planted mistake (issue 18)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / ".pre-commit-config.yaml"


def _hooks() -> list[dict[str, Any]]:
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    (local,) = data["repos"]
    assert local["repo"] == "local"
    hooks: list[dict[str, Any]] = local["hooks"]
    return hooks


def _files(root: Path) -> list[str]:
    skip = {".git", ".venv", "node_modules", "__pycache__"}
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not skip & set(rel.parts):
            found.append(rel.as_posix())
    return found


def _run(hook: dict[str, Any], root: Path) -> subprocess.CompletedProcess[str]:
    """What pre-commit does for a local system hook (see pre-commit's docs)."""
    files = [
        f
        for f in _files(root)
        if re.search(hook.get("files", ""), f) and not re.search(hook.get("exclude", "^$"), f)
    ]
    argv = [*shlex.split(hook["entry"]), *hook.get("args", [])]
    if hook.get("pass_filenames", True):
        argv += files
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEX_")}
    env.update(
        CODEX_HOME=str(root / ".test-home"),
        CODEX_SYSTEM_DIR=str(root / ".test-system"),
        CODEX_MDM_PLIST="",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    (root / ".test-home").mkdir(exist_ok=True)
    (root / ".test-system").mkdir(exist_ok=True)
    return subprocess.run(
        argv, cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_hooks_are_config_validate_and_execpolicy_test() -> None:
    ids = {h["id"]: h for h in _hooks()}
    assert set(ids) == {"codex-config-validate", "codex-execpolicy-test"}
    assert all(h["language"] == "system" for h in ids.values())
    assert not (REPO / "deploy" / "ci" / "pre-commit-config.yaml").exists(), "one canonical file"


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for folder in ("managed", "policies", "deploy", "proxy"):
        shutil.copytree(REPO / folder, root / folder)
    return root


@pytest.mark.parametrize("hook_id", ["codex-config-validate", "codex-execpolicy-test"])
def test_each_hook_passes_on_the_shipped_policy(policy_copy: Path, hook_id: str) -> None:
    (hook,) = [h for h in _hooks() if h["id"] == hook_id]
    run = _run(hook, policy_copy)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr


def test_config_validate_hook_fails_on_a_typo_in_requirements(policy_copy: Path) -> None:
    (hook,) = [h for h in _hooks() if h["id"] == "codex-config-validate"]
    target = policy_copy / "managed" / "standard" / "requirements.toml"
    target.write_text(target.read_text().replace("allowed_sandbox_modes", "allowed_sandbox_mode"))
    run = _run(hook, policy_copy)
    assert run.returncode == 1, run.stdout
    assert "did you mean `allowed_sandbox_modes`" in run.stdout + run.stderr


def test_execpolicy_hook_fails_when_a_decision_changes(policy_copy: Path) -> None:
    (hook,) = [h for h in _hooks() if h["id"] == "codex-execpolicy-test"]
    rules = policy_copy / "policies" / "git.rules"
    text = rules.read_text()
    assert 'decision = "prompt"' in text
    rules.write_text(text.replace('decision = "prompt"', 'decision = "allow"', 1))
    run = _run(hook, policy_copy)
    assert run.returncode == 3, run.stdout + run.stderr
