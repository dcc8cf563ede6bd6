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
    try:
        proc = await asyncio.create_subprocess_exec(
            shell,
            "-lc",
            command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as err:
        return CommandResult(
            None, "", "", _ms(started), error=f"failed to start hook with {shell}: {err}"
        )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    writer = asyncio.create_task(_feed(proc.stdin, stdin))
    out = asyncio.create_task(_read_capped(proc.stdout, max_output))
    errs = asyncio.create_task(_read_capped(proc.stderr, max_output))
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            timed_out = True
            _kill_group(proc)
            await proc.wait()
        _, pending = await asyncio.wait({out, errs}, timeout=EOF_GRACE)
        if pending:
            _kill_group(proc)
            _, pending = await asyncio.wait(pending, timeout=EOF_GRACE)
            for task in pending:
                task.cancel()
    finally:
        if proc.returncode is None:  # cancelled: the turn was interrupted
            _kill_group(proc)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        writer.cancel()
        for task in (out, errs):
            if not task.done():
                task.cancel()
    stdout, stdout_cut = out.result() if out.done() and not out.cancelled() else (b"", True)
    stderr, stderr_cut = errs.result() if errs.done() and not errs.cancelled() else (b"", True)
    code = proc.returncode
    return CommandResult(
        exit_code=code if code is not None and code >= 0 else None,
        stdout=stdout.decode("utf-8", "replace"),
        stderr=stderr.decode("utf-8", "replace"),
        duration_ms=_ms(started),
        error=f"hook timed out after {timeout:g}s" if timed_out else None,
        signal=-code if code is not None and code < 0 and not timed_out else None,
        stdout_truncated=stdout_cut,
        stderr_truncated=stderr_cut,
    )


async def _feed(pipe: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        pipe.write(data)
        await pipe.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        pipe.close()
        await pipe.wait_closed()


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> tuple[bytes, bool]:
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(_READ_CHUNK):
        room = cap - len(kept)
        if len(chunk) > room:
            truncated = True
        if room > 0:
            kept += chunk[:room]
    return bytes(kept), truncated


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
