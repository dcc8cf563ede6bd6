"""Opaque tunnels (CONNECT, SOCKS5 TCP) that move bytes in the kernel with ``splice(2)``.

An admitted tunnel needs no inspection, so copying every byte through Python is pure overhead:
on a busy 2-core laptop it halves bulk throughput. :func:`relay` takes both sockets away from
their asyncio transports and each direction becomes ``socket → pipe → socket`` via non-blocking
``os.splice``, driven by the event loop's readiness callbacks: one or two system calls per
readiness event, no user-space copy. Where ``splice`` is missing (macOS) or refuses a socket
type, the direction falls back to ``recv``/``send`` in the same loop.

Most tunnels are short (one TLS request), and for them every set-up system call counts (issue
11: tunnels/s against tinyproxy). So :func:`tunnel_transport` starts with the client still on its
transport and the upstream on plain ``recv``/``send`` (:class:`_Streamed`), and hands over to
:func:`relay`, which then splices at once, only after :data:`SPLICE_AFTER` bytes: a short tunnel
never pays for a ``dup``, a second loop registration or a 1 MiB pipe per direction.

Half-close is honoured (EOF in one direction becomes ``shutdown(SHUT_WR)`` on the other), the
tunnel ends when both directions have finished, either side errors, or (optionally) nothing
moved for an idle timeout; cancellation (the proxy stopping) closes every descriptor.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import socket
from typing import cast

__all__ = [
    "SPLICE_AFTER",
    "detach",
    "relay",
    "take_buffered",
    "tunnel_socket",
    "tunnel_transport",
]

PIPE_SIZE = 1 << 20
SPLICE_AFTER = 256 * 1024
_COPY = 256 * 1024
_ROUNDS = 4  # fill/flush rounds per readiness event: fewer wake-ups, still fair
_F_SETPIPE_SZ = 1031
_READABLE, _WRITABLE = "src readable", "dst writable"
_SPLICE = hasattr(os, "splice")
_FLAGS = (getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)) if _SPLICE else 0


async def detach(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[socket.socket, bytes]:
    """Take the connected socket away from an asyncio stream.

    Returns a duplicate of the socket (same connection) and the bytes the stream had already
    read but nobody consumed (for example a TLS ClientHello pipelined after ``CONNECT``). The
    transport is flushed, then closed without ``shutdown``, so the connection lives on in the
    duplicate.
    """
    transport = cast(asyncio.Transport, writer.transport)
    transport.set_write_buffer_limits(high=0)
    await writer.drain()  # with a zero high-water mark this waits for an empty buffer
    transport.pause_reading()
    raw = writer.get_extra_info("socket")
    # Family, type and protocol given: socket() would otherwise ask the kernel for each.
    duplicate = socket.socket(raw.family, raw.type, raw.proto, fileno=os.dup(raw.fileno()))
    duplicate.setblocking(False)
    leftover = take_buffered(reader)
    transport.close()
    return duplicate, leftover


def take_buffered(reader: asyncio.StreamReader) -> bytes:
    """Take the bytes a paused StreamReader holds (asyncio has no public peek, so this
    empties its buffer)."""
    buffer = getattr(reader, "_buffer", None)
    if not isinstance(buffer, bytearray):  # a future asyncio: fail the tunnel, never drop bytes
        raise OSError("cannot take over the stream's buffered bytes")
    data = bytes(buffer)
    buffer.clear()
    return data


class _Tunnel:
    """Both directions of one relay and the one future that says the relay is over.

    The future completes when both directions have finished, one of them failed, or the idle
    timer found nothing moved for ``idle_timeout``. One future and (optionally) one timer per
    tunnel: ``asyncio.wait`` would add a waiter, callbacks and a set per wake-up, which short
    tunnels (one TLS request each) pay for on every connection.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, idle_timeout: float | None) -> None:
        self.loop = loop
        self.done: asyncio.Future[None] = loop.create_future()
        self.finished = 0
        self.idle_timeout = idle_timeout
        self.last_active = loop.time()
        self.timer: asyncio.TimerHandle | None = None
        if idle_timeout is not None:
            self.timer = loop.call_at(self.last_active + idle_timeout, self._check_idle)

    def direction_finished(self) -> None:
        self.finished += 1
        if self.finished == 2:
            self.end()

    def end(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def _check_idle(self) -> None:
        assert self.idle_timeout is not None
        due = self.last_active + self.idle_timeout
        if self.loop.time() >= due:
            self.timer = None
            self.end()
        else:  # something moved since the timer was set: look again when it could be idle
            self.timer = self.loop.call_at(due, self._check_idle)

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class _Direction:
    """One way of a tunnel: readable ``src`` → (pipe) → writable ``dst``."""

    def __init__(
        self,
        tunnel: _Tunnel,
        src: socket.socket,
        dst: socket.socket,
        prefix: bytes,
        splice_after: int,
    ):
        self.tunnel = tunnel
        self.loop = tunnel.loop
        self.src = src
        self.dst = dst
        self.src_fd = src.fileno()
        self.dst_fd = dst.fileno()
        self.pending = bytearray(prefix)  # user-space bytes to send before anything else
        self.in_pipe = 0
        self.eof = False
        self.waiting: str | None = None  # _READABLE, _WRITABLE or None (see start)
        self.pipe: tuple[int, int] | None = None
        self.can_splice = _SPLICE
        self.copied = 0  # bytes moved through user space so far
        self.splice_after = splice_after

    def _open_pipe(self) -> None:
        """Switch this direction to splice (called with nothing buffered in user space)."""
        try:
            self.pipe = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            # Out of descriptors (a pipe costs two): keep copying in user space, so the
            # tunnel still costs only its two sockets, as it would without splice.
            self.can_splice = False
            return
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.pipe[1], _F_SETPIPE_SZ, PIPE_SIZE)

    # -- scheduling ------------------------------------------------------------------------
    # A direction waits for one thing at a time: ``src`` readable or ``dst`` writable
    # (``self.waiting``), so it never asks the loop to drop a callback it does not have.
    def start(self) -> None:
        if self.pending:
            # Usually the proxy's own answer ("200 Connection established") ahead of the
            # upstream's bytes: send it at once, a fresh socket's send buffer is empty.
            try:
                flushed = self._flush()
            except OSError:
                self._fail()
                return
            if not flushed:
                self.loop.add_writer(self.dst_fd, self._on_writable)
                self.waiting = _WRITABLE
                return
        self.loop.add_reader(self.src_fd, self._on_readable)
        self.waiting = _READABLE

    def _wait_writable(self) -> None:
        self.loop.remove_reader(self.src_fd)
        self.loop.add_writer(self.dst_fd, self._on_writable)
        self.waiting = _WRITABLE

    def _wait_readable(self) -> None:
        self.loop.remove_writer(self.dst_fd)
        self.loop.add_reader(self.src_fd, self._on_readable)
        self.waiting = _READABLE

    # -- callbacks -------------------------------------------------------------------------
    def _on_readable(self) -> None:
        self.tunnel.last_active = self.loop.time()
        try:
            for _ in range(_ROUNDS):
                got = self._fill()
                if got is None:
                    return
                if got == 0:
                    self.eof = True
                if not self._flush():
                    self._wait_writable()
                    return
                if self.eof:
                    self._finish()
                    return
                if got < _COPY and self.pipe is None:
                    # A short read drained the socket: readiness is level-triggered, so the
                    # loop calls again when more arrives; trying now would only cost a
                    # system call that fails with EAGAIN. (A splicing direction carries a
                    # stream: its next round usually finds what arrived meanwhile, which
                    # is cheaper than another wake-up.)
                    return
        except OSError:
            self._fail()

    def _on_writable(self) -> None:
        self.tunnel.last_active = self.loop.time()
        try:
            if not self._flush():
                return
            if self.eof:
                self._finish()
            else:
                self._wait_readable()
        except OSError:
            self._fail()

    # -- byte moving -----------------------------------------------------------------------
    def _fill(self) -> int | None:
        """Move readable bytes into the pipe (or buffer); None when nothing was ready."""
        if (
            self.pipe is None
            and self.can_splice
            and self.copied >= self.splice_after
            and not self.pending
        ):
            self._open_pipe()
        if self.pipe is not None:
            try:
                moved = os.splice(self.src_fd, self.pipe[1], PIPE_SIZE, flags=_FLAGS)
            except BlockingIOError:
                return None
            except OSError as err:
                if err.errno != errno.EINVAL:
                    raise
                self._drop_pipe()  # this socket type cannot splice: copy from now on
                self.can_splice = False
            else:
                self.in_pipe += moved
                return moved
        try:
            data = self.src.recv(_COPY)
        except BlockingIOError:
            return None
        self.pending += data
        self.copied += len(data)
        return len(data)

    def _flush(self) -> bool:
        """Write what is buffered; True when everything went out."""
        while self.pending:
            try:
                sent = self.dst.send(self.pending)
            except BlockingIOError:
                return False
            del self.pending[:sent]
        while self.in_pipe:
            assert self.pipe is not None
            try:
                moved = os.splice(self.pipe[0], self.dst_fd, self.in_pipe, flags=_FLAGS)
            except BlockingIOError:
                return False
            self.in_pipe -= moved
        return True

    def _drop_pipe(self) -> None:
        if self.pipe is not None:
            for fd in self.pipe:
                os.close(fd)
            self.pipe = None

    # -- ending ----------------------------------------------------------------------------
    def _finish(self) -> None:
        self.stop()
        if self.tunnel.finished == 0:
            # Half-close: the other way may still carry an answer. (When it has finished
            # too, both sockets are closed right away, and close() sends the FIN.)
            with contextlib.suppress(OSError):
                self.dst.shutdown(socket.SHUT_WR)
        self.tunnel.direction_finished()

    def _fail(self) -> None:
        self.stop()
        self.tunnel.end()  # a reset or broken pipe ends the whole tunnel

    def stop(self) -> None:
        waiting, self.waiting = self.waiting, None
        with contextlib.suppress(OSError, ValueError):
            if waiting == _READABLE:
                self.loop.remove_reader(self.src_fd)
            elif waiting == _WRITABLE:
                self.loop.remove_writer(self.dst_fd)

    def close(self) -> None:
        self.stop()
        self._drop_pipe()


