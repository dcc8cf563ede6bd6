"""Run a function in a forked child with a memory cap and a wall-clock limit.

starlark-rust aborts the whole process when an allocation fails (``[1, 2] * 2147483647`` asks for
32 GiB and ends in SIGABRT) and cannot be interrupted inside one long operation (``"a" *
2147483647``). Neither can be caught in-process, so rules files are evaluated in a ``fork()``ed
child: ``RLIMIT_AS`` turns a memory bomb into a failed allocation in the child only, the parent
kills the child at the deadline, and a crash of any kind becomes an error message. The child
returns its result pickled over a pipe; the parent only unpickles data from its own child.

Forking costs about a millisecond here. Where ``fork`` does not exist the caller runs in-process.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ChildFailure", "can_isolate", "run_in_child"]


class ChildFailure(Exception):
    """The child timed out, crashed or was killed; the text says which."""


def can_isolate() -> bool:
    return hasattr(os, "fork")


def _virtual_size() -> int:
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _child(write_fd: int, func: Callable[[], Any], memory_bytes: int) -> None:
    code = 0
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)  # Rust panic/abort banners are reported by the parent instead
        base = _virtual_size()
        if base and memory_bytes:
            limit = base + memory_bytes
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        data = pickle.dumps(func(), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            written = os.write(write_fd, view)
            view = view[written:]
    except BaseException:  # noqa: BLE001 - the child must always reach os._exit
        code = 70
    finally:
        os._exit(code)


def run_in_child(func: Callable[[], Any], *, timeout: float, memory_bytes: int) -> Any:
    """``func()`` evaluated in a child process; raises :class:`ChildFailure` on any failure."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        _child(write_fd, func, memory_bytes)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if timed_out:
        raise ChildFailure(f"evaluation exceeded {timeout:g}s")
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        raise ChildFailure(
            f"the evaluator was stopped by {name}; the file probably builds a value that is "
            "too large (memory limit) or crashed the interpreter"
        )
    if os.WEXITSTATUS(status) != 0 or not chunks:
        raise ChildFailure(
            "the evaluator failed (it probably ran out of memory building a huge value)"
        )
    return pickle.loads(b"".join(chunks))
