"""Run a command under a :class:`SandboxPolicy`, in the caller's asyncio loop (no threads).

Process hygiene: bubblewrap runs in its own session (so a timeout can kill its whole process
group), the command gets a new session and PID namespace inside (``--new-session``,
``--unshare-pid``), ``--die-with-parent`` ties it to us, and only stdio is inherited
(``close_fds``). The inner process group id comes from ``--info-fd``, so SIGINT/SIGTERM/SIGHUP we
receive can be forwarded to the command itself, and a timeout kills everything (when bubblewrap
dies, the namespace's init dies with it and the kernel kills the rest of the namespace).

In ``proxy`` network mode the caller passes :class:`ProxyEndpoints` (see :mod:`.session`, which
starts the session proxy): the proxy's Unix sockets and CA bundle are exposed read-only, and the
bridge (:mod:`._bridge`) listens on :data:`BRIDGE_HTTP_PORT` / :data:`BRIDGE_SOCKS_PORT` inside
the fresh network namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError
from codex_admin.sandbox.bwrap import build_bwrap_argv, require_bwrap
from codex_admin.sandbox.env import build_child_env
from codex_admin.sandbox.plan import SandboxPlan, is_bwrap_mount_point, plan_sandbox
from codex_admin.sandbox.policy import NetworkMode, SandboxPolicy
from codex_admin.sandbox.seccomp import unix_socket_filter

__all__ = [
    "BRIDGE_HTTP_PORT",
    "BRIDGE_SOCKS_PORT",
    "ProxyEndpoints",
    "RunResult",
    "explain",
    "run_sandboxed",
]

#: Ports the bridge listens on inside the (empty) network namespace: Codex's documented defaults.
BRIDGE_HTTP_PORT = 3128
BRIDGE_SOCKS_PORT = 8081
TIMEOUT_EXIT_CODE = 124
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_BRIDGE_SCRIPT = Path(__file__).with_name("_bridge.py")


@dataclass(frozen=True)
class ProxyEndpoints:
    """Where the running session proxy can be reached, and the variables the child needs.

    ``environment`` maps a ``(http_url, socks_url)`` pair (URLs inside the namespace) to the
    proxy/CA variables; it is the proxy package's ``proxy_environment`` bound to this session.
    """

    http_unix_path: Path
    socks_unix_path: Path | None
    ca_bundle: Path | None
    environment: Callable[[str, str | None], dict[str, str]]

    def expose(self) -> list[Path]:
        paths = {self.http_unix_path.parent}
        if self.socks_unix_path is not None:
            paths.add(self.socks_unix_path.parent)
        if self.ca_bundle is not None:
            paths.add(self.ca_bundle)
        return sorted(paths)

    def wrapper(self, seccomp_fd: str | None = None) -> list[str]:
        """The bridge argv; it installs the seccomp program read from ``seccomp_fd`` in the
        command (not in itself: the bridge must open Unix sockets to reach the proxy)."""
        argv = [sys.executable, "-I", "-S", "-B", str(_BRIDGE_SCRIPT)]
        if seccomp_fd is not None:
            argv += ["--seccomp-fd", seccomp_fd]
        argv += ["--listen", f"{BRIDGE_HTTP_PORT}={self.http_unix_path}"]
        if self.socks_unix_path is not None:
            argv += ["--listen", f"{BRIDGE_SOCKS_PORT}={self.socks_unix_path}"]
        return [*argv, "--"]

    def child_env(self) -> dict[str, str]:
        http = f"http://127.0.0.1:{BRIDGE_HTTP_PORT}"
        socks = f"socks5h://127.0.0.1:{BRIDGE_SOCKS_PORT}" if self.socks_unix_path else None
        return self.environment(http, socks)


@dataclass
class RunResult:
    """How the command ended. ``exit_code`` is shell-style: ``128 + N`` after signal N."""

    exit_code: int
    timed_out: bool = False
    sandboxed: bool = True
    duration: float = 0.0
    stdout: bytes | None = None
    stderr: bytes | None = None
    argv: list[str] = field(default_factory=list)


def _child_env(
    policy: SandboxPolicy, environ: Mapping[str, str] | None, proxy: ProxyEndpoints | None
) -> dict[str, str]:
    env = build_child_env(policy.env, os.environ if environ is None else environ)
    if policy.network is NetworkMode.PROXY:
        if proxy is None:
            raise CodexError(
                "network mode `proxy` needs a running session proxy",
                hint="run through `codex sandbox linux --network proxy`, which starts one",
            )
        env.update(proxy.child_env())
    return env


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
        argv = build_bwrap_argv(
            plan,
            command,
            mask_file=Path("<mask-file>"),
            expose=proxy.expose() if proxy else (),
            wrapper=proxy.wrapper("<seccomp-fd>") if proxy else (),
            seccomp_fd=None if proxy or plan.network is NetworkMode.FULL else "<seccomp-fd>",
        )
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
            if is_bwrap_mount_point(path):
                with contextlib.suppress(OSError):
                    path.unlink()
        for fd in fds.values():
            os.close(fd)


async def _read_child_pid(fd: int) -> int | None:
    """Read bubblewrap's ``--info-fd`` JSON (written once, then closed) without a thread."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    try:
        data = await reader.read()
    finally:
        transport.close()
    try:
        pid = json.loads(data.decode()).get("child-pid")
    except (ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None


def _killpg(pgid: int | None, sig: int) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


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
) -> RunResult:
    """Run ``command`` confined by ``policy``. Raises CodexError before launch on bad input or
    when the sandbox cannot be created (never falls back to running unsandboxed)."""
    if not command:
        raise CodexError("no command given", hint="put the command after `--`")
    plan = plan_sandbox(policy)
    env = _child_env(policy, environ, proxy)
    if not plan.use_sandbox:
        return await spawn(
            list(command),
            env,
            plan.cwd,
            None,
            timeout,
            forward_signals,
            stdin,
            stdout,
            stderr,
            sandboxed=False,
        )
    bwrap = require_bwrap()
    with tempfile.TemporaryDirectory(prefix="codex-sandbox-") as runtime:
        mask = Path(runtime, "masked")
        mask.touch(mode=0o000)
        mask.chmod(0o000)
        seccomp_fd = _seccomp_fd(plan)
        seccomp = str(seccomp_fd) if seccomp_fd is not None else None
        info_r, info_w = os.pipe()
        argv = build_bwrap_argv(
            plan,
            command,
            bwrap=bwrap,
            mask_file=mask,
            expose=proxy.expose() if proxy else (),
            wrapper=proxy.wrapper(seccomp) if proxy else (),
            info_fd=info_w,
            seccomp_fd=None if proxy else seccomp,
        )
        try:
            with _mount_point_janitor(plan):
                return await spawn(
                    argv,
                    env,
                    plan.cwd,
                    (info_r, info_w),
                    timeout,
                    forward_signals,
                    stdin,
                    stdout,
                    stderr,
                    sandboxed=True,
                    pass_fds=(seccomp_fd,) if seccomp_fd is not None else (),
                )
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)


