"""A direct HTTP/1.1 transport for httpx on asyncio streams and h11: what the model client uses.

httpx's own transport goes through httpcore, which on asyncio runs everything -- sockets, TLS,
locks, events -- through anyio. Importing httpcore and anyio is about a third of `codex exec`'s
start-up to the first model request (issue 14: within 8x a bare `python -c pass`;
benchmarks/agent_bench.py), for one connection at a time to one origin. This transport does
the same work with the standard library: asyncio streams (``open_connection``'s recipe; TLS
with the caller's verifying context, SNI, ALPN ``http/1.1``) and h11 -- the HTTP/1.1 state
machine httpcore itself uses, so what goes on the wire, the framing checks and their error
texts are h11's.

It keeps httpcore's observable behaviour: the timeouts of the request's ``timeout`` extension
(``connect``, ``read``, ``write``); happy eyeballs across a name's addresses; httpx's exception
classes and messages (``ConnectError`` with the ``OSError``/``ssl`` error as its cause,
``ReadError``, ``RemoteProtocolError`` "Server disconnected without sending a response.", h11's
``LocalProtocolError`` for a header value that cannot be sent); keep-alive: a connection whose
response was read to the end is reused for the next request to its origin, unless it has been
idle for :data:`KEEPALIVE_EXPIRY` seconds, the server has closed it, or the server sent anything
not asked for (a 408 on an idle connection, a stray response: it must never be read as the
answer to the next request); at most :data:`MAX_IDLE` connections wait idle (a burst of
parallel requests would otherwise leave one open socket each); a response closed early closes
its connection. Only direct
connections: a client that honours proxy variables uses httpx's own transport
(:func:`codex_admin.providers.http.build_http_client`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, SupportsIndex

import h11

from codex_admin.providers.httpx_lib import httpx

__all__ = ["KEEPALIVE_EXPIRY", "MAX_IDLE", "DirectTransport"]

KEEPALIVE_EXPIRY = 5.0  # httpx's default Limits(keepalive_expiry=5.0)
MAX_IDLE = 20  # httpx's default Limits(max_keepalive_connections=20); the oldest goes first
READ_NUM_BYTES = 64 * 1024  # as httpcore
MAX_INCOMPLETE_EVENT_SIZE = 100 * 1024  # as httpcore: a header block larger than this fails
# Happy eyeballs, as httpcore (anyio's connect_tcp): the next address of a name is tried this
# long after the previous one, so an address that drops SYNs (a broken IPv6 route) does not
# use up the whole connect timeout while the next one would answer.
HAPPY_EYEBALLS_DELAY = 0.25

_Origin = tuple[str, str, int]


def _timeout(request: httpx.Request, name: str) -> float | None:
    value = request.extensions.get("timeout", {}).get(name)
    return value if isinstance(value, int | float) else None


class _Reader(asyncio.StreamReader):
    """A stream reader that counts the bytes it received, so a connection can tell that
    something arrived while it was idle (httpcore asks whether the idle socket is readable;
    asyncio has already moved such bytes into the reader, which has no public way to say so)."""

    received = 0

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        chunk = bytes(data)  # the protocol passes bytes: the same object, no copy
        self.received += len(chunk)
        super().feed_data(chunk)


class _Connection:
    """One HTTP/1.1 connection: an h11 state machine over an asyncio stream pair."""

    def __init__(self, origin: _Origin, reader: _Reader, writer: asyncio.StreamWriter) -> None:
        self.origin = origin
        self._reader = reader
        self._writer = writer
        self._h11 = h11.Connection(
            our_role=h11.CLIENT, max_incomplete_event_size=MAX_INCOMPLETE_EVENT_SIZE
        )
        self._consumed = 0  # bytes read from the reader into h11
        self.idle_since: float | None = None
        self.closed = False

    def expired(self) -> bool:
        """Idle too long, closed by the server (EOF seen), or holding bytes no request asked
        for (received after the last response, or after its end in the same read) -- not
        worth a request: they would be parsed as its response."""
        idle = time.monotonic() - self.idle_since if self.idle_since is not None else 0.0
        return (
            self.closed
            or idle > KEEPALIVE_EXPIRY
            or self._reader.at_eof()
            or self._writer.is_closing()
            or self._reader.received != self._consumed
            or bool(self._h11.trailing_data[0])
        )

    async def _write(self, data: bytes | None, timeout: float | None) -> None:
        if not data:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(data)
                await self._writer.drain()
        except TimeoutError as err:
            raise httpx.WriteTimeout(str(err)) from err
        except OSError as err:
            raise httpx.WriteError(str(err)) from err

    def _event(self, event: h11.Event) -> bytes | None:
        try:
            return self._h11.send(event)
        except h11.LocalProtocolError as err:
            raise httpx.LocalProtocolError(str(err)) from err

    async def send(self, request: httpx.Request) -> tuple[h11.Response, float | None]:
        """Write ``request`` (a write error is ignored so the server's answer can be read,
        as httpcore does) and read the response head."""
        write = _timeout(request, "write")
        try:  # h11 validates the head when it is built: a CR/LF in a value never leaves
            start = h11.Request(
                method=request.method, target=request.url.raw_path, headers=request.headers.raw
            )
        except h11.LocalProtocolError as err:
            raise httpx.LocalProtocolError(str(err)) from err
        head = self._event(start)
        try:
            await self._write(head, write)
            async for chunk in request.stream:  # type: ignore[union-attr]
                await self._write(self._event(h11.Data(data=chunk)), write)
            await self._write(self._event(h11.EndOfMessage()), write)
        except httpx.WriteError:
            pass
        read = _timeout(request, "read")
        while True:
            event = await self.next_event(read)
            if isinstance(event, h11.Response):
                return event, read

    async def next_event(self, timeout: float | None) -> h11.Event:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as err:
                raise httpx.RemoteProtocolError(str(err)) from err
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            try:
                async with asyncio.timeout(timeout):
                    data = await self._reader.read(READ_NUM_BYTES)
            except TimeoutError as err:
                raise httpx.ReadTimeout(str(err)) from err
            except OSError as err:
                raise httpx.ReadError(str(err)) from err
            self._consumed += len(data)
            if data == b"" and self._h11.their_state == h11.SEND_RESPONSE:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            try:
                self._h11.receive_data(data)
            except h11.RemoteProtocolError as err:
                raise httpx.RemoteProtocolError(str(err)) from err

    def finish(self) -> bool:
        """After a response: ready for the next request (True), or closed."""
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            self.idle_since = time.monotonic()
            return True
        self.close()
        return False

    def close(self) -> None:
        """Close at once (no TLS close_notify wait, as httpcore on anyio): the socket is
        released on the loop's next iteration."""
        if not self.closed:
            self.closed = True
            self._writer.transport.abort()


