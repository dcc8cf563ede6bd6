"""Builders: deterministic profiles, round trip through the real CLI, installers that work."""

from __future__ import annotations

import base64
import json
import os
import plistlib
import re
import stat
import subprocess
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.managed import build_policy, load_policy

from .conftest import CODEX

CONFIG = """\
approval_policy = "on-request"
sandbox_mode = "workspace-write"
model = "gpt-5"

[sandbox_workspace_write]
network_access = false
"""
REQUIREMENTS = """\
# fleet baseline
allowed_sandbox_modes = ["read-only", "workspace-write"]
allowed_approval_policies = ["on-request", "untrusted"]

[[rules.prefix_rules]]
pattern = [{ token = "rm" }, { any_of = ["-rf", "-fr"] }]
decision = "forbidden"
justification = "destructive"

[experimental_network]
enabled = true
allowed_domains = ["pypi.org", "*.github.com"]
"""


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "managed_config.toml").write_text(CONFIG)
    (src / "requirements.toml").write_text(REQUIREMENTS)
    return src / "managed_config.toml", src / "requirements.toml"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home, system = tmp_path / "home", tmp_path / "empty-system"
    home.mkdir()
    system.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CODEX_")}
    return {**base, "CODEX_HOME": str(home), "CODEX_SYSTEM_DIR": str(system), "CODEX_MDM_PLIST": ""}


