"""Issue 10 high #3 and the secrets item: what environment bubblewrap, the helper and the
command get, and which layers may set what. Real bubblewrap, real config files."""

from __future__ import annotations

import asyncio
import os
import shlex
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.governance import GovernanceRequest, load_governance
from codex_admin.sandbox import (
    DEFAULT_EXCLUDES,
    EnvPolicy,
    NetworkMode,
    build_child_env,
    is_code_loading,
    run_command,
    strip_url_credentials,
)

from ..conftest import Env, run_codex
from .conftest import policy, run, sh


@pytest.fixture
def bwrap_spy(tmp_path: Path, bwrap: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CODEX_BWRAP = a wrapper that records the environment and argv bubblewrap received."""
    log = tmp_path / "spy"
    wrapper = tmp_path / "bwrap-spy"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"/usr/bin/env > {shlex.quote(str(log))}.env\n"
        f'printf "%s\\n" "$@" > {shlex.quote(str(log))}.argv\n'
        f'exec {shlex.quote(bwrap)} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("CODEX_BWRAP", str(wrapper))
    return log


@pytest.mark.usefixtures("bwrap")
def test_bwrap_starts_with_an_empty_environment_and_no_values_in_argv(
    ws: Path, bwrap_spy: Path
) -> None:
    pol = policy(ws, env=EnvPolicy(set=(("LD_PRELOAD", "/nonexistent/evil.so"), ("MARK", "v1"))))
    r = run(pol, ["sh", "-c", 'echo "mark=$MARK preload=$LD_PRELOAD"'], environ={"SECRETISH": "s"})
    assert b"mark=v1 preload=/nonexistent/evil.so" in (r.stdout or b""), r.stderr
    seen = Path(f"{bwrap_spy}.env").read_text().split()
    assert [v for v in seen if not v.startswith(("PWD=", "SHLVL=", "_="))] == []
    argv = Path(f"{bwrap_spy}.argv").read_text().splitlines()
    assert argv[0] == "--args" and argv[2] == "--"
    assert "v1" not in argv and "/nonexistent/evil.so" not in argv
    assert "/nonexistent/evil.so" not in r.argv and "<value>" in r.argv


@pytest.mark.usefixtures("bwrap")
@pytest.mark.parametrize("network", [NetworkMode.NONE, NetworkMode.PROXY])
def test_ld_preload_from_a_trusted_layer_reaches_only_the_command(
    ws: Path, tmp_path: Path, network: NetworkMode
) -> None:
    """The dynamic loader warns once per process that tries to preload: only the command."""
    pol = policy(ws, network=network, env=EnvPolicy(set=(("LD_PRELOAD", "/nonexistent.so"),)))
    home = tmp_path / "home"
    home.mkdir()
    net = {"enabled": True, "domains": {"example.com": "allow"}}
    r = asyncio.run(
        run_command(
            pol,
            ["/bin/true"],
            codex_home=home,
            network_config=net,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            timeout=30,
        )
    )
    assert r.exit_code == 0, r.stderr
    assert (r.stderr or b"").count(b"cannot be preloaded") == 1, r.stderr


CODE_LOADING = [
    "LD_PRELOAD",
    "LD_AUDIT",
    "LD_LIBRARY_PATH",
    "ld_preload",
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "BASH_ENV",
    "ENV",
    "BASH_FUNC_ls%%",
    "SHELLOPTS",
    "PS4",
    "PATH",
    "HOME",
    "XDG_CONFIG_HOME",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PYTHONWARNINGS",
    "PERL5OPT",
    "PERL5LIB",
    "NODE_OPTIONS",
    "npm_config_node_options",
    "RUBYOPT",
    "JAVA_TOOL_OPTIONS",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_PARAMETERS",
    "GIT_SSH_COMMAND",
    "GIT_DIR",
    "PAGER",
    "LESSOPEN",
    "EDITOR",
    "RIPGREP_CONFIG_PATH",
    "TAR_OPTIONS",
    "MAKEFLAGS",
]


@pytest.mark.parametrize("name", CODE_LOADING)
def test_code_loading_variables_are_recognised(name: str) -> None:
    assert is_code_loading(name)


@pytest.mark.parametrize("name", ["LANG", "RUST_LOG", "NODE_ENV", "GIT_AUTHOR_NAME", "TERM"])
def test_ordinary_variables_are_not(name: str) -> None:
    assert not is_code_loading(name)


def _toml_key(name: str) -> str:
    return f'"{name}"' if not name.replace("_", "").isalnum() else name


@pytest.mark.parametrize("name", ["LD_PRELOAD", "BASH_ENV", "PYTHONSTARTUP", "BASH_FUNC_ls%%"])
def test_project_config_cannot_set_a_code_loading_variable(env: Env, name: str) -> None:
    project = env.project()
    cfg = env.write(
        project / ".codex" / "config.toml",
        f'[shell_environment_policy.set]\n{_toml_key(name)} = "/tmp/evil"\n',
    )
    governance = load_governance(GovernanceRequest(cwd=project))
    with pytest.raises(CodexError) as caught:
        governance.sandbox_policy()
    err = caught.value
    assert name in err.message and "not trusted" in err.message
    assert err.location is not None and err.location.path == str(cfg)
    assert err.hint and "user config" in err.hint


def test_a_c_override_cannot_set_one_either(env: Env) -> None:
    governance = load_governance(
        GovernanceRequest(overrides=["shell_environment_policy.set.LD_PRELOAD='/tmp/x.so'"])
    )
    with pytest.raises(CodexError, match="a -c/--config override"):
        governance.sandbox_policy()


def test_a_profile_counts_as_the_layer_that_defined_it(env: Env) -> None:
    key = "profiles.fast.shell_environment_policy.set.NODE_OPTIONS"
    governance = load_governance(
        GovernanceRequest(overrides=[f"{key}='--require /tmp/x.js'"], profile="fast")
    )
    with pytest.raises(CodexError, match="a -c/--config override"):
        governance.sandbox_policy()
    env.user(
        '[profiles.fast.shell_environment_policy.set]\nNODE_OPTIONS = "--max-old-space-size=4096"\n'
    )
    pol = load_governance(GovernanceRequest(profile="fast")).sandbox_policy()
    assert dict(pol.env.set) == {"NODE_OPTIONS": "--max-old-space-size=4096"}


def test_the_user_config_may_set_them_and_projects_may_set_ordinary_ones(env: Env) -> None:
    project = env.project()
    env.user(
        env.home.joinpath("config.toml").read_text()
        + '\n[shell_environment_policy.set]\nLD_LIBRARY_PATH = "/opt/lib"\n'
    )
    env.write(
        project / ".codex" / "config.toml",
        '[shell_environment_policy.set]\nRUST_LOG = "debug"\n',
    )
    pol = load_governance(GovernanceRequest(cwd=project)).sandbox_policy()
    assert dict(pol.env.set) == {"LD_LIBRARY_PATH": "/opt/lib", "RUST_LOG": "debug"}


def test_a_project_cannot_let_secrets_through(env: Env) -> None:
    project = env.project()
    env.write(
        project / ".codex" / "config.toml",
        "[shell_environment_policy]\nignore_default_excludes = true\n",
    )
    with pytest.raises(CodexError, match="not trusted to let secrets"):
        load_governance(GovernanceRequest(cwd=project)).sandbox_policy()
    # Turning it off (tighter) is fine.
    env.write(
        project / ".codex" / "config.toml",
        "[shell_environment_policy]\nignore_default_excludes = false\n",
    )
    load_governance(GovernanceRequest(cwd=project)).sandbox_policy()


def test_cli_refuses_with_a_located_error_and_json(env: Env) -> None:
    project = env.project()
    env.write(
        project / ".codex" / "config.toml",
        '[shell_environment_policy.set]\nLD_PRELOAD = "/tmp/evil.so"\n',
    )
    r = run_codex("sandbox", "linux", "-s", "read-only", "--json", "--", "true", cwd=project)
    assert r.returncode == 1
    assert '"error"' in r.stdout and "LD_PRELOAD" in r.stdout and "config.toml" in r.stdout


SECRETS = {
    name: f"sekrit-{i}"
    for i, name in enumerate(
        [
            "DB_PASSWORD",
            "PASSWORD",
            "GITHUB_PAT",
            "SMB_PASSWD",
            "AZURE_CREDENTIALS",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "MYSQL_PWD",
            "SMTP_PASS",
            "SSHPASS",
            "NPM_CONFIG__AUTH",
            "SESSION_COOKIE",
            "GPG_PASSPHRASE",
        ]
    )
}


def test_default_excludes_cover_the_usual_secret_names() -> None:
    parent = {**SECRETS, "PATH": "/usr/bin", "PWD": "/w", "OLDPWD": "/v", "GIT_AUTHOR_NAME": "a"}
    env = build_child_env(EnvPolicy(), parent)
    assert env == {"PATH": "/usr/bin", "PWD": "/w", "OLDPWD": "/v", "GIT_AUTHOR_NAME": "a"}
    assert "*PASSWORD*" in DEFAULT_EXCLUDES and "*_PAT" in DEFAULT_EXCLUDES


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://user:pw@proxy.corp:3128", "http://proxy.corp:3128"),
        ("postgres://app:p@ss@db:5432/app", "postgres://db:5432/app"),
        ("https://u:pa/ss@host/x", "https://host/x"),
        ("https://ghp_tok@github.com/o/r.git", "https://github.com/o/r.git"),
        ("a=http://u:p@h,https://x:y@z/w", "a=http://h,https://z/w"),
        ("ssh://git@github.com/o/r", "ssh://git@github.com/o/r"),
        ("ssh://u:pw@host/x", "ssh://host/x"),
        ("https://registry.npmjs.org/@scope/pkg", "https://registry.npmjs.org/@scope/pkg"),
        ("https://host:8080/@scope", "https://host:8080/@scope"),
        ("user@example.com", "user@example.com"),
    ],
)
def test_userinfo_is_stripped_from_urls(value: str, expected: str) -> None:
    assert strip_url_credentials(value) == expected


@pytest.mark.usefixtures("bwrap")
def test_secrets_and_url_credentials_never_reach_a_sandboxed_command(ws: Path) -> None:
    parent = {
        **SECRETS,
        "PATH": os.environ["PATH"],
        "HTTPS_PROXY": "http://alice:hunter2@proxy.corp:3128",
        "DATABASE_URL": "postgres://app:s3cr3t@db/app",
        "VISIBLE": "yes",
    }
    r = run(policy(ws), ["env"], environ=parent)
    out = (r.stdout or b"").decode()
    for value in [*SECRETS.values(), "hunter2", "s3cr3t", "alice"]:
        assert value not in out
    assert "HTTPS_PROXY=http://proxy.corp:3128" in out
    assert "DATABASE_URL=postgres://db/app" in out and "VISIBLE=yes" in out


@pytest.mark.usefixtures("bwrap")
def test_an_explicit_set_value_is_kept(ws: Path) -> None:
    pol = policy(ws, env=EnvPolicy(set=(("DATABASE_URL", "postgres://u:given@db/x"),)))
    r = sh(pol, 'echo "$DATABASE_URL"', environ={"PATH": os.environ["PATH"]})
    assert (r.stdout or b"").strip() == b"postgres://u:given@db/x"


def test_set_names_cannot_smuggle_options() -> None:
    with pytest.raises(CodexError, match="invalid variable"):
        EnvPolicy.from_table({"set": {"A=B": "x"}})
    with pytest.raises(CodexError, match="invalid variable"):
        EnvPolicy.from_table({"set": {"": "x"}})
