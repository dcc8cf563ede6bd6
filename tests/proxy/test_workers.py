"""`codex proxy run --workers N`: several processes, one proxy (real subprocesses and sockets).

What must not change with workers: every request is judged by the same policy, the session CA
is one (made before forking, removed once at the end), audit lines arrive whole in one file,
the Unix-socket listeners work, blocked counts add up, and a proxy with a decider (shared
session state) refuses to fork at all.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.proxy import ProxyServer, build_network_policy, serve_in_workers

from .helpers import UpstreamCA, curl, random_loopback, raw_exchange, run, start_upstream
from .test_cli import cli_env  # noqa: F401 - the fixture

ALLOWED, BLOCKED = 60, 15


def _start(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "codex_admin.cli.main", "proxy", "run", "--json", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=env["CODEX_HOME"],
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(proc.communicate()[1])
    return proc, json.loads(line)


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for whoever adopted it to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _port(url: object) -> tuple[str, int]:
    return ("127.0.0.1", int(str(url).rsplit(":", 1)[1]))


def test_workers_share_one_policy_one_ca_and_one_audit_log(
    cli_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    home = Path(cli_env["CODEX_HOME"])
    ip = random_loopback()
    (home / "config.toml").write_text(
        "[network]\nallow_local_binding = true\n"
        f'domains = {{ "127.0.0.1" = "allow", "{ip}" = "allow" }}\n'
    )
    upstream_ca = UpstreamCA.create(tmp_path)
    cli_env["SSL_CERT_FILE"] = str(upstream_ca.pem_path)  # the proxy verifies the origin
    audit, sockets = tmp_path / "audit.jsonl", tmp_path / "sockets"
    sockets.mkdir()
    proc, info = _start(
        cli_env,
        "--workers",
        "3",
        "--mitm",
        "--audit-log",
        str(audit),
        "--unix-dir",
        str(sockets),
    )
    try:
        workers = _children(proc.pid)
        assert len(workers) == 3
        bundle = Path(str(info["ca_bundle"]))
        assert bundle.exists() and info["mitm"] is True
        http = _port(info["http"])

        async def scenario() -> None:
            up = await start_upstream()
            allowed = f"GET http://127.0.0.1:{up.port}/ok HTTP/1.1\r\nConnection: close\r\n\r\n"
            blocked = b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n"
            replies = await asyncio.gather(
                *(raw_exchange(http, allowed.encode()) for _ in range(ALLOWED)),
                *(raw_exchange(http, blocked) for _ in range(BLOCKED)),
            )
            assert all(r.startswith(b"HTTP/1.1 200 ") for r in replies[:ALLOWED])
            assert all(b"blocked-by-allowlist" in r for r in replies[ALLOWED:])
            # The Unix listener (bound once, inherited by every worker) tunnels as well.
            reader, writer = await asyncio.open_unix_connection(str(sockets / "http.sock"))
            writer.write(f"CONNECT 127.0.0.1:{up.port} HTTP/1.1\r\n\r\n".encode())
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            writer.write(b"GET /t HTTP/1.1\r\nHost: x\r\n\r\n")
            writer.write_eof()  # the origin answers, sees EOF and closes: the tunnel ends
            assert (await asyncio.wait_for(reader.read(), 10)).startswith(b"HTTP/1.1 200")
            writer.close()
            # Inspected HTTPS: whichever worker answers, its leaf chains to the one CA.
            tls = await start_upstream(
                ip, 443, ssl_context=upstream_ca.server_context(tmp_path, ip)
            )
            results = await asyncio.gather(
                *(
                    curl("-x", info["http"], "--cacert", str(bundle), f"https://{ip}/i")
                    for _ in range(6)
                )
            )
            assert all(code == 0 and out.startswith("echo:GET /i") for code, out, _ in results)
            tls.close()
            up.close()

        run(scenario())
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert f"stopped ({BLOCKED} blocked)" in err
        lines = audit.read_text().splitlines()
        events = [json.loads(line) for line in lines]  # every line whole
        decisions = [e["network.policy.decision"] for e in events]
        # plain allows + the Unix tunnel + 6 inspected (CONNECT and inner request each)
        assert decisions.count("allow") == ALLOWED + 1 + 6 * 2
        assert decisions.count("deny") == BLOCKED
        assert not bundle.exists()  # the CA files go once, with the supervisor
        assert not (sockets / "http.sock").exists()
        assert not any(_running(pid) for pid in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_a_worker_that_dies_stops_the_proxy_with_an_error(
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    proc, _ = _start(cli_env, "--workers", "2", "--no-socks")
    try:
        first, second = _children(proc.pid)
        os.kill(first, signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 1
        assert "a proxy worker was killed by signal 9" in err
        assert "Traceback" not in err
        assert not _running(second)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_workers_stop_when_the_supervisor_is_killed(
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    """No orphans: SIGKILL gives the supervisor no chance to forward anything."""
    proc, info = _start(cli_env, "--workers", "2", "--no-socks")
    workers = _children(proc.pid)
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    leftover = [pid for pid in workers if _running(pid)]
    for pid in leftover:
        os.kill(pid, signal.SIGKILL)
    assert leftover == []
    with pytest.raises(OSError):  # nobody serves the port any more
        socket.create_connection(_port(info["http"]), timeout=2).close()


def test_workers_is_a_usage_error_out_of_range(cli_env: dict[str, str]) -> None:  # noqa: F811
    result = subprocess.run(
        [sys.executable, "-m", "codex_admin.cli.main", "proxy", "run", "--workers", "0"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--workers" in result.stderr


def test_a_proxy_with_a_decider_refuses_to_fork(tmp_path: Path) -> None:
    async def ask(host: str, port: int, protocol: str) -> tuple[str, str]:
        return ("allow", "")

    policy = build_network_policy({"enabled": True, "domains": {"a.example": "allow"}}, None)
    server = ProxyServer(policy, codex_home=tmp_path, decider=ask)
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(CodexError, match="one process"):
        serve_in_workers(server, 2)
    assert len(os.listdir("/proc/self/fd")) == before  # refused before binding anything
