"""The seccomp filter under real bubblewrap on this kernel: socket families per network mode,
the denied kernel interfaces, and failing closed on an unknown architecture."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from codex_admin.errors import CodexError
from codex_admin.sandbox import NetworkMode, run_command, sandbox_filter

from .conftest import policy, run, sh

# Runs inside the sandbox: try each operation, print {name: "ok" | errno name}.
PROBE = r"""
import ctypes, errno, json, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
arch = os.uname().machine
NR = {
    "x86_64": dict(ptrace=101, process_vm_readv=310, process_vm_writev=311, bpf=321,
                   userfaultfd=323, perf_event_open=298, keyctl=250, add_key=248,
                   request_key=249, kexec_load=246, io_uring_setup=425, mount=165,
                   umount2=166, pivot_root=155, open_tree=428, fsopen=430, mount_setattr=442,
                   clone3=435, unshare=272, future=470),
    "aarch64": dict(ptrace=117, process_vm_readv=270, process_vm_writev=271, bpf=280,
                    userfaultfd=282, perf_event_open=241, keyctl=219, add_key=217,
                    request_key=218, kexec_load=104, io_uring_setup=425, mount=40,
                    umount2=39, pivot_root=41, open_tree=428, fsopen=430, mount_setattr=442,
                    clone3=435, unshare=97, future=470),
}[arch]
out = {}
def sys_(name, *args):
    r = libc.syscall(NR[name], *args)
    out[name] = "ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]
buf = ctypes.create_string_buffer(64)
sys_("ptrace", 0, 0, 0, 0)                       # PTRACE_TRACEME
sys_("process_vm_readv", os.getpid(), 0, 0, 0, 0, 0)
sys_("process_vm_writev", os.getpid(), 0, 0, 0, 0, 0)
sys_("bpf", 0, 0, 0)
sys_("userfaultfd", 0)
sys_("perf_event_open", buf, 0, -1, -1, 0)
sys_("keyctl", 0, 0, 0, 0, 0)                    # KEYCTL_GET_KEYRING_ID
sys_("add_key", b"user", b"k", b"v", 1, -3)
sys_("request_key", b"user", b"k", 0, 0)
sys_("kexec_load", 0, 0, 0, 0)
sys_("io_uring_setup", 1, buf)
sys_("mount", b"none", b"/tmp", b"tmpfs", 0, 0)
sys_("umount2", b"/proc", 0)
sys_("pivot_root", b"/", b"/")
sys_("open_tree", -100, b"/", 1)
sys_("fsopen", b"tmpfs", 0)
sys_("mount_setattr", -100, b"/", 0, buf, 32)
sys_("clone3", buf, 64)
sys_("unshare", 0x10000000)                       # CLONE_NEWUSER
sys_("future", 0)
def sock(name, family, kind=socket.SOCK_STREAM, proto=0):
    try:
        socket.socket(family, kind, proto).close(); out[name] = "ok"
    except OSError as e:
        out[name] = errno.errorcode[e.errno]
sock("unix", socket.AF_UNIX)
sock("vsock", socket.AF_VSOCK)
sock("netlink", socket.AF_NETLINK, socket.SOCK_RAW, 0)
sock("packet", socket.AF_PACKET, socket.SOCK_DGRAM)
sock("alg", socket.AF_ALG, socket.SOCK_SEQPACKET)
sock("inet", socket.AF_INET)
sock("inet6", socket.AF_INET6)
try:
    a, b = socket.socketpair(); a.sendall(b"x"); out["socketpair"] = "ok" if b.recv(1) else "?"
except OSError as e:
    out["socketpair"] = errno.errorcode[e.errno]
path = sys.argv[1]
open(path, "w").close()
for mode, name in ((0o755, "chmod"), (0o4755, "chmod_setuid"), (0o2755, "chmod_setgid")):
    try:
        os.chmod(path, mode); out[name] = "ok"
    except OSError as e:
        out[name] = errno.errorcode[e.errno]
pid = os.fork()
if pid == 0:
    os._exit(7)
