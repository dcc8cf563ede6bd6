"""`codex instructions show`: config knobs and requirements' deny_read reach the loader."""

from __future__ import annotations

import json

from tests.conftest import Env, run_codex


def test_show_human_and_json(env: Env) -> None:
    project = env.project()
    (project / "AGENTS.md").write_text("Use tabs.\n")
    (project / "pkg").mkdir()
    (project / "pkg" / "TEAM.md").write_text("Team rules that are long.\n")
    env.write(env.home / "AGENTS.md", "Be brief.\n")
    env.user(
        "project_doc_max_bytes = 20\nproject_doc_fallback_filenames = ['TEAM.md']\n"
        + (env.home / "config.toml").read_text()
    )
    result = run_codex("instructions", "show", "-C", str(project / "pkg"))
    assert result.returncode == 0, result.stderr
    assert f"AGENTS.md instructions for {project / 'pkg'} (git root {project})" in result.stdout
    assert f"project  {project / 'pkg' / 'TEAM.md'}  10 of 26 bytes (truncated)" in result.stdout
    assert "project budget: 20 of 20 bytes used" in result.stdout
    assert "Be brief.\n\n--- project-doc ---\n\nUse tabs.\n\n\nTeam rules" in result.stdout
    assert "warning: Loaded only 10 of 26 bytes" in result.stderr
    payload = json.loads(run_codex("instructions", "show", "--json", "-C", str(project)).stdout)
    assert payload["user_instructions"] == "Be brief."
    assert payload["project_doc"] == "Use tabs.\n"
    assert payload["message"].startswith(
        f"# AGENTS.md instructions for {project}\n\n<INSTRUCTIONS>"
    )


def test_requirements_deny_read_is_honoured(env: Env) -> None:
    project = env.project()
    (project / "AGENTS.md").write_text("secret plans\n")
    env.requirements(f'[permissions.filesystem]\ndeny_read = ["{project}/AGENTS.md"]\n')
    payload = json.loads(run_codex("instructions", "show", "--json", "-C", str(project)).stdout)
    assert payload["project_doc"] is None and payload["message"] is None
    assert payload["sources"][0]["status"] == "skipped"
    assert "deny_read" in payload["sources"][0]["reason"]


def test_nothing_to_send(env: Env) -> None:
    result = run_codex("instructions", "show", "-C", str(env.root))
    assert result.returncode == 0
    assert "no AGENTS.md files found" in result.stdout
    assert "nothing is sent to the model" in result.stdout
