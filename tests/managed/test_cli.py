"""The `codex managed` and `codex doctor` commands as real subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from .conftest import CODEX, KeyPair, PolicyServer, Tls


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home, system = tmp_path / "home", tmp_path / "system"
    home.mkdir()
    system.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CODEX_")}
    return {**base, "CODEX_HOME": str(home), "CODEX_SYSTEM_DIR": str(system), "CODEX_MDM_PLIST": ""}


def codex(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CODEX, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=90, check=False
    )


def test_keygen_sign_verify_pack_cycle(tmp_path: Path, env: dict[str, str]) -> None:
    keygen = codex(["managed", "keygen", "--out", "policy", "--json"], env, tmp_path)
    assert keygen.returncode == 0, keygen.stderr
    keys = json.loads(keygen.stdout)
    assert stat.S_IMODE(os.stat(tmp_path / "policy.key").st_mode) == 0o600
    again = codex(["managed", "keygen", "--out", "policy"], env, tmp_path)
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "requirements.toml").write_text('allowed_sandbox_modes = ["read-only"]\n')
    signed = codex(
        ["managed", "sign", "--key", "policy.key", "--serial", "7", str(bundle), "--json"],
        env,
        tmp_path,
    )
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["serial"] == 7
    verified = codex(
        ["managed", "verify", "--pubkey", "policy.pub", str(bundle), "--json"], env, tmp_path
    )
    assert verified.returncode == 0, verified.stderr
    data = json.loads(verified.stdout)
    assert data["ok"] is True and data["key_id"] == keys["key_id"]
    assert list(data["files"]) == ["requirements.toml"]
    (bundle / "requirements.toml").write_text(
        'allowed_sandbox_modes = ["read-only", "danger-full-access"]\n'
    )
    tampered = codex(["managed", "verify", "--pubkey", "policy.pub", str(bundle)], env, tmp_path)
    assert tampered.returncode == 1
    assert "changed after signing: requirements.toml" in tampered.stderr
    assert "Traceback" not in tampered.stderr
    packed = codex(["managed", "pack", str(bundle), "--out", "bundle.json"], env, tmp_path)
    assert packed.returncode == 0
    wire = json.loads((tmp_path / "bundle.json").read_text())
    assert wire["manifest"]["serial"] == 7


def test_inspect_json_shape(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "requirements.toml").write_text('allowed_approval_policies = ["on-request"]\n')
    built = codex(
        [
            "managed",
            "build",
            "--requirements",
            "requirements.toml",
            "--out",
            "out",
            "--format",
            "mobileconfig,plist",
            "--json",
        ],
        env,
        tmp_path,
    )
    assert built.returncode == 0, built.stderr
    assert len(json.loads(built.stdout)["files"]) == 2
    run = codex(
        ["managed", "inspect", "out/com.openai.codex.mobileconfig", "--json"], env, tmp_path
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["kind"] == "mobileconfig" and data["config_toml"] is None
    assert data["effective_requirements"]["allowed_approval_policies"] == {
        "value": ["on-request"],
        "source": "MDM com.openai.codex:requirements_toml_base64",
    }
    text = codex(["managed", "inspect", "out/com.openai.codex.plist"], env, tmp_path)
    assert (
        "validation: ok" in text.stdout
        and 'allowed_approval_policies = ["on-request"]' in text.stdout
    )


def test_build_rejects_unknown_format_as_usage_error(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "requirements.toml").write_text("")
    run = codex(
        [
            "managed",
            "build",
            "--requirements",
            "requirements.toml",
            "--out",
            "o",
            "--format",
            "dmg",
        ],
        env,
        tmp_path,
    )
    assert run.returncode == 2


def _doctor(env: dict[str, str], cwd: Path) -> tuple[int, dict[str, dict[str, object]]]:
    run = codex(["doctor", "--json"], env, cwd)
    data = json.loads(run.stdout)
    return run.returncode, {c["name"]: c for c in data["checks"]}


def test_doctor_healthy_machine(tmp_path: Path, env: dict[str, str]) -> None:
    (Path(env["CODEX_SYSTEM_DIR"]) / "requirements.toml").write_text(
        'allowed_sandbox_modes = ["read-only"]\n'
    )
    code, checks = _doctor(env, tmp_path)
    assert set(checks) == {
        "config",
        "requirements",
        "remote",
        "rules",
        "sandbox",
        "credentials",
        "proxy",
        "hooks",
    }
    assert checks["requirements"]["status"] == "ok"
    assert checks["remote"]["status"] == "info"
    assert checks["sandbox"]["status"] in ("ok", "error")
    assert code == (0 if checks["sandbox"]["status"] == "ok" else 1)


def test_doctor_reports_broken_requirements_with_fix(tmp_path: Path, env: dict[str, str]) -> None:
    (Path(env["CODEX_SYSTEM_DIR"]) / "requirements.toml").write_text(
        "allowed_approval_policies = []\n"
    )
    code, checks = _doctor(env, tmp_path)
    assert code == 1
    assert checks["config"]["status"] == "error"
    assert "cannot be empty" in str(checks["config"]["summary"])
    assert checks["config"]["fix"]


def test_doctor_reports_busy_proxy_port(tmp_path: Path, env: dict[str, str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        (Path(env["CODEX_HOME"]) / "config.toml").write_text(f"[network]\nhttp_port = {port}\n")
        _, checks = _doctor(env, tmp_path)
    proxy = checks["proxy"]
    assert proxy["status"] == "warn" and str(port) in str(proxy["summary"]) and proxy["fix"]


def test_doctor_does_not_warn_about_ports_the_proxy_does_not_use(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """`codex proxy run` binds a free port unless one is configured; 3128 busy is no problem."""
    with socket.socket() as holder:
        with contextlib.suppress(OSError):  # someone else holds it: the same situation
            holder.bind(("127.0.0.1", 3128))
        _, checks = _doctor(env, tmp_path)
    proxy = checks["proxy"]
    assert proxy["status"] in ("ok", "info"), proxy
    assert "3128" not in json.dumps(proxy)


def test_doctor_says_which_bwrap_it_uses(tmp_path: Path, env: dict[str, str]) -> None:
    _, checks = _doctor(env, tmp_path)
    details = checks["sandbox"]["details"]
    assert isinstance(details, dict)
    assert details["source"] in ("CODEX_BWRAP", "system", "bundled", "none")
    if details["path"]:
        assert details["version"] and str(details["version"]).startswith("bubblewrap")


def test_doctor_lists_rules_files(tmp_path: Path, env: dict[str, str]) -> None:
    rules = Path(env["CODEX_HOME"]) / "rules"
    rules.mkdir()
    (rules / "default.rules").write_text('prefix_rule(pattern=["ls"], decision="allow")\n')
    _, checks = _doctor(env, tmp_path)
    details = json.dumps(checks["rules"]["details"])
    assert "default.rules" in details and checks["rules"]["status"] in ("ok", "warn", "error")


def test_doctor_and_remote_fail_closed_when_server_down(
    tmp_path: Path, env: dict[str, str], policy_server: PolicyServer, tls: Tls, keypair: KeyPair
) -> None:
    (Path(env["CODEX_SYSTEM_DIR"]) / "remote_requirements.toml").write_text(
        f'[remote]\nrequirements_url = "{policy_server.url}"\n'
        f'public_keys = ["{keypair.public_b64}"]\n'
        f'ca_file = "{tls.ca_file}"\nmax_attempts = 1\ntimeout_seconds = 2\n'
    )
    policy_server.stop()
    code, checks = _doctor(env, tmp_path)
    assert code == 1 and checks["remote"]["status"] == "error"
    assert "fail closed" in str(checks["remote"]["summary"])
    remote = codex(["managed", "remote"], env, tmp_path)
    assert remote.returncode == 1 and "fail closed" in remote.stderr


def test_managed_remote_fetches_and_reports(
    tmp_path: Path,
    env: dict[str, str],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: object,
) -> None:
    assert callable(new_bundle)
    policy_server.serve_bundle(
        new_bundle(tmp_path / "b", keypair, 'allowed_sandbox_modes = ["read-only"]\n', serial=3),
        etag='"x"',
    )
    (Path(env["CODEX_SYSTEM_DIR"]) / "remote_requirements.toml").write_text(
        f'[remote]\nrequirements_url = "{policy_server.url}"\n'
        f'public_keys = ["{keypair.public_b64}"]\n'
        f'ca_file = "{tls.ca_file}"\n'
    )
    run = codex(["managed", "remote", "--json"], env, tmp_path)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["state"] == "fresh" and data["serial"] == 3
    assert data["requirements_toml"] == 'allowed_sandbox_modes = ["read-only"]\n'


def test_doctor_names_a_rules_file_that_fails_to_load(tmp_path: Path, env: dict[str, str]) -> None:
    import importlib.util

    if importlib.util.find_spec("codex_admin.cli.execpolicy_cmd") is None:
        pytest.skip("execpolicy not installed: doctor only lists rules files")
    rules = Path(env["CODEX_HOME"]) / "rules"
    rules.mkdir()
    (rules / "ok.rules").write_text('prefix_rule(pattern=["ls"], decision="allow")\n')
    (rules / "bad.rules").write_text('prefix_rule(pattern=["ls"], decision="bogus")\n')
    code, checks = _doctor(env, tmp_path)
    assert code == 1 and checks["rules"]["status"] == "error"
    assert "bad.rules" in str(checks["rules"]["summary"]) and "1 of 2" in str(
        checks["rules"]["summary"]
    )
    assert "bad.rules:1" in str(checks["rules"]["fix"])


def test_doctor_reports_an_untrusted_hook(tmp_path: Path, env: dict[str, str]) -> None:
    (Path(env["CODEX_HOME"]) / "hooks.json").write_text(
        '{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": '
        '[{"type": "command", "command": "true"}]}]}}'
    )
    _, checks = _doctor(env, tmp_path)
    hooks = checks["hooks"]
    assert hooks["status"] == "warn" and hooks["fix"], hooks
    assert "codex hooks" in str(hooks["fix"]) or "trust" in str(hooks["summary"]).lower()
