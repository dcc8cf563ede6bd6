"""Opening the proxy's listeners inside a sandbox's network namespace (`sandbox.netns`).

The listeners are opened as soon as bubblewrap reports the sandbox's pid, while it is still
setting up (issue 11: waiting for the whole set-up cost a proxied `true` ~20 ms). These tests
pin what that early start relies on and what it must never do.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.sandbox.netns import listeners_in


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_listeners_are_never_opened_in_our_own_network_namespace() -> None:
    """A pid that shares the host's network (a reused pid, a sandbox without --unshare-net)
    must not get the proxy listening on the host's loopback, where any local process could
    use it."""
    port = _free_port()
    with pytest.raises(CodexError, match="shares this process's network namespace"):
        listeners_in(os.getpid(), [port])
    neighbour = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(CodexError, match="not a sandbox's"):
            listeners_in(neighbour.pid, [port])
    finally:
        neighbour.kill()
        neighbour.wait()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # nothing was left listening on the host


def test_a_sandbox_that_is_already_gone_gets_no_listeners() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert listeners_in(gone.pid, [_free_port()]) is None


@pytest.mark.skipif(
    shutil.which("unshare") is None or shutil.which("ip") is None,
    reason="needs util-linux unshare and iproute2 ip",
)
def test_listeners_opened_before_loopback_is_up_accept_once_it_is() -> None:
    """bubblewrap brings `lo` up after it reports the pid; the listeners (IP_FREEBIND) are
    bound before that and still receive the command's connections."""
    script = (
        "read go; ip -o link show lo; ip link set lo up && exec "
        f"{sys.executable} -c \"import socket; s = socket.create_connection(('127.0.0.1', 3128), "
        "timeout=5); s.sendall(b'ping'); print(s.recv(4).decode())\""
    )
    child = subprocess.Popen(
        ["unshare", "-rn", "sh", "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ours = os.stat("/proc/self/ns/net").st_ino
        deadline = time.monotonic() + 10
        while os.stat(f"/proc/{child.pid}/ns/net").st_ino == ours:
            assert time.monotonic() < deadline, "unshare never made its namespace"
            time.sleep(0.001)
        sockets = listeners_in(child.pid, [3128])
        assert sockets is not None and len(sockets) == 1
        listener = sockets[0]
        received: list[bytes] = []

        def answer() -> None:
            listener.settimeout(10)
            conn, _ = listener.accept()
            with conn:
                received.append(conn.recv(4))
                conn.sendall(b"pong")

        server = threading.Thread(target=answer)
        server.start()
        out, err = child.communicate("go\n", timeout=20)
        server.join(10)
        listener.close()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    first, reply = out.splitlines()[:2]
    assert "state DOWN" in first  # the listener existed before loopback did
    assert received == [b"ping"] and reply == "pong"


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_a_user_namespace_without_its_uid_map_yet_can_be_joined() -> None:
    """Unprivileged bubblewrap writes the sandbox's uid map after it reports the pid, so the
    forked child may join the user namespace before there is one."""
    child = subprocess.Popen(["unshare", "--user", "--net", "sleep", "30"])
    try:
        ours = os.stat("/proc/self/ns/net").st_ino
        deadline = time.monotonic() + 10
        while os.stat(f"/proc/{child.pid}/ns/net").st_ino == ours:
            assert time.monotonic() < deadline, "unshare never made its namespace"
            time.sleep(0.001)
        assert Path(f"/proc/{child.pid}/uid_map").read_text() == ""
        sockets = listeners_in(child.pid, [3128, 8081])
        assert sockets is not None
        assert [s.getsockname() for s in sockets] == [("127.0.0.1", 3128), ("127.0.0.1", 8081)]
        for sock in sockets:
            sock.close()
    finally:
        child.kill()
        child.wait()
