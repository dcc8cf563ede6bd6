"""The direct transport against real loopback servers: keep-alive, closes, errors, TLS.

Each test runs a small asyncio server in the test's own loop that records which connection
(client port) every request came on, so reuse and fresh connections are observed, not assumed.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from codex_admin.providers import build_http_client
from codex_admin.providers import transport as transport_module
from codex_admin.providers.httpx_lib import httpx
from codex_admin.providers.transport import DirectTransport
from tests.support import TestCA

Handler = Callable[[int, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


class Server:
    """Reads request heads; ``handler(index, reader, writer)`` answers, True to keep alive."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.peers: list[int] = []  # the client port of each request, in order
        self.closed: list[int] = []  # the client port of each connection the client ended
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}/v1/x"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    self.closed.append(writer.get_extra_info("peername")[1])
                    return
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                self.peers.append(writer.get_extra_info("peername")[1])
                if not await self.handler(len(self.peers) - 1, reader, writer):
                    return
        finally:
            writer.close()


def ok(body: bytes = b"hello", extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode("latin-1") + body


async def answer(index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    writer.write(ok())
    await writer.drain()
    return True


def client(**kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=DirectTransport(ssl.create_default_context()), **kwargs)


def test_the_model_client_uses_it_unless_system_proxies_are_honoured() -> None:
    direct = build_http_client("http://127.0.0.1:1/v1")
    proxied = build_http_client("http://127.0.0.1:1/v1", respect_system_proxy=True)
    assert isinstance(direct._transport, DirectTransport)
    assert not isinstance(proxied._transport, DirectTransport)


def test_a_response_read_to_the_end_leaves_its_connection_for_the_next_request() -> None:
    async def main() -> None:
        async with Server(answer) as server, client() as http:
            for _ in range(3):
                response = await http.post(server.url, json={"n": 1})
                assert (response.status_code, response.text) == (200, "hello")
                assert response.reason_phrase == "OK" and response.http_version == "HTTP/1.1"
            assert len(server.peers) == 3 and len(set(server.peers)) == 1

    asyncio.run(main())


def test_connection_close_an_early_close_and_a_server_close_each_need_a_new_connection() -> None:
    async def handler(i: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if i == 0:  # says it closes
            writer.write(ok(extra="Connection: close\r\n"))
        elif i == 1:  # a long streamed body the client abandons
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        elif i == 3:  # keep-alive framing, then the server hangs up while idle
            writer.write(ok())
            await writer.drain()
            return False
        else:
            writer.write(ok())
        await writer.drain()
        return i != 0

    async def main() -> None:
        async with Server(handler) as server, client() as http:
            assert (await http.get(server.url)).text == "hello"
            async with http.stream("GET", server.url) as response:
                async for chunk in response.aiter_bytes():
                    assert chunk == b"first"
                    break
            assert (await http.get(server.url)).text == "hello"  # 2: a fresh connection
            assert (await http.get(server.url)).text == "hello"  # 3: reused, then closed
            await asyncio.sleep(0.05)  # the EOF arrives while the connection is idle
            assert (await http.get(server.url)).text == "hello"
            a, b, c, d, e = server.peers
            assert len({a, b, c, e}) == 4 and c == d

    asyncio.run(main())


def test_an_idle_connection_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module, "KEEPALIVE_EXPIRY", 0.0)

    async def main() -> None:
        async with Server(answer) as server, client() as http:
            await http.get(server.url)
            await asyncio.sleep(0.01)
            await http.get(server.url)
            assert len(set(server.peers)) == 2

    asyncio.run(main())


def test_a_disconnect_before_the_response_and_a_cut_body_are_protocol_errors() -> None:
    async def handler(i: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if i == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
            await writer.drain()
        return False

    async def main() -> None:
        async with Server(handler) as server, client() as http:
            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                await http.get(server.url)
            with pytest.raises(httpx.RemoteProtocolError, match="peer closed connection"):
                await http.get(server.url)

    asyncio.run(main())


def test_connect_errors_keep_their_cause_and_bad_urls_are_refused() -> None:
    async def main() -> None:
        async with Server(answer) as server:
            url = server.url
        async with client() as http:
            with pytest.raises(httpx.ConnectError) as refused:
                await http.get(url)
            assert isinstance(refused.value.__cause__, ConnectionRefusedError)
            with pytest.raises(httpx.UnsupportedProtocol, match="unsupported protocol 'ftp://'"):
                await http.get("ftp://127.0.0.1/x")

    asyncio.run(main())


def test_read_and_connect_timeouts_come_from_the_request() -> None:
    async def stall(i: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return False

    async def main() -> None:
        async with Server(stall) as server, client(timeout=httpx.Timeout(5, read=0.1)) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(server.url)

    asyncio.run(main())


def test_tls_is_verified_with_the_given_context_and_a_failure_names_the_certificate() -> None:
    ca, other = TestCA(), TestCA("another CA")

    async def main() -> None:
        async with Server(answer, tls=ca.server_context("127.0.0.1")) as server:
            trusting = ssl.create_default_context(cadata=ca.pem().decode())
            async with httpx.AsyncClient(transport=DirectTransport(trusting)) as http:
                assert (await http.get(server.url)).text == "hello"
                assert (await http.get(server.url)).text == "hello"
            assert len(set(server.peers)) == 1
            wrong = ssl.create_default_context(cadata=other.pem().decode())
            async with httpx.AsyncClient(transport=DirectTransport(wrong)) as http:
                with pytest.raises(httpx.ConnectError) as failed:
                    await http.get(server.url)
            assert isinstance(failed.value.__cause__, ssl.SSLCertVerificationError)

    asyncio.run(main())


def test_a_header_that_would_split_the_request_never_reaches_the_wire() -> None:
    async def main() -> None:
        async with Server(answer) as server, client() as http:
            with pytest.raises(httpx.LocalProtocolError, match="Illegal header value"):
                await http.get(server.url, headers={"x-a": "1\r\nx-injected: yes"})
            assert server.peers == []

    asyncio.run(main())


@pytest.mark.parametrize("later", [True, False], ids=["while-idle", "with-the-response"])
def test_bytes_the_server_sent_unasked_are_never_read_as_the_next_answer(later: bool) -> None:
    """A server (or a gateway) that answers an idle keep-alive connection with a 408 before it
    hangs up, or sends a stray response after the one asked for: the next request must get its
    own answer on a fresh connection, not that message (httpcore checks an idle connection is
    not readable before reusing it)."""
    stray = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"

    async def handler(i: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if i == 0 and later:
            writer.write(ok())
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(stray)
        elif i == 0:
            writer.write(ok() + stray)
        else:
            writer.write(ok(b"fresh"))
        await writer.drain()
        return True

    async def main() -> None:
        async with Server(handler) as server, client() as http:
            assert (await http.get(server.url)).text == "hello"
            await asyncio.sleep(0.2)  # the stray bytes arrive while the connection is idle
            second = await http.get(server.url)
            assert (second.status_code, second.text) == (200, "fresh")
            assert len(set(server.peers)) == 2

    asyncio.run(main())


class _TwoAddressLoop(asyncio.SelectorEventLoop):
    """``dual.test`` resolves to two addresses, as a dual-stack name does (there is no DNS here
    to serve one): ``FIRST`` then ``SECOND``. Everything else resolves as usual."""

    FIRST: tuple[str, int] = ("127.0.0.1", 0)
    SECOND: tuple[str, int] = ("127.0.0.1", 0)

    async def getaddrinfo(self, host: Any, port: Any, **kwargs: Any) -> Any:
        if host == "dual.test":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", a) for a in (self.FIRST, self.SECOND)
            ]
        return await super().getaddrinfo(host, port, **kwargs)


def test_an_address_that_drops_connections_does_not_hide_the_next_one() -> None:
    """Happy eyeballs, as httpcore (anyio's connect_tcp, 0.25 s): a name whose first address
    silently drops SYNs -- a broken IPv6 route is the usual case -- must not spend the whole
    connect timeout there; the next address is tried 0.25 s later and answers."""
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(0)
    filler = socket.create_connection(black_hole.getsockname(), timeout=1)  # the queue is full
    probe = socket.socket()
    probe.settimeout(0.2)
    with pytest.raises(TimeoutError):  # the kernel now drops SYNs to it: a black hole
        probe.connect(black_hole.getsockname())

    async def main() -> float:
        async with Server(answer) as server:
            assert server.server is not None
            _TwoAddressLoop.FIRST = black_hole.getsockname()
            _TwoAddressLoop.SECOND = server.server.sockets[0].getsockname()
            async with client(timeout=httpx.Timeout(5)) as http:
                started = time.monotonic()
                assert (await http.get("http://dual.test:1/v1/x")).text == "hello"
                return time.monotonic() - started

    try:
        with asyncio.Runner(loop_factory=_TwoAddressLoop) as runner:
            assert runner.run(main()) < 2.5
    finally:
        for sock in (probe, filler, black_hole):
            sock.close()


def test_no_more_than_max_idle_connections_wait_and_the_oldest_go_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transport_module, "MAX_IDLE", 2)
    release = asyncio.Event()

    async def slow(i: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if i < 4:
            await release.wait()  # hold the first four so they run in parallel
        writer.write(ok())
        await writer.drain()
        return True

    async def main() -> None:
        async with Server(slow) as server, client() as http:
            burst = [asyncio.ensure_future(http.get(server.url)) for _ in range(4)]
            while len(server.peers) < 4:
                await asyncio.sleep(0.01)
            release.set()
            for request in burst:
                assert (await request).text == "hello"
            await asyncio.sleep(0.05)
            assert len(server.closed) == 2  # two of the four were closed, not kept
            kept = set(server.peers) - set(server.closed)
            await http.get(server.url)
            assert server.peers[4] in kept  # the next request reuses one that was kept

    asyncio.run(main())
