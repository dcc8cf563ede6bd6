"""Inside the sandbox's network namespace: TCP listeners on 127.0.0.1 forwarding to the proxy's
Unix sockets, then the command itself.

Run as ``python -I -S _bridge.py --listen PORT=SOCKET ... -- CMD...``. Stdlib only, and only
cheap modules (``selectors``, not ``asyncio``: this runs before every proxied command, and it
must not import codex_admin, whose files may be masked). The namespace is fresh, so the fixed
ports are free; listeners are bound *before* the command starts, so it never races the bridge.
The bridge is the command's parent: it exits with the command's status, re-raising a fatal
signal so that bubblewrap reports ``128 + N``. SIGINT/SIGTERM/SIGHUP sent to the process group
reach the command directly; the bridge only keeps forwarding until the command is gone.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Callable

_CHUNK = 65536
_HIGH_WATER = 1 << 20


class _Pipe:
    """One direction of a connection: bytes read from ``src`` waiting to be written to ``dst``."""

    def __init__(self, src: socket.socket, dst: socket.socket) -> None:
        self.src, self.dst = src, dst
        self.buf = bytearray()
        self.eof = False


class _Bridge:
    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.pipes: dict[socket.socket, list[_Pipe]] = {}

    def listen(self, port: int, path: str) -> None:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", port))
        srv.listen(128)
        srv.setblocking(False)
        self.sel.register(srv, selectors.EVENT_READ, ("accept", path))

    def accept(self, srv: socket.socket, path: str) -> None:
        try:
            client, _ = srv.accept()
        except BlockingIOError:
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(path)
        except OSError:
            client.close()
            upstream.close()
            return
        for s in (client, upstream):
            s.setblocking(False)
        up, down = _Pipe(client, upstream), _Pipe(upstream, client)
        self.pipes[client] = [up, down]
        self.pipes[upstream] = [up, down]
        self.sel.register(client, selectors.EVENT_READ, ("conn",))
        self.sel.register(upstream, selectors.EVENT_READ, ("conn",))

    def _update(self, sock: socket.socket) -> None:
        pair = self.pipes.get(sock)
        if pair is None:
            return
        events = 0
        for pipe in pair:
            if pipe.src is sock and not pipe.eof and len(pipe.buf) < _HIGH_WATER:
                events |= selectors.EVENT_READ
            if pipe.dst is sock and pipe.buf:
                events |= selectors.EVENT_WRITE
        registered = sock in self.sel.get_map()
        if events and registered:
            self.sel.modify(sock, events, ("conn",))
        elif events:
            self.sel.register(sock, events, ("conn",))
        elif registered:
            # Nothing to do until the other side moves; an EOF'd socket would spin otherwise.
            self.sel.unregister(sock)

    def _close(self, sock: socket.socket) -> None:
        for pipe in self.pipes.get(sock, []):
            for s in (pipe.src, pipe.dst):
                if s in self.pipes:
                    del self.pipes[s]
                    if s in self.sel.get_map():
                        self.sel.unregister(s)
                    s.close()

    def service(self, sock: socket.socket, mask: int) -> None:
        pair = self.pipes.get(sock)
        if pair is None:
            return
        try:
            for pipe in pair:
                if pipe.src is sock and mask & selectors.EVENT_READ and not pipe.eof:
                    data = sock.recv(_CHUNK)
                    if data:
                        pipe.buf += data
                    else:
                        pipe.eof = True
                if pipe.dst is sock and mask & selectors.EVENT_WRITE and pipe.buf:
                    sent = sock.send(pipe.buf)
                    del pipe.buf[:sent]
                if pipe.eof and not pipe.buf:
                    pipe.dst.shutdown(socket.SHUT_WR)
        except BlockingIOError:
            pass
        except OSError:
            self._close(sock)
            return
        if all(p.eof and not p.buf for p in pair):
            self._close(sock)
            return
        for pipe in pair:
            self._update(pipe.src)
            self._update(pipe.dst)


def _seccomp_installer(fd: int) -> Callable[[], None]:
    """Read the seccomp program from ``fd`` and return a preexec function installing it.

    The bridge also makes itself non-dumpable, so the command (same uid, no capabilities)
    cannot ptrace it or write its memory through /proc to reach the proxy socket itself.
    """
    import ctypes

    program = b""
    while chunk := os.read(fd, 65536):
        program += chunk
    os.close(fd)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE = 0
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    buffer = ctypes.create_string_buffer(program, len(program))
    prog = SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_char_p))

    def install() -> None:
        # PR_SET_NO_NEW_PRIVS = 38, PR_SET_SECCOMP = 22, SECCOMP_MODE_FILTER = 2
        if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
            os.write(2, b"codex sandbox: cannot install the seccomp filter\n")
            os._exit(126)

    install.keep = (buffer, prog)  # type: ignore[attr-defined]
    return install


def _wait_handle(child: subprocess.Popen[bytes]) -> int | None:
    try:
        return os.pidfd_open(child.pid)
    except (AttributeError, OSError):
        return None


def main(argv: list[str]) -> None:
    bridge = _Bridge()
    preexec = None
    if argv[:1] == ["--seccomp-fd"]:
        preexec = _seccomp_installer(int(argv[1]))
        argv = argv[2:]
    while argv and argv[0] == "--listen":
        port, _, path = argv[1].partition("=")
        bridge.listen(int(port), path)
        argv = argv[2:]
    if not argv or argv[0] != "--" or len(argv) < 2:
        sys.stderr.write("usage: _bridge.py --listen PORT=SOCKET ... -- CMD...\n")
        sys.exit(2)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)  # a handler (not SIG_IGN) resets on exec
    try:
        child = subprocess.Popen(argv[1:], preexec_fn=preexec)
    except OSError as err:
        sys.stderr.write(f"codex sandbox: cannot run {argv[1]}: {err.strerror}\n")
        os._exit(127 if isinstance(err, FileNotFoundError) else 126)
    pidfd = _wait_handle(child)
    if pidfd is not None:
        bridge.sel.register(pidfd, selectors.EVENT_READ, ("child",))
    while child.poll() is None:
        for key, mask in bridge.sel.select(None if pidfd is not None else 0.2):
            kind = key.data[0]
            if kind == "accept":
                bridge.accept(key.fileobj, key.data[1])  # type: ignore[arg-type]
            elif kind == "conn":
                bridge.service(key.fileobj, mask)  # type: ignore[arg-type]
    code = child.returncode
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
