"""Preparing one bubblewrap launch and finishing it: everything except the waiting.

Shared by the asyncio runner (:mod:`.runner`, the agent's path) and the blocking one
(:mod:`.blocking`, a one-shot ``codex sandbox linux`` that must not pay for importing asyncio).
Nothing here imports asyncio.

What a launch is made of (see the runner modules for the process side):

* bubblewrap starts with an *empty* environment; the command's variables and every option travel
  through ``--args FD`` (a memfd), so no value ever appears in a command line that other local
  users can read in ``/proc``;
* the seccomp program is a sealed memfd (a file under /tmp could be rewritten by another
  sandboxed command between our write and bubblewrap's read);
* ``--json-status-fd`` says the namespace's process group (for signal forwarding) and, with
  ``exit-code``, that the command was started at all;
* the program is resolved with the command's own ``PATH`` first, so a missing command exits 127
  and an unexecutable one 126, as a shell would;
* after the run, protected names are checked again (:func:`.guard.repair`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import stat
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from codex_admin.errors import CodexError
from codex_admin.sandbox.bwrap import bwrap_options
from codex_admin.sandbox.env import build_child_env
from codex_admin.sandbox.guard import Repair, TreeIndex, is_mount_point_file, repair
from codex_admin.sandbox.plan import SandboxPlan, plan_sandbox
from codex_admin.sandbox.policy import NetworkMode, SandboxPolicy

__all__ = [
    "BRIDGE_HTTP_PORT",
    "BRIDGE_SOCKS_PORT",
    "NOT_EXECUTABLE_EXIT_CODE",
    "NOT_FOUND_EXIT_CODE",
    "TIMEOUT_EXIT_CODE",
    "Prepared",
    "ProxyEndpoints",
    "RunResult",
    "StatusParser",
    "child_env",
    "explain",
    "mount_point_janitor",
    "refusal",
    "resolve_program",
]

#: Ports the proxy listens on inside the (empty) network namespace: Codex's documented defaults.
BRIDGE_HTTP_PORT = 3128
BRIDGE_SOCKS_PORT = 8081
TIMEOUT_EXIT_CODE = 124
NOT_FOUND_EXIT_CODE = 127
NOT_EXECUTABLE_EXIT_CODE = 126
LAUNCH_ATTEMPTS = 3
PIN_ATTEMPTS = 3
SET_UP_TIMEOUT = 10.0  # seconds bubblewrap may take to reach --block-fd before pins are skipped
_READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}.get(os.uname().machine, "")


class Listener(Protocol):
    def close(self) -> None: ...


@dataclass(frozen=True)
class ProxyEndpoints:
    """How sandboxes reach the running session proxy (built by :class:`.SandboxSession`).

    ``serve`` starts serving one listening socket (``"http"`` or ``"socks"``) and returns the
    server to close after the run; ``environment`` maps the ``(http_url, socks_url)`` pair
    (URLs inside the namespace) to the proxy/CA variables.
    """

    socks: bool
    ca_bundle: Path | None
    environment: Callable[[str, str | None], dict[str, str]]
    serve: Callable[[socket.socket, str], Awaitable[Listener]]

    def expose(self) -> list[Path]:
        return [self.ca_bundle] if self.ca_bundle is not None else []

    def ports(self) -> list[int]:
        return [BRIDGE_HTTP_PORT, BRIDGE_SOCKS_PORT] if self.socks else [BRIDGE_HTTP_PORT]

    def child_env(self) -> dict[str, str]:
        http = f"http://127.0.0.1:{BRIDGE_HTTP_PORT}"
        socks = f"socks5h://127.0.0.1:{BRIDGE_SOCKS_PORT}" if self.socks else None
        return self.environment(http, socks)


@dataclass
class RunResult:
    """How the command ended. ``exit_code`` is shell-style: ``128 + N`` after signal N.

    ``argv`` is what was run, with environment values replaced by ``<value>``; ``repairs`` is
    what the post-run check did to protected names (see :mod:`.guard`); ``warnings`` says
    what protection could not be set up (the post-run check still covers it).
    """

    exit_code: int
    timed_out: bool = False
    sandboxed: bool = True
    duration: float = 0.0
    stdout: bytes | None = None
    stderr: bytes | None = None
    argv: list[str] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """`codex sandbox --json`'s result document (captured output decoded as UTF-8)."""
        return {
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "sandboxed": self.sandboxed,
            "duration_ms": round(self.duration * 1000, 1),
            "stdout": (self.stdout or b"").decode("utf-8", "replace"),
            "stderr": (self.stderr or b"").decode("utf-8", "replace"),
            "repairs": [r.to_json() for r in self.repairs],
            "warnings": list(self.warnings),
        }


