"""One sandboxed command, run to completion without asyncio: ``codex sandbox linux``.

A one-shot CLI run has nothing to multiplex, and importing asyncio (with ``ssl`` and
``concurrent.futures`` behind it) costs about as much as starting Python itself, so this module
waits with plain ``subprocess``: the same preparation and repair as the asyncio runner
(:mod:`.launch`), signals forwarded with ``signal.signal``, the timeout from ``communicate``.

``proxy`` mode without HTTPS inspection starts the proxy *lazily*: the listeners are opened in
the sandbox's namespace before the command starts (so nothing changes for the command), and a
watcher thread waits for the first connection; only then does it import asyncio and the proxy
and serve the listeners on its own event loop (a thread because the main thread is blocked in
``communicate``; the thread owns every proxy object). A command that never connects, like
``true``, never pays for the proxy. With inspection the session CA must exist before the
command starts (its bundle is mounted and named in the environment), so :func:`run_once` uses
the asyncio session then.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from codex_admin.errors import CodexError
from codex_admin.sandbox.bwrap import explain_launch_failure, find_usable_bwrap
from codex_admin.sandbox.guard import TreeIndex
from codex_admin.sandbox.launch import (
    LAUNCH_ATTEMPTS,
    SET_UP_TIMEOUT,
    TIMEOUT_EXIT_CODE,
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
from codex_admin.sandbox.plan import plan_sandbox
from codex_admin.sandbox.policy import NetworkMode, SandboxPolicy
from codex_admin.sandbox.seccomp import sandbox_filter

if TYPE_CHECKING:
    from codex_admin.proxy import NetworkPolicy

__all__ = ["run_blocking", "run_once"]

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_once(
    policy: SandboxPolicy,
    command: Sequence[str],
    *,
    codex_home: Path,
    network_policy: Callable[[], NetworkPolicy] | None = None,
    timeout: float | None = None,
    forward_signals: bool = True,
    capture: bool = False,
    environ: Mapping[str, str] | None = None,
) -> RunResult:
    """Run one command and wait for it: blocking (with a lazily started proxy in ``proxy``
    mode), or through a one-command asyncio :class:`.SandboxSession` when the proxy inspects
    HTTPS. ``capture`` collects stdout and stderr into the result."""
    pipe = subprocess.PIPE if capture else None
    lazy = None
    if policy.network is NetworkMode.PROXY:
        net = _network(network_policy)
        if not net.inspects_https:
            lazy = _LazyProxy(net, codex_home)
    if policy.network is not NetworkMode.PROXY or lazy is not None:
        return run_blocking(
            policy,
            command,
            timeout=timeout,
            forward_signals=forward_signals,
            stdout=pipe,
            stderr=pipe,
            environ=environ,
            proxy=lazy,
        )
    # Inspection: the session CA exists before the command starts, in the session's loop.
    import asyncio

    from codex_admin.sandbox.shared import SandboxSession

    async def proxied() -> RunResult:
        async with SandboxSession(codex_home=codex_home, network_policy=network_policy) as s:
            pipe = asyncio.subprocess.PIPE if capture else None
            return await s.run(
                policy,
                command,
                timeout=timeout,
                forward_signals=forward_signals,
                stdout=pipe,
                stderr=pipe,
                environ=environ,
            )

    return asyncio.run(proxied())


def run_blocking(
    policy: SandboxPolicy,
    command: Sequence[str],
    *,
    timeout: float | None = None,
    forward_signals: bool = False,
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
    environ: Mapping[str, str] | None = None,
    index: TreeIndex | None = None,
    proxy: _LazyProxy | None = None,
) -> RunResult:
    """:func:`.run_sandboxed` without an event loop; ``proxy`` mode needs ``proxy`` (see
    :func:`run_once`)."""
    if not command:
        raise CodexError("no command given", hint="put the command after `--`")
    if policy.network is NetworkMode.PROXY and proxy is None:
        raise CodexError(
            "network mode `proxy` needs a proxy to reach",
            hint="use run_once or SandboxSession",
        )
    if policy.network is not NetworkMode.PROXY:
        proxy = None
    index = index or TreeIndex()
    plan = plan_sandbox(policy, index=index)
    endpoints = proxy.endpoints() if proxy is not None else None
    env = child_env(policy, environ, endpoints)
    streams = (stdin, stdout, stderr)
    try:
        program = resolve_program(command[0], env.get("PATH"), plan.cwd)
    except NotRunnable as err:
        return refusal(err, command, plan.use_sandbox, stdout, stderr)
    if not plan.use_sandbox:
        proc = _popen(list(command), env, plan.cwd, program, streams, ())
        return _communicate(proc, list(command), timeout, forward_signals, None)
    seccomp = sandbox_filter(plan.network)  # raises on an unknown architecture: fail closed
    bwrap = find_usable_bwrap()
    started = time.monotonic()
    for attempt in range(1, LAUNCH_ATTEMPTS + 1):
        launch = Prepared(
            plan, env, program, command, bwrap=bwrap, seccomp=seccomp, proxy=endpoints
        )
        try:
            with mount_point_janitor(plan):
                proc = _popen(launch.argv, {}, plan.cwd, bwrap, streams, launch.passed)
                launch.spawned()
                status = _Status(launch.status_fd)
                _attach(proc, launch, status, proxy)
                result = _communicate(proc, launch.display, timeout, forward_signals, status)
        finally:
            launch.close()
            if proxy is not None:
                proxy.stop()
            repairs = launch.repairs(index)
        if result.timed_out or status.parser.started or result.exit_code == 0:
            result.repairs = repairs
            result.warnings = launch.warnings()
            result.duration = time.monotonic() - started
            return result
        if attempt == LAUNCH_ATTEMPTS or not launch.stale():
            raise explain_launch_failure()
        plan = plan_sandbox(policy, index=index)  # a planned path vanished: plan again
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _network(factory: Callable[[], NetworkPolicy] | None) -> NetworkPolicy:
    if factory is not None:
        return factory()
    from codex_admin.proxy import build_network_policy  # proxy mode only

    return build_network_policy(None, None)


def _attach(
    proc: subprocess.Popen[bytes], launch: Prepared, status: _Status, proxy: _LazyProxy | None
) -> None:
    """While bubblewrap holds the command on ``--block-fd``: open the proxy's listeners in the
    sandbox's namespace as soon as it exists and hand them to the lazy proxy, pin the protected
    symlinks once the set-up is done, then let the command start. On failure the sandbox dies
    first."""
    if launch.block is None:
        return
    try:
        if proxy is not None:
            # ctypes (for setns), imported while bubblewrap starts: overlapped with its work.
            from codex_admin.sandbox.netns import listeners_in
        pid = status.child_pid
        if pid is not None and proxy is not None:
            sockets = listeners_in(pid, proxy.ports())
            if sockets is None:
                pid = None  # bubblewrap died already: reported as not started
            else:
                proxy.watch(sockets)
        if pid is not None and launch.plan.watched:
            deadline = time.monotonic() + SET_UP_TIMEOUT
            while (done := launch.set_up_done(pid, deadline)) is False:
                time.sleep(0.0005)
            if done:
                launch.pin(pid)
    except BaseException:
        _killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    launch.unblock()


class _LazyProxy:
    """The session proxy, started on the first connection (see the module docstring)."""

    def __init__(self, net: NetworkPolicy, codex_home: Path) -> None:
        self.net, self.codex_home = net, codex_home
        self.error: str | None = None
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None

    def ports(self) -> list[int]:
        return self.endpoints().ports()

    def endpoints(self) -> ProxyEndpoints:
        from codex_admin.proxy import proxy_environment  # the variables only, no server

        return ProxyEndpoints(
            socks=self.net.enable_socks5,
            ca_bundle=None,
            environment=partial(
                proxy_environment, allow_local_binding=self.net.allow_local_binding, ca_bundle=None
            ),
            serve=_served_by_the_thread,
        )

    def watch(self, listeners: list[socket.socket]) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(listeners,), name="codex-lazy-proxy", daemon=True
        )
        self._thread.start()

    def _run(self, listeners: list[socket.socket]) -> None:
        try:
            fds = [sock.fileno() for sock in listeners]
            ready, _, _ = select.select([*fds, self._stop_r], [], [])
            if self._stop_r not in ready:
                import asyncio  # only once the command really connects

                asyncio.run(self._serve(listeners))
        except (OSError, CodexError) as err:
            self.error = f"the proxy could not start: {err}"
        finally:
            for sock in listeners:
                sock.close()

    async def _serve(self, listeners: list[socket.socket]) -> None:
        import asyncio

        from codex_admin.proxy import ProxyServer

        server = ProxyServer(self.net, codex_home=self.codex_home)
        await server.start()
        try:
            for sock, protocol in zip(listeners, ("http", "socks"), strict=False):
                await server.serve_socket(sock, protocol)
            loop = asyncio.get_running_loop()
            stopped: asyncio.Future[None] = loop.create_future()

            def stop() -> None:
                loop.remove_reader(self._stop_r)
                if not stopped.done():
                    stopped.set_result(None)

            loop.add_reader(self._stop_r, stop)
            await stopped
        finally:
            await server.stop()

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        if self._thread is not None:
            self._thread.join(10)
        os.close(self._stop_r)
        os.close(self._stop_w)
        if self.error:
            sys.stderr.write(f"codex sandbox: {self.error}\n")


async def _served_by_the_thread(sock: socket.socket, protocol: str) -> Any:
    raise CodexError("the lazy proxy serves its listeners itself")  # pragma: no cover


def _popen(
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    program: str,
    streams: tuple[int | None, int | None, int | None],
    pass_fds: Sequence[int],
) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            argv,
            executable=program,
            env=dict(env),
            cwd=cwd,
            stdin=streams[0],
            stdout=streams[1],
            stderr=streams[2],
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    except OSError as err:
        raise CodexError(f"cannot run {program}: {err.strerror}") from None


class _Status:
    """bubblewrap's status stream, read without a loop: ``child_pid`` on demand (bubblewrap
    writes it right after creating the namespaces), the rest at the end."""

    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd
        self.parser = StatusParser()

    def _read(self, until_pid: bool) -> None:
        while self.fd is not None and not (until_pid and self.parser.child_pid is not None):
            try:
                chunk = os.read(self.fd, 4096)
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue
            if not chunk:
                os.close(self.fd)
                self.fd = None
                return
            self.parser.feed(chunk)

    @property
    def child_pid(self) -> int | None:
        self._read(until_pid=True)
        return self.parser.child_pid

    def finish(self) -> None:
        self._read(until_pid=False)


def _killpg(pgid: int | None, sig: int) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def _communicate(
    proc: subprocess.Popen[bytes],
    argv: list[str],
    timeout: float | None,
    forward_signals: bool,
    status: _Status | None,
) -> RunResult:
    started = time.monotonic()
    target = proc.pid if status is None else status.child_pid
    previous: dict[int, Any] = {}

    def forward(sig: int, _frame: FrameType | None) -> None:
        _killpg(target, sig)

    if forward_signals:
        for sig in _FORWARDED:
            previous[sig] = signal.signal(sig, forward)
    timed_out = False
    try:
        try:
            out, errout = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _killpg(proc.pid, signal.SIGKILL)
            _killpg(target, signal.SIGKILL)
            out, errout = proc.communicate()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if status is not None:
            status.finish()
    code = proc.returncode if proc.returncode is not None else 1
    if code < 0:
        code = 128 - code
    return RunResult(
        exit_code=TIMEOUT_EXIT_CODE if timed_out else code,
        timed_out=timed_out,
        sandboxed=status is not None,
        duration=time.monotonic() - started,
        stdout=out,
        stderr=errout,
        argv=argv,
    )
