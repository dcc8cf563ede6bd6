"""`codex network check` and `codex proxy run` as real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    home, system = tmp_path / "home", tmp_path / "system"
    home.mkdir()
    system.mkdir()
    env = dict(os.environ)
    env.update({"CODEX_HOME": str(home), "CODEX_SYSTEM_DIR": str(system), "CODEX_MDM_PLIST": ""})
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.pop(key, None)
    yield env


def codex(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codex_admin.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=env["CODEX_HOME"],
    )


def test_network_check_json_shape_and_exit_codes(cli_env: dict[str, str]) -> None:
    home = Path(cli_env["CODEX_HOME"])
    (home / "config.toml").write_text(
        '[network]\nenabled = true\n[network.domains]\n"**.example.com" = "allow"\n'
        '"ads.example.com" = "deny"\n'
    )
    ok = codex(
        cli_env,
        "network",
        "check",
        "--json",
        "--url",
        "https://api.example.com/x",
        "--resolve",
        "api.example.com=93.184.216.34",
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {
        "decision": "allow",
        "reason": "allow",
        "status": None,
        "x_proxy_error": None,
        "matched_pattern": "**.example.com",
        "message": "allowed",
    }
    denied = codex(cli_env, "network", "check", "--json", "--connect", "ads.example.com:443")
    assert denied.returncode == 3
    assert json.loads(denied.stdout) == {
        "decision": "deny",
        "reason": "denied",
        "status": 403,
        "x_proxy_error": "blocked-by-denylist",
        "matched_pattern": "ads.example.com",
        "message": "Domain denied by the sandbox policy.",
    }
    local = codex(
        cli_env,
        "network",
        "check",
        "--url",
        "http://api.example.com/",
        "--resolve",
        "api.example.com=93.184.216.34,10.0.0.7",
    )
    assert local.returncode == 3 and "not_allowed_local" in local.stdout
    socks = codex(cli_env, "network", "check", "--json", "--socks5", "api.example.com:22", "--udp")
    assert json.loads(socks.stdout)["reason"] == "method_not_allowed"


def test_network_check_config_file_and_requirements(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[network]\nmode = "full"\nallowed_domains = ["api.example.com"]\n')
    (Path(cli_env["CODEX_SYSTEM_DIR"]) / "requirements.toml").write_text(
        '[experimental_network]\nmode = "limited"\n'
    )
    post = codex(
        cli_env,
        "network",
        "check",
        "--json",
        "--config-file",
        str(policy),
        "--url",
        "http://api.example.com/",
        "-X",
        "POST",
        "--resolve",
        "api.example.com=93.184.216.34",
    )
    assert json.loads(post.stdout)["x_proxy_error"] == "blocked-by-method-policy"
    assert "wider than" in post.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[network]\nmode = "open"\n', "policy.toml"),
        ('[network.domains]\n"*" = "deny"\n', "global wildcard"),
        ("[network\n", "policy.toml:1"),
    ],
)
def test_network_check_bad_policy_is_a_located_error(
    cli_env: dict[str, str], tmp_path: Path, content: str, message: str
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(content)
    result = codex(
        cli_env, "network", "check", "--config-file", str(policy), "--url", "http://a.example/"
    )
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_network_check_usage_errors(cli_env: dict[str, str]) -> None:
    assert codex(cli_env, "network", "check").returncode == 2
    assert (
        codex(cli_env, "network", "check", "--url", "http://a", "--connect", "a:1").returncode == 2
    )
    bad = codex(cli_env, "network", "check", "--url", "ftp://a.example/")
    assert bad.returncode == 3 and "unsupported scheme" in bad.stdout


def test_proxy_run_prints_env_and_stops_on_sigterm(cli_env: dict[str, str]) -> None:
    home = Path(cli_env["CODEX_HOME"])
    (home / "config.toml").write_text('[network]\ndomains = { "127.0.0.1" = "allow" }\n')
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codex_admin.cli.main",
            "proxy",
            "run",
            "--json",
            "--mode",
            "limited",
        ],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["mode"] == "limited" and info["mitm"] is True
        bundle = Path(info["ca_bundle"])
        assert bundle.parent == home / "proxy" and bundle.exists()
        assert info["env"]["HTTPS_PROXY"] == info["http"]
        assert info["env"]["ALL_PROXY"] == info["socks"]
        assert info["env"]["SSL_CERT_FILE"] == str(bundle)
        assert info["env"]["NO_PROXY"] == ""
        post = subprocess.run(
            [
                "curl",
                "-sS",
                "-i",
                "--noproxy",
                "",
                "-x",
                info["http"],
                "-d",
                "x",
                "http://127.0.0.1:9/",
            ],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert "blocked-by-method-policy" in post.stdout
        time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "stopped (1 blocked)" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_network_check_socks5_udp(cli_env: dict[str, str], tmp_path: Path) -> None:
    policy = tmp_path / "udp.toml"
    policy.write_text(
        '[network]\nenabled = true\nenable_socks5_udp = true\n[network.domains]\n"127.0.0.1" = "allow"\n'
    )
    args = ("network", "check", "--json", "--config-file", str(policy))
    ok = codex(cli_env, *args, "--socks5", "127.0.0.1:53", "--udp")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {
        "decision": "allow",
        "reason": "allow",
        "status": None,
        "x_proxy_error": None,
        "matched_pattern": "127.0.0.1",
        "message": "allowed",
    }
    name = codex(cli_env, *args, "--socks5", "localhost:53", "--udp")
    assert name.returncode == 3 and json.loads(name.stdout)["reason"] == "not_allowed"
    policy.write_text(
        policy.read_text().replace("enabled = true", 'enabled = true\nmode = "limited"')
    )
    limited = codex(cli_env, *args, "--socks5", "127.0.0.1:53", "--udp")
    assert limited.returncode == 3, limited.stderr
    assert json.loads(limited.stdout) == {
        "decision": "deny",
        "reason": "method_not_allowed",
        "status": 403,
        "x_proxy_error": "blocked-by-method-policy",
        "matched_pattern": None,
        "message": "Method not allowed in limited mode.",
    }
    policy.write_text("[network]\nenabled = true\nenable_socks5_udp = false\n")
    off = codex(
        cli_env,
        "network",
        "check",
        "--config-file",
        str(policy),
        "--socks5",
        "127.0.0.1:53",
        "--udp",
    )
    assert off.returncode == 3 and "SOCKS5 UDP is off (enable_socks5_udp)" in off.stdout
    assert "limited mode" not in off.stdout


# -- issue 18: errors that mislead ----------------------------------------------------------


def _json_error(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """The one JSON document a failing --json command prints on stdout."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    document = json.loads(lines[0])
    assert set(document) == {"error"}
    error = document["error"]
    assert set(error) == {"message", "path", "line", "column", "hint"}
    return error  # type: ignore[no-any-return]


