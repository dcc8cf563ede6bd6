"""Run a command under a :class:`SandboxPolicy`, in the caller's asyncio loop (no threads).

Process hygiene: bubblewrap runs in its own session with an *empty* environment (the command's
variables travel as ``--setenv`` options inside a memfd read through ``--args``, so they reach
only the command and never a command line in ``/proc``); the command gets a new session and PID
namespace inside (``--new-session``, ``--unshare-pid``), ``--die-with-parent`` ties it to us,
and only stdio is inherited (``close_fds``). The inner process group id comes from
``--json-status-fd``, so SIGINT/SIGTERM/SIGHUP we receive can be forwarded to the command
itself, and a timeout kills everything (when bubblewrap dies, the namespace's init dies with it
and the kernel kills the rest of the namespace). The same status stream says whether the
command was started at all: bubblewrap failing before that is explained by a probe (never
probed on the normal path, see :mod:`.bwrap`).

The program is resolved with the command's own ``PATH`` before launch, so a missing command
exits 127 ("command not found") and an unexecutable one 126, as a shell would.

``proxy`` network mode: bubblewrap waits (``--block-fd``) while we open the proxy's listeners on
``127.0.0.1:3128`` (and ``:8081`` for SOCKS5) *inside* the new network namespace
(:mod:`.netns`) and serve them from the session proxy; then the command starts. No helper runs
inside the sandbox, nothing inside can create a Unix socket (the seccomp filter), the proxy's
own sockets are never mounted in, and if the listeners cannot be opened the command never runs.

After the command is gone, the protected names below the writable roots are checked again
(:func:`.guard.repair`) and every repair is reported in :attr:`RunResult.repairs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import stat
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from codex_admin.errors import CodexError
from codex_admin.sandbox.bwrap import (
    bwrap_options,
    explain_launch_failure,
    find_usable_bwrap,
)
from codex_admin.sandbox.env import build_child_env
from codex_admin.sandbox.guard import Repair, TreeIndex, is_mount_point_file, repair
from codex_admin.sandbox.plan import SandboxPlan, plan_sandbox
from codex_admin.sandbox.policy import NetworkMode, SandboxPolicy
from codex_admin.sandbox.seccomp import sandbox_filter

__all__ = [
    "BRIDGE_HTTP_PORT",
    "BRIDGE_SOCKS_PORT",
    "ProxyEndpoints",
    "RunResult",
    "explain",
    "run_sandboxed",
]

#: Ports the helper listens on inside the (empty) network namespace: Codex's documented defaults.
BRIDGE_HTTP_PORT = 3128
BRIDGE_SOCKS_PORT = 8081
TIMEOUT_EXIT_CODE = 124
NOT_FOUND_EXIT_CODE = 127
NOT_EXECUTABLE_EXIT_CODE = 126
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Listener(Protocol):
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
    serve: Callable[[socket.socket, str], Awaitable[_Listener]]

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
    what the post-run check did to protected names (see :mod:`.guard`).
    """

    exit_code: int
    timed_out: bool = False
    sandboxed: bool = True
    duration: float = 0.0
    stdout: bytes | None = None
    stderr: bytes | None = None
    argv: list[str] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)


def _child_env(
    policy: SandboxPolicy, environ: Mapping[str, str] | None, proxy: ProxyEndpoints | None
) -> dict[str, str]:
    env = build_child_env(policy.env, os.environ if environ is None else environ)
    if policy.network is NetworkMode.PROXY:
        if proxy is None:
            raise CodexError(
                "network mode `proxy` needs a running session proxy",
                hint="run through SandboxSession (`codex sandbox linux --network proxy`)",
            )
        env.update(proxy.child_env())
    return env


