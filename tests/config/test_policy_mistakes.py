"""Policy mistakes must not pass silently (issue 18): each test failed before its fix."""

from __future__ import annotations

import base64
import json
import plistlib
from pathlib import Path

import pytest

from codex_admin.config import (
    CODEX_FEATURES,
    KNOWN_FEATURES,
    Flags,
    LoadOptions,
    canonical_feature,
    load_config,
    validate_files,
)
from codex_admin.errors import CodexError
from tests.conftest import Env, run_codex

# ----------------------------------------------------------------- unknown keys: requirements


def test_typo_in_requirements_fails_closed_and_danger_full_access_stays_out(env: Env) -> None:
    """`allowed_sandbox_mode` was a warning; then `-s danger-full-access` went through."""
    path = env.requirements('allowed_sandbox_mode = ["read-only"]\n')
    with pytest.raises(CodexError) as err:
        load_config(LoadOptions(flags=Flags(sandbox="danger-full-access")))
    text = str(err.value)
    assert f"{path}:1:1: unknown requirements field `allowed_sandbox_mode`" in text
    assert "did you mean `allowed_sandbox_modes`?" in text
    assert "requirements fail closed" in text
    proc = run_codex("config", "show", "--json", "-s", "danger-full-access")
    assert proc.returncode == 1 and set(json.loads(proc.stdout)) == {"error"}  # --json: one object
    assert "did you mean `allowed_sandbox_modes`?" in proc.stderr


@pytest.mark.parametrize(
    ("text", "key", "suggestion"),
    [
        ("[experimental_network]\nenabeld = true\n", "experimental_network.enabeld", "enabled"),
        (
            '[[rules.prefix_rules]]\npattern = [{token = "git"}]\ndecison = "prompt"\n',
            "rules.prefix_rules.0.decison",
            "decision",
        ),
        (
            "[permissions.filesystem]\ndeny_reads = []\n",
            "permissions.filesystem.deny_reads",
            "deny_read",
        ),
        ('enforce_residence = "us"\n', "enforce_residence", "enforce_residency"),
    ],
)
def test_nested_requirement_typos_are_errors_with_a_suggestion(
    env: Env, text: str, key: str, suggestion: str
) -> None:
    env.requirements(text)
    with pytest.raises(CodexError) as err:
        load_config(LoadOptions())
    assert f"unknown requirements field `{key}` (did you mean `{suggestion}`?)" in str(err.value)


def test_requirements_validate_reports_the_typo_as_an_error(env: Env) -> None:
    path = env.requirements('allowed_approval_polices = ["on-request"]\n')
    report = validate_files([path])
    assert not report.ok
    assert "did you mean `allowed_approval_policies`?" in report.files[0].errors[0].message


def test_mdm_requirements_typo_fails_closed_too(env: Env) -> None:
    env.mdm(requirements='allowed_sandbox_mode = ["read-only"]\n')
    with pytest.raises(CodexError, match="MDM com.openai.codex:requirements_toml_base64:1:1"):
        load_config(LoadOptions())


# ---------------------------------------------------------------------- unknown keys: config


def test_config_typo_is_a_warning_with_a_suggestion(env: Env) -> None:
    path = env.user('sandbox_mod = "workspace-write"\n[tui]\nanimations = false\n')
    result = load_config(LoadOptions())
    assert result.resolved["sandbox_mode"] == "read-only"
    assert any(
        f"{path}:1:1: unknown key `sandbox_mod` (did you mean `sandbox_mode`?)" in w
        for w in result.warnings
    )
    nested = env.user('[mcp_servers.docs]\ncomand = "docs-server"\nurl = "http://x"\n')
    warnings = load_config(LoadOptions()).warnings
    assert any(f"{nested}:2:1: unknown key `mcp_servers.docs.comand`" in w for w in warnings)
    assert any("did you mean `command`?" in w for w in warnings)


def test_validate_kind_typo_suggests_the_kind(env: Env) -> None:
    path = env.user('model = "x"\n')
    proc = run_codex("config", "validate", "--kind", "requirments", str(path))
    assert proc.returncode == 2
    assert "did you mean `requirements`?" in proc.stderr


def test_lax_coercion_no_longer_turns_words_into_booleans(env: Env) -> None:
    """pydantic's lax mode made `network_access = "yes"` true and `enabled = "no"` false."""
    path = env.user('[sandbox_workspace_write]\nnetwork_access = "yes"\n')
    with pytest.raises(CodexError, match=f"{path}:2:1: `sandbox_workspace_write.network_access`"):
        load_config(LoadOptions())
    env.user("")
    env.requirements('[experimental_network]\nenabled = "no"\n')
    with pytest.raises(CodexError, match="`experimental_network.enabled`: Input should be a valid"):
        load_config(LoadOptions())