def test_network_check_says_a_dns_lookup_failed(cli_env: dict[str, str]) -> None:
    home = Path(cli_env["CODEX_HOME"])
    (home / "config.toml").write_text('[network.domains]\n"gone.example" = "allow"\n')
    text = codex(
        cli_env, "network", "check", "--url", "http://gone.example/", "--resolve", "gone.example="
    )
    assert text.returncode == 3
    assert "DNS lookup for gone.example failed" in text.stdout
    assert "blocks local/private" not in text.stdout
    data = codex(
        cli_env,
        "network",
        "check",
        "--json",
        "--connect",
        "gone.example:443",
        "--resolve",
        "gone.example=",
    )
    payload = json.loads(data.stdout)
    assert payload["reason"] == "not_allowed_local"  # Codex's reason, kept for compatibility
    assert payload["message"].startswith("DNS lookup for gone.example failed")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--url", "example.com"], "not an absolute URL"),
        (["--url", "example.com/path"], "not an absolute URL"),
        (["--url", "http://a.example/", "--resolve", "a.example=notanip"], "not an IP address"),
        (
            ["--url", "http://a.example/", "--resolve", "a.example=1.2.3.4,nope"],
            "not an IP address",
        ),
        (["--url", "http://a.example/", "--resolve", "a b=1.2.3.4"], "--resolve"),
        (["--url", "http://a.example/", "--resolve", "=1.2.3.4"], "not HOST=IP"),
        (["--url", "http://a.example/", "-X", "GE T"], "not an HTTP method"),
        (["--connect", "a.example"], "not HOST:PORT"),
        (["--socks5", "a.example"], "not HOST:PORT"),
        (["--url", "http://a/", "--udp"], "--udp only applies"),
        (["--url"], "requires an argument"),
        (["--url", "http://a/", "--no-such-flag"], "No such option"),
    ],
)
def test_network_check_malformed_requests_are_usage_errors(
    cli_env: dict[str, str], args: list[str], fragment: str
) -> None:
    text = codex(cli_env, "network", "check", *args)
    assert text.returncode == 2, (args, text.stdout, text.stderr)
    assert fragment in text.stderr and "Traceback" not in text.stderr
    data = codex(cli_env, "network", "check", "--json", *args)
    assert data.returncode == 2, (args, data.stdout, data.stderr)
    assert fragment in str(_json_error(data)["message"])


