"""The seccomp-BPF program every bubblewrap sandbox runs under (x86_64 and aarch64 only).

A fresh network namespace isolates IP and abstract Unix sockets, but not Unix sockets that live
in the filesystem (``/var/run/docker.sock``, the user's D-Bus bus), not ``AF_VSOCK`` (it talks to
the hypervisor and other VMs whatever the namespace), and several kernel interfaces reach past
any mount or PID namespace. So the command gets this filter, built per network mode:

* ``none`` and ``proxy``: ``socket()`` is allowed only for ``AF_INET`` and ``AF_INET6`` (they can
  only reach the namespace's own loopback; in ``proxy`` mode the proxy listens there), every other
  family (``AF_UNIX``, ``AF_NETLINK``, ``AF_VSOCK``, ``AF_PACKET``, ``AF_ALG``, ...) fails with
  EPERM. ``socketpair`` stays allowed: it cannot reach anything outside the process tree.
* ``full``: every family (the host network is the point of that mode), the rest as below.
* always denied (EPERM): ``ptrace``, ``process_vm_readv/writev`` (reading or writing another
  process's memory), ``kexec_*``, ``bpf``, ``userfaultfd`` (the classic race-widening primitive),
  ``perf_event_open``, the key-retention calls (``keyctl``, ``add_key``, ``request_key``: the
  session keyring is shared with the host), ``io_uring_*`` (it performs socket and file
  operations without the syscalls above being checked), the mount API (``mount``, ``umount2``,
  ``pivot_root``, ``open_tree``, ``move_mount``, ``fs*``, ``mount_setattr``), ``clone`` and
  ``unshare`` with ``CLONE_NEWUSER`` (a nested user namespace gives back every capability the
  sandbox dropped and opens the kernel's largest attack surface), and ``chmod`` family calls
  that set the set-user-ID or set-group-ID bit (run as root, a sandboxed command could otherwise
  leave a set-UID-root program in ``/tmp`` for any local user).
* ``clone3`` fails with ENOSYS: its flags live in memory a filter cannot read, and C libraries
  fall back to ``clone`` (checked above) on ENOSYS.
* syscall numbers above :data:`MAX_KNOWN_SYSCALL` fail with ENOSYS, so a newer kernel's new
  interface is closed until it is reviewed here; on x86_64 the x32 ABI and 32-bit syscalls kill
  the process (they would bypass the number checks).

Unsupported architectures get no filter at all, so :func:`sandbox_filter` raises
:class:`~codex_admin.errors.CodexError`: the sandbox fails closed instead of silently running
without these restrictions.

The program is plain bytes (``struct sock_filter[]``) that bubblewrap loads with ``--seccomp FD``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from codex_admin.errors import CodexError
from codex_admin.vocabulary import NetworkMode

__all__ = [
    "ALLOWED_SOCKET_FAMILIES",
    "MAX_KNOWN_SYSCALL",
    "SUPPORTED_MACHINES",
    "sandbox_filter",
]

# BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGT_K = 0x25
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000
_EPERM = _ERRNO | 1
_ENOSYS = _ERRNO | 38

_AF_INET = 2
_AF_INET6 = 10
_CLONE_NEWUSER = 0x10000000
_SETID_BITS = 0o6000
_X32_BIT = 0x40000000

#: Families a sandboxed ``socket()`` may create, per network mode (None: any family).
ALLOWED_SOCKET_FAMILIES: dict[NetworkMode, frozenset[int] | None] = {
    NetworkMode.NONE: frozenset({_AF_INET, _AF_INET6}),
    NetworkMode.PROXY: frozenset({_AF_INET, _AF_INET6}),
    NetworkMode.FULL: None,
}

#: The highest syscall number this filter was reviewed against (Linux 6.17: file_setattr).
MAX_KNOWN_SYSCALL = 469

# Offsets into struct seccomp_data; arguments are 64-bit, the low word first (little-endian).
_NR, _ARCH = 0, 4


def _arg_low(index: int) -> int:
    return 16 + 8 * index


@dataclass(frozen=True)
class _Arch:
    audit: int
    socket: int
    clone: int
    unshare: int
    chmod: tuple[tuple[int, int], ...]  # (syscall, index of the mode argument)
    denied: tuple[int, ...]
    x32: bool = False


# Numbers unified across architectures since Linux 5.1 (io_uring, the new mount API, clone3,
# fchmodat2).
_COMMON_DENIED = (425, 426, 427, 428, 429, 430, 431, 432, 433, 442, 467)
_CLONE3 = 435
_FCHMODAT2 = 452

_ARCHES = {
    "x86_64": _Arch(
        audit=0xC000003E,
        socket=41,
        clone=56,
        unshare=272,
        chmod=((90, 1), (91, 1), (268, 2), (_FCHMODAT2, 2)),
        # ptrace, process_vm_readv/writev, kexec_load, kexec_file_load, bpf, userfaultfd,
        # perf_event_open, add_key, request_key, keyctl, mount, umount2, pivot_root
        denied=(101, 310, 311, 246, 320, 321, 323, 298, 248, 249, 250, 165, 166, 155),
        x32=True,
    ),
    "aarch64": _Arch(
        audit=0xC00000B7,
        socket=198,
        clone=220,
        unshare=97,
        chmod=((52, 1), (53, 2), (_FCHMODAT2, 2)),
        denied=(117, 270, 271, 104, 294, 280, 282, 241, 217, 218, 219, 40, 39, 41),
    ),
}

#: ``uname -m`` values the filter supports.
SUPPORTED_MACHINES: tuple[str, ...] = tuple(_ARCHES)


class _Assembler:
    """Straight-line BPF with symbolic jump targets (jumps only go forward, at most 255)."""

    def __init__(self) -> None:
        self.code: list[tuple[int, int | str, int | str, int]] = []
        self.labels: dict[str, int] = {}

    def op(self, code: int, k: int, jt: int | str = 0, jf: int | str = 0) -> None:
        self.code.append((code, jt, jf, k))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def assemble(self) -> bytes:
        out = bytearray()
        for index, (code, jt, jf, k) in enumerate(self.code):
            out += struct.pack("=HBBI", code, self._offset(index, jt), self._offset(index, jf), k)
        return bytes(out)

    def _offset(self, index: int, target: int | str) -> int:
        if isinstance(target, int):
            return target
        offset = self.labels[target] - index - 1
        if not 0 <= offset <= 255:  # pragma: no cover - guards future edits of the program
            raise ValueError(f"BPF jump to {target} out of range ({offset})")
        return offset


def sandbox_filter(network: NetworkMode, machine: str | None = None) -> bytes:
    """The BPF program for ``network`` on ``machine`` (default: this one).

    Raises CodexError on an architecture the filter does not know: running without it would
    silently drop the socket, ptrace and namespace restrictions.
    """
    name = machine or os.uname().machine
    arch = _ARCHES.get(name)
    if arch is None:
        raise CodexError(
            f"the sandbox has no seccomp filter for this CPU architecture ({name}); "
            "refusing to run the command with weaker isolation",
            hint=f"supported: {', '.join(SUPPORTED_MACHINES)}; on another machine use "
            "danger-full-access only if running unconfined is really intended",
        )
    families = ALLOWED_SOCKET_FAMILIES[network]
    a = _Assembler()
    a.op(_LD_W_ABS, _ARCH)
    a.op(_JEQ_K, arch.audit, 0, "kill")
    a.op(_LD_W_ABS, _NR)
    if arch.x32:
        a.op(_JGE_K, _X32_BIT, "kill", 0)
    a.op(_JGT_K, MAX_KNOWN_SYSCALL, "enosys", 0)
    for nr in (*arch.denied, *_COMMON_DENIED):
        a.op(_JEQ_K, nr, "eperm", 0)
    a.op(_JEQ_K, _CLONE3, "enosys", 0)
    a.op(_JEQ_K, arch.clone, "flags_arg0", 0)
    a.op(_JEQ_K, arch.unshare, "flags_arg0", 0)
    for nr, index in arch.chmod:
        a.op(_JEQ_K, nr, f"mode_arg{index}", 0)
    if families is not None:
        a.op(_JEQ_K, arch.socket, "family", 0)
    a.op(_RET_K, _ALLOW)

    a.label("flags_arg0")
    a.op(_LD_W_ABS, _arg_low(0))
    a.op(_JSET_K, _CLONE_NEWUSER, "eperm", 0)
    a.op(_RET_K, _ALLOW)
    for index in sorted({index for _, index in arch.chmod}):
        a.label(f"mode_arg{index}")
        a.op(_LD_W_ABS, _arg_low(index))
        a.op(_JSET_K, _SETID_BITS, "eperm", 0)
        a.op(_RET_K, _ALLOW)
    if families is not None:
        a.label("family")
        a.op(_LD_W_ABS, _arg_low(0))
        for family in sorted(families):
            a.op(_JEQ_K, family, "allow", 0)
        a.op(_RET_K, _EPERM)
        a.label("allow")
        a.op(_RET_K, _ALLOW)
    a.label("eperm")
    a.op(_RET_K, _EPERM)
    a.label("enosys")
    a.op(_RET_K, _ENOSYS)
    a.label("kill")
    a.op(_RET_K, _KILL_PROCESS)
    return a.assemble()