def child_env(
    policy: SandboxPolicy, environ: Mapping[str, str] | None, proxy: ProxyEndpoints | None
) -> dict[str, str]:
    """The command's environment (the proxy's variables included in ``proxy`` mode)."""
    env = build_child_env(policy.env, os.environ if environ is None else environ)
    if policy.network is NetworkMode.PROXY:
        if proxy is None:
            raise CodexError(
                "network mode `proxy` needs a running session proxy",
                hint="run through SandboxSession (`codex sandbox linux --network proxy`)",
            )
        env.update(proxy.child_env())
    return env


class NotRunnable(Exception):
    """The program cannot be started: ``code`` is 127 (not found) or 126 (not executable)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def resolve_program(name: str, path: str | None, cwd: Path) -> str:
    """``name`` resolved like ``execvp`` does with the command's ``PATH``: a path to run.

    Raises :class:`NotRunnable` (127 not found, 126 found but not executable).
    """
    if not name:
        raise NotRunnable(NOT_FOUND_EXIT_CODE, "codex sandbox: empty command name")
    if "/" in name:
        candidates = [name if os.path.isabs(name) else str(cwd / name)]
    else:
        dirs = (path if path is not None else os.defpath).split(os.pathsep)
        candidates = [str(cwd / d / name) if not os.path.isabs(d) else f"{d}/{name}" for d in dirs]
    denied = None
    for candidate in candidates:
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(candidate, os.X_OK):
            return candidate
        denied = denied or candidate
    if denied is not None:
        raise NotRunnable(
            NOT_EXECUTABLE_EXIT_CODE, f"codex sandbox: {name}: permission denied ({denied})"
        )
    raise NotRunnable(NOT_FOUND_EXIT_CODE, f"codex sandbox: {name}: command not found")


# asyncio.subprocess and subprocess share these values.
_PIPE, _STDOUT, _DEVNULL = -1, -2, -3


def refusal(
    err: NotRunnable,
    command: Sequence[str],
    sandboxed: bool,
    stdout: int | None,
    stderr: int | None,
) -> RunResult:
    """The result for a command that could not start; the message goes where the command's
    stderr would have gone (captured, or written to the inherited stream)."""
    data = (str(err) + "\n").encode()
    target = stdout if stderr == _STDOUT else stderr
    out = errout = None
    if target == _PIPE:
        out, errout = (data, None) if stderr == _STDOUT else (None, data)
    elif target != _DEVNULL:
        with contextlib.suppress(OSError):
            os.write(2 if target is None else target, data)
    return RunResult(err.code, sandboxed=sandboxed, stdout=out, stderr=errout, argv=list(command))


def _redacted(env: Mapping[str, str]) -> dict[str, str]:
    return dict.fromkeys(env, "<value>")


def explain(
    policy: SandboxPolicy,
    command: Sequence[str],
    *,
    proxy: ProxyEndpoints | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What would run, without running it: policy, resolved plan, backend argv, env names."""
    plan = plan_sandbox(policy)
    env = build_child_env(policy.env, os.environ if environ is None else environ)
    if proxy is not None and policy.network is NetworkMode.PROXY:
        env.update(proxy.child_env())
    if plan.use_sandbox:
        proxied = proxy is not None and policy.network is NetworkMode.PROXY
        options = bwrap_options(
            plan,
            mask_fds=["<empty-fd>"] * len(plan.masked_files),
            expose=proxy.expose() if proxy else (),
            env=_redacted(env),
            status_fd=None,
            seccomp_fd="<seccomp-fd>",
            block_fd="<block-fd>" if proxied else None,
        )
        argv = ["bwrap", *options, "--", *command]
    else:
        argv = list(command)
    return {
        "policy": policy.to_json(),
        "plan": plan.to_json(),
        "backend": "bwrap" if plan.use_sandbox else "none",
        "argv": argv,
        "env_names": sorted(env),
    }