# ---------------------------------------------------------------------------------- features


def test_config_feature_values_must_be_booleans(env: Env) -> None:
    path = env.user('[features]\nhooks = "maybe"\nshell_tool = false\n')
    result = load_config(LoadOptions(overrides=["features.web_search_request=no"]))
    features = result.resolved["features"]
    assert features["hooks"] is KNOWN_FEATURES["hooks"]  # ignored, default applies
    assert features["web_search_request"] is KNOWN_FEATURES["web_search_request"]
    assert features["shell_tool"] is False
    assert "hooks" not in result.config["features"]
    warnings = "\n".join(result.warnings)
    assert f"{path}:2:1: `features.hooks` must be true or false (got a string)" in warnings
    assert "-c/--config override: `features.web_search_request` must be true or false" in warnings
    assert "the value is ignored" in warnings


def test_requirements_feature_values_must_be_booleans(env: Env) -> None:
    for text in ('[features]\nhooks = "maybe"\n', '[features]\nweb_search_request = "no"\n'):
        path = env.requirements(text)
        with pytest.raises(CodexError, match=f"{path}:2:1: `features"):
            load_config(LoadOptions())


def test_unknown_feature_names_warn_with_a_suggestion(env: Env) -> None:
    env.user("[features]\nhoks = true\n")
    env.requirements("[features]\nshel_tool = false\n")
    result = load_config(LoadOptions())
    warnings = "\n".join(result.warnings)
    assert "unknown feature `hoks` in [features] (did you mean `hooks`?)" in warnings
    assert "Ignoring unknown `features` requirement `shel_tool`" in warnings
    assert "(did you mean `shell_tool` or `sleep_tool`?)" in warnings
    assert "hoks" not in result.resolved["features"]


def test_requirements_pin_features_codex_knows(env: Env) -> None:
    """`personality` (and the rest of Codex's catalogue) was dropped as unknown."""
    env.requirements("[features]\npersonality = false\nfast_mode = false\nhooks = false\n")
    env.user("[features]\nfast_mode = true\n")
    result = load_config(LoadOptions())
    assert result.requirements.value("features") == {
        "personality": False,
        "fast_mode": False,
        "hooks": False,
    }
    features = result.resolved["features"]
    assert features["personality"] is False and features["fast_mode"] is False
    assert not [w for w in result.warnings if "feature" in w]


def test_feature_catalogue_is_one_place() -> None:
    assert canonical_feature("personality") == "personality"
    assert canonical_feature("auto_review") == "guardian_approval"
    assert canonical_feature("no_such_feature") is None
    assert len(CODEX_FEATURES) >= 200 and CODEX_FEATURES["hooks"] == ("stable", True)


def test_table_valued_features_are_accepted(env: Env) -> None:
    env.user("[features.network_proxy]\nenabled = true\n")
    result = load_config(LoadOptions())
    assert result.resolved["features"]["network_proxy"] == {"enabled": True}
    assert result.warnings == []
    env.user('[features.network_proxy]\nenabled = "yes"\n')
    assert any("`enabled` inside it must be true or false" in w for w in load_config().warnings)


# ---------------------------------------------------------------- validate the merged result


def test_partial_mcp_table_in_a_c_layer_merges_over_the_user_table(env: Env) -> None:
    """`-c mcp_servers.docs.enabled=false` failed with "invalid transport"."""
    env.user('[mcp_servers.docs]\ncommand = "docs-server"\n')
    result = load_config(LoadOptions(overrides=["mcp_servers.docs.enabled=false"]))
    assert result.config["mcp_servers"]["docs"] == {"command": "docs-server", "enabled": False}
    assert result.resolved["mcp_servers"]["docs"]["enabled"] is False
    proc = run_codex("config", "show", "--json", "-c", "mcp_servers.docs.enabled=false")
    assert proc.returncode == 0, proc.stderr


def test_merged_errors_are_located_at_the_layer_that_introduced_them(env: Env) -> None:
    with pytest.raises(CodexError) as err:
        load_config(LoadOptions(overrides=["mcp_servers.new.enabled=false"]))
    assert str(err.value).startswith("-c/--config override: `mcp_servers.new`: invalid transport")
    path = env.user('model = "x"\n[mcp_servers.docs]\nenabled = false\n')
    with pytest.raises(CodexError, match=f"{path}:2:1: `mcp_servers.docs`: invalid transport"):
        load_config(LoadOptions())
    env.user('[mcp_servers.docs]\ncommand = "docs-server"\n')
    with pytest.raises(CodexError, match="-c/--config override: .*set command or url, not both"):
        load_config(LoadOptions(overrides=["mcp_servers.docs.url=http://127.0.0.1:1/mcp"]))


