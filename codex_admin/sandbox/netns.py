"""Reach into a running sandbox's namespaces from the host, while bubblewrap waits on
``--block-fd`` before starting the command: open the proxy's listeners in its network
namespace (:func:`listeners_in`), and pin protected symlinks in its mount namespace
(:func:`pin_symlinks`).

``proxy`` network mode gives the command an empty network namespace whose only way out is the
session proxy. The proxy must therefore listen in that namespace. Instead of running a helper
process inside the sandbox (a Python start per command, and a process the command could attack),
the host joins the namespace just long enough to create the sockets:

* when the namespace belongs to our own user namespace (bubblewrap run as root), one short-lived
  thread calls ``setns(CLONE_NEWNET)`` (the namespace is per thread) and binds the sockets;
* otherwise (unprivileged bubblewrap made a user namespace we own), a forked child joins the
  user namespace that owns the network namespace (``NS_GET_USERNS``; its owner, us, has every
  capability in it) and then the network namespace, binds, and hands the sockets back over a
  socketpair (``SCM_RIGHTS``).

A socket stays in the namespace it was created in, so the proxy then accepts connections that
only processes inside that sandbox can make. Nothing is inherited by the command.

The listeners are opened as soon as bubblewrap reports the sandbox's pid: bubblewrap creates
every namespace in its first ``clone``, so the network namespace exists from then on, and
opening the sockets overlaps with the rest of its set-up (mounts, seccomp) instead of waiting
for all of it. Its loopback interface may not be up yet, so the sockets are bound with
``IP_FREEBIND`` (ip(7): bind to an address that does not exist *yet*); they accept once
bubblewrap has brought ``lo`` up, which it does before it starts the command. A namespace
that turns out to be our own (the sandbox shares the host's network, or its pid was reused)
is refused: the proxy must never listen on the host's loopback. ``ctypes``
(for ``setns`` before Python 3.12) is imported only here, and this module only in ``proxy`` mode.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import re
import socket
import threading
from collections.abc import Sequence
from pathlib import Path

from codex_admin.errors import CodexError

__all__ = ["listeners_in", "pin_symlinks", "unpinned"]

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000


def _setns(fd: int, nstype: int) -> None:
    native = getattr(os, "setns", None)  # Python 3.12+
    if native is not None:
        native(fd, nstype)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, nstype) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


# Linux's <linux/in.h> value; Python's socket module names it only from 3.12 on.
_IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)


def _bind(ports: Sequence[int]) -> list[socket.socket]:
    sockets = []
    try:
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)  # `lo` may not be up yet
            sock.bind(("127.0.0.1", port))
            sock.listen(1024)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


_NS_GET_USERNS = 0xB701  # ioctl: an fd for the user namespace that owns a namespace


def _owner(net: int) -> int:
    """The user namespace owning the network namespace ``net`` (not the process's own: bubblewrap
    may nest another user namespace after creating the network one)."""
    return fcntl.ioctl(net, _NS_GET_USERNS)


def _same(fd: int, path: str) -> bool:
    ours, theirs = os.stat(path), os.fstat(fd)
    return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)


def _in_thread(net: int, ports: Sequence[int]) -> list[socket.socket]:
    result: list[socket.socket] = []
    failure: list[OSError] = []

    def work() -> None:
        try:
            _setns(net, _CLONE_NEWNET)
            result.extend(_bind(ports))
        except OSError as err:
            failure.append(err)

    thread = threading.Thread(target=work, name="codex-netns")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result


def _in_child(user: int, net: int, ports: Sequence[int]) -> list[socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked child, reported through the pair
        code = 1
        try:
            ours.close()
            step = "setns(user)"
            _setns(user, _CLONE_NEWUSER)
            step = "setns(net)"
            _setns(net, _CLONE_NEWNET)
            step = "listen"
            sockets = _bind(ports)
            socket.send_fds(theirs, [b"L"], [s.fileno() for s in sockets])
            code = 0
        except OSError as err:
            with contextlib.suppress(OSError):
                theirs.send(f"{step}: {err.strerror or err}".encode())
        finally:
            os._exit(code)
    theirs.close()
    try:
        ours.settimeout(10)
        message, fds, _, _ = socket.recv_fds(ours, 256, len(ports) + 1)
    finally:
        ours.close()
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or len(fds) != len(ports):
        for fd in fds:
            os.close(fd)
        detail = message.decode("utf-8", "replace") or "no answer"
        raise OSError(f"the child joining the sandbox's namespaces failed ({detail})")
    return [socket.socket(fileno=fd) for fd in fds]


def listeners_in(pid: int, ports: Sequence[int]) -> list[socket.socket] | None:
    """Listening TCP sockets on ``127.0.0.1:<port>`` inside the network namespace of ``pid``,
    or None when ``pid`` is already gone (bubblewrap failed before the command: the caller
    reports it as not started).

    Raises CodexError when the namespace cannot be joined, or is this process's own (the
    command must then not run).
    """
    try:
        net = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError as err:
        raise _unreachable(err) from None
    try:
        if _same(net, "/proc/self/ns/net"):
            raise CodexError(
                f"refusing to open the proxy's listeners: process {pid} shares this process's "
                "network namespace, not a sandbox's",
                hint="network mode `proxy` needs bubblewrap's --unshare-net; report this as a bug",
            )
        try:
            user = _owner(net)
            try:
                if _same(user, "/proc/self/ns/user"):
                    return _in_thread(net, ports)
                return _in_child(user, net, ports)
            finally:
                os.close(user)
        except OSError as err:
            raise _unreachable(err) from None
    finally:
        os.close(net)


def _unreachable(err: OSError) -> CodexError:
    return CodexError(
        f"cannot open the proxy's listeners inside the sandbox's network namespace: "
        f"{err.strerror or err}",
        hint="network mode `proxy` needs bubblewrap to run unprivileged (user namespaces) "
        "or as root; a setuid bubblewrap cannot be joined",
    )


# ------------------------------------------------------------------------ pinning symlinks

_OPEN_TREE = 428  # same number on x86_64 and aarch64 (Linux 5.2)
_MOVE_MOUNT = 429
_OPEN_TREE_CLONE = 0x1
_OPEN_TREE_CLOEXEC = os.O_CLOEXEC
_AT_SYMLINK_NOFOLLOW = 0x100
_MOVE_MOUNT_F_EMPTY_PATH = 0x4


def _pin(libc: ctypes.CDLL, root: int, relative: bytes) -> None:
    """Mount the symlink at ``relative`` (below the dir fd ``root``) onto itself: a mount
    point cannot be unlinked or renamed, and the link keeps working."""
    flags = _OPEN_TREE_CLONE | _OPEN_TREE_CLOEXEC | _AT_SYMLINK_NOFOLLOW
    tree = libc.syscall(_OPEN_TREE, root, relative, flags)
    if tree < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"open_tree: {os.strerror(code)}")
    try:
        empty = b""
        if libc.syscall(_MOVE_MOUNT, tree, empty, root, relative, _MOVE_MOUNT_F_EMPTY_PATH) < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"move_mount: {os.strerror(code)}")
    finally:
        os.close(tree)


def pin_symlinks(pid: int, links: Sequence[Path]) -> str | None:
    """Make each symlink in ``links`` a mount point inside the mount namespace of ``pid``, so
    the sandboxed command cannot remove or replace it (bubblewrap can only mount *through* a
    symlink). Runs in a forked child (joining a mount namespace needs a process that shares its
    filesystem attributes with no thread). Returns None, or why it could not (the post-run
    restore still covers the links then)."""
    if not links:
        return None
    try:
        mnt = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        return f"cannot reach the sandbox's mount namespace: {err.strerror}"
    try:
        user = _owner(mnt)
    except OSError as err:
        os.close(mnt)
        os.close(root)
        return f"cannot reach the sandbox's mount namespace: {err.strerror}"
    join_user = not _same(user, "/proc/self/ns/user")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child, reported through the pair
        code = 1
        try:
            ours.close()
            libc = ctypes.CDLL(None, use_errno=True)
            if join_user:
                _setns(user, _CLONE_NEWUSER)
            _setns(mnt, _CLONE_NEWNS)
            for link in links:
                _pin(libc, root, os.fsencode(link).lstrip(b"/"))
            code = 0
        except OSError as err:
            with contextlib.suppress(OSError):
                theirs.send(str(err).encode())
        finally:
            os._exit(code)
    theirs.close()
    for fd in (user, mnt, root):
        os.close(fd)
    try:
        ours.settimeout(10)
        message = ours.recv(512)
    except OSError:
        message = b""
    finally:
        ours.close()
        _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return None
    return message.decode("utf-8", "replace") or "the child pinning them failed"


_MOUNTINFO_ESCAPE = re.compile(rb"\\([0-7]{3})")


def unpinned(pid: int, links: Sequence[Path]) -> list[Path]:
    """The ``links`` that are not mount points in the mount table of ``pid`` (its
    ``mountinfo``, whose mount points are relative to its root: bubblewrap binds each path
    at its own place, so they read as the host paths). A pin reported as done but missing
    here did not take (it went into a tree the sandbox no longer uses). A table we may not
    read proves nothing either way: the pins are trusted then."""
    try:
        table = Path(f"/proc/{pid}/mountinfo").read_bytes()
    except OSError:
        return []
    points = set()
    for line in table.splitlines():
        fields = line.split(b" ", 5)
        if len(fields) > 4:
            points.add(_MOUNTINFO_ESCAPE.sub(lambda m: bytes([int(m[1], 8)]), fields[4]))
    return [link for link in links if os.fsencode(link) not in points]
