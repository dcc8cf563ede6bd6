"""Pure parts as data: env policy, policy rules, bwrap argv, Seatbelt text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.sandbox import (
    EnvPolicy,
    NetworkMode,
    SandboxMode,
    SandboxPlan,
    SandboxPolicy,
    build_bwrap_argv,
    build_child_env,
    glob_to_sbpl_regex,
    plan_sandbox,
    policy_from_config,
    seatbelt_profile,
)

PARENT = {
    "PATH": "/usr/bin",
    "HOME": "/home/u",
    "AWS_SECRET_ACCESS_KEY": "s",
    "github_token": "t",
    "MY_API_KEY": "k",
    "OPENAI_API_KEY": "sk",
    "LANG": "C",
    "CODEX_API_KEY": "ours",
}


def test_env_defaults_drop_secrets() -> None:
    env = build_child_env(EnvPolicy(), PARENT)
    assert env == {"PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C"}


def test_env_ignore_default_excludes_keeps_user_secrets_but_never_ours() -> None:
    env = build_child_env(EnvPolicy(ignore_default_excludes=True), PARENT)
    assert env["AWS_SECRET_ACCESS_KEY"] == "s" and env["github_token"] == "t"
    assert "OPENAI_API_KEY" not in env and "CODEX_API_KEY" not in env


def test_env_inherit_core_none_exclude_set_include_only() -> None:
    assert build_child_env(EnvPolicy(inherit="core"), PARENT) == {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
    }
    assert build_child_env(EnvPolicy(inherit="none", set=(("A", "1"),)), PARENT) == {"A": "1"}
    env = build_child_env(EnvPolicy(exclude=("la*",), set=(("X_KEY", "v"),)), PARENT)
    assert "LANG" not in env and env["X_KEY"] == "v"  # `set` is explicit: applied after excludes
    env = build_child_env(EnvPolicy(include_only=("PATH", "h*")), PARENT)
    assert env == {"PATH": "/usr/bin", "HOME": "/home/u"}


def test_env_policy_table_errors_are_clear() -> None:
    assert EnvPolicy.from_table({"inherit": "core", "exclude": ["A*"]}).exclude == ("A*",)
    with pytest.raises(CodexError, match="inherit"):
        EnvPolicy.from_table({"inherit": "some"})
    with pytest.raises(CodexError, match="exclude"):
        EnvPolicy.from_table({"exclude": "A*"})
    with pytest.raises(CodexError, match="set"):
        EnvPolicy.from_table({"set": {"A": 1}})


def test_network_rules() -> None:
    cwd = Path("/")
    with pytest.raises(CodexError, match="needs danger-full-access"):
        SandboxPolicy(mode=SandboxMode.READ_ONLY, cwd=cwd, network=NetworkMode.FULL)
    SandboxPolicy(
        mode=SandboxMode.WORKSPACE_WRITE, cwd=cwd, network=NetworkMode.FULL, network_access=True
    )
    with pytest.raises(CodexError, match="experimental_network"):
        SandboxPolicy(
            mode=SandboxMode.DANGER_FULL_ACCESS,
            cwd=cwd,
            network=NetworkMode.FULL,
            managed_network=True,
        )


def test_policy_from_config_defaults() -> None:
    cwd = Path("/w")
    assert policy_from_config({}, sandbox_mode="read-only", cwd=cwd).network is NetworkMode.NONE
    p = policy_from_config(
        {"sandbox_workspace_write": {"network_access": True, "writable_roots": ["/x", "rel"]}},
        sandbox_mode="workspace-write",
        cwd=cwd,
        environ={"TMPDIR": "/tmpdir"},
    )
    assert p.network is NetworkMode.FULL
    assert p.writable_roots == (Path("/x"), Path("/w/rel")) and p.tmpdir == Path("/tmpdir")
    managed = policy_from_config(
        {}, sandbox_mode="danger-full-access", cwd=cwd, managed_network={"enabled": True}
    )
    assert managed.network is NetworkMode.PROXY and managed.managed_network
    assert (
        policy_from_config(
            {"network": {"enabled": True}}, sandbox_mode="read-only", cwd=cwd
        ).network
        is NetworkMode.PROXY
    )
    with pytest.raises(CodexError, match="unknown sandbox mode"):
        policy_from_config({}, sandbox_mode="yolo", cwd=cwd)
    with pytest.raises(CodexError, match="network_access"):
        policy_from_config(
            {"sandbox_workspace_write": {"network_access": "yes"}},
            sandbox_mode="read-only",
            cwd=cwd,
        )
    with pytest.raises(CodexError, match="absolute"):
        policy_from_config({}, sandbox_mode="read-only", cwd=cwd, deny_read=["relative/x"])


def _plan(**kw: object) -> SandboxPlan:
    base: dict[str, object] = {
        "mode": SandboxMode.WORKSPACE_WRITE,
        "network": NetworkMode.NONE,
        "cwd": Path("/w"),
        "writable": (Path("/w"),),
        "protected": (Path("/w/.git"),),
        "blocked": (Path("/w/.codex"),),
        "masked_dirs": (Path("/w/secrets"),),
        "masked_files": (Path("/etc/shadow"),),
    }
    base.update(kw)
    return SandboxPlan(**base)  # type: ignore[arg-type]


def _index(argv: list[str], *seq: str) -> int:
    for i in range(len(argv) - len(seq) + 1):
        if argv[i : i + len(seq)] == list(seq):
            return i
    raise AssertionError(f"{seq} not in {argv}")


def test_bwrap_argv_order_and_hardening() -> None:
    argv = build_bwrap_argv(_plan(), ["ls", "-l"], mask_fds=["9"], expose=[Path("/s")])
    for flag in ("--new-session", "--die-with-parent", "--unshare-pid", "--unshare-net"):
        assert flag in argv
    assert _index(argv, "--cap-drop", "ALL") < _index(argv, "--")
    ro_root = _index(argv, "--ro-bind", "/", "/")
    bind = _index(argv, "--bind", "/w", "/w")
    prot = _index(argv, "--ro-bind-try", "/w/.git", "/w/.git")
    block = _index(argv, "--ro-bind", "/dev/null", "/w/.codex")
    mask_dir = _index(argv, "--perms", "0000", "--tmpfs", "/w/secrets")
    mask_file = _index(argv, "--perms", "0000", "--ro-bind-data", "9", "/etc/shadow")
    expose = _index(argv, "--ro-bind", "/s", "/s")
    assert ro_root < bind < prot < block < mask_dir < mask_file < expose
    assert argv[-3:] == ["--", "ls", "-l"]
    assert _index(argv, "--dev", "/dev") and _index(argv, "--chdir", "/w")


def test_bwrap_argv_network_and_modes() -> None:
    full = build_bwrap_argv(_plan(network=NetworkMode.FULL), ["x"])
    assert "--unshare-net" not in full
    proxy = build_bwrap_argv(_plan(network=NetworkMode.PROXY), ["x"], wrapper=["bridge", "--"])
    assert "--unshare-net" in proxy and proxy[-3:] == ["bridge", "--", "x"]
    danger = _plan(mode=SandboxMode.DANGER_FULL_ACCESS, writable=(), network=NetworkMode.FULL)
    assert _index(build_bwrap_argv(danger, ["x"]), "--bind", "/", "/")
    assert danger.use_sandbox  # masks still need bubblewrap
    bare = _plan(
        mode=SandboxMode.DANGER_FULL_ACCESS,
        network=NetworkMode.FULL,
        masked_dirs=(),
        masked_files=(),
    )
    assert not bare.use_sandbox


def test_plan_resolves_symlinked_cwd_and_orders_roots(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "inner").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)
    plan = plan_sandbox(
        SandboxPolicy(
            mode=SandboxMode.WORKSPACE_WRITE,
            cwd=link / "inner",
            writable_roots=(link,),
            exclude_slash_tmp=True,
        )
    )
    assert plan.cwd == real / "inner"
    assert plan.writable == (real, real / "inner")


def test_plan_refuses_root_as_writable(tmp_path: Path) -> None:
    with pytest.raises(CodexError, match="whole disk"):
        plan_sandbox(
            SandboxPolicy(
                mode=SandboxMode.WORKSPACE_WRITE,
                cwd=tmp_path,
                writable_roots=(Path("/"),),
                exclude_slash_tmp=True,
            )
        )


def test_seatbelt_profile_text() -> None:
    plan = _plan(network=NetworkMode.PROXY)
    text = seatbelt_profile(plan, deny_read_globs=("/home/*/.ssh",), proxy_ports=(3128, 8081))
    assert text.startswith("(version 1)\n(deny default)")
    assert '(require-not (subpath "/w/secrets"))' in text
    assert '(require-not (subpath "/etc/shadow"))' in text
    assert '(require-not (regex #"^/home/[^/]*/\\.ssh(/.*)?$"))' in text
    assert '(require-all (subpath "/w")' in text
    assert '(require-not (subpath "/w/.git"))' in text
    assert '(require-not (subpath "/w/.codex"))' in text
    assert '(allow network-outbound (remote tcp "localhost:3128"))' in text
    assert "(allow network*)" not in text
    none = seatbelt_profile(_plan(), proxy_ports=(3128,))
    assert "network" not in none.replace("(deny default)", "")
    assert "(allow network*)" in seatbelt_profile(_plan(network=NetworkMode.FULL))
    ro = seatbelt_profile(_plan(mode=SandboxMode.READ_ONLY, writable=()))
    assert "file-write* (subpath" not in ro and '(require-all (subpath "/w")' not in ro


def test_seatbelt_quotes_cannot_inject() -> None:
    evil = Path('/w/a") (allow file-write* (subpath "/')
    text = seatbelt_profile(_plan(writable=(evil,), protected=(), blocked=()))
    assert '(allow file-write* (subpath "/w/a\\") (allow file-write* (subpath \\""))' in text
    # Exactly one unescaped write rule: the injected one stayed inside the string.
    outside_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    assert outside_strings.count("(allow file-write*") == 1


def test_glob_to_sbpl_regex() -> None:
    assert glob_to_sbpl_regex("/a/**/b?.[ch]") == r"^/a/.*/b[^/]\.[ch](/.*)?$"
    assert re.match(glob_to_sbpl_regex("/home/*/.ssh"), "/home/u/.ssh/id_rsa")
    assert not re.match(glob_to_sbpl_regex("/home/*/.ssh"), "/home/u/x/.ssh")


def test_namespace_refusals_are_recognised_from_bubblewraps_messages() -> None:
    from codex_admin.sandbox.bwrap import namespace_refusal

    for message in (
        "bwrap: No permissions to creating new namespace, likely because the kernel does not "
        "allow non-privileged user namespaces.",
        "bwrap: setting up uid map: Permission denied",
        "bwrap: Creating new namespace failed: Operation not permitted",
    ):
        reason = namespace_refusal(message)
        assert reason is not None and "user namespaces are refused" in reason
    assert namespace_refusal("bwrap: Can't mount proc on /newroot/proc") is None


def test_explain_never_shows_environment_values(tmp_path: Path) -> None:
    from codex_admin.sandbox import explain

    pol = SandboxPolicy(
        mode=SandboxMode.READ_ONLY, cwd=tmp_path, env=EnvPolicy(set=(("X", "s3cret"),))
    )
    info = explain(pol, ["true"], environ={"PATH": "/usr/bin"})
    assert "s3cret" not in info["argv"] and "X" in info["env_names"]
    assert info["argv"][info["argv"].index("X") + 1] == "<value>"