async def relay(
    a: socket.socket,
    b: socket.socket,
    *,
    a_leftover: bytes = b"",
    b_leftover: bytes = b"",
    idle_timeout: float | None = None,
    splice_after: int | None = None,
) -> None:
    """Copy both ways between connected non-blocking sockets until both have finished.

    ``a_leftover`` are bytes already read from ``a`` that must reach ``b`` first (and vice
    versa). With ``idle_timeout``, a tunnel in which no byte moved either way for that many
    seconds is closed. Both sockets are closed on return, whatever happens.
    """
    directions: list[_Direction] = []
    state: _Tunnel | None = None
    try:
        state = _Tunnel(asyncio.get_running_loop(), idle_timeout)
        after = SPLICE_AFTER if splice_after is None else splice_after
        forward = _Direction(state, a, b, a_leftover, after)
        directions.append(forward)
        backward = _Direction(state, b, a, b_leftover, after)
        directions.append(backward)
        forward.start()
        backward.start()
        await state.done
    finally:
        if state is not None:
            state.cancel_timer()
        for direction in directions:
            direction.close()
        for sock in (a, b):
            with contextlib.suppress(OSError):
                sock.close()


async def tunnel_socket(
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    upstream: socket.socket,
    *,
    client_prefix: bytes = b"",
    upstream_leftover: bytes = b"",
    idle_timeout: float | None = None,
) -> None:
    """:func:`tunnel_transport` for a client that has asyncio streams (SOCKS5, CONNECT after
    plain requests): what its StreamReader already holds goes upstream first."""
    reader, writer = client
    transport = cast(asyncio.Transport, writer.transport)
    try:
        leftover = take_buffered(reader)
    except OSError:
        transport.close()
        _close_registered(asyncio.get_running_loop(), upstream)
        raise
    await tunnel_transport(
        transport,
        upstream,
        client_prefix=client_prefix,
        upstream_leftover=upstream_leftover,
        client_leftover=leftover,
        client_eof=reader.at_eof(),
        idle_timeout=idle_timeout,
    )


