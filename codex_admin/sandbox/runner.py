"""Run a command under a :class:`SandboxPolicy` in the caller's asyncio loop (the agent's path).

Process hygiene: bubblewrap runs in its own session with an empty environment (see
:mod:`.launch`); the command gets a new session and PID namespace inside (``--new-session``,
``--unshare-pid``), ``--die-with-parent`` ties it to us, and only stdio is inherited
(``close_fds``). The namespace's process group comes from ``--json-status-fd``, so
SIGINT/SIGTERM/SIGHUP we receive can be forwarded to the command itself, and a timeout kills
everything (when bubblewrap dies, the namespace's init dies with it and the kernel kills the
rest of the namespace). A bubblewrap that exits before starting the command is explained by a
probe (never probed on the normal path, see :mod:`.bwrap`); when a path the plan mounts
vanished meanwhile (another process cleaning up), the run is planned again.

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
import collections
import contextlib
import dataclasses
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from codex_admin.errors import CodexError
from codex_admin.sandbox.bwrap import explain_launch_failure, find_usable_bwrap
from codex_admin.sandbox.guard import TreeIndex
from codex_admin.sandbox.launch import (
    LAUNCH_ATTEMPTS,
    SET_UP_TIMEOUT,
    TIMEOUT_EXIT_CODE,
    Listener,
    NotRunnable,
    Prepared,
    ProxyEndpoints,
    RunResult,
    StatusParser,
    child_env,
    mount_point_janitor,
    refusal,
    resolve_program,
)
from codex_admin.sandbox.plan import SandboxPlan, plan_sandbox
from codex_admin.sandbox.policy import SandboxPolicy
from codex_admin.sandbox.seccomp import sandbox_filter

__all__ = ["run_sandboxed", "spawn_unsandboxed"]

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class _Stdio:
    stdin: int | None
    stdout: int | None
    stderr: int | None
    output_limit: int | None = None


class _Capped:
    """One pipe's output: everything up to ``limit`` bytes, else head + marker + tail."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.head = bytearray()
        self.tail: collections.deque[bytes] = collections.deque()
        self.tail_size = 0
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        if self.limit is None:
            self.head += chunk
            return
        half = self.limit // 2
        room = half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail.append(chunk)
        self.tail_size += len(chunk)
        while self.tail_size > half:
            extra = self.tail_size - half
            first = self.tail[0]
            if len(first) <= extra:
                self.tail.popleft()
                cut = len(first)
            else:
                self.tail[0] = first[extra:]
                cut = extra
            self.tail_size -= cut
            self.dropped += cut

    def value(self) -> bytes:
        if not self.dropped:
            return bytes(self.head) + b"".join(self.tail)
        marker = f"\n[... {self.dropped} bytes of output omitted ...]\n".encode()
        return bytes(self.head) + marker + b"".join(self.tail)


async def _drain(stream: asyncio.StreamReader | None, into: _Capped) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        into.add(chunk)


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
    workdir: Path | None = None,
    output_limit: int | None = None,
) -> RunResult:
    """Run ``command`` confined by ``policy``. Raises CodexError before launch on bad input or
    when the sandbox cannot be created (never falls back to running unsandboxed).

    ``index`` is the session's protected-name cache (:class:`.guard.TreeIndex`). ``workdir``
    starts the command elsewhere than ``policy.cwd`` without changing what it may write.
    ``output_limit`` bounds the captured bytes per pipe: the head and the tail are kept around
    an omission marker, the rest is read and dropped (a command printing forever cannot fill
    memory).
    """
    if not command:
        raise CodexError("no command given", hint="put the command after `--`")
    index = index or TreeIndex()
    plan = _with_workdir(plan_sandbox(policy, index=index), workdir)
    env = child_env(policy, environ, proxy)
    io = _Stdio(stdin, stdout, stderr, output_limit)
    try:
        program = resolve_program(command[0], env.get("PATH"), plan.run_dir)
    except NotRunnable as err:
        return refusal(err, command, plan.use_sandbox, stdout, stderr)
    if not plan.use_sandbox:
        return await spawn_unsandboxed(
            list(command),
            env,
            plan.run_dir,
            program,
            timeout=timeout,
            io=io,
            forward_signals=forward_signals,
        )
    seccomp = sandbox_filter(plan.network)  # raises on an unknown architecture: fail closed
    bwrap = find_usable_bwrap()
    started = time.monotonic()
    attempt = 0
    while True:
        launch = Prepared(plan, env, program, command, bwrap=bwrap, seccomp=seccomp, proxy=proxy)
        try:
            with mount_point_janitor(plan):
                result = await _wait(launch, timeout, forward_signals, io)
        finally:
            launch.close()
            repairs = launch.repairs(index)
        if result is not None:
            result.repairs = repairs
            result.warnings = launch.warnings()
            result.duration = time.monotonic() - started
            return result
        attempt += 1
        if attempt == LAUNCH_ATTEMPTS or not launch.stale():
            raise explain_launch_failure()
        # A path the plan mounts vanished before bubblewrap reached it (another process
        # cleaning /tmp): the command never started, so plan again and retry.
        plan = _with_workdir(plan_sandbox(policy, index=index), workdir)


