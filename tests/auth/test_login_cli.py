"""`codex login --with-api-key`, `login status`, `logout`: Codex's texts, exit codes, stores."""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys

import pytest

from codex_admin.auth import keyring_account
from tests.conftest import Env, run_codex
from tests.support import SecretService

KEY = "sk-test-1234567890abcdef"


def login(
    env: Env, key: str = KEY, *args: str, extra: dict | None = None
) -> subprocess.CompletedProcess[str]:
    return run_codex(*args, "login", "--with-api-key", input=key + "\n", env=extra)


def test_api_key_login_status_logout(env: Env) -> None:
    missing = run_codex("login", "status")
    assert (missing.returncode, missing.stderr) == (1, "Not logged in\n")
    done = login(env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "Reading API key from stdin...\nAPI key saved. Authentication is checked when you send a request.\n"
    )
    auth = env.home / "auth.json"
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    assert json.loads(auth.read_text()) == {"auth_mode": "apikey", "OPENAI_API_KEY": KEY}
    status = run_codex("login", "status")
    assert status.returncode == 0 and status.stdout == ""
    assert status.stderr == (
        "API key configured - sk-test-***bcdef\nAuthentication is checked when you send a request.\n"
    )
    data = json.loads(run_codex("login", "status", "--json").stdout)
    assert data["logged_in"] is True and data["api_key"] == "sk-test-***bcdef"
    assert data["store"] == "file" and data["location"] == str(auth)
    assert KEY not in json.dumps(data)
    out = run_codex("logout")
    assert (out.returncode, out.stderr) == (0, "Successfully logged out\n")
    assert not auth.exists()
    again = run_codex("logout")
    assert (again.returncode, again.stderr) == (0, "Not logged in\n")


@pytest.mark.parametrize(
    ("key", "masked"), [("sk-1234567890", "***"), ("sk-12345678901", "sk-12345***78901")]
)
def test_short_keys_are_fully_masked(env: Env, key: str, masked: str) -> None:
    login(env, key)
    assert f"API key configured - {masked}\n" in run_codex("login", "status").stderr


def test_key_is_trimmed_and_empty_stdin_refused(env: Env) -> None:
    login(env, "  sk-padded-0000000000  ")
    assert (
        json.loads((env.home / "auth.json").read_text())["OPENAI_API_KEY"] == "sk-padded-0000000000"
    )
    empty = run_codex("login", "--with-api-key", input="  \n")
    assert empty.returncode == 1 and "error: No API key provided via stdin." in empty.stderr


def test_terminal_stdin_and_api_key_flag_are_refused_with_the_hint(env: Env) -> None:
    hint = "`printenv OPENAI_API_KEY | codex login --with-api-key`"
    flag = run_codex("login", "--api-key", KEY)
    assert flag.returncode == 1 and hint in flag.stderr
    assert KEY not in flag.stderr
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "codex_admin.cli.main", "login", "--with-api-key"],
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ),
        )
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 1
    assert (
        f"--with-api-key expects the API key on stdin. Try piping it, e.g. {hint}." in proc.stderr
    )
    assert not (env.home / "auth.json").exists()


def test_forced_login_method_from_config_and_requirements(env: Env) -> None:
    env.user('forced_login_method = "api"\n')
    assert login(env).returncode == 0  # api allowed by config
    env.requirements('forced_login_method = "chatgpt"\n')  # requirements win
    refused = login(env, "sk-second-key-000000")
    assert refused.returncode == 3
    assert "API key login is disabled. Use ChatGPT login instead." in refused.stderr
    assert "requirements" in refused.stderr
    status = run_codex("login", "status")
    assert (status.returncode, status.stderr) == (
        1,
        "Not logged in\n",
    )  # as Codex: restricted = none
    overridden = login(env, "sk-third-key-0000000", "-c", 'forced_login_method="api"')
    assert overridden.returncode == 3  # a -c override cannot beat the requirement
    env.requirements('forced_login_method = "api"\n')
    chatgpt = run_codex("login", "--device-auth")
    assert (
        chatgpt.returncode == 3
        and "ChatGPT login is disabled. Use API key login instead." in chatgpt.stderr
    )


def test_codex_auth_home_moves_only_the_auth_file(env: Env) -> None:
    other = env.root / "auth-home"
    login(env, extra={"CODEX_AUTH_HOME": str(other)})
    assert (other / "auth.json").exists() and not (env.home / "auth.json").exists()


def test_symlinked_auth_json_is_refused_by_login(env: Env) -> None:
    target = env.root / "target.json"
    target.write_text("{}")
    (env.home / "auth.json").symlink_to(target)
    out = login(env)
    assert out.returncode == 1 and "symbolic link" in out.stderr
    assert target.read_text() == "{}"


def test_keyring_store_through_the_cli(env: Env, secret_service: SecretService) -> None:
    bus = {"DBUS_SESSION_BUS_ADDRESS": secret_service.environ["DBUS_SESSION_BUS_ADDRESS"]}
    env.user('cli_auth_credentials_store = "keyring"\n')
    (env.home / "auth.json").write_text('{"OPENAI_API_KEY": "old-plain-text-key"}')
    done = login(env, extra=bus)
    assert done.returncode == 0, done.stderr
    assert not (env.home / "auth.json").exists()
    status = run_codex("login", "status", "--json", env=bus)
    data = json.loads(status.stdout)
    assert data["logged_in"] and data["store"] == "keyring"
    assert keyring_account(env.home) in data["location"] and "Codex Auth" in data["location"]
    doctor = run_codex("doctor", "--json", env=bus)
    check = next(c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "credentials")
    assert check["status"] == "ok" and check["details"]["store"] == "keyring"
    assert KEY not in doctor.stdout
    assert run_codex("logout", env=bus).stderr == "Successfully logged out\n"
    assert run_codex("login", "status", env=bus).returncode == 1


def test_keyring_store_without_a_session_is_a_clear_error(env: Env) -> None:
    env.user('cli_auth_credentials_store = "keyring"\n')
    out = login(env, extra={"DBUS_SESSION_BUS_ADDRESS": f"unix:path={env.root}/no-bus"})
    assert out.returncode == 1
    assert "OS keyring is not available" in out.stderr and "Traceback" not in out.stderr
    auto = run_codex(
        "-c",
        'cli_auth_credentials_store="auto"',
        "login",
        "--with-api-key",
        input=KEY,
        env={"DBUS_SESSION_BUS_ADDRESS": f"unix:path={env.root}/no-bus"},
    )
    assert auto.returncode == 0 and (env.home / "auth.json").exists()


def test_doctor_reports_store_and_login_without_secret(env: Env) -> None:
    report = json.loads(run_codex("doctor", "--json").stdout)
    check = next(c for c in report["checks"] if c["name"] == "credentials")
    assert check["status"] == "info" and "not logged in" in check["summary"]
    login(env)
    report = run_codex("doctor", "--json").stdout
    check = next(c for c in json.loads(report)["checks"] if c["name"] == "credentials")
    assert check["status"] == "ok" and check["details"]["auth_mode"] == "apikey"
    assert check["details"]["location"] == str(env.home / "auth.json")
    assert KEY not in report and "bcdef" not in report
    human = run_codex("doctor").stdout
    assert "credentials" in human and "logged in (apikey); store file" in human
