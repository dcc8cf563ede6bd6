"""The shared pool of idle plain-HTTP upstream connections (real sockets, real origins)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from codex_admin.proxy.pool import MAX_IDLE_PER_HOST, UpstreamPool
from tests.proxy.helpers import make_proxy, run


class Origin:
    """An HTTP/1.1 origin that counts connections and can misbehave on purpose."""

    def __init__(
        self, *, close_after: int = 0, drop_second: bool = False, response: bytes | None = None
    ) -> None:
        self.connections = 0
        self.requests: list[bytes] = []
        self.close_after = close_after  # close a connection (silently) after N answers
        # Read a connection's second request, then close without answering: the keep-alive
        # race where the origin gives up on an idle connection just as a request arrives.
        self.drop_second = drop_second
        self.response = response or b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> Origin:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        answered = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if self.drop_second and answered == 1:
                    break
                writer.write(self.response)
                await writer.drain()
                answered += 1
                if self.close_after and answered >= self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    def close(self) -> None:
        assert self.server is not None
        self.server.close()


async def _one_shot(
    address: tuple[str, int], url_host: str, port: int, *, method: str = "GET", body: bytes = b""
) -> bytes:
    reader, writer = await asyncio.open_connection(*address)
    extra = f"Content-Length: {len(body)}\r\n" if body else ""
    writer.write(
        f"{method} http://{url_host}:{port}/ HTTP/1.1\r\nHost: {url_host}:{port}\r\n{extra}"
        "Connection: close\r\n\r\n".encode()
        + body
    )
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


def test_clients_without_keep_alive_share_upstream_connections(tmp_path: Path) -> None:
    async def scenario() -> None:
        origin = await Origin().start()
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            for _ in range(5):
                reply = await _one_shot(proxy.http_address, "127.0.0.1", origin.port)
                assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"ok")
            assert origin.connections == 1
            assert len(proxy.upstream_pool) == 1
        await asyncio.sleep(0.05)
        assert len(proxy.upstream_pool) == 0  # stop() closed the idle connection
        origin.close()

    run(scenario())


def test_each_checked_host_gets_its_own_connections(tmp_path: Path) -> None:
    async def scenario() -> None:
        origin = await Origin().start()
        proxy, _ = make_proxy(
            tmp_path,
            {"allow_local_binding": True, "domains": {"**.example": "allow"}},
            answers={"a.example": ["127.0.0.1"], "b.example": ["127.0.0.1"]},
        )
        async with proxy:
            for host in ("a.example", "b.example", "a.example", "b.example"):
                assert (await _one_shot(proxy.http_address, host, origin.port)).endswith(b"ok")
        origin.close()
        assert origin.connections == 2
        hosts = [r.split(b"\r\nHost: ")[1].split(b"\r\n")[0] for r in origin.requests]
        assert hosts == [f"{h}:{origin.port}".encode() for h in ("a.example", "b.example") * 2]

    run(scenario())


def test_a_stale_pooled_connection_is_retried_for_safe_requests_only(tmp_path: Path) -> None:
    async def scenario() -> None:
        origin = await Origin(close_after=1).start()  # closes idle connections: seen as EOF
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            for _ in range(3):
                reply = await _one_shot(proxy.http_address, "127.0.0.1", origin.port)
                assert reply.startswith(b"HTTP/1.1 200"), reply
        origin.close()
        racing = await Origin(drop_second=True).start()  # dies with the request in flight
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            for _ in range(2):
                reply = await _one_shot(proxy.http_address, "127.0.0.1", racing.port)
                assert reply.startswith(b"HTTP/1.1 200"), reply
        racing.close()
        assert racing.connections == 2 and len(racing.requests) == 3

    run(scenario())


def test_an_unsafe_request_is_never_replayed(tmp_path: Path) -> None:
    """A POST that meets a pooled connection dying under it gets a 502; it is sent once."""

    async def scenario() -> None:
        origin = await Origin(drop_second=True).start()
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            await _one_shot(proxy.http_address, "127.0.0.1", origin.port)
            reply = await _one_shot(
                proxy.http_address, "127.0.0.1", origin.port, method="POST", body=b"once"
            )
            assert reply.startswith(b"HTTP/1.1 502"), reply
            get = await _one_shot(proxy.http_address, "127.0.0.1", origin.port)
            assert get.startswith(b"HTTP/1.1 200"), get
        origin.close()
        assert sum(r.endswith(b"once") for r in origin.requests) == 1

    run(scenario())


def test_connections_the_origin_wants_closed_are_not_pooled(tmp_path: Path) -> None:
    async def scenario() -> None:
        for response in (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ):
            origin = await Origin(response=response).start()
            proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
            async with proxy:
                for _ in range(2):
                    assert (await _one_shot(proxy.http_address, "127.0.0.1", origin.port)).endswith(
                        b"ok"
                    )
                assert len(proxy.upstream_pool) == 0
            origin.close()
            assert origin.connections == 2

    run(scenario())


def test_pool_bounds_and_idle_expiry() -> None:
    async def main() -> None:
        pairs = []

        async def stream() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            ours, theirs = socket.socketpair()
            pairs.append(theirs)
            return await asyncio.open_connection(sock=ours)

        pool = UpstreamPool()
        conns = [((await stream()), None) for _ in range(MAX_IDLE_PER_HOST + 5)]
        for conn in conns:
            pool.give(("h", 80), conn)
        assert len(pool) == MAX_IDLE_PER_HOST
        assert all(c[0][1].is_closing() for c in conns[:5])  # the oldest went first
        assert pool.take(("h", 80)) is conns[-1]  # most recently returned first
        assert pool.take(("other", 80)) is None
        expiring = UpstreamPool(idle_timeout=0.0)
        conn = ((await stream()), None)
        expiring.give(("h", 80), conn)
        await asyncio.sleep(0.01)
        assert expiring.take(("h", 80)) is None and conn[0][1].is_closing()
        pool.close()
        assert len(pool) == 0 and all(c[0][1].is_closing() for c in conns[:-1])
        for sock in pairs:
            sock.close()

    run(main())


def test_a_connection_with_unsolicited_bytes_is_not_reused(tmp_path: Path) -> None:
    """An origin that sends a second, unrequested response must not answer the next request."""

    async def scenario() -> None:
        smuggled = (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
        )
        origin = await Origin(response=smuggled).start()
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            first = await _one_shot(proxy.http_address, "127.0.0.1", origin.port)
            await asyncio.sleep(0.05)
            second = await _one_shot(proxy.http_address, "127.0.0.1", origin.port)
        origin.close()
        assert first.endswith(b"ok") and second.endswith(b"ok")
        assert b"forged" not in first + second
        assert origin.connections == 2

    run(scenario())


def test_bytes_arriving_while_idle_poison_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        writers: list[asyncio.StreamWriter] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            assert (await _one_shot(proxy.http_address, "127.0.0.1", port)).endswith(b"ok")
            writers[0].write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged")
            await asyncio.sleep(0.05)
            second = await _one_shot(proxy.http_address, "127.0.0.1", port)
            assert second.endswith(b"ok") and b"forged" not in second
        assert len(writers) == 2
        server.close()

    run(scenario())