def test_network_check_resolve_hosts_are_normalised(cli_env: dict[str, str]) -> None:
    home = Path(cli_env["CODEX_HOME"])
    (home / "config.toml").write_text('[network.domains]\n"xn--bcher-kva.example" = "allow"\n')
    result = codex(
        cli_env,
        "network",
        "check",
        "--json",
        "--url",
        "http://bücher.example/",
        "--resolve",
        "BÜCHER.example.=93.184.216.34",
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "command", [["network", "check", "--url", "http://a.example/"], ["proxy", "run"]]
)
def test_non_utf8_and_broken_config_files_are_clean_errors(
    cli_env: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'[network]\n# caf\xe9\nmode = "full"\n')
    text = codex(cli_env, *command, "--config-file", str(bad))
    assert text.returncode == 1, text.stderr
    assert "UTF-8" in text.stderr and "Traceback" not in text.stderr
    error = _json_error(codex(cli_env, *command, "--json", "--config-file", str(bad)))
    assert error["path"] == str(bad) and error["line"] == 2 and "UTF-8" in str(error["message"])
    missing = _json_error(
        codex(cli_env, *command, "--json", "--config-file", str(tmp_path / "nope.toml"))
    )
    assert "nope.toml" in str(missing["message"])
    broken = tmp_path / "broken.toml"
    broken.write_text('[network]\nmode = "open"\n')
    located = codex(cli_env, *command, "--json", "--config-file", str(broken))
    assert located.returncode == 1 and "network.mode" in str(_json_error(located)["message"])


def test_proxy_run_errors_name_the_flag_and_the_path(cli_env: dict[str, str]) -> None:
    wide = codex(cli_env, "proxy", "run", "--http", "0.0.0.0:0")
    assert wide.returncode == 1 and "Traceback" not in wide.stderr
    assert "--dangerously-allow-non-loopback" in wide.stderr
    error = _json_error(codex(cli_env, "proxy", "run", "--json", "--socks", "0.0.0.0"))
    assert "--dangerously-allow-non-loopback" in str(error["hint"])
    text = codex(cli_env, "proxy", "run", "--unix-dir", "/nonexistent/x")
    assert text.returncode == 1 and "/nonexistent/x" in text.stderr
    error = _json_error(codex(cli_env, "proxy", "run", "--json", "--unix-dir", "/nonexistent/x"))
    assert error["path"] == "/nonexistent/x"
    usage = codex(cli_env, "proxy", "run", "--json", "--http", "127.0.0.1:99999")
    assert usage.returncode == 2 and "HOST:PORT" in str(_json_error(usage)["message"])
    mode = codex(cli_env, "proxy", "run", "--json", "--mode", "open")
    assert mode.returncode == 2 and "full, limited" in str(_json_error(mode)["message"])


@pytest.mark.parametrize("http", ["127.0.0.1", "127.0.0.1:0", "0"])
def test_proxy_run_accepts_a_bare_host_or_port(cli_env: dict[str, str], http: str) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codex_admin.cli.main",
            "proxy",
            "run",
            "--json",
            "--no-socks",
            "--http",
            http,
        ],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["http"].startswith("http://127.0.0.1:") and not info["http"].endswith(":0")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _typer_only(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The same command with the typer-free fast path switched off."""
    probe = (
        "import sys, codex_admin.cli.network_fast as fast\n"
        "fast.try_check = lambda args: False\n"
        "from codex_admin.cli.main import main\n"
        "main(sys.argv[1:])\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=env["CODEX_HOME"],
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "--url", "https://api.example.com/x", "--resolve", "api.example.com=1.2.3.4"],
        ["--connect", "ads.example.com:443"],
        ["--json", "--socks5", "api.example.com:22", "--udp"],
        ["-X", "POST", "--url=http://api.example.com/", "-c", "network.mode='limited'"],
        ["--json", "--url", "http://a.example/", "--config-file", "missing.toml"],
        ["--url", "http://a.example/", "-c", "network.domains=1"],
    ],
)
def test_network_check_fast_path_answers_as_the_typer_command(
    cli_env: dict[str, str], args: list[str]
) -> None:
    home = Path(cli_env["CODEX_HOME"])
    (home / "config.toml").write_text(
        '[network]\nenabled = true\n[network.domains]\n"**.example.com" = "allow"\n'
        '"ads.example.com" = "deny"\n'
    )
    fast = codex(cli_env, "network", "check", *args)
    slow = _typer_only(cli_env, "network", "check", *args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        slow.returncode,
        slow.stdout,
        slow.stderr,
    )
    assert "Traceback" not in fast.stderr


def test_network_check_runs_without_typer_or_asyncio(cli_env: dict[str, str]) -> None:
    probe = (
        "import json, sys\nfrom codex_admin.cli.main import main\n"
        "try:\n    main(['network', 'check', '--json', '--connect', 'a.example:443'])\n"
        "except SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=cli_env, capture_output=True, text=True, timeout=60
    )
    loaded = set(json.loads(done.stderr.splitlines()[-1]))
    assert not {"typer", "click", "asyncio"} & loaded
