"""Who may set `allow_guardian_fail_open`: requirements (requirements.toml, MDM) and nobody else.

Each bypass route a user, a repository or the agent itself could take -- the user's config, a
project's `.codex/config.toml`, a `-c` flag, an environment variable, the `[auto_review]` table,
a legacy managed config -- is tried through the real loader and through the real CLI, and must
leave the guardian failing closed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codex_admin.config import LoadOptions, load_config
from codex_admin.errors import CodexError
from codex_admin.guardian import guardian_settings
from tests.conftest import Env, run_codex
from tests.support import MockResponsesServer, assistant_turn, http_error

ON = "allow_guardian_fail_open = true\n"


def _show(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> dict[str, object]:
    proc = run_codex("guardian", "policy", "show", "--json", *args, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def test_requirements_toml_turns_it_on_and_policy_show_says_so(env: Env) -> None:
    path = env.requirements(ON)
    settings = guardian_settings(load_config(LoadOptions()))
    assert settings.fail_open and settings.fail_open_source == f"requirements: {path}"
    data = _show()
    assert data["allow_guardian_fail_open"] is True
    assert data["allow_guardian_fail_open_source"] == f"requirements: {path}"
    human = run_codex("guardian", "policy", "show")
    assert "a failed review is approved (fail open): allow_guardian_fail_open = true" in (
        human.stdout
    )


def test_mdm_requirements_turn_it_on(env: Env) -> None:
    env.mdm(requirements=ON)
    assert guardian_settings(load_config(LoadOptions())).fail_open


def test_default_and_explicit_false_fail_closed(env: Env) -> None:
    data = _show()
    assert data["allow_guardian_fail_open"] is False
    assert data["allow_guardian_fail_open_source"] is None
    path = env.requirements("allow_guardian_fail_open = false\n")
    data = _show()
    assert data["allow_guardian_fail_open"] is False
    assert data["allow_guardian_fail_open_source"] == f"requirements: {path}"
    assert "denied (fail closed)" in run_codex("guardian", "policy", "show").stdout


def test_a_malformed_value_in_requirements_is_a_located_error(env: Env) -> None:
    path = env.requirements('allow_guardian_fail_open = "yes"\n')
    with pytest.raises(CodexError):
        load_config(LoadOptions())
    proc = run_codex("guardian", "policy", "show")
    assert proc.returncode == 1 and f"{path}:1" in proc.stderr and "Traceback" not in proc.stderr


def test_user_config_cannot_set_it(env: Env) -> None:
    env.user(ON + "[auto_review]\nallow_guardian_fail_open = true\nfail_open = true\n")
    result = load_config(LoadOptions())
    assert not guardian_settings(result).fail_open
    assert any(
        "allow_guardian_fail_open" in w and "requirements field" in w for w in result.warnings
    )
    assert _show()["allow_guardian_fail_open"] is False


def test_a_project_config_cannot_set_it(env: Env) -> None:
    project = env.project()
    (project / ".codex" / "config.toml").write_text(ON + "[auto_review]\nfail_open = true\n")
    assert not guardian_settings(load_config(LoadOptions(cwd=project))).fail_open
    assert _show(cwd=project)["allow_guardian_fail_open"] is False


def test_a_config_flag_cannot_set_it(env: Env) -> None:
    for flag in ("allow_guardian_fail_open=true", "auto_review.fail_open=true"):
        assert not guardian_settings(load_config(LoadOptions(overrides=[flag]))).fail_open
        assert _show("-c", flag)["allow_guardian_fail_open"] is False


def test_a_requirements_false_is_not_overridden_by_config(env: Env) -> None:
    env.requirements("allow_guardian_fail_open = false\n")
    env.user(ON)
    result = load_config(LoadOptions(overrides=["allow_guardian_fail_open=true"]))
    assert not guardian_settings(result).fail_open


@pytest.mark.parametrize(
    "name",
    [
        "CODEX_ALLOW_GUARDIAN_FAIL_OPEN",
        "ALLOW_GUARDIAN_FAIL_OPEN",
        "CODEX_GUARDIAN_FAIL_OPEN",
        "CODEX_AUTO_REVIEW_FAIL_OPEN",
    ],
)
def test_an_environment_variable_cannot_set_it(
    env: Env, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "true")
    assert not guardian_settings(load_config(LoadOptions())).fail_open
    assert _show(env={name: "1"})["allow_guardian_fail_open"] is False


def test_a_legacy_managed_config_is_config_not_a_requirement(env: Env) -> None:
    """managed_config.toml is reinterpreted only for the policy, sandbox and reviewer keys."""
    env.managed(ON)
    assert not guardian_settings(load_config(LoadOptions())).fail_open


def _mock_provider(env: Env, server: MockResponsesServer) -> None:
    table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in server.provider_config().items())
    env.user(f'model = "m"\nmodel_provider = "mock"\n[model_providers.mock]\n{table}\n')


PIP = {
    "action": {"type": "shell", "cwd": "/home/user/repo", "command": ["pip", "install", "x"]},
    "transcript": [{"role": "user", "text": "install x"}],
}


def test_cli_review_fails_open_only_online_and_only_for_failures(env: Env) -> None:
    env.requirements(ON)
    with MockResponsesServer() as server:
        _mock_provider(env, server)
        server.enqueue(http_error(400, "Unsupported model m", type="invalid_request_error"))
        proc = run_codex("guardian", "review", "--json", input=json.dumps(PIP))
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert (data["outcome"], data["status"], data["decided_by"]) == (
            "allow",
            "approved",
            "fail_open",
        )
        assert "Unsupported model m" in data["rationale"]
        server.enqueue(http_error(400, "Unsupported model m", type="invalid_request_error"))
        human = run_codex("guardian", "review", input=json.dumps(PIP))
        assert human.returncode == 0 and "decided by fail_open" in human.stdout
        assert "warning: Automatic approval review failed (session_error:" in human.stderr
        server.enqueue(assistant_turn('{"outcome": "deny", "risk_level": "high"}'))
        denied = run_codex("guardian", "review", "--json", input=json.dumps(PIP))
        assert denied.returncode == 3 and json.loads(denied.stdout)["decided_by"] == "model"
    offline = run_codex("guardian", "review", "--json", "--offline", input=json.dumps(PIP))
    assert offline.returncode == 3 and json.loads(offline.stdout)["decided_by"] == "fail_closed"


def test_cli_test_never_fails_open(env: Env, tmp_path: Path) -> None:
    """A case checks the policy: a review that failed must fail the case, not pass it."""
    env.requirements(ON)
    case = tmp_path / "case.toml"
    case.write_text(
        '[[case]]\nname = "install is judged"\nexpect = "allow"\n'
        '[case.request]\ntranscript = [{role = "user", text = "install x"}]\n'
        '[case.request.action]\ntype = "shell"\ncommand = ["pip", "install", "x"]\n'
        'cwd = "/home/user/repo"\n'
    )
    with MockResponsesServer() as server:
        _mock_provider(env, server)
        server.enqueue(assistant_turn("not a verdict"))
        proc = run_codex("guardian", "test", str(case), "--json")
    assert proc.returncode == 3, proc.stderr
    [result] = json.loads(proc.stdout)["cases"]
    assert result["decided_by"] == "fail_closed" and not result["passed"]