@contextlib.contextmanager
def mount_point_janitor(plan: SandboxPlan) -> Iterator[None]:
    """Remove the empty files bubblewrap creates as mount points for blocked paths.

    Concurrent sandboxes share those mount points, so each run holds a shared ``flock`` on the
    parent directory and only the last one out (the one that can upgrade to exclusive) removes
    them; otherwise removing it would lift the block inside a sandbox still running.
    """
    fds: dict[Path, int] = {}
    for path in plan.blocked:
        parent = path.parent
        if parent not in fds:
            with contextlib.suppress(OSError):
                fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                fcntl.flock(fd, fcntl.LOCK_SH)
                fds[parent] = fd
    try:
        yield
    finally:
        for path in plan.blocked:
            held = fds.get(path.parent)
            if held is None:
                continue
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue
            if is_mount_point_file(path):
                with contextlib.suppress(OSError):
                    path.unlink()
        for fd in fds.values():
            os.close(fd)


def _memfd(name: str, data: bytes, *, seal: bool = False) -> int:
    """An anonymous in-memory file holding ``data``, positioned at its start (``seal``: it can
    neither grow, shrink, be rewritten nor be resealed)."""
    flags = os.MFD_CLOEXEC | (os.MFD_ALLOW_SEALING if seal else 0)
    fd = os.memfd_create(name, flags)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if seal:
            seals = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


def _nul_joined(items: Sequence[str]) -> bytes:
    return b"".join(os.fsencode(item) + b"\0" for item in items)


class StatusParser:
    """bubblewrap's ``--json-status-fd`` stream, fed in chunks: ``child-pid`` first,
    ``exit-code`` last (only when the sandbox was set up and the command started)."""

    def __init__(self) -> None:
        self.child_pid: int | None = None
        self.started = False
        self._buffer = ""
        self._decoder = json.JSONDecoder()

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk.decode("utf-8", "replace")
        while self._buffer.strip():
            text = self._buffer.lstrip()
            try:
                document, end = self._decoder.raw_decode(text)
            except ValueError:
                return
            self._buffer = text[end:]
            if isinstance(document, dict):
                pid = document.get("child-pid")
                if isinstance(pid, int) and self.child_pid is None:
                    self.child_pid = pid
                if "exit-code" in document:
                    self.started = True