class _NotRunnable(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def resolve_program(name: str, path: str | None, cwd: Path) -> str:
    """``name`` resolved like ``execvp`` does with the command's ``PATH``: an absolute path.

    Raises :class:`_NotRunnable` (127 not found, 126 found but not executable).
    """
    if not name:
        raise _NotRunnable(NOT_FOUND_EXIT_CODE, "codex sandbox: empty command name")
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
        raise _NotRunnable(
            NOT_EXECUTABLE_EXIT_CODE, f"codex sandbox: {name}: permission denied ({denied})"
        )
    raise _NotRunnable(NOT_FOUND_EXIT_CODE, f"codex sandbox: {name}: command not found")


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
def _mount_point_janitor(plan: SandboxPlan) -> Iterator[None]:
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
    """An anonymous in-memory file holding ``data``, positioned at its start.

    Never a file on a filesystem: one under /tmp could be rewritten by another sandboxed
    command (same uid, /tmp writable) between our write and bubblewrap's read. ``seal`` makes it
    immutable (the seccomp program: rewriting it would mean "allow everything").
    """
    flags = os.MFD_CLOEXEC | (os.MFD_ALLOW_SEALING if seal else 0)
    fd = os.memfd_create(name, flags)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if seal:
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


# Once written the program can neither grow, shrink, be rewritten nor be resealed.
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def _nul_joined(items: Sequence[str]) -> bytes:
    return b"".join(os.fsencode(item) + b"\0" for item in items)


def _refusal_output(io: _Stdio, message: str) -> tuple[bytes | None, bytes | None]:
    """Deliver a refusal where the command's stderr would have gone: ``(stdout, stderr)``."""
    data = (message + "\n").encode()
    target = io.stdout if io.stderr == asyncio.subprocess.STDOUT else io.stderr
    if target == asyncio.subprocess.PIPE:
        return (data, None) if io.stderr == asyncio.subprocess.STDOUT else (None, data)
    if target != asyncio.subprocess.DEVNULL:
        with contextlib.suppress(OSError):
            os.write(2 if target is None else target, data)
    return None, None


@dataclass(frozen=True)
class _Stdio:
    stdin: int | None
    stdout: int | None
    stderr: int | None


async def run_sandboxed(
    policy: SandboxPolicy,
    command: Sequence[str],
    *,
    proxy: ProxyEndpoints | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float | None = None,
    forward_signals: bool = False,
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
    index: TreeIndex | None = None,
) -> RunResult:
    """Run ``command`` confined by ``policy``. Raises CodexError before launch on bad input or
    when the sandbox cannot be created (never falls back to running unsandboxed).

    ``index`` is the session's protected-name cache (:class:`.guard.TreeIndex`).
    """
    if not command:
        raise CodexError("no command given", hint="put the command after `--`")
    index = index or TreeIndex()
    plan = plan_sandbox(policy, index=index)
    env = _child_env(policy, environ, proxy)
    io = _Stdio(stdin, stdout, stderr)
    try:
        program = resolve_program(command[0], env.get("PATH"), plan.cwd)
    except _NotRunnable as err:
        out, errout = _refusal_output(io, str(err))
        return RunResult(
            err.code, sandboxed=plan.use_sandbox, stdout=out, stderr=errout, argv=list(command)
        )
    if not plan.use_sandbox:
        return await _spawn(list(command), env, plan.cwd, timeout, forward_signals, io, program)
    seccomp = sandbox_filter(plan.network)  # raises on an unknown architecture: fail closed
    bwrap = find_usable_bwrap()
    started = time.monotonic()
    for attempt in range(_LAUNCH_ATTEMPTS):
        if attempt:
            # A path the plan mounts vanished before bubblewrap reached it (another process
            # cleaning /tmp): the command never started, so plan again and retry.
            plan = plan_sandbox(policy, index=index)
        launch = _Launch(plan, proxy, env, program, command)
        try:
            with _mount_point_janitor(plan):
                result = await launch.run(bwrap, seccomp, timeout, forward_signals, io)
        except _NotStarted:
            if attempt + 1 == _LAUNCH_ATTEMPTS or not _stale(plan):
                raise explain_launch_failure() from None
            continue
        finally:
            await launch.close()
            after = index.scan(plan.owned_roots, _scan_skip(plan)) if plan.writable else {}
            before = {e.path: e for e in plan.guarded}
            repairs = repair(before, after, plan.watched, shared=plan.in_shared_root)
        result.repairs = repairs
        result.duration = time.monotonic() - started
        return result
    raise AssertionError("unreachable")  # pragma: no cover


_LAUNCH_ATTEMPTS = 3


class _NotStarted(Exception):
    """bubblewrap exited before starting the command (see :class:`_StatusReader`)."""


def _stale(plan: SandboxPlan) -> bool:
    """A path the plan mounts has vanished since it was made (worth planning again)."""
    return not all(os.path.lexists(p) for p in (*plan.pinned, *plan.protected))


def _scan_skip(plan: SandboxPlan) -> set[Path]:
    return {*plan.masked_dirs, *plan.shared, *(p for p in plan.protected if p.is_dir())}


class _Launch:
    """The fds and proxy listeners of one bubblewrap launch (all closed whatever happens)."""

    def __init__(
        self,
        plan: SandboxPlan,
        proxy: ProxyEndpoints | None,
        env: dict[str, str],
        program: str,
        command: Sequence[str],
    ) -> None:
        self.plan, self.env = plan, env
        self.proxy = proxy if plan.network is NetworkMode.PROXY else None
        self.program, self.command = program, list(command)
        self.passed: list[int] = []  # fds for the child; closed here once it has them
        self.block: int | None = None  # write end of --block-fd (proxy mode)
        self.status: _StatusReader | None = None
        self.servers: list[_Listener] = []

    def _pass(self, fd: int) -> int:
        self.passed.append(fd)
        return fd

    def _argv(self, bwrap: str, seccomp: bytes) -> tuple[list[str], list[str]]:
        """(argv to run, argv to show): options go through ``--args``, values redacted."""
        plan = self.plan
        seccomp_fd = self._pass(_memfd("codex-seccomp", seccomp, seal=True))
        status_r, status_w = os.pipe()
        self.status = _StatusReader(status_r)
        self._pass(status_w)
        block_fd = None
        if self.proxy is not None:
            block_r, self.block = os.pipe()
            block_fd = self._pass(block_r)
        masks = [str(self._pass(os.open(os.devnull, os.O_RDONLY))) for _ in plan.masked_files]
        common: dict[str, Any] = {
            "mask_fds": masks,
            "expose": self.proxy.expose() if self.proxy else (),
            "status_fd": status_w,
            "seccomp_fd": str(seccomp_fd),
            "block_fd": block_fd,
            "argv0": self.command[0] if self.command[0] != self.program else None,
        }
        args = _nul_joined(bwrap_options(plan, env=self.env, **common))
        args_fd = self._pass(_memfd("codex-bwrap-args", args))
        tail = [self.program, *self.command[1:]]
        display = [bwrap, *bwrap_options(plan, env=_redacted(self.env), **common), "--", *tail]
        return [bwrap, "--args", str(args_fd), "--", *tail], display

    async def run(
        self,
        bwrap: str,
        seccomp: bytes,
        timeout: float | None,
        forward_signals: bool,
        io: _Stdio,
    ) -> RunResult:
        argv, display = self._argv(bwrap, seccomp)
        result = await _spawn(
            argv, {}, self.plan.cwd, timeout, forward_signals, io, bwrap, launch=self
        )
        result.argv = display
        assert self.status is not None
        if not result.timed_out and not self.status.started and result.exit_code != 0:
            raise _NotStarted
        return result

    def spawned(self) -> None:
        """The child has its copies: close ours, start reading bubblewrap's status."""
        for fd in self.passed:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.passed.clear()
        if self.status is not None:
            self.status.start()

    async def attach(self) -> None:
        """Proxy mode, while bubblewrap waits on ``--block-fd``: open the listeners inside the
        sandbox's namespace, serve them, then let the command start. Raises CodexError (the
        caller kills the sandbox before the command ever runs)."""
        if self.proxy is None or self.block is None:
            return
        assert self.status is not None and self.status.child_pid is not None
        pid = await self.status.child_pid
        if pid is None:
            return  # bubblewrap failed before starting: reported as not started
        from codex_admin.sandbox.netns import listeners_in  # ctypes: only in proxy mode

        sockets = listeners_in(pid, self.proxy.ports())
        for sock, protocol in zip(sockets, ("http", "socks"), strict=False):
            self.servers.append(await self.proxy.serve(sock, protocol))
        with contextlib.suppress(BrokenPipeError):  # bubblewrap is gone: reported as not started
            os.write(self.block, b"1")
        os.close(self.block)
        self.block = None

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        self.servers.clear()
        if self.block is not None:
            os.close(self.block)
            self.block = None
        for fd in self.passed:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.passed.clear()
        if self.status is not None:
            await self.status.finish()


class _StatusReader:
    """bubblewrap's ``--json-status-fd`` stream: ``child-pid`` first, ``exit-code`` last (the
    latter only when the sandbox was set up and the command started)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.child_pid: asyncio.Future[int | None] | None = None
        self.started = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.child_pid = loop.create_future()
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.child_pid is not None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(self.fd, "rb", buffering=0)
        )
        decoder = json.JSONDecoder()
        buffer = ""
        try:
            while chunk := await reader.read(4096):
                buffer += chunk.decode("utf-8", "replace")
                while buffer.strip():
                    try:
                        document, end = decoder.raw_decode(buffer.lstrip())
                    except ValueError:
                        break
                    buffer = buffer.lstrip()[end:]
                    if isinstance(document, dict):
                        self._note(document)
        finally:
            transport.close()
            if not self.child_pid.done():
                self.child_pid.set_result(None)

    def _note(self, document: dict[str, Any]) -> None:
        assert self.child_pid is not None
        pid = document.get("child-pid")
        if isinstance(pid, int) and not self.child_pid.done():
            self.child_pid.set_result(pid)
        if "exit-code" in document:
            self.started = True

    async def finish(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5.0)


def _killpg(pgid: int | None, sig: int) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


async def _spawn(
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    timeout: float | None,
    forward_signals: bool,
    io: _Stdio,
    executable: str,
    *,
    launch: _Launch | None = None,
) -> RunResult:
    """Run ``argv`` (``executable`` is the resolved program) with ``env``, forwarding signals
    and enforcing ``timeout``. With ``launch`` it is bubblewrap: the status stream names the
    namespace's process group."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            executable=executable,
            env=dict(env),
            cwd=cwd,
            stdin=io.stdin,
            stdout=io.stdout,
            stderr=io.stderr,
            start_new_session=True,
            pass_fds=tuple(launch.passed) if launch else (),
        )
    except OSError as err:
        raise CodexError(f"cannot run {executable}: {err.strerror}") from None
    status = None
    if launch is not None:
        launch.spawned()
        status = launch.status
        try:
            await launch.attach()
        except BaseException:
            # Never let the command start without what it was promised (the proxy).
            _killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            await launch.close()
            raise

    async def target() -> int | None:
        # bwrap: the namespace's process group (the command's); direct: the command's own group.
        if status is None or status.child_pid is None:
            return proc.pid
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(asyncio.shield(status.child_pid), 1.0)
        return None

    pending: set[asyncio.Task[None]] = set()

    def forward(sig: int) -> None:
        async def send() -> None:
            _killpg(await target(), sig)

        task = asyncio.ensure_future(send())
        pending.add(task)
        task.add_done_callback(pending.discard)

    def kill_all() -> None:
        _killpg(proc.pid, signal.SIGKILL)
        if status is not None and status.child_pid is not None and status.child_pid.done():
            _killpg(status.child_pid.result(), signal.SIGKILL)

    if forward_signals:
        for sig in _FORWARDED:
            loop.add_signal_handler(sig, forward, sig)
    timed_out = False
    try:
        try:
            out, errout = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            timed_out = True
            kill_all()
            out, errout = await proc.communicate()
        except asyncio.CancelledError:
            kill_all()
            with contextlib.suppress(asyncio.CancelledError):
                await proc.wait()
            raise
    finally:
        if forward_signals:
            for sig in _FORWARDED:
                loop.remove_signal_handler(sig)
        if status is not None:
            await status.finish()
    code = proc.returncode if proc.returncode is not None else 1
    if code < 0:
        code = 128 - code
    if timed_out:
        code = TIMEOUT_EXIT_CODE
    return RunResult(
        exit_code=code,
        timed_out=timed_out,
        sandboxed=launch is not None,
        duration=time.monotonic() - started,
        stdout=out,
        stderr=errout,
        argv=list(argv),
    )