def _seccomp_fd(plan: SandboxPlan) -> int | None:
    """An fd holding the Unix-socket filter (:mod:`.seccomp`) for the none/proxy modes.

    The program lives in an anonymous memory file, never on a filesystem: a file under /tmp
    could be rewritten by another sandboxed command (same uid, /tmp writable) between our write
    and bwrap's read, replacing the filter with "allow everything".
    """
    if plan.network is NetworkMode.FULL:
        return None
    program = unix_socket_filter()
    if program is None:
        return None
    fd = os.memfd_create("codex-seccomp", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.write(fd, program)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


# Once written the program can neither grow, shrink, be rewritten nor be resealed.
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


async def spawn(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    info: tuple[int, int] | None,
    timeout: float | None,
    forward_signals: bool,
    stdin: int | None,
    stdout: int | None,
    stderr: int | None,
    *,
    sandboxed: bool,
    pass_fds: tuple[int, ...] = (),
) -> RunResult:
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=env,
            cwd=cwd,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            pass_fds=((info[1],) if info else ()) + pass_fds,
        )
    except OSError as err:
        if info:
            os.close(info[0])
            os.close(info[1])
        raise CodexError(f"cannot run {argv[0]}: {err.strerror}") from None
    inner: asyncio.Task[int | None] | None = None
    if info:
        os.close(info[1])
        inner = asyncio.ensure_future(_read_child_pid(info[0]))

    async def target() -> int | None:
        # bwrap: the namespace's process group (the command's); direct: the command's own group.
        if inner is None:
            return proc.pid
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(asyncio.shield(inner), 1.0)
        return None

    pending: set[asyncio.Task[None]] = set()

    def forward(sig: int) -> None:
        async def send() -> None:
            _killpg(await target(), sig)

        task = asyncio.ensure_future(send())
        pending.add(task)
        task.add_done_callback(pending.discard)

    if forward_signals:
        for sig in _FORWARDED:
            loop.add_signal_handler(sig, forward, sig)
    timed_out = False
    try:
        try:
            out, errout = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            timed_out = True
            _killpg(proc.pid, signal.SIGKILL)
            if inner is not None and inner.done():
                _killpg(inner.result(), signal.SIGKILL)
            out, errout = await proc.communicate()
    finally:
        if forward_signals:
            for sig in _FORWARDED:
                loop.remove_signal_handler(sig)
        if inner is not None:
            if not inner.done():
                inner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await inner
    code = proc.returncode if proc.returncode is not None else 1
    if code < 0:
        code = 128 - code
    if timed_out:
        code = TIMEOUT_EXIT_CODE
    return RunResult(
        exit_code=code,
        timed_out=timed_out,
        sandboxed=sandboxed,
        duration=time.monotonic() - started,
        stdout=out,
        stderr=errout,
        argv=argv,
    )
