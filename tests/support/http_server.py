"""A small real HTTP/1.1 server on 127.0.0.1 that runs its own asyncio loop in a thread.

The base of the mock model servers and the mock OAuth issuer. Sync tests use it as a context
manager; the handler is a coroutine that gets the parsed request and a :class:`ResponseWriter`
(which can stream, cut the connection, or stall), so failure modes are real socket behaviour:

    class Echo(ThreadedHttpServer):
        async def handle(self, request, w):
            await w.send(200, {"content-type": "text/plain"}, request.body)

    with Echo() as server:
        httpx.post(server.url("/x"), content=b"hi")
        assert server.requests[0].body == b"hi"

Every request is recorded (:attr:`ThreadedHttpServer.requests`): method, path, query, headers
(lower-cased names), body and parsed JSON/form. ``tls=`` takes an ``ssl.SSLContext`` to serve
HTTPS. Connections are keep-alive unless the handler closes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "Chunking",
    "RecordedRequest",
    "ResponseWriter",
    "ThreadedHttpServer",
    "awkward_chunks",
    "split_chunks",
]

_REASONS = {
    200: "OK",
    201: "Created",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    418: "I'm a teapot",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]]
    body: bytes
    received_at: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}


# A chunking spec: None = one write per frame; an int = fixed piece size; a sequence of ints =
# sizes used in turn; "awkward" = :func:`awkward_chunks`; or any function bytes -> pieces.
Chunking = None | int | Sequence[int] | str | Callable[[bytes], list[bytes]]


def awkward_chunks(data: bytes) -> list[bytes]:
    """Cut ``data`` at the worst places: between CR and LF, inside every multi-byte UTF-8
    character, right after each ``:`` and each ``\\n``, and otherwise every 7 bytes."""
    cuts = {
        i
        for i in range(1, len(data))
        if (data[i - 1] == 0x0D and data[i] == 0x0A)  # between CR and LF
        or 0x80 <= data[i] <= 0xBF  # inside a multi-byte UTF-8 character
        or data[i - 1] in (0x3A, 0x0A)  # after ":" and after LF
        or i % 7 == 0
    }
    pieces, start = [], 0
    for cut in sorted(cuts):
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return [p for p in pieces if p]


def split_chunks(data: bytes, chunking: Chunking) -> list[bytes]:
    """``data`` cut according to ``chunking`` (see :data:`Chunking`)."""
    if chunking is None or not data:
        return [data] if data else []
    if callable(chunking) and not isinstance(chunking, str):
        return [p for p in chunking(data) if p]
    if chunking == "awkward":
        return awkward_chunks(data)
    if isinstance(chunking, str):
        raise ValueError(f"unknown chunking {chunking!r}")
    sizes = [chunking] if isinstance(chunking, int) else list(chunking)
    if not sizes or any(s <= 0 for s in sizes):
        raise ValueError("chunk sizes must be positive")
    pieces, pos, i = [], 0, 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        pieces.append(data[pos : pos + size])
        pos += size
        i += 1
    return pieces


class ResponseWriter:
    """Writes one response: all at once (:meth:`send`) or streamed (:meth:`start` ...)."""

    def __init__(self, writer: asyncio.StreamWriter, stopping: asyncio.Event) -> None:
        self._writer = writer
        self._stopping = stopping
        self._framing = "length"
        self.keep_alive = True

    async def send(
        self,
        status: int,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes | str = b"",
    ) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        pairs.append(("Content-Length", str(len(data))))
        self._head(status, pairs)
        self._writer.write(data)
        await self._writer.drain()

    async def start(
        self,
        status: int,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        framing: str = "chunked",
    ) -> None:
        """Begin a streamed body: ``chunked`` (each write is one chunk) or ``close`` (the body
        ends when the connection closes)."""
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        if framing == "chunked":
            pairs.append(("Transfer-Encoding", "chunked"))
        elif framing == "close":
            pairs.append(("Connection", "close"))
            self.keep_alive = False
        else:
            raise ValueError(f"unknown framing {framing!r}")
        self._framing = framing
        self._head(status, pairs)
        await self._writer.drain()

    async def write(self, data: bytes) -> None:
        if not data:
            return
        if self._framing == "chunked":
            self._writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        else:
            self._writer.write(data)
        await self._writer.drain()

    async def end(self) -> None:
        """Finish the body properly (the terminating chunk, or the close)."""
        if self._framing == "chunked":
            self._writer.write(b"0\r\n\r\n")
            await self._writer.drain()
        else:
            self.close()

    def close(self) -> None:
        """Drop the connection now (mid-body: the client sees an early close)."""
        self.keep_alive = False
        with contextlib.suppress(OSError):
            self._writer.close()

    async def stall(self, seconds: float | None = None) -> None:
        """Send nothing for ``seconds`` (None: until the server stops), then drop the line."""
        if seconds is None:
            await self._stopping.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)
        self.close()

    def _head(self, status: int, pairs: list[tuple[str, str]]) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in pairs]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


class ThreadedHttpServer:
    """Subclasses implement :meth:`handle`. ``start``/``stop`` or use ``with``."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self._tls = tls
        self._host = host
        self.port = 0
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._stopping: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.errors: list[BaseException] = []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> ThreadedHttpServer:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._stopping = asyncio.Event()
            self._server = loop.run_until_complete(
                asyncio.start_server(self._connection, self._host, 0, ssl=self._tls)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("mock server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            assert self._stopping is not None and self._server is not None
            self._stopping.set()
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{self._host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def run(self, coro: Any) -> Any:
        """Run ``coro`` on the server's loop from the test thread and return its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # -- requests --------------------------------------------------------------------------
    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} request(s), got {len(self.requests)}")

    async def handle(self, request: RecordedRequest, w: ResponseWriter) -> None:
        raise NotImplementedError

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None and self._stopping is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                with self._lock:
                    self.requests.append(request)
                w = ResponseWriter(writer, self._stopping)
                await self.handle(request, w)
                if not w.keep_alive or request.header("connection") == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception as err:  # noqa: BLE001 - a handler bug must reach the test, not vanish
            self.errors.append(err)
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        raw_headers = []
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            raw_headers.append((name.strip(), value.strip()))
        headers = {k.lower(): v for k, v in raw_headers}
        body = b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                body += await reader.readexactly(size)
                await reader.readexactly(2)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        parts = urlsplit(target)
        return RecordedRequest(
            method, parts.path, parse_qs(parts.query), headers, raw_headers, body
        )
