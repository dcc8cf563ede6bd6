"""Run a function in a forked child with a memory cap and a wall-clock limit, streaming results.

starlark-rust aborts the whole process when an allocation fails (``[1, 2] * 2147483647`` asks for
32 GiB and ends in SIGABRT) and cannot be interrupted inside one long operation (``"a" *
2147483647``). Neither can be caught in-process, so rules files are evaluated in a ``fork()``ed
child: ``RLIMIT_AS`` turns a memory bomb into a failed allocation in the child only, the parent
kills the child at the deadline, and a crash of any kind becomes an error message.

The child sends *frames* (length-prefixed bytes) over a pipe while it works and a final frame
with its result; the parent hands each frame to a callback as it arrives, so parsing a large file
is pipelined over two processes, and the parent can stop the child early. Frames are opaque bytes
here; the caller decodes them as JSON (never pickle: the child ran untrusted rules).

Three things make a contained crash quiet and prompt:

* the child's stdout and stderr go to ``/dev/null`` and Python's ``faulthandler`` is switched off
  in the child (pytest and ``-X faulthandler`` enable it on a private copy of stderr, which would
  print "Fatal Python error: Aborted" and a stack dump for every contained memory bomb);
* ``RUST_BACKTRACE``/``RUST_LIB_BACKTRACE`` are set to ``0`` in the child: with backtraces on,
  a Python error raised inside starlark-rust captures a backtrace, the capture allocates, the
  allocation fails at the memory cap, and Rust's OOM hook then waits forever for the backtrace
  lock its own thread holds (a deadlock observed with ``RUST_BACKTRACE=1`` at 100,000 rules);
* the parent's deadline still kills anything that hangs.

Forking costs about a millisecond here. Where ``fork`` does not exist the caller runs in-process.
"""

from __future__ import annotations

import faulthandler
import os
import resource
import select
import signal
import struct
import time
from collections.abc import Callable

__all__ = ["ChildFailure", "can_isolate", "run_in_child", "run_streaming"]

_HEADER = struct.Struct(">cI")  # kind (b"R" record frame, b"F" final frame), payload length
_MAX_FRAME = 1 << 30


class ChildFailure(Exception):
    """The child timed out, crashed or was killed; ``kind`` is timeout, memory, signal or exit."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def can_isolate() -> bool:
    return hasattr(os, "fork")


def _virtual_size() -> int:
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _child(write_fd: int, func: Callable[[Callable[[bytes], None]], bytes], memory: int) -> None:
    code = 0
    try:
        faulthandler.disable()
        os.environ["RUST_BACKTRACE"] = "0"
        os.environ["RUST_LIB_BACKTRACE"] = "0"
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)  # Rust panic/abort banners are reported by the parent instead
        base = _virtual_size()
        if base and memory:
            limit = base + memory
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        def emit(payload: bytes) -> None:
            _write_all(write_fd, _HEADER.pack(b"R", len(payload)) + payload)

        result = func(emit)
        _write_all(write_fd, _HEADER.pack(b"F", len(result)) + result)
    except MemoryError:
        code = 71
    except BaseException:  # noqa: BLE001 - the child must always reach os._exit
        code = 70
    finally:
        os._exit(code)


def run_streaming(
    func: Callable[[Callable[[bytes], None]], bytes],
    on_frame: Callable[[bytes], None],
    *,
    timeout: float,
    memory_bytes: int,
) -> bytes:
    """Run ``func(emit)`` in a child; ``on_frame`` sees each emitted frame; returns the result.

    If ``on_frame`` raises, the child is killed and the exception propagates. Raises
    :class:`ChildFailure` when the child times out, crashes or exits without a result.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        _child(write_fd, func, memory_bytes)
    os.close(write_fd)
    buffer = bytearray()
    result: bytes | None = None
    deadline = time.monotonic() + timeout
    timed_out = False
    finished = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            buffer += chunk
            while len(buffer) >= _HEADER.size:
                kind, size = _HEADER.unpack_from(buffer)
                if size > _MAX_FRAME:
                    raise ChildFailure("the evaluator sent a malformed frame", "exit")
                if len(buffer) < _HEADER.size + size:
                    break
                payload = bytes(buffer[_HEADER.size : _HEADER.size + size])
                del buffer[: _HEADER.size + size]
                if kind == b"F":
                    result = payload
                else:
                    on_frame(payload)
        finished = True
    finally:
        os.close(read_fd)
        if not finished or timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if timed_out:
        raise ChildFailure(f"evaluation exceeded {timeout:g}s", "timeout")
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        raise ChildFailure(f"the evaluator was stopped by {name}", "signal")
    if os.WEXITSTATUS(status) == 71:
        raise ChildFailure("the evaluator ran out of memory", "memory")
    if os.WEXITSTATUS(status) != 0 or result is None:
        raise ChildFailure("the evaluator failed without a result", "exit")
    return result


def run_in_child(func: Callable[[], bytes], *, timeout: float, memory_bytes: int) -> bytes:
    """``func()`` (which returns bytes) evaluated in a child; see :func:`run_streaming`."""

    def ignore(_: bytes) -> None:
        raise ChildFailure("unexpected frame", "exit")

    return run_streaming(lambda emit: func(), ignore, timeout=timeout, memory_bytes=memory_bytes)
