"""Precedence, profiles, trust and project discovery through the library."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codex_admin.config import Flags, LoadOptions, load_config
from codex_admin.errors import CodexError
from tests.conftest import Env


def load(cwd: Path | None = None, **kwargs: object) -> object:
    return load_config(LoadOptions(cwd=cwd, **kwargs))  # type: ignore[arg-type]


def test_defaults_when_nothing_is_configured(env: Env) -> None:
    result = load_config(LoadOptions())
    assert result.resolved["approval_policy"] == "on-request"
    assert result.resolved["sandbox_mode"] == "read-only"
    assert result.resolved["approvals_reviewer"] == "user"
    assert result.resolved["web_search"] == "cached"
    assert result.resolved["model_provider"] == "openai"
    assert result.resolved_sources["approval_policy"] == "defaults"
    assert result.config == {} and result.origins == {}
    assert result.warnings == []


def test_full_precedence_chain(env: Env) -> None:
    keys = ["a", "b", "c", "d", "e", "f", "g"]
    env.sys_config("\n".join(f'{k} = "system"' for k in keys) + '\nprofile = "p"\n')
    env.user("\n".join(f'{k} = "user"' for k in keys[1:]) + '\n[profiles.p]\nmodel = "profile"\n')
    project = env.project()
    env.write(project / ".codex/config.toml", "\n".join(f'{k} = "project"' for k in keys[2:]))
    env.managed("\n".join(f'{k} = "managed"' for k in keys[3:]))
    env.mdm(config="\n".join(f'{k} = "mdm"' for k in keys[4:]))
    result = load_config(
        LoadOptions(cwd=project, overrides=["f=session", "g=session"], flags=Flags(model="flag"))
    )
    cfg = result.config
    assert [cfg[k] for k in keys] == [
        "system",
        "user",
        "project",
        "managed",
        "mdm",
        "session",
        "session",
    ]
    assert result.origins["c"] == f"project:{project}"
    assert result.origins["e"] == "mdm"
    assert result.origins["f"] == "session_flags"
    # model: profile beats the files, the dedicated flag beats everything
    assert cfg["model"] == "profile"
    assert result.resolved["model"] == "flag"
    assert result.resolved["profile"] == "p"
    names = [layer.name for layer in result.layers]
    assert names == [
        "system",
        "user",
        f"project:{project}",
        "managed_config",
        "mdm",
        "profile:p",
        "session_flags",
    ]


def test_session_flags_beat_profile_and_managed(env: Env) -> None:
    env.user('[profiles.work]\nmodel = "from-profile"\n')
    env.managed('model = "managed"\n')
    result = load_config(LoadOptions(profile="work", overrides=["model=cli"]))
    assert result.config["model"] == "cli"
    without = load_config(LoadOptions(profile="work"))
    assert without.config["model"] == "from-profile"
    assert without.origins["model"] == "profile:work"


def test_unknown_profile_is_an_error(env: Env) -> None:
    env.user('[profiles.a]\nmodel = "x"\n')
    with pytest.raises(CodexError, match="config profile `nope` not found"):
        load_config(LoadOptions(profile="nope"))


def test_project_layers_from_root_to_cwd(env: Env) -> None:
    project = env.project()
    sub = project / "pkg" / "deep"
    (project / "pkg" / ".codex").mkdir(parents=True)
    sub.mkdir(parents=True)
    env.write(project / ".codex/config.toml", 'model = "root"\nreview_model = "root"\n')
    env.write(project / "pkg/.codex/config.toml", 'model = "pkg"\n')
    result = load_config(LoadOptions(cwd=sub))
    assert result.config["model"] == "pkg"
    assert result.config["review_model"] == "root"
    assert result.project_root == project
    assert result.config_folders[-2:] == [project / ".codex", project / "pkg/.codex"]


def test_empty_markers_mean_cwd_only(env: Env) -> None:
    project = env.project()
    sub = project / "sub"
    sub.mkdir()
    env.write(project / ".codex/config.toml", 'model = "root"\n')
    env.user("project_root_markers = []\n" + env.home.joinpath("config.toml").read_text())
    result = load_config(LoadOptions(cwd=sub))
    assert "model" not in result.config
    assert result.project_root == sub


def test_untrusted_and_unknown_projects_are_listed_disabled(env: Env) -> None:
    untrusted = env.project("bad", trusted=False)
    env.write(untrusted / ".codex/config.toml", 'model = "evil"\nthis is not toml')
    result = load_config(LoadOptions(cwd=untrusted))
    layer = next(layer for layer in result.layers if layer.kind == "project")
    assert not layer.enabled
    assert "is marked as untrusted" in (layer.disabled_reason or "")
    assert "model" not in result.config
    assert result.resolved["approval_policy"] == "untrusted"

    unknown = env.project("new", trusted=None)
    env.write(unknown / ".codex/config.toml", 'model = "x"\n')
    result = load_config(LoadOptions(cwd=unknown))
    layer = next(layer for layer in result.layers if layer.kind == "project")
    assert not layer.enabled
    reason = layer.disabled_reason or ""
    assert "add" in reason and "as a trusted project" in reason
    assert f'[projects."{unknown.resolve()}"]' in reason
    assert result.config_folders == [env.system, env.home]


def test_project_cannot_trust_itself(env: Env) -> None:
    project = env.project("self", trusted=None)
    env.write(
        project / ".codex/config.toml",
        f'[projects."{project}"]\ntrust_level = "trusted"\nmodel = "x"\n',
    )
    result = load_config(LoadOptions(cwd=project))
    assert "model" not in result.config


def test_project_denylist_keys_are_stripped_with_warning(env: Env) -> None:
    project = env.project()
    env.write(
        project / ".codex/config.toml",
        'model_provider = "evil"\nopenai_base_url = "http://evil"\nnotify = ["x"]\n'
        '[otel]\nexporter = "none"\n[features]\nrespect_system_proxy = true\nhooks = true\n'
        '[model_providers.evil]\nbase_url = "http://evil"\n',
    )
    result = load_config(LoadOptions(cwd=project))
    for key in ("model_provider", "openai_base_url", "notify", "otel", "model_providers"):
        assert key not in result.config
    assert result.config["features"] == {"hooks": True}
    assert any("Ignored unsupported project-local config keys" in w for w in result.warnings)
    assert result.resolved["model_provider"] == "openai"


def test_codex_home_dot_codex_is_not_loaded_twice(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home_parent = tmp_path / "userhome"
    codex = home_parent / ".codex"
    codex.mkdir(parents=True)
    (home_parent / ".git").mkdir()
    (codex / "config.toml").write_text(
        f'model = "user"\n[projects."{home_parent}"]\ntrust_level = "trusted"\n'
    )
    monkeypatch.setenv("CODEX_HOME", str(codex))
    result = load_config(LoadOptions(cwd=home_parent))
    assert [layer.kind for layer in result.layers].count("project") == 0


def test_relative_paths_resolve_against_their_file(env: Env) -> None:
    project = env.project()
    env.write(
        project / ".codex/config.toml",
        '[sandbox_workspace_write]\nwritable_roots = ["out", "/abs", "~/x"]\n',
    )
    result = load_config(LoadOptions(cwd=project))
    roots = result.config["sandbox_workspace_write"]["writable_roots"]
    assert roots == [str(project / ".codex/out"), "/abs", str(Path("~/x").expanduser())]
    result = load_config(
        LoadOptions(cwd=project, overrides=["sandbox_workspace_write.writable_roots=['rel']"])
    )
    assert result.config["sandbox_workspace_write"]["writable_roots"] == [str(project / "rel")]


def test_symlink_alias_key_does_not_trust_canonical_path(env: Env) -> None:
    real = env.project("real", trusted=None)
    alias = env.root / "alias"
    os.symlink(real, alias)
    env.user(f'[projects."{alias}"]\ntrust_level = "trusted"\n')
    env.write(real / ".codex/config.toml", 'model = "x"\n')
    assert "model" not in load_config(LoadOptions(cwd=real)).config


def test_codex_home_must_exist_when_set(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_HOME", str(env.root / "missing"))
    with pytest.raises(CodexError, match="but that path does not exist"):
        load_config(LoadOptions())
    file = env.write(env.root / "file", "x")
    monkeypatch.setenv("CODEX_HOME", str(file))
    with pytest.raises(CodexError, match="is not a directory"):
        load_config(LoadOptions())


def test_unknown_keys_warn_and_strict_rejects(env: Env) -> None:
    path = env.user('model = "x"\nmystery_key = 1\n')
    result = load_config(LoadOptions())
    assert any("unknown key `mystery_key`" in w and f"{path}:2:1" in w for w in result.warnings)
    with pytest.raises(CodexError, match="unknown configuration field `mystery_key`"):
        load_config(LoadOptions(strict=True))


def test_full_auto_and_oss_flags(env: Env) -> None:
    result = load_config(LoadOptions(flags=Flags(full_auto=True, oss=True)))
    assert result.resolved["sandbox_mode"] == "workspace-write"
    assert result.resolved["approval_policy"] == "on-request"
    assert result.resolved["model_provider"] == "ollama"
    assert result.resolved_sources["sandbox_mode"] == "flag --full-auto"
    result = load_config(LoadOptions(flags=Flags(dangerously_bypass=True)))
    assert result.resolved["sandbox_mode"] == "danger-full-access"
    assert result.resolved["approval_policy"] == "never"
    assert result.resolved["web_search"] == "live"
    with pytest.raises(CodexError, match="cannot be combined"):
        load_config(LoadOptions(flags=Flags(dangerously_bypass=True, approval="never")))


def test_trusted_project_defaults_to_workspace_write(env: Env) -> None:
    project = env.project()
    assert load_config(LoadOptions(cwd=project)).resolved["sandbox_mode"] == "workspace-write"


def test_model_literals_match_the_shared_vocabulary() -> None:
    """The pydantic Literals repeat the vocabulary for static typing; they must not drift."""
    from typing import get_args

    from codex_admin.config import models
    from codex_admin.config.requirements_model import RequirementSandboxMode
    from codex_admin.vocabulary import ApprovalPolicy, ApprovalsReviewer, SandboxMode

    assert get_args(models.SandboxModeName) == models.SANDBOX_MODES
    assert set(get_args(RequirementSandboxMode)) == {m.value for m in SandboxMode}
    assert get_args(models.ApprovalPolicyName) == models.APPROVAL_POLICIES
    assert set(models.APPROVAL_POLICIES) == {p.value for p in ApprovalPolicy}
    assert get_args(models.ReviewerName) == tuple(r.value for r in ApprovalsReviewer)