def codex(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CODEX, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_mobileconfig_is_deterministic_and_well_formed(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    config, requirements = inputs
    a = build_policy(
        config, requirements, tmp_path / "a", formats=["mobileconfig"], organization="Acme"
    ).files
    b = build_policy(
        config, requirements, tmp_path / "b", formats=["mobileconfig"], organization="Acme"
    ).files
    assert a[0].read_bytes() == b[0].read_bytes()
    profile = plistlib.loads(a[0].read_bytes())
    assert profile["PayloadType"] == "Configuration" and profile["PayloadOrganization"] == "Acme"
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "com.openai.codex"
    assert base64.b64decode(payload["config_toml_base64"]).decode() == CONFIG
    assert base64.b64decode(payload["requirements_toml_base64"]).decode() == REQUIREMENTS
    assert payload["PayloadUUID"] != profile["PayloadUUID"]
    # A different policy gets different UUIDs (a new version of the same profile identifier).
    requirements.write_text(REQUIREMENTS.replace('"untrusted"', '"never"'))
    c = build_policy(
        config, requirements, tmp_path / "c", formats=["mobileconfig"], organization="Acme"
    ).files
    changed = plistlib.loads(c[0].read_bytes())
    assert changed["PayloadIdentifier"] == profile["PayloadIdentifier"]
    assert changed["PayloadUUID"] != profile["PayloadUUID"]


def test_plist_for_defaults_import(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    (path,) = build_policy(*inputs, tmp_path / "o", formats=["plist"]).files
    domain = plistlib.loads(path.read_bytes())
    assert sorted(domain) == ["config_toml_base64", "requirements_toml_base64"]
    assert load_policy(path).requirements.value("allowed_sandbox_modes") == [
        "read-only",
        "workspace-write",
    ]


def test_invalid_input_is_refused_with_location(tmp_path: Path) -> None:
    bad = tmp_path / "requirements.toml"
    bad.write_text('allowed_sandbox_modes = ["workspace-write"]\n')
    with pytest.raises(CodexError, match=r"requirements\.toml:1") as info:
        build_policy(None, bad, tmp_path / "out")
    assert "read-only" in str(info.value)
    assert not (tmp_path / "out").exists()
    broken = tmp_path / "managed_config.toml"
    broken.write_text('approval_policy = "on-request\n')
    with pytest.raises(CodexError, match=r"managed_config\.toml:1"):
        build_policy(broken, None, tmp_path / "out")


def _effective(
    result: subprocess.CompletedProcess[str],
) -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    requirements = {k: v["value"] for k, v in data["requirements"].items()}
    resolved = {k: v for k, v in data["resolved"].items() if k not in ("cwd", "project_root")}
    return data["config"], resolved, requirements


def test_mobileconfig_round_trip_through_config_show(
    inputs: tuple[Path, Path], tmp_path: Path, env: dict[str, str]
) -> None:
    """The profile yields exactly what its inputs yield when installed as system files."""
    config, requirements = inputs
    (profile,) = build_policy(
        config, requirements, tmp_path / "out", formats=["mobileconfig"]
    ).files
    work = tmp_path / "work"
    work.mkdir()
    via_mdm = codex(["config", "show", "--json"], {**env, "CODEX_MDM_PLIST": str(profile)}, work)
    installed = tmp_path / "installed"
    installed.mkdir()
    (installed / "managed_config.toml").write_text(CONFIG)
    (installed / "requirements.toml").write_text(REQUIREMENTS)
    via_files = codex(
        ["config", "show", "--json"], {**env, "CODEX_SYSTEM_DIR": str(installed)}, work
    )
    mdm_config, mdm_resolved, mdm_req = _effective(via_mdm)
    file_config, file_resolved, file_req = _effective(via_files)
    assert mdm_config == file_config
    assert mdm_resolved == file_resolved
    assert mdm_req == file_req
    assert mdm_req["allowed_sandbox_modes"] == ["read-only", "workspace-write"]
    assert mdm_config["model"] == "gpt-5"
    sources = json.loads(via_mdm.stdout)["requirements"]
    assert sources["rules"]["source"] == "MDM com.openai.codex:requirements_toml_base64"


def test_linux_installer_is_valid_bash_and_installs_atomically(
    inputs: tuple[Path, Path], tmp_path: Path, env: dict[str, str]
) -> None:
    build_policy(*inputs, tmp_path / "out", formats=["linux"])
    script = tmp_path / "out" / "linux" / "install-codex-policy.sh"
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    if os.geteuid() != 0:
        pytest.skip("installer needs root to chown")
    target = tmp_path / "etc-codex"
    (target).mkdir()
    (target / "managed_config.toml").write_text("model = 'old'\n")
    os.chmod(target / "managed_config.toml", 0o666)
    run = subprocess.run(
        ["bash", str(script), str(target)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    for name, text in (("managed_config.toml", CONFIG), ("requirements.toml", REQUIREMENTS)):
        st = os.stat(target / name)
        assert (target / name).read_text() == text
        assert stat.S_IMODE(st.st_mode) == 0o644 and st.st_uid == 0 and st.st_gid == 0
    assert sorted(p.name for p in target.iterdir()) == ["managed_config.toml", "requirements.toml"]
    # The installed directory is what Codex reads: the same effective requirements as the inputs.
    shown = codex(["config", "show", "--json"], {**env, "CODEX_SYSTEM_DIR": str(target)}, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "pypi.org" in shown.stdout


def test_linux_installer_refuses_symlinked_targets(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("installer needs root")
    build_policy(*inputs, tmp_path / "out", formats=["linux"])
    script = tmp_path / "out" / "linux" / "install-codex-policy.sh"
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    target = tmp_path / "etc-codex"
    target.mkdir()
    (target / "requirements.toml").symlink_to(victim)
    run = subprocess.run(
        ["bash", str(script), str(target)], capture_output=True, text=True, check=False
    )
    assert run.returncode != 0 and "symlink" in run.stderr
    assert victim.read_text() == "precious\n"
    assert not [p for p in target.iterdir() if p.name.startswith(".")]  # temp files cleaned up
    linked_dir = tmp_path / "linked"
    linked_dir.symlink_to(tmp_path / "elsewhere")
    run = subprocess.run(
        ["bash", str(script), str(linked_dir)], capture_output=True, text=True, check=False
    )
    assert run.returncode != 0 and "symlink" in run.stderr


def test_linux_installer_removes_policy_file_absent_from_build(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("installer needs root")
    req = tmp_path / "requirements.toml"
    req.write_text(REQUIREMENTS)
    build_policy(None, req, tmp_path / "out", formats=["linux"])
    target = tmp_path / "t"
    target.mkdir()
    (target / "managed_config.toml").write_text('approval_policy = "never"\n')
    script = tmp_path / "out" / "linux" / "install-codex-policy.sh"
    run = subprocess.run(
        ["bash", str(script), str(target)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in target.iterdir()) == ["requirements.toml"]


def test_windows_installer_embeds_exact_files_and_acls(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    # PowerShell cannot run here: check what it would install and the ACL statements instead.
    import hashlib

    build_policy(*inputs, tmp_path / "out", formats=["windows"])
    script = (tmp_path / "out" / "windows" / "Install-CodexPolicy.ps1").read_bytes().decode()
    assert script.startswith("#Requires -RunAsAdministrator\r\n")
    assert "\n" not in script.replace("\r\n", "")
    entries = re.findall(
        r"'([a-z_]+\.toml)' = @\{ Sha256 = '([0-9a-f]{64})'; Base64 = '([A-Za-z0-9+/=]+)' \}",
        script,
    )
    decoded = {name: base64.b64decode(b64).decode() for name, _, b64 in entries}
    assert decoded == {"managed_config.toml": CONFIG, "requirements.toml": REQUIREMENTS}
    for _name, digest, b64 in entries:
        assert hashlib.sha256(base64.b64decode(b64)).hexdigest() == digest
    for ace in ("*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F", "*S-1-5-32-545:(OI)(CI)RX"):
        assert ace in script
    assert "/inheritance:r" in script and "ReparsePoint" in script
    assert (
        tmp_path / "out" / "windows" / "Codex" / "requirements.toml"
    ).read_text() == REQUIREMENTS
    assert script.count("{") == script.count("}") and script.count("(") == script.count(")")


def test_inspect_directory_lists_rules_and_requirements(inputs: tuple[Path, Path]) -> None:
    config, _ = inputs
    (config.parent / "rules").mkdir()
    (config.parent / "rules" / "base.rules").write_text(
        'prefix_rule(pattern=["ls"], decision="allow")\n'
    )
    view = load_policy(config.parent)
    assert view.kind == "directory" and list(view.rules) == ["rules/base.rules"]
    assert view.requirements.value("allowed_approval_policies") == ["on-request", "untrusted"]
    assert view.config["sandbox_mode"] == "workspace-write"


def test_inspect_garbled_mdm_payload_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "bad.plist"
    path.write_bytes(plistlib.dumps({"requirements_toml_base64": "%%%not-base64%%%"}))
    with pytest.raises(CodexError, match="base64"):
        load_policy(path)


def test_inspect_does_not_leak_the_callers_environment(
    inputs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "machine-system"
    system.mkdir()
    (system / "requirements.toml").write_text('allowed_web_search_modes = ["disabled"]\n')
    monkeypatch.setenv("CODEX_SYSTEM_DIR", str(system))
    view = load_policy(inputs[1])
    assert view.requirements.value("allowed_web_search_modes") is None
    assert os.environ["CODEX_SYSTEM_DIR"] == str(system)


def test_deploy_templates_are_valid_policy(tmp_path: Path) -> None:
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "templates"
    written = build_policy(
        deploy / "managed_config.toml",
        deploy / "requirements.toml",
        tmp_path / "o",
        formats=["plist"],
    )
    view = load_policy(written.files[0])
    assert view.requirements.value("allowed_sandbox_modes") == ["read-only", "workspace-write"]