def _with_workdir(plan: SandboxPlan, workdir: Path | None) -> SandboxPlan:
    if workdir is None:
        return plan
    if not workdir.is_dir():
        raise CodexError(f"working directory {workdir} does not exist", hint="pass an existing one")
    return dataclasses.replace(plan, workdir=Path(os.path.realpath(workdir)))


async def spawn_unsandboxed(
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    program: str,
    *,
    timeout: float | None = None,
    forward_signals: bool = True,
    io: _Stdio | None = None,
) -> RunResult:
    """Run ``argv`` directly (danger-full-access, or macOS's ``sandbox-exec``)."""
    io = io or _Stdio(None, None, None)
    proc = await _create(argv, env, cwd, program, io, ())
    return await _communicate(proc, argv, timeout, forward_signals, None, io.output_limit)


async def _create(
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    program: str,
    io: _Stdio,
    pass_fds: Sequence[int],
) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            executable=program,
            env=dict(env),
            cwd=cwd,
            stdin=io.stdin,
            stdout=io.stdout,
            stderr=io.stderr,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    except OSError as err:
        raise CodexError(f"cannot run {program}: {err.strerror}") from None


class _Status:
    """Reads bubblewrap's status stream in the loop; ``child_pid`` resolves on the first
    document (or None when bubblewrap exits first)."""

    def __init__(self, fd: int) -> None:
        self.parser = StatusParser()
        self.child_pid: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.ensure_future(self._read(fd))

    async def _read(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
        )
        try:
            while chunk := await reader.read(4096):
                self.parser.feed(chunk)
                if self.parser.child_pid is not None and not self.child_pid.done():
                    self.child_pid.set_result(self.parser.child_pid)
        finally:
            transport.close()
            if not self.child_pid.done():
                self.child_pid.set_result(None)

    async def finish(self) -> None:
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(self._task, 5.0)


async def _wait(
    launch: Prepared, timeout: float | None, forward_signals: bool, io: _Stdio
) -> RunResult | None:
    """Run the prepared launch; None when bubblewrap exited before starting the command."""
    proc = await _create(launch.argv, {}, launch.plan.run_dir, launch.argv[0], io, launch.passed)
    launch.spawned()
    status = _Status(launch.status_fd)
    servers: list[Listener] = []
    try:
        await _attach(launch, status, servers)
    except BaseException:
        # Never let the command start without what it was promised (the proxy).
        _killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        await status.finish()
        for server in servers:
            server.close()
        raise
    try:
        result = await _communicate(
            proc, launch.display, timeout, forward_signals, status, io.output_limit
        )
    finally:
        for server in servers:
            server.close()
    if not result.timed_out and not status.parser.started and result.exit_code != 0:
        return None
    return result


async def _attach(launch: Prepared, status: _Status, servers: list[Listener]) -> None:
    """While bubblewrap holds the command on ``--block-fd``: open the proxy's listeners in the
    sandbox's namespace as soon as it exists and serve them, pin the protected symlinks once
    the set-up is done, then let the command start."""
    if launch.block is None:
        return
    pid = await status.child_pid
    if pid is not None and launch.proxy is not None:
        from codex_admin.sandbox.netns import listeners_in  # ctypes: only in proxy mode

        sockets = listeners_in(pid, launch.proxy.ports())
        if sockets is None:
            pid = None  # bubblewrap died already: reported as not started
        else:
            served = 0
            try:
                for sock, protocol in zip(sockets, ("http", "socks"), strict=False):
                    servers.append(await launch.proxy.serve(sock, protocol))
                    served += 1
            finally:
                for sock in sockets[served:]:
                    sock.close()  # serving failed: the caller kills the sandbox
    if pid is not None and launch.plan.watched:
        deadline = time.monotonic() + SET_UP_TIMEOUT
        while (done := launch.set_up_done(pid, deadline)) is False:
            await asyncio.sleep(0.0005)
        if done:
            launch.pin(pid)
    launch.unblock()


def _killpg(pgid: int | None, sig: int) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


async def _communicate(
    proc: asyncio.subprocess.Process,
    argv: list[str],
    timeout: float | None,
    forward_signals: bool,
    status: _Status | None,
    output_limit: int | None = None,
) -> RunResult:
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    out_buf, err_buf = _Capped(output_limit), _Capped(output_limit)

    async def collect() -> None:
        await asyncio.gather(_drain(proc.stdout, out_buf), _drain(proc.stderr, err_buf))
        await proc.wait()

    async def target() -> int | None:
        # bwrap: the namespace's process group (the command's); direct: the command's own group.
        if status is None:
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
        if status is not None and status.child_pid.done():
            _killpg(status.child_pid.result(), signal.SIGKILL)

    if forward_signals:
        for sig in _FORWARDED:
            loop.add_signal_handler(sig, forward, sig)
    timed_out = False
    try:
        try:
            await asyncio.wait_for(collect(), timeout)
        except TimeoutError:
            timed_out = True
            kill_all()
            await collect()  # what was read before the timeout is kept in the buffers
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
        sandboxed=status is not None,
        duration=time.monotonic() - started,
        stdout=out_buf.value() if proc.stdout is not None else None,
        stderr=err_buf.value() if proc.stderr is not None else None,
        argv=list(argv),
    )