out["fork"] = "ok" if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 7 else "?"
print(json.dumps(out))
"""

ALWAYS_DENIED = [
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "bpf",
    "userfaultfd",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "io_uring_setup",
    "mount",
    "umount2",
    "pivot_root",
    "open_tree",
    "fsopen",
    "mount_setattr",
    "unshare",
    "chmod_setuid",
    "chmod_setgid",
]


def _probe(ws: Path, **kw: Any) -> dict[str, str]:
    r = run(policy(ws, **kw), [sys.executable, "-c", PROBE, str(ws / "f")])
    assert r.exit_code == 0, r.stderr
    return dict(json.loads(r.stdout or b"{}"))


@pytest.mark.usefixtures("bwrap")
def test_network_none_allows_only_inet_sockets_and_socketpairs(ws: Path) -> None:
    out = _probe(ws, network=NetworkMode.NONE)
    for family in ("unix", "vsock", "netlink", "packet", "alg"):
        assert out[family] == "EPERM", (family, out)
    assert out["inet"] == out["inet6"] == out["socketpair"] == "ok"
    for name in ALWAYS_DENIED:
        assert out[name] == "EPERM", (name, out)
    assert out["clone3"] == out["future"] == "ENOSYS"
    assert out["chmod"] == out["fork"] == "ok"


@pytest.mark.usefixtures("bwrap")
def test_proxy_mode_allows_the_same_families_only(ws: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    r = asyncio.run(
        run_command(
            policy(ws, network=NetworkMode.PROXY),
            [sys.executable, "-c", PROBE, str(ws / "f")],
            codex_home=home,
            network_config={"enabled": True, "domains": {"example.com": "allow"}},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            timeout=30,
        )
    )
    out = json.loads(r.stdout or b"{}")
    for family in ("unix", "vsock", "netlink", "packet", "alg"):
        assert out[family] == "EPERM", (family, out)
    assert out["inet"] == "ok" and out["socketpair"] == "ok"
    assert all(out[name] == "EPERM" for name in ALWAYS_DENIED), out


@pytest.mark.usefixtures("bwrap")
def test_full_network_allows_every_family_but_keeps_the_rest(ws: Path) -> None:
    out = _probe(ws, network=NetworkMode.FULL, network_access=True)
    assert out["unix"] == out["netlink"] == out["inet"] == "ok"
    for name in ALWAYS_DENIED:
        assert out[name] == "EPERM", (name, out)


@pytest.mark.usefixtures("bwrap")
def test_nested_user_namespaces_are_refused(ws: Path) -> None:
    r = sh(policy(ws), "unshare -Ur true && echo NESTED-USERNS; echo done")
    assert b"done" in (r.stdout or b"") and b"NESTED-USERNS" not in (r.stdout or b"")


@pytest.mark.usefixtures("bwrap")
def test_a_setuid_file_cannot_be_left_in_a_writable_root(ws: Path) -> None:
    (ws / "tool").write_bytes(b"#!/bin/sh\n")
    sh(policy(ws), "chmod 4755 tool; chmod u+s tool; chmod g+s tool")
    assert not os.stat(ws / "tool").st_mode & 0o6000


@pytest.mark.usefixtures("bwrap")
def test_an_unknown_architecture_fails_closed(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.uname()
    fake = os.uname_result((real.sysname, real.nodename, real.release, real.version, "mips64"))
    monkeypatch.setattr(os, "uname", lambda: fake)
    marker = ws / "ran"
    with pytest.raises(CodexError, match="no seccomp filter for this CPU architecture"):
        sh(policy(ws), f"touch {marker}")
    assert not marker.exists()


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
@pytest.mark.parametrize("network", list(NetworkMode))
def test_filters_build_for_both_architectures(machine: str, network: NetworkMode) -> None:
    program = sandbox_filter(network, machine)
    assert program and len(program) % 8 == 0 and len(program) // 8 < 255


def test_unknown_architectures_get_no_filter() -> None:
    with pytest.raises(CodexError, match="riscv64"):
        sandbox_filter(NetworkMode.NONE, "riscv64")
