"""`codex sandbox ...` as a real subprocess, with config and requirements in temp dirs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def codex(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codex_admin.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
        check=False,
    )


def write_requirements(text: str) -> None:
    Path(os.environ["CODEX_SYSTEM_DIR"], "requirements.toml").write_text(text)


def write_config(text: str) -> None:
    Path(os.environ["CODEX_HOME"], "config.toml").write_text(text)


@pytest.mark.usefixtures("bwrap")
def test_linux_runs_and_exits_with_the_command_code(ws: Path) -> None:
    r = codex(
        "sandbox",
        "linux",
        "-s",
        "workspace-write",
        "--",
        "sh",
        "-c",
        "echo hi > ok; echo no > /etc/nope; exit 7",
        cwd=ws,
    )
    assert r.returncode == 7
    assert (ws / "ok").exists()
    assert "Read-only file system" in r.stderr


@pytest.mark.usefixtures("bwrap")
def test_json_run_captures_output(ws: Path) -> None:
    r = codex(
        "sandbox", "linux", "--json", "--", "sh", "-c", "echo out; echo err >&2; exit 3", cwd=ws
    )
    assert r.returncode == 3
    data = json.loads(r.stdout)
    assert data["exit_code"] == 3 and data["stdout"] == "out\n" and data["stderr"] == "err\n"
    assert data["sandboxed"] is True and data["timed_out"] is False


@pytest.mark.usefixtures("bwrap")
def test_timeout_exit_code(ws: Path) -> None:
    r = codex("sandbox", "linux", "--timeout", "0.5", "--", "sleep", "20", cwd=ws)
    assert r.returncode == 124
    assert "timed out" in r.stderr


def test_explain_json_shows_policy_plan_and_argv(ws: Path) -> None:
    write_config(
        "[sandbox_workspace_write]\nexclude_slash_tmp = true\n"
        '[shell_environment_policy]\ninherit = "core"\n'
    )
    r = codex(
        "sandbox", "linux", "-s", "workspace-write", "--explain", "--json", "--", "ls", cwd=ws
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["policy"]["mode"] == "workspace-write"
    assert data["policy"]["network"] == "none"
    assert data["plan"]["writable"] == [str(ws.resolve())]
    assert data["argv"][0].endswith("bwrap") and data["argv"][-2:] == ["--", "ls"]
    assert "--unshare-net" in data["argv"]
    assert set(data["env_names"]) <= {
        "HOME",
        "LOGNAME",
        "PATH",
        "SHELL",
        "USER",
        "USERNAME",
        "TMPDIR",
        "TEMP",
        "TMP",
    }


def test_requirements_deny_read_applies_and_full_network_refused(ws: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("S\n")
    write_requirements(
        f'[permissions.filesystem]\ndeny_read = ["{secret}"]\n'
        "[experimental_network]\nenabled = true\n"
        '[experimental_network.domains]\n"example.com" = "allow"\n'
    )
    r = codex(
        "sandbox", "linux", "-s", "workspace-write", "--explain", "--json", "--", "true", cwd=ws
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["plan"]["masked_files"] == [str(secret)]
    assert data["policy"]["network"] == "proxy"  # managed network: proxy by default
    assert "example.com" in data["network_policy"]["allowed_domains"]
    r = codex(
        "sandbox", "linux", "-s", "workspace-write", "--network", "full", "--", "true", cwd=ws
    )
    assert r.returncode == 1
    assert "experimental_network" in r.stderr and "Traceback" not in r.stderr


def test_requirements_constrain_the_sandbox_flag(ws: Path) -> None:
    write_requirements('allowed_sandbox_modes = ["read-only"]\n')
    r = codex(
        "sandbox", "linux", "-s", "danger-full-access", "--explain", "--json", "--", "true", cwd=ws
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["policy"]["mode"] == "read-only"
    assert "warning:" in r.stderr


@pytest.mark.usefixtures("bwrap")
def test_deny_read_from_requirements_masks_in_a_real_run(ws: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("TOPSECRET\n")
    write_requirements(f'[permissions.filesystem]\ndeny_read = ["{secret}"]\n')
    r = codex("sandbox", "linux", "-s", "workspace-write", "--", "cat", str(secret), cwd=ws)
    assert r.returncode != 0
    assert "TOPSECRET" not in r.stdout and "Permission denied" in r.stderr


def test_usage_errors_exit_2(ws: Path) -> None:
    assert codex("sandbox", "linux", cwd=ws).returncode == 2
    assert codex("sandbox", "linux", "--network", "wifi", "--", "true", cwd=ws).returncode == 2
    r = codex(
        "sandbox", "linux", "-s", "read-only", "--writable-root", "/tmp", "--", "true", cwd=ws
    )
    assert r.returncode == 2


def test_missing_writable_root_is_a_user_error(ws: Path) -> None:
    r = codex(
        "sandbox", "linux", "-s", "workspace-write", "--writable-root", "nope", "--", "true", cwd=ws
    )
    assert r.returncode == 1
    assert "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_macos_prints_the_profile(ws: Path) -> None:
    r = codex(
        "sandbox",
        "macos",
        "-s",
        "workspace-write",
        "--network",
        "proxy",
        "--json",
        "--",
        "ls",
        cwd=ws,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["argv"][:2] == ["/usr/bin/sandbox-exec", "-p"]
    assert data["argv"][-2:] == ["--", "ls"]
    assert '(remote tcp "localhost:3128")' in data["profile"]
    assert f'(require-not (subpath "{ws.resolve()}/.git"))' in data["profile"]