async def tunnel_transport(
    transport: asyncio.Transport,
    upstream: socket.socket,
    *,
    client_prefix: bytes = b"",
    upstream_leftover: bytes = b"",
    client_leftover: bytes = b"",
    client_eof: bool = False,
    idle_timeout: float | None = None,
) -> None:
    """Run an opaque tunnel between a client's asyncio transport and a connected upstream
    socket, until both ends finish.

    ``client_prefix`` (the proxy's "tunnel established" answer) reaches the client first, then
    ``upstream_leftover`` (bytes already read from the upstream), then the upstream's stream.
    ``client_leftover`` are bytes already read from the client (a TLS ClientHello pipelined
    after ``CONNECT``), sent upstream first; ``client_eof``: the client has already half-closed.
    The transport must not have delivered anything past ``client_leftover`` to its protocol
    (pause its reading before any await). The upstream socket belongs to the tunnel from here
    on: it is closed when the tunnel ends, whatever happens; so is the transport.

    The client stays on its asyncio transport while the tunnel is short (:class:`_Streamed`):
    taking its socket away costs a ``dup``, a second registration with the event loop and a
    few ``getsockname``/``ioctl`` calls, more than a one-request TLS tunnel moves. Once
    :data:`SPLICE_AFTER` bytes went through, the socket is taken over for :func:`relay`.
    """
    loop = asyncio.get_running_loop()
    streamed: _Streamed | None = None
    taken: socket.socket | None = None
    try:
        streamed = _Streamed(loop, transport, upstream, idle_timeout)
        streamed.start(client_prefix + upstream_leftover, client_leftover, eof=client_eof)
        await streamed.tunnel.done
    finally:
        if streamed is not None:
            streamed.close()
            taken = streamed.taken
        if taken is None:  # over (or failed, or cancelled) before it turned into bulk
            transport.close()
            if transport.get_write_buffer_size() and idle_timeout is not None:
                # close() waits for the client to take what is buffered (at most one read):
                # a client that never reads would hold its descriptor for ever, where the
                # relay's raw close frees it at once. Give it one idle timeout, then reset.
                loop.call_later(idle_timeout, transport.abort)
            _close_registered(loop, upstream)
    if taken is not None:
        await relay(taken, upstream, idle_timeout=idle_timeout, splice_after=0)