class _Body(httpx.AsyncByteStream):
    """The response body, chunk by chunk; closing it early closes the connection."""

    def __init__(
        self, transport: DirectTransport, connection: _Connection, timeout: float | None
    ) -> None:
        self._transport = transport
        self._connection = connection
        self._timeout = timeout
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while not self._done:
                event = await self._connection.next_event(self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage | h11.PAUSED):
                    break
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            self._transport.release(self._connection)


class DirectTransport(httpx.AsyncBaseTransport):
    """Direct HTTP/1.1 connections, TLS verified with ``ssl_context`` (see the module doc)."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl = ssl_context
        self._ssl.set_alpn_protocols(["http/1.1"])  # as httpcore does with the given context
        self._idle: list[_Connection] = []
        self._active: set[_Connection] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scheme = request.url.scheme
        if scheme not in ("http", "https"):
            if scheme == "":
                raise httpx.UnsupportedProtocol(
                    "Request URL is missing an 'http://' or 'https://' protocol."
                )
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'."
            )
        port = request.url.port or (443 if scheme == "https" else 80)
        origin = (scheme, request.url.raw_host.decode("ascii"), port)  # IDNA-encoded, as httpcore
        connection = self._take_idle(origin) or await self._connect(origin, request)
        self._active.add(connection)
        try:
            response, read_timeout = await connection.send(request)
        except BaseException:
            self._active.discard(connection)
            connection.close()
            raise
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers.raw_items(),
            stream=_Body(self, connection, read_timeout),
            extensions={
                "http_version": b"HTTP/" + response.http_version,
                "reason_phrase": response.reason,
            },
        )

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        for connection in list(self._idle):
            if connection.expired():
                self._idle.remove(connection)
                connection.close()
            elif connection.origin == origin:
                self._idle.remove(connection)
                return connection
        return None

    async def _connect(self, origin: _Origin, request: httpx.Request) -> _Connection:
        scheme, host, port = origin
        tls: dict[str, Any] = {}
        if scheme == "https":
            tls = {"ssl": self._ssl, "server_hostname": host}
        loop = asyncio.get_running_loop()
        reader = _Reader()  # asyncio.open_connection, with the counting reader
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            async with asyncio.timeout(_timeout(request, "connect")):
                transport, _ = await loop.create_connection(
                    lambda: protocol, host, port, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY, **tls
                )
        except TimeoutError as err:
            raise httpx.ConnectTimeout(str(err)) from err
        except OSError as err:  # ssl.SSLError included: a certificate that does not verify
            raise httpx.ConnectError(str(err)) from err
        return _Connection(origin, reader, asyncio.StreamWriter(transport, protocol, reader, loop))

    def release(self, connection: _Connection) -> None:
        self._active.discard(connection)
        if connection.finish():
            self._idle.append(connection)
            while len(self._idle) > MAX_IDLE:  # a burst of parallel requests leaves many
                self._idle.pop(0).close()

    async def aclose(self) -> None:
        for connection in (*self._idle, *self._active):
            connection.close()
        self._idle.clear()
        self._active.clear()
        with contextlib.suppress(RuntimeError):
            await asyncio.sleep(0)  # let the transports release their sockets