def test_project_layer_completes_a_user_table(env: Env) -> None:
    env.user("[mcp_servers.docs]\nenabled = false\n")
    project = env.project()
    env.write(project / ".codex/config.toml", '[mcp_servers.docs]\nurl = "http://127.0.0.1:1"\n')
    result = load_config(LoadOptions(cwd=project))
    assert result.config["mcp_servers"]["docs"] == {"enabled": False, "url": "http://127.0.0.1:1"}


def test_validate_warns_about_a_partial_table_instead_of_failing(env: Env) -> None:
    path = env.user("[mcp_servers.docs]\nenabled = false\n")
    report = validate_files([path])
    assert report.ok
    assert any(
        "`mcp_servers.docs`: invalid transport" in w and "another layer completes" in w
        for w in report.files[0].warnings
    )
    bad = env.write(
        env.root / "x.toml", '[model_providers.p]\nenv_key = "K"\nauth = { command = "tok" }\n'
    )
    warnings = validate_files([bad]).files[0].warnings
    assert any("cannot be combined with env_key" in w for w in warnings), warnings


# ----------------------------------------------------------------------------------- deny_read


def test_deny_read_is_normalised_lexically(env: Env, tmp_path: Path) -> None:
    managed = tmp_path / "opt" / "managed"
    managed.mkdir(parents=True)
    (managed / "requirements.toml").write_text(
        '[permissions.filesystem]\ndeny_read = ["../shared/secret.txt", "/etc/./x/../shadow",'
        ' "../shared/*.key"]\n'
    )
    result = load_config(LoadOptions(system_dir=managed))
    deny = result.requirements.value("permissions")["filesystem"]["deny_read"]
    assert deny == [
        str(tmp_path / "opt/shared/secret.txt"),
        "/etc/shadow",
        str(tmp_path / "opt/shared/*.key"),
    ]


def test_deny_read_normal_form_reaches_the_sandbox_plan(env: Env) -> None:
    env.requirements('[permissions.filesystem]\ndeny_read = ["../shared/secret.txt"]\n')
    from codex_admin.governance import GovernanceRequest, load_governance

    governance = load_governance(GovernanceRequest())
    assert governance.deny_read == (str(env.system.parent / "shared/secret.txt"),)


# ------------------------------------------------------------------------------ MDM domain


def test_unknown_mdm_keys_are_reported(env: Env) -> None:
    """`requirement_toml_base64` (a typo) showed nothing; the requirements silently vanished."""
    plist = env.root / "mdm.plist"
    payload = base64.b64encode(b'allowed_sandbox_modes = ["read-only"]\n').decode()
    plist.write_bytes(plistlib.dumps({"requirement_toml_base64": payload}))
    result = load_config(LoadOptions(mdm_plist=plist))
    assert result.mdm_unknown_keys == ["requirement_toml_base64"]
    assert any(
        "unknown key `requirement_toml_base64` in the com.openai.codex preference domain"
        " (did you mean `requirements_toml_base64`?)" in w
        for w in result.warnings
    )
    shown = run_codex("config", "show", env={"CODEX_MDM_PLIST": str(plist)})
    assert shown.returncode == 0
    assert "MDM keys Codex does not read" in shown.stdout
    assert "did you mean `requirements_toml_base64`?" in shown.stderr
    data = json.loads(
        run_codex("config", "show", "--json", env={"CODEX_MDM_PLIST": str(plist)}).stdout
    )
    assert data["mdm_unknown_keys"] == ["requirement_toml_base64"]


def test_configuration_profile_payload_keys_are_not_unknown(env: Env) -> None:
    plist = env.root / "p.mobileconfig"
    payload = {
        "PayloadType": "com.openai.codex",
        "PayloadIdentifier": "x",
        "PayloadUUID": "u",
        "PayloadVersion": 1,
        "config_toml_base64": base64.b64encode(b'model = "m"\n').decode(),
    }
    plist.write_bytes(plistlib.dumps({"PayloadContent": [payload], "PayloadType": "Configuration"}))
    result = load_config(LoadOptions(mdm_plist=plist))
    assert result.mdm_unknown_keys == [] and result.config["model"] == "m"


# ------------------------------------------------------------------- errors quote no secrets


def test_type_errors_name_the_type_not_the_value(env: Env) -> None:
    """A file may be a link to a secret; error text reaches logs and, via the agent, a model."""
    env.user('hide_agent_reasoning = "sk-live-SECRET"\n[tui]\nanimations = true\n')
    with pytest.raises(CodexError) as err:
        load_config(LoadOptions())
    assert "SECRET" not in str(err.value)
    assert "`hide_agent_reasoning`: Input should be a valid boolean (got a string)" in str(
        err.value
    )
    env.user('sandbox_mode = "read_only"\n')
    with pytest.raises(CodexError, match=r"\(got 'read_only'\)"):  # a mistyped choice is shown
        load_config(LoadOptions())