class Prepared:
    """The fds and argv of one bubblewrap launch; the runner waits, then calls :meth:`close`.

    ``passed`` are fds the child inherits (closed here right after the spawn); ``status_fd`` is
    the read end of ``--json-status-fd``; ``block`` the write end of ``--block-fd``: the command
    waits until :meth:`pin` has pinned the protected symlinks and (proxy mode) the
    listeners exist.
    """

    def __init__(
        self,
        plan: SandboxPlan,
        env: Mapping[str, str],
        program: str,
        command: Sequence[str],
        *,
        bwrap: str,
        seccomp: bytes,
        proxy: ProxyEndpoints | None,
    ) -> None:
        self.plan = plan
        self.proxy = proxy if plan.network is NetworkMode.PROXY else None
        self.passed: list[int] = []
        self.block: int | None = None
        seccomp_fd = self._pass(_memfd("codex-seccomp", seccomp, seal=True))
        self.status_fd, status_w = os.pipe()
        self._pass(status_w)
        block_fd = None
        self.pin_note: str | None = None  # why protected symlinks could not be pinned
        if self.proxy is not None or plan.watched:
            block_r, self.block = os.pipe()
            block_fd = self._pass(block_r)
        self.block_fd = block_fd
        masks = [str(self._pass(os.open(os.devnull, os.O_RDONLY))) for _ in plan.masked_files]
        common: dict[str, Any] = {
            "mask_fds": masks,
            "expose": self.proxy.expose() if self.proxy else (),
            "status_fd": status_w,
            "seccomp_fd": str(seccomp_fd),
            "block_fd": block_fd,
            "argv0": command[0] if command[0] != program else None,
        }
        args_fd = self._pass(
            _memfd("codex-bwrap-args", _nul_joined(bwrap_options(plan, env=env, **common)))
        )
        tail = [program, *command[1:]]
        self.argv = [bwrap, "--args", str(args_fd), "--", *tail]
        self.display = [bwrap, *bwrap_options(plan, env=_redacted(env), **common), "--", *tail]

    def _pass(self, fd: int) -> int:
        self.passed.append(fd)
        return fd

    def spawned(self) -> None:
        """The child has its copies: close ours."""
        for fd in self.passed:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.passed.clear()

    def waiting(self, pid: int) -> bool | None:
        """Is bubblewrap (``pid``, the namespace's init) blocked reading ``--block-fd``, i.e.
        done setting up? None when it is gone. Mounts made before that could land in the tree
        it is about to pivot away from."""
        try:
            fields = Path(f"/proc/{pid}/syscall").read_text().split()
        except PermissionError:
            return True  # not observable here (a strict Yama ptrace scope): go ahead
        except OSError:
            return None
        return (
            len(fields) > 1
            and fields[0] == _READ_SYSCALL
            and fields[1].startswith("0x")
            and int(fields[1], 16) == self.block_fd
        )

    def set_up_done(self, pid: int, deadline: float) -> bool | None:
        """Poll bubblewrap once: True when it is done setting up (pin now), False to poll
        again, None to go on without pins (the reason is kept for the result's warnings)."""
        state = self.waiting(pid)
        if state:
            return True
        if state is None:  # gone (then reported as not started), or not readable
            self.not_pinned("bubblewrap's state could not be read")
            return None
        if time.monotonic() > deadline:
            self.not_pinned(f"bubblewrap did not finish its set-up within {SET_UP_TIMEOUT:g} s")
            return None
        return False

    def pin(self, pid: int) -> None:
        """Pin the plan's protected symlinks in the waiting sandbox (see :mod:`.netns`), then
        check in its mount table that every pin took, and pin again the ones that did not:
        a pin that silently missed would leave the link replaceable for the whole run."""
        links = [link.path for link in self.plan.watched]
        if not links:
            return
        from codex_admin.sandbox.netns import pin_symlinks, unpinned  # ctypes: only when needed

        for _ in range(PIN_ATTEMPTS):
            self.pin_note = pin_symlinks(pid, links)
            if self.pin_note is not None:
                return  # the kernel refused (no open_tree, say): it will not change its mind
            links = unpinned(pid, links)
            if not links:
                return
            self.pin_note = "not mount points after pinning: " + ", ".join(map(str, links))

    def not_pinned(self, why: str) -> None:
        """The protected symlinks were not pinned (``why``); the post-run check restores them."""
        if self.plan.watched:
            self.pin_note = why

    def warnings(self) -> list[str]:
        """What the result should say about protection that could not be set up."""
        if self.pin_note is None:
            return []
        return [
            f"protected symlinks were not pinned ({self.pin_note}); the sandbox restores them "
            "after the run instead"
        ]

    def unblock(self) -> None:
        """Let a waiting (proxy-mode) command start."""
        if self.block is None:
            return
        with contextlib.suppress(BrokenPipeError):  # bubblewrap is gone: reported as not started
            os.write(self.block, b"1")
        os.close(self.block)
        self.block = None

    def close(self) -> None:
        if self.block is not None:
            os.close(self.block)
            self.block = None
        self.spawned()

    def stale(self) -> bool:
        """A path the plan mounts has vanished since it was made (worth planning again)."""
        plan = self.plan
        return not all(os.path.lexists(p) for p in (*plan.pinned, *plan.protected))

    def repairs(self, index: TreeIndex) -> list[Repair]:
        """Check the protected names again now that every process of the sandbox is gone."""
        plan = self.plan
        if not plan.writable:
            return []
        skip = {*plan.masked_dirs, *plan.shared, *(p for p in plan.protected if p.is_dir())}
        after = index.scan(plan.owned_roots, skip)
        before = {e.path: e for e in plan.guarded}
        return repair(before, after, plan.watched, shared=plan.in_shared_root)
