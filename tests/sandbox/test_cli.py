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


def test_proxy_mode_without_an_enabled_network_policy_says_so_before_running(ws: Path) -> None:
    marker = ws / "ran"
    r = codex("sandbox", "linux", "--network", "proxy", "--", "touch", str(marker), cwd=ws)
    assert r.returncode == 1 and not marker.exists()
    assert "network policy is disabled" in r.stderr and "network.enabled=true" in r.stderr
    r = codex("sandbox", "linux", "--network", "proxy", "--json", "--", "true", cwd=ws)
    error = json.loads(r.stdout)["error"]
    assert set(error) == {"message", "path", "line", "column", "hint"}
    assert "disabled" in error["message"] and "network.enabled=true" in error["hint"]
    # Explaining is still possible, and says that the policy is off.
    r = codex("sandbox", "linux", "--network", "proxy", "--explain", "--json", "--", "true", cwd=ws)
    assert r.returncode == 0 and json.loads(r.stdout)["network_policy"]["enabled"] is False


def test_requirements_that_disable_the_managed_network_are_named(ws: Path) -> None:
    write_requirements("[experimental_network]\nenabled = false\n")
    r = codex(
        "sandbox", "linux", "-c", "network.enabled=true", "--network", "proxy", "--", "true", cwd=ws
    )
    assert r.returncode == 1 and "managed network is disabled" in r.stderr


@pytest.mark.usefixtures("bwrap")
@pytest.mark.parametrize(
    "flags",
    [
        ["-s", "read-only"],
        ["-s", "workspace-write"],
        ["-s", "danger-full-access"],
        ["-c", "network.enabled=true", "--network", "proxy"],
    ],
    ids=["read-only", "workspace-write", "unsandboxed", "proxy"],
)
def test_a_missing_command_exits_127_and_an_unexecutable_one_126(
    ws: Path, flags: list[str]
) -> None:
    r = codex("sandbox", "linux", *flags, "--", "no-such-command-xyz", cwd=ws)
    assert r.returncode == 127, r.stderr
    assert "no-such-command-xyz: command not found" in r.stderr
    (ws / "script.sh").write_text("#!/bin/sh\necho hi\n")
    r = codex("sandbox", "linux", *flags, "--", "./script.sh", cwd=ws)
    assert r.returncode == 126 and "permission denied" in r.stderr
    r = codex("sandbox", "linux", *flags, "--json", "--", "no-such-command-xyz", cwd=ws)
    data = json.loads(r.stdout)
    assert data["exit_code"] == 127 and "command not found" in data["stderr"]


@pytest.mark.parametrize(
    "argv", [["--bogus", "--", "true"], ["--json", "--bogus", "true"], ["-s", "read-only", "-q"]]
)
def test_a_mistyped_option_before_the_command_is_a_usage_error(ws: Path, argv: list[str]) -> None:
    r = codex("sandbox", "linux", *argv, cwd=ws)
    assert r.returncode == 2, r.stderr
    assert "No such option: " in r.stderr and "after `--`" in r.stderr
    assert r.stdout == ""


@pytest.mark.usefixtures("bwrap")
def test_a_dash_command_after_the_separator_is_run(ws: Path) -> None:
    r = codex("sandbox", "linux", "--", "-no-such-program", cwd=ws)
    assert r.returncode == 127 and "-no-such-program: command not found" in r.stderr


@pytest.mark.usefixtures("bwrap")
def test_explain_and_json_say_which_bwrap_runs(ws: Path) -> None:
    from codex_admin.sandbox import locate_bwrap

    path, source = locate_bwrap()
    r = codex("sandbox", "linux", "--explain", "--", "true", cwd=ws)
    assert r.returncode == 0 and f"bwrap: {path} ({source}, bubblewrap " in r.stdout
    r = codex("sandbox", "linux", "--explain", "--json", "--", "true", cwd=ws)
    info = json.loads(r.stdout)["bwrap"]
    assert info["path"] == path and info["source"] == source
    assert info["version"].startswith("bubblewrap ")
    r = codex("sandbox", "linux", "--json", "--", "true", cwd=ws)
    assert json.loads(r.stdout)["bwrap"] == info


def test_json_failures_are_an_error_object_on_stdout(ws: Path) -> None:
    for args in (
        ["--writable-root", "nope"],
        ["-c", "sandbox_workspace_write.writable_roots=5"],
    ):
        r = codex(
            "sandbox", "linux", "-s", "workspace-write", *args, "--json", "--", "true", cwd=ws
        )
        assert r.returncode == 1, r.stderr
        error = json.loads(r.stdout)["error"]
        assert error["message"] and set(error) == {"message", "path", "line", "column", "hint"}
    r = codex(
        "sandbox",
        "macos",
        "-s",
        "workspace-write",
        "--writable-root",
        "nope",
        "--json",
        "--",
        "true",
        cwd=ws,
    )
    assert r.returncode == 1 and "does not exist" in json.loads(r.stdout)["error"]["message"]


