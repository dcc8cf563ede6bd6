"""The HTTP listener's first read: the request head, on the bare transport.

With asyncio's stream server every connection got a StreamReader, a StreamReaderProtocol, a
StreamWriter and a task before its first byte was read: measured, about 60 µs of the ~270 µs
of proxy CPU a one-request CONNECT tunnel cost (issue 11: tunnels/s against tinyproxy), for
a connection whose bytes never go through a StreamReader again. :class:`HttpIntake` is each
connection's first protocol instead. It buffers the request head, bounded in size
(:data:`~.http1.MAX_HEAD_BYTES`) and in time (the header timeout), and then:

- an opaque ``CONNECT`` (its head parsed by the same strict parser, its target not one the
  proxy inspects) goes to ``on_connect`` with the bytes read past the head, the transport's
  reading paused, so the tunnel starts on the transport without streams ever being built;
- anything else (plain HTTP, an inspected CONNECT, a head that is malformed, too large or cut
  short by EOF) goes to ``on_streams`` with every byte read so far, the EOF if one came, and
  the time left of the header timeout: the stream handler then reads them as if it had read
  them itself, so its answers (400, 431, ...) are unchanged.

A connection is admitted (or closed at once) in ``connection_made``, by :class:`IntakeQueue`
asking the server whether it has room: not in the protocol factory, since asyncio may call
the factory for a whole burst of accepted connections before any of them is connected, and
a count taken there would miss every one of them. It then leaves the intake exactly once;
until then :meth:`HttpIntake.abort` (its header timeout, through :class:`IntakeQueue`, or the
proxy stopping) closes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from codex_admin.proxy.http1 import (
    MAX_HEAD_BYTES,
    Authority,
    ProtocolError,
    parse_authority,
    parse_head,
)

__all__ = ["HttpIntake", "IntakeQueue", "OnConnect", "OnStreams"]

OnConnect = Callable[[asyncio.Transport, Authority, bytes], None]
"""``(transport, authority, leftover)``: serve an opaque CONNECT (reading is paused)."""
OnStreams = Callable[[asyncio.Transport, bytes, bool, float], None]
"""``(transport, buffered, eof, head_timeout_left)``: serve the connection with streams."""

_CONNECT = b"CONNECT "
_END = b"\r\n\r\n"


class IntakeQueue:
    """The connections still sending their first head, oldest first, under one timer.

    Every intake has the same header timeout, so accept order is deadline order: one timer,
    set for the oldest, aborts whatever is due and re-arms for the next one. A connection
    costs no timer of its own (a ``call_at`` and a ``cancel`` per one-request client were
    measurable).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        header_timeout: float,
        admit: Callable[[], bool],
    ) -> None:
        self._loop = loop
        self.header_timeout = header_timeout
        self._admit = admit  # whether the server may take one more connection now
        self._due: dict[HttpIntake, float] = {}  # insertion order is deadline order
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._due)

    def add(self, intake: HttpIntake) -> bool:
        """Admit ``intake`` and start its header timeout; False when the server refuses it
        (at its connection limit, or stopping)."""
        if not self._admit():
            return False
        due = self._loop.time() + self.header_timeout
        self._due[intake] = due
        if self._timer is None:
            self._timer = self._loop.call_at(due, self._expire)
        return True

    def remove(self, intake: HttpIntake) -> float:
        """Forget ``intake``; the seconds its header timeout had left."""
        due = self._due.pop(intake, None)
        return 0.0 if due is None else max(due - self._loop.time(), 0.0)

    def abort_all(self) -> None:
        """Close every connection still in the intake (the proxy stops)."""
        for intake in list(self._due):
            intake.abort()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        now = self._loop.time()
        expired = []
        for intake, due in self._due.items():
            if due > now:
                self._timer = self._loop.call_at(due, self._expire)
                break
            expired.append(intake)
        for intake in expired:
            intake.abort()


class HttpIntake(asyncio.Protocol):
    """Read one request head, then hand the connection on (see the module docstring)."""

    __slots__ = ("_buffer", "_inspects_443", "_on_connect", "_on_streams", "_queue", "_transport")

    def __init__(
        self,
        queue: IntakeQueue,
        *,
        inspects_443: bool,
        on_connect: OnConnect,
        on_streams: OnStreams,
    ) -> None:
        self._queue = queue
        self._inspects_443 = inspects_443
        self._on_connect = on_connect
        self._on_streams = on_streams
        self._buffer: bytes | bytearray = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._queue.add(self):
            transport.close()  # over the connection limit, or the proxy is stopping
            return
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._transport is None:  # already handed on
            return
        if self._buffer:
            # A head in many pieces grows one bytearray: re-joining bytes per piece would
            # copy quadratically (a client trickling 64 KiB a byte at a time: gigabytes).
            if isinstance(self._buffer, bytes):
                self._buffer = bytearray(self._buffer)
            self._buffer += data
        else:
            self._buffer = data
        buffer = self._buffer
        if not buffer.startswith(_CONNECT):
            if not _CONNECT.startswith(buffer):  # not a CONNECT: streams from the first byte
                self._to_streams(eof=False)
            return
        end = buffer.find(_END, max(0, len(buffer) - len(data) - 3))
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                self._to_streams(eof=False)  # the stream handler answers 431
            return
        end += len(_END)
        authority = self._opaque_target(bytes(buffer[:end])) if end <= MAX_HEAD_BYTES else None
        if authority is None:
            self._to_streams(eof=False)
            return
        transport, _ = self._leave()
        transport.pause_reading()
        self._on_connect(transport, authority, bytes(buffer[end:]))

    def eof_received(self) -> bool:
        if self._transport is not None:
            self._to_streams(eof=True)
        return True  # the stream handler may still answer (a head cut short: 400)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._leave()

    def abort(self) -> None:
        """Close a connection still in the intake (header timeout, or the proxy stopping)."""
        if self._transport is not None:
            self._leave()[0].close()

    def _opaque_target(self, raw: bytes) -> Authority | None:
        """The CONNECT target when the head is well-formed and its tunnel is opaque."""
        try:
            head = parse_head(raw, request=True)
            if head.start[0] != "CONNECT":
                return None
            authority = parse_authority(head.start[1], None)
        except ProtocolError:
            return None
        if self._inspects_443 and authority.port == 443:
            return None
        return authority

    def _to_streams(self, *, eof: bool) -> None:
        buffered = bytes(self._buffer)
        transport, left = self._leave()
        self._on_streams(transport, buffered, eof, left)

    def _leave(self) -> tuple[asyncio.Transport, float]:
        """Leave the intake (exactly once): the transport, and the header time left."""
        transport = self._transport
        assert transport is not None
        self._transport = None
        self._buffer = b""
        return transport, self._queue.remove(self)