def _close_registered(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    """Close ``sock`` after dropping any reader still registered for it (the one
    :func:`~codex_admin.proxy.dial.connect_socket` parks): a registration outliving its
    descriptor would be inherited by the next socket given the same number."""
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        loop.remove_reader(sock.fileno())
    sock.close()


class _Streamed(asyncio.Protocol):
    """The first bytes of a tunnel: the client through its transport, the upstream raw.

    Client → upstream: ``data_received`` sends at once; a partial send pauses the transport
    until the upstream is writable again. Upstream → client: a reader callback ``recv``s into
    ``transport.write``; the transport's write buffer limits are zero, so it pauses the
    upstream reader whenever anything is left unsent and resumes it once all went out (the
    tunnel buffers at most one read per direction, as :func:`relay` does). EOF either way
    becomes a half-close (``shutdown(SHUT_WR)`` / ``write_eof``); a reset on either side ends
    the tunnel. When :data:`SPLICE_AFTER` bytes have moved and nothing is buffered, the client
    socket is taken (``taken``) and the tunnel's future completes for :func:`relay` to go on.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        transport: asyncio.Transport,
        upstream: socket.socket,
        idle_timeout: float | None,
    ) -> None:
        self.loop = loop
        self.tunnel = _Tunnel(self.loop, idle_timeout)
        self.transport = transport
        self.upstream = upstream
        self.up_fd = upstream.fileno()
        self.to_upstream = bytearray()  # client bytes the upstream has not taken yet
        self.client_eof = False  # the client sent EOF (forwarded once to_upstream is empty)
        self.upstream_eof = False
        self.reading = False  # upstream reader registered
        self.writing = False  # upstream writer registered
        self.client_paused = False  # transport reading paused (upstream send buffer full)
        self.moved = 0
        self.can_take = True
        self.taken: socket.socket | None = None
        self.over = False

    def start(self, to_client: bytes, to_upstream: bytes, *, eof: bool) -> None:
        transport = self.transport
        transport.set_protocol(self)
        transport.set_write_buffer_limits(high=0)
        if transport.is_closing():  # the client is already gone
            self.tunnel.end()
            return
        if to_client:
            transport.write(to_client)  # a fresh socket's send buffer takes it at once
        if to_upstream:
            self.data_received(to_upstream)
        if eof:
            self.eof_received()
        elif not transport.is_reading():
            transport.resume_reading()  # the StreamReader may have paused it
        if not self.over and transport.get_write_buffer_size() == 0:
            self._read_upstream(True)

    # -- registrations with the loop ---------------------------------------------------------
    def _read_upstream(self, on: bool) -> None:
        if on and not self.reading and not self.upstream_eof:
            self.loop.add_reader(self.up_fd, self._upstream_readable)
            self.reading = True
        elif not on and self.reading:
            self.loop.remove_reader(self.up_fd)
            self.reading = False

    def _write_upstream(self, on: bool) -> None:
        if on and not self.writing:
            self.loop.add_writer(self.up_fd, self._upstream_writable)
            self.writing = True
        elif not on and self.writing:
            self.loop.remove_writer(self.up_fd)
            self.writing = False

    # -- client → upstream -------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.over:
            return
        self.tunnel.last_active = self.loop.time()
        self.moved += len(data)
        if self.to_upstream:
            self.to_upstream += data
            return
        try:
            sent = self.upstream.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._end()
            return
        if sent < len(data):
            self.to_upstream += data[sent:]
            self.transport.pause_reading()
            self.client_paused = True
            self._write_upstream(True)
        else:
            self._maybe_take()

    def eof_received(self) -> bool:
        self.client_eof = True
        if not self.to_upstream:
            self._client_done()
        return True  # keep the transport open: the upstream may still answer

    def _client_done(self) -> None:
        if not self.tunnel.finished:  # else both ways are done: close() sends the FIN
            with contextlib.suppress(OSError):
                self.upstream.shutdown(socket.SHUT_WR)
        self._finished()

    def _upstream_writable(self) -> None:
        self.tunnel.last_active = self.loop.time()
        try:
            sent = self.upstream.send(self.to_upstream)
        except BlockingIOError:
            return
        except OSError:
            self._end()
            return
        del self.to_upstream[:sent]
        if self.to_upstream:
            return
        self._write_upstream(False)
        if self.client_eof:
            self._client_done()
        else:
            self.client_paused = False
            self.transport.resume_reading()
            self._maybe_take()

    # -- upstream → client -------------------------------------------------------------------
    def _upstream_readable(self) -> None:
        self.tunnel.last_active = self.loop.time()
        try:
            data = self.upstream.recv(_COPY)
        except BlockingIOError:
            return
        except OSError:
            self._end()
            return
        if not data:
            self._read_upstream(False)
            self.upstream_eof = True
            if not self.tunnel.finished:  # else both ways are done: close() sends the FIN
                with contextlib.suppress(OSError, RuntimeError):
                    self.transport.write_eof()
            self._finished()
            return
        self.moved += len(data)
        self.transport.write(data)  # pauses writing (and so this reader) if not all went out
        if not self.over and self.reading:
            self._maybe_take()

    def pause_writing(self) -> None:
        self._read_upstream(False)

    def resume_writing(self) -> None:
        self.tunnel.last_active = self.loop.time()  # the client took what was buffered
        if not self.over:
            self._read_upstream(True)
            self._maybe_take()

    # -- ending ------------------------------------------------------------------------------
    def connection_lost(self, exc: Exception | None) -> None:
        self._end()  # the client went away (or reset): nothing more can reach it

    def _finished(self) -> None:
        self.tunnel.direction_finished()
        if self.tunnel.done.done():
            self._stop()

    def _end(self) -> None:
        self._stop()
        self.tunnel.end()

    def _stop(self) -> None:
        self.over = True
        self._read_upstream(False)
        self._write_upstream(False)

    def _maybe_take(self) -> None:
        """Hand the client socket to :func:`relay` once this tunnel turned out to be bulk."""
        if (
            self.moved < SPLICE_AFTER
            or not self.can_take
            or self.over
            or self.to_upstream
            or self.client_eof
            or self.upstream_eof
            or self.tunnel.finished
            or self.transport.get_write_buffer_size()
        ):
            return
        raw = self.transport.get_extra_info("socket")
        try:
            fd = os.dup(raw.fileno())
        except OSError:  # out of descriptors: stay on the transport, which still works
            self.can_take = False
            return
        self.transport.pause_reading()
        self.taken = socket.socket(raw.family, raw.type, raw.proto, fileno=fd)
        self.taken.setblocking(False)
        self._end()
        self.transport.close()  # no shutdown: the connection lives on in the duplicate

    def close(self) -> None:
        self.tunnel.cancel_timer()
        self._stop()