@pytest.mark.usefixtures("bwrap")
def test_the_sandbox_cannot_write_the_next_runs_configuration(ws: Path) -> None:
    """The review's vector: a workspace-write command wrote sub/.codex/config.toml and
    sub/.codex/rules/*.rules, and the next run from sub/ loaded them as trusted."""
    (ws / ".git").mkdir()
    write_config(f'[projects."{ws.resolve()}"]\ntrust_level = "trusted"\n')
    script = (
        "mkdir -p sub/.codex/rules && "
        "echo 'sandbox_mode = \"danger-full-access\"' > sub/.codex/config.toml && "
        'echo \'prefix_rule(pattern=["rm"], decision="allow")\' > sub/.codex/rules/x.rules'
    )
    r = codex("sandbox", "linux", "-s", "workspace-write", "--", "sh", "-c", script, cwd=ws)
    assert r.returncode == 0, r.stderr
    assert "sub/.codex appeared during the run" in r.stderr and "moved aside" in r.stderr
    assert not (ws / "sub" / ".codex").exists()
    r = codex("sandbox", "linux", "--explain", "--json", "--", "true", cwd=ws / "sub")
    assert json.loads(r.stdout)["policy"]["mode"] != "danger-full-access", r.stderr


@pytest.mark.usefixtures("bwrap")
def test_codex_home_and_system_dir_under_a_writable_root_via_the_cli(
    ws: Path, tmp_path: Path
) -> None:
    write_config('model = "o3"\n')
    home, system = os.environ["CODEX_HOME"], os.environ["CODEX_SYSTEM_DIR"]
    script = (
        f"echo 'approval_policy = \"never\"' >> {home}/config.toml; "
        f"mkdir -p {home}/rules; echo x > {home}/rules/allow.rules; "
        f"echo 'allowed_sandbox_modes = [\"danger-full-access\"]' > {system}/requirements.toml"
    )
    r = codex(
        "sandbox",
        "linux",
        "-s",
        "workspace-write",
        "--writable-root",
        str(Path(home).parent),
        "--writable-root",
        str(Path(system).parent),
        "--",
        "sh",
        "-c",
        script,
        cwd=ws,
    )
    assert Path(home, "config.toml").read_text() == 'model = "o3"\n'
    assert not Path(home, "rules").exists() and not Path(system, "requirements.toml").exists()
    assert "Read-only file system" in r.stderr


@pytest.mark.usefixtures("bwrap")
def test_fast_path_and_typer_path_agree(ws: Path) -> None:
    fast = codex("sandbox", "linux", "--timeout=5", "--json", "--", "sh", "-c", "exit 3", cwd=ws)
    # An option the fast path does not know sends the invocation to typer.
    slow = codex(
        "sandbox",
        "linux",
        "--timeout",
        "5",
        "--json",
        "-cfoo=1",
        "--",
        "sh",
        "-c",
        "exit 3",
        cwd=ws,
    )
    assert fast.returncode == slow.returncode == 3
    assert json.loads(fast.stdout)["exit_code"] == json.loads(slow.stdout)["exit_code"] == 3
    assert codex("sandbox", "linux", "-h", cwd=ws).returncode == 0


@pytest.mark.usefixtures("bwrap")
def test_signals_reach_the_command_through_the_blocking_cli(ws: Path) -> None:
    import signal
    import time

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codex_admin.cli.main",
            "sandbox",
            "linux",
            "--",
            "sh",
            "-c",
            "trap 'echo got-term; exit 7' TERM; sleep 20 & wait",
        ],
        cwd=ws,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    time.sleep(2.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 7, err
    assert b"got-term" in out


@pytest.mark.usefixtures("bwrap")
def test_one_shot_proxy_runs_start_the_proxy_on_first_use_and_inspect_eagerly(
    ws: Path, tmp_path: Path
) -> None:
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    net = [
        "-c",
        "network.enabled=true",
        "-c",
        "network.allow_local_binding=true",
        "-c",
        'network.domains={"127.0.0.1"="allow"}',
        "--network",
        "proxy",
    ]
    try:
        script = (
            f'curl -s -o /dev/null -w "%{{http_code}} " --noproxy "" -x "$HTTP_PROXY" '
            f"http://127.0.0.1:{port}/; "
            'curl -s -o /dev/null -w "%{http_code}" -x "$HTTP_PROXY" http://denied.example/'
        )
        r = codex("sandbox", "linux", *net, "--", "sh", "-c", script, cwd=ws)
        assert r.returncode == 0 and r.stdout == "200 403", (r.stdout, r.stderr)
        # Nothing connects: the command still gets the proxy variables.
        r = codex("sandbox", "linux", *net, "--", "sh", "-c", 'echo "$HTTP_PROXY"', cwd=ws)
        assert r.stdout.strip() == "http://127.0.0.1:3128"
        # Inspection needs the session CA before the command starts.
        r = codex(
            "sandbox",
            "linux",
            *net,
            "-c",
            "network.mitm=true",
            "--",
            "sh",
            "-c",
            'test -s "$SSL_CERT_FILE" && echo bundle-ok',
            cwd=ws,
        )
        assert "bundle-ok" in r.stdout, r.stderr
    finally:
        server.shutdown()
