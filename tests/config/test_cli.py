"""The config commands as real subprocesses: JSON shapes, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codex_admin.config import json_schema_text
from tests.conftest import Env, run_codex

REPO = Path(__file__).resolve().parents[2]


def test_help_lists_every_group_without_importing_typer() -> None:
    proc = run_codex("--help")
    assert proc.returncode == 0
    for group in (
        "config",
        "requirements",
        "execpolicy",
        "proxy",
        "network",
        "sandbox",
        "managed",
        "doctor",
    ):
        assert f"  {group}" in proc.stdout
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from codex_admin.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('typer','pydantic','httpx','cryptography') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().splitlines()[-1] == "[]"


def test_unknown_command_is_a_usage_error() -> None:
    proc = run_codex("frobnicate")
    assert proc.returncode == 2
    assert "No such command 'frobnicate'" in proc.stderr


def test_show_json_shape_and_origins(env: Env) -> None:
    project = env.project()
    env.write(project / ".codex/config.toml", 'sandbox_mode = "workspace-write"\n')
    env.user('model = "o3"\n' + env.home.joinpath("config.toml").read_text())
    env.requirements('allowed_approval_policies = ["on-request"]\n')
    proc = run_codex(
        "-c",
        "model_reasoning_effort=high",
        "config",
        "show",
        "--json",
        "-C",
        str(project),
        "-a",
        "never",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == [
        "config",
        "resolved",
        "resolved_sources",
        "origins",
        "layers",
        "requirements",
        "warnings",
        "mdm_unknown_keys",
    ]
    assert data["resolved"]["approval_policy"] == "on-request"
    assert data["resolved"]["sandbox_mode"] == "workspace-write"
    assert data["origins"]["model_reasoning_effort"] == "session_flags"
    assert data["origins"]["sandbox_mode"] == f"project:{project}"
    assert data["requirements"]["allowed_approval_policies"]["source"] == str(
        env.system / "requirements.toml"
    )
    assert data["layers"][0]["name"] == "session_flags"
    assert {"name", "path", "enabled", "disabled_reason"} <= set(data["layers"][0])
    assert len(data["warnings"]) == 1 and "approval_policy" in data["warnings"][0]


def test_show_text_mentions_sources(env: Env) -> None:
    env.user('model = "o3"\n')
    proc = run_codex("config", "show")
    assert proc.returncode == 0, proc.stderr
    assert 'model = "o3"  # user' in proc.stdout
    assert "Layers (highest precedence first)" in proc.stdout


def test_explain_reports_layers_winner_and_requirement(env: Env) -> None:
    env.user('sandbox_mode = "danger-full-access"\n')
    env.managed('sandbox_mode = "workspace-write"\n')
    proc = run_codex("config", "explain", "sandbox_mode", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["winner"] == "managed_config"
    assert data["effective"] == "workspace-write"
    assert data["requirement"]["field"] == "allowed_sandbox_modes"
    values = {entry["layer"]: entry.get("value") for entry in data["layers"]}
    assert values["user"] == "danger-full-access"
    text = run_codex("config", "explain", "sandbox_mode").stdout
    assert "<- wins" in text and "Constrained by requirement allowed_sandbox_modes" in text


def test_validate_reports_every_file(env: Env) -> None:
    good = env.write(env.root / "config.toml", 'model = "x"\n')
    bad = env.write(env.root / "requirements.toml", "allowed_sandbox_modes = ['workspace-write']\n")
    broken = env.write(env.root / "managed_config.toml", 'approval_policy = "sometimes"\n')
    proc = run_codex("config", "validate", str(good), str(bad), str(broken), "--json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert [f["ok"] for f in data["files"]] == [True, False, False]
    assert [f["kind"] for f in data["files"]] == ["config", "requirements", "managed"]
    assert data["files"][1]["errors"][0]["line"] == 1
    assert data["files"][2]["errors"][0]["line"] == 1
    ok = run_codex("config", "validate", str(good))
    assert ok.returncode == 0 and "ok" in ok.stdout


def test_schema_command_matches_committed_schemas() -> None:
    for kind in ("config", "requirements"):
        committed = (REPO / "managed" / "schema" / f"{kind}.schema.json").read_text()
        assert committed == json_schema_text(kind), (
            f"managed/schema/{kind}.schema.json is stale: run `make schemas`"
        )
    proc = run_codex("config", "schema", "requirements")
    assert json.loads(proc.stdout)["title"] == "requirements.toml"
    assert run_codex("config", "schema", "bogus").returncode == 2


def test_requirements_show(env: Env) -> None:
    env.requirements('enforce_residency = "us"\n')
    proc = run_codex("requirements", "show", "--json")
    data = json.loads(proc.stdout)
    assert data["requirements"]["enforce_residency"]["value"] == "us"
    assert [s["present"] for s in data["sources"]] == [False, False, True, False, False]
    assert data["sources"][0]["name"] == "remote requirements (not configured)"
    text = run_codex("requirements", "show").stdout
    assert "enforce_residency" in text and "set by" in text


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["config", "show", "-s", "yolo"], 2, "is not one of"),
        (["config", "show", "--yolo", "-a", "never"], 2, "cannot be combined"),
        (["config", "show", "-c", "novalue"], 1, "Invalid override (missing '='): novalue"),
        (["config", "show", "--profile", "nope"], 1, "config profile `nope` not found"),
        (["config", "show", "-C", "/does/not/exist"], 1, "does not exist"),
        (["config", "validate", "--kind", "x", "f"], 2, "is not one of"),
    ],
)
def test_usage_and_user_errors(env: Env, args: list[str], code: int, needle: str) -> None:
    proc = run_codex(*args)
    assert proc.returncode == code, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_make_run_target_works_from_any_directory(env: Env) -> None:
    proc = run_codex("config", "show", cwd=env.root)
    assert proc.returncode == 0
    assert os.fspath(env.root) in proc.stdout
