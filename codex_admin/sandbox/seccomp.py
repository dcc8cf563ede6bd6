"""A tiny seccomp-BPF program that closes the Unix-socket side door out of a network namespace.

A fresh network namespace isolates IP and abstract Unix sockets, but not Unix sockets that live
in the filesystem: a command could ``connect("/var/run/docker.sock")`` or the user's D-Bus bus
and leave the sandbox through another process. So in ``none`` and ``proxy`` network modes the
command gets this filter (the same idea as Codex's seccomp stage, runtime spec §7.3):

* ``socket(AF_UNIX, ...)`` fails with EPERM (``socketpair`` stays allowed: it cannot reach
  anything outside the process tree);
* ``io_uring_*`` fail (io_uring can create sockets without the ``socket`` syscall);
* ``ptrace`` and ``process_vm_writev`` fail (the proxy bridge, the one process allowed to reach
  the proxy's socket, must not be hijacked by the command it runs);
* on x86_64, x32 and 32-bit syscalls fail (they would bypass the number checks).

The program is plain bytes (``struct sock_filter[]``): bubblewrap loads it with ``--seccomp FD``,
and the proxy bridge installs it in the command with ``prctl`` just before ``exec``.
"""

from __future__ import annotations

import platform
import struct

__all__ = ["unix_socket_filter"]

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_ALLOW = 0x7FFF0000
_EPERM = 0x00050000 | 1
_AF_UNIX = 1
_X32_BIT = 0x40000000

# arch -> (AUDIT_ARCH value, socket, ptrace, process_vm_writev)
_ARCHES = {
    "x86_64": (0xC000003E, 41, 101, 311),
    "aarch64": (0xC00000B7, 198, 117, 271),
}
_IO_URING = (425, 426, 427)  # setup, enter, register: same numbers on every 64-bit arch


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def unix_socket_filter(machine: str | None = None) -> bytes | None:
    """The BPF program for ``machine`` (default: this one), or None when the arch is unknown."""
    arch = _ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit, nr_socket, nr_ptrace, nr_vm_writev = arch
    denied = [nr_ptrace, nr_vm_writev, *_IO_URING]
    prog: list[bytes | tuple[str, int]] = [
        _insn(_LD_W_ABS, 0, 0, 4),  # A = seccomp_data.arch
        ("jne_deny", audit),
        _insn(_LD_W_ABS, 0, 0, 0),  # A = seccomp_data.nr
    ]
    if audit == 0xC000003E:
        prog.append(("jge_deny", _X32_BIT))
    prog += [("jeq_deny", nr) for nr in denied]
    prog += [
        _insn(_JEQ_K, 1, 0, nr_socket),  # socket -> inspect the domain
        _insn(_RET_K, 0, 0, _ALLOW),
        _insn(_LD_W_ABS, 0, 0, 16),  # A = low 32 bits of args[0] (little-endian)
        ("jeq_deny", _AF_UNIX),
        _insn(_RET_K, 0, 0, _ALLOW),
        _insn(_RET_K, 0, 0, _EPERM),  # the shared deny target
    ]
    out = b""
    last = len(prog) - 1
    for index, item in enumerate(prog):
        if isinstance(item, bytes):
            out += item
            continue
        kind, k = item
        skip = last - index - 1
        if kind == "jne_deny":
            out += _insn(_JEQ_K, 0, skip, k)
        elif kind == "jge_deny":
            out += _insn(_JGE_K, skip, 0, k)
        else:
            out += _insn(_JEQ_K, skip, 0, k)
    return out
