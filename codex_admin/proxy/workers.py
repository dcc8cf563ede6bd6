"""One bound :class:`~.server.ProxyServer` served by N forked worker processes.

A Python proxy serves a connection at a time per core, and under a busy machine's scheduler a
single process also waits longest to run (a multi-threaded C proxy such as tinyproxy has a
thread per client). `codex proxy run --workers N` therefore binds the listeners and makes the
session CA once (:meth:`ProxyServer.bind`), then forks ``N`` workers that each serve those
same listening sockets: the kernel hands each new connection to whichever worker accepts
first. Semantics stay those of one proxy:

* **the same policy everywhere**: built once before forking, each worker holds a copy of the
  same object (nothing is re-read from disk);
* **one CA**: made in the supervisor, so clients trust one bundle whichever worker answers;
  its key stays in memory (the workers' copies of it too), the files are the supervisor's to
  remove when it stops;
* **audit lines whole**: every worker appends to the one ``O_APPEND`` file descriptor with one
  ``write`` per line (:mod:`.audit`);
* **no shared mutable state is needed**: a plain policy decides each request alone. A decider
  (interactive or guardian approvals, hosts approved for the session) would have to be
  shared, so a proxy with one refuses to fork: keep one process there (sandbox and agent
  sessions embed a single in-process proxy anyway). Connection limits, the blocked-request
  ring buffer and the upstream connection pool are per worker; the supervisor sums the
  blocked counts when it stops.

Start-up happens with SIGINT/SIGTERM blocked, so a signal can neither reach a worker before
its own handlers are in place nor run the supervisor's forwarding handler inside a worker.
When a worker exits on its own (a crash), the supervisor stops the others and reports it:
a proxy never keeps running with part of its capacity silently gone. When the supervisor
itself dies, even by SIGKILL, the workers see their lifeline pipe close and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import traceback
from collections.abc import Callable
from types import FrameType

from codex_admin.errors import CodexError
from codex_admin.proxy.eventloop import freeze_start_up_heap, run_on_event_loop
from codex_admin.proxy.server import ProxyServer

__all__ = ["MAX_WORKERS", "serve_in_workers"]

MAX_WORKERS = 64
_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def serve_in_workers(
    server: ProxyServer, workers: int, *, on_ready: Callable[[], None] | None = None
) -> int:
    """Serve ``server`` from ``workers`` forked processes until SIGINT or SIGTERM.

    ``on_ready`` runs in this process once every worker exists (print the addresses there).
    Returns the number of requests the workers blocked. Raises :class:`CodexError` when the
    server has a decider, ``workers`` is out of range, or a worker ended on its own.
    """
    if server.decider is not None:
        raise CodexError(
            "a proxy that asks a decider cannot run in several worker processes",
            hint="approvals and hosts approved for the session live in one process: "
            "run it with one worker",
        )
    if not 1 <= workers <= MAX_WORKERS:
        raise CodexError(f"workers must be between 1 and {MAX_WORKERS}, not {workers}")
    server.bind()
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    report_read, report_write = os.pipe()
    # Never written: a worker sees EOF on it once the supervisor is gone, however it went
    # (even SIGKILL), and stops instead of serving on as an orphan.
    lifeline_read, lifeline_write = os.pipe()
    alive: set[int] = set()
    stopping = False
    failure: str | None = None

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    # Frozen before forking, the policy and imports stay in pages the workers share: a
    # collection in a worker walks only what the worker made (measured: +140 kB private
    # per worker instead of +8 MB when each worker collected the inherited heap itself).
    freeze_start_up_heap()
    try:
        for _ in range(workers):
            pid = os.fork()
            if pid == 0:  # the worker: never returns (nor unwinds) into the caller's code
                status = 70  # EX_SOFTWARE, unless the worker says otherwise
                try:
                    os.close(report_read)
                    os.close(lifeline_write)
                    status = _worker(server, report_write, lifeline_read, old_mask)
                finally:
                    if sys.exc_info()[1] is not None:  # a bug: show it, then leave anyway
                        traceback.print_exc()
                    sys.stderr.flush()
                    os._exit(status)
            alive.add(pid)
        os.close(report_write)
        report_write = -1
        os.close(lifeline_read)
        lifeline_read = -1
        for signum in _SIGNALS:
            signal.signal(signum, forward)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        if on_ready is not None:
            on_ready()
        while alive:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            alive.discard(pid)
            if not stopping:
                failure = _describe(status)
                forward(signal.SIGTERM, None)
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        forward(signal.SIGTERM, None)
        for pid in list(alive):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        for fd in (report_write, lifeline_read, lifeline_write):
            if fd >= 0:
                os.close(fd)
        blocked = _read_reports(report_read)
        server.release()
        gc.unfreeze()  # the caller goes on: what it still holds may be collected again
    if failure is not None:
        raise CodexError(
            f"a proxy worker {failure}; the other workers were stopped",
            hint="see the worker's message above; run with one worker to debug",
        )
    return blocked


def _worker(
    server: ProxyServer, report: int, lifeline: int, mask: set[int | signal.Signals]
) -> int:
    """The body of one forked worker; returns its exit status."""
    for signum in _SIGNALS:  # the supervisor's Python handlers are not ours
        signal.signal(signum, signal.SIG_DFL)
    try:
        run_on_event_loop(lambda: _serve(server, lifeline, mask))
    except CodexError as err:
        sys.stderr.write(f"codex proxy worker {os.getpid()}: {err}\n")
        return 1
    with contextlib.suppress(OSError):
        os.write(report, f"{server.audit.blocked_total}\n".encode())
    return 0


async def _serve(server: ProxyServer, lifeline: int, mask: set[int | signal.Signals]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in _SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    loop.add_reader(lifeline, stop.set)  # readable only at EOF: the supervisor is gone
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a signal sent meanwhile arrives now
    try:
        await server.start()
        freeze_start_up_heap()
        await stop.wait()
    finally:
        await server.stop()


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def _read_reports(fd: int) -> int:
    chunks = []
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    os.close(fd)
    return sum(int(line) for line in b"".join(chunks).split() if line.isdigit())
