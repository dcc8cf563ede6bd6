"""Run one hook command (spec §3.3): `$SHELL -lc <command>`, JSON on stdin, capped output.

Contract:

* the shell is ``env["SHELL"]`` (default `/bin/sh`), run as ``SHELL -lc COMMAND`` with
  ``cwd`` as its working directory and **exactly** ``env`` as its environment -- the caller
  passes the session's secret-stripped environment; nothing is inherited from this process;
* hooks run outside the sandbox: they are the admin's or the user's code, never the model's;
* the child leads a new process group, so a timeout, a cancellation (the turn was interrupted)
  or a background process left holding our pipes is ended by killing the whole group;
* stdin gets the event JSON and is closed; a hook that does not read it is fine;
* stdout and stderr are read concurrently and kept up to ``max_output`` bytes each (the rest is
  drained and dropped, and the result says so), decoded as UTF-8 with replacement;
* after the shell exits, its pipes get :data:`EOF_GRACE` seconds to close; a process still
  holding them then is killed with the group.

Spawn errors, timeouts and signals are results (``error`` / ``exit_code is None``), never
exceptions: a broken hook fails open at the event layer, it does not break the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_MAX_OUTPUT", "EOF_GRACE", "CommandResult", "run_command"]

DEFAULT_MAX_OUTPUT = 1024 * 1024
EOF_GRACE = 0.5
_READ_CHUNK = 65536


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None
    stdout: str
    stderr: str
    duration_ms: int
    error: str | None = None  # could not start, timed out
    signal: int | None = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    timed_out: bool = False


class _Protocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Streams plus a future set when the shell itself exits.

    ``asyncio.subprocess.Process.wait()`` returns only once every pipe is closed, so a
    background process that inherited the hook's stdout would make it wait for that process
    too; ``process_exited`` fires when the shell exits, whoever still holds the pipes.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=_READ_CHUNK, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


async def run_command(
    command: str,
    *,
    stdin: bytes,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    max_output: int = DEFAULT_MAX_OUTPUT,
) -> CommandResult:
    """Run ``command`` to completion (or until ``timeout`` seconds) and collect its output."""
    started = time.monotonic()
    shell = env.get("SHELL") or "/bin/sh"
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.subprocess_exec(
            lambda: _Protocol(loop),
            shell,
            "-lc",
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as err:
        return CommandResult(
            None, "", "", _ms(started), error=f"failed to start hook with {shell}: {err}"
        )
    pid = transport.get_pid()
    assert protocol.stdin is not None and protocol.stdout is not None
    assert protocol.stderr is not None
    writer = asyncio.create_task(_feed(protocol.stdin, stdin))
    stdout, stderr = _Sink(max_output), _Sink(max_output)
    out = asyncio.create_task(stdout.drain(protocol.stdout))
    errs = asyncio.create_task(stderr.drain(protocol.stderr))
    timed_out = False
    try:
        done, _ = await asyncio.wait({protocol.exited}, timeout=timeout)
        if not done:
            timed_out = True
            _kill_group(pid)
            await protocol.exited
        _, pending = await asyncio.wait({out, errs}, timeout=EOF_GRACE)
        if pending:  # something the hook started still holds its output: end it
            _kill_group(pid)
            _, pending = await asyncio.wait(pending, timeout=EOF_GRACE)
    finally:
        if transport.get_returncode() is None:  # cancelled: the turn was interrupted
            _kill_group(pid)
        transport.close()
        for task in (writer, out, errs):
            if not task.done():
                task.cancel()
    code = transport.get_returncode()
    return CommandResult(
        exit_code=code if code is not None and code >= 0 else None,
        stdout=stdout.text(),
        stderr=stderr.text(),
        duration_ms=_ms(started),
        error=f"hook timed out after {timeout:g}s" if timed_out else None,
        signal=-code if code is not None and code < 0 and not timed_out else None,
        stdout_truncated=stdout.truncated or not out.done() or out.cancelled(),
        stderr_truncated=stderr.truncated or not errs.done() or errs.cancelled(),
        timed_out=timed_out,
    )


async def _feed(pipe: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        pipe.write(data)
        await pipe.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        pipe.close()
        await pipe.wait_closed()


class _Sink:
    """Keeps the first ``cap`` bytes of a stream and drains the rest (partial data survives a
    cancelled reader)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.truncated = False

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(_READ_CHUNK):
            room = self.cap - len(self.data)
            if len(chunk) > room:
                self.truncated = True
            if room > 0:
                self.data += chunk[:room]

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
