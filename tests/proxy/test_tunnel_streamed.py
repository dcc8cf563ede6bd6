"""tunnel_socket: short tunnels stay on the client's transport, bulk ones switch to the relay.

Real loopback sockets both sides; every scenario is byte-exact and checks that no descriptor
or loop registration outlives the tunnel (issue 11: fewer system calls per tunnel must not
cost half-close, resets, cancellation or the DNS-pinned dial).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
from collections.abc import Awaitable, Callable

import pytest

from codex_admin.proxy import tunnel
from codex_admin.proxy.dial import connect_socket
from codex_admin.proxy.eventloop import choose_event_loop
from tests.proxy.helpers import run

Scenario = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _origin(
    banner: bytes, answer_size: int
) -> tuple[asyncio.Server, int, asyncio.Future[bytes]]:
    """Sends ``banner``, reads to EOF, then answers a SHA-256 of it and ``answer_size`` bytes."""
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(banner)
        data = await reader.read()
        got.set_result(data)
        writer.write(hashlib.sha256(data).hexdigest().encode() + b"x" * answer_size)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], got


async def _proxy(
    port: int, tunnels: list[asyncio.Task[None]], idle_timeout: float | None = None
) -> tuple[asyncio.Server, int]:
    """A listener whose every connection becomes tunnel_socket to 127.0.0.1:``port``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tunnels.append(task)
        await reader.readuntil(b"\n")  # a one-line "request"; the rest is pipelined
        upstream = await connect_socket("127.0.0.1", port, 5.0)
        await tunnel.tunnel_socket(
            (reader, writer), upstream, client_prefix=b"OK\n", idle_timeout=idle_timeout
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _sockets_and_pipes() -> set[str]:
    """What this process's sockets and pipes are (the event loop's own lazily made
    eventfd and io_uring descriptors are not a tunnel's to close)."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{name}")
            if target.startswith(("socket:", "pipe:")):
                found.add(target)
    return found


@pytest.mark.parametrize("size", [100, tunnel.SPLICE_AFTER * 6 + 777])
def test_tunnel_socket_is_byte_exact_with_half_close_short_and_bulk(
    monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """Pipelined bytes, a server-first banner, an upload, a half-close and the answer arrive
    intact; only a tunnel that moved SPLICE_AFTER bytes takes the client socket (one dup)."""
    dups: list[int] = []
    real_dup = os.dup

    def counting_dup(fd: int) -> int:
        dups.append(fd)
        return real_dup(fd)

    monkeypatch.setattr(os, "dup", counting_dup)  # the module tunnel calls
    upload = os.urandom(size)

    async def main() -> None:
        before = _sockets_and_pipes()
        origin, port, got = await _origin(b"BANNER", size)
        tunnels: list[asyncio.Task[None]] = []
        proxy, proxy_port = await _proxy(port, tunnels)
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
        writer.write(b"GO\n" + upload[:10])  # bytes pipelined behind the request line
        assert await reader.readexactly(3 + 6) == b"OK\nBANNER"
        writer.write(upload[10:])
        await writer.drain()
        writer.write_eof()  # half-close: the answer must still come back
        answer = await asyncio.wait_for(reader.read(), 10)
        assert await got == upload
        assert answer == hashlib.sha256(upload).hexdigest().encode() + b"x" * size
        await asyncio.wait_for(asyncio.gather(*tunnels), 10)
        writer.close()
        for server in (proxy, origin):
            server.close()
            await server.wait_closed()
        await asyncio.sleep(0.05)
        assert _sockets_and_pipes() <= before

    run(main())
    assert len(dups) == (1 if size > tunnel.SPLICE_AFTER else 0)


def test_upstream_reset_in_a_short_tunnel_ends_it_and_closes_both_sides() -> None:
    async def main() -> None:
        accepted: asyncio.Future[socket.socket] = asyncio.get_running_loop().create_future()
        listener = socket.create_server(("127.0.0.1", 0))
        listener.setblocking(False)
        port = listener.getsockname()[1]

        async def accept() -> None:
            conn, _ = await asyncio.get_running_loop().sock_accept(listener)
            accepted.set_result(conn)

        acceptor = asyncio.create_task(accept())
        tunnels: list[asyncio.Task[None]] = []
        proxy, proxy_port = await _proxy(port, tunnels)
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
        writer.write(b"GO\nhello")
        assert await reader.readexactly(3) == b"OK\n"
        conn = await accepted
        await acceptor
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()  # RST
        await asyncio.wait_for(asyncio.gather(*tunnels), 5)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the client is closed too
        writer.close()
        listener.close()
        proxy.close()
        await proxy.wait_closed()

    run(main())


def test_cancelling_a_short_tunnel_closes_the_upstream_and_its_loop_registration() -> None:
    """The reader connect_socket parks for the tunnel never outlives the socket (a stale
    registration would be inherited by the next descriptor with that number)."""

    async def main() -> None:
        origin, port, _ = await _origin(b"", 0)
        loop = asyncio.get_running_loop()
        client_side: list[socket.socket] = []
        upstreams: list[socket.socket] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            upstream = await connect_socket("127.0.0.1", port, 5.0)
            upstreams.append(upstream)
            await tunnel.tunnel_socket((reader, writer), upstream)

        proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
        sock = socket.create_connection(proxy.sockets[0].getsockname()[:2])
        client_side.append(sock)
        while not upstreams:
            await asyncio.sleep(0.01)
        fd = upstreams[0].fileno()
        await asyncio.sleep(0.05)
        proxy.close()
        with contextlib.suppress(AttributeError):
            proxy.close_clients()  # type: ignore[attr-defined]
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()
        await asyncio.sleep(0.05)
        assert upstreams[0].fileno() == -1
        assert not loop.remove_reader(fd)
        sock.close()
        origin.close()

    run(main())


def test_a_tunnel_whose_client_already_left_drops_the_parked_reader() -> None:
    async def main() -> None:
        origin, port, _ = await _origin(b"", 0)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # the client has gone before the tunnel starts
            upstream = await connect_socket("127.0.0.1", port, 5.0)
            fd = upstream.fileno()
            await tunnel.tunnel_socket((reader, writer), upstream, client_prefix=b"OK\n")
            done.set_result(fd)

        proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
        sock = socket.create_connection(proxy.sockets[0].getsockname()[:2])
        sock.close()
        fd = await asyncio.wait_for(done, 5)
        assert not loop.remove_reader(fd)
        proxy.close()
        origin.close()

    run(main())


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_a_refused_connect_then_a_good_one_on_each_event_loop(loop_name: str) -> None:
    """A refused handshake is an OSError (uvloop closes the poll handle of a failed connect:
    the reader parked for the tunnel must not be tried on it), and the next dial, likely
    given the same descriptor number, still relays."""
    if loop_name == "uvloop":
        pytest.importorskip("uvloop")
    _, factory = choose_event_loop({"CODEX_PROXY_EVENT_LOOP": loop_name})

    async def main() -> None:
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        for _ in range(3):
            with pytest.raises(OSError):
                await connect_socket("127.0.0.1", closed, 5.0)
        origin, port, got = await _origin(b"", 5)
        tunnels: list[asyncio.Task[None]] = []
        proxy, proxy_port = await _proxy(port, tunnels)
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
        writer.write(b"GO\nping")
        writer.write_eof()
        answer = await asyncio.wait_for(reader.read(), 5)
        assert answer == b"OK\n" + hashlib.sha256(b"ping").hexdigest().encode() + b"xxxxx"
        assert await got == b"ping"
        await asyncio.wait_for(asyncio.gather(*tunnels), 5)
        writer.close()
        proxy.close()
        origin.close()

    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


def test_a_client_that_never_reads_loses_its_descriptor_after_the_idle_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Closing a transport waits for its buffer to drain; the tunnel bounds that wait, so a
    client that stops reading cannot pin a proxy descriptor once its tunnel has ended."""
    monkeypatch.setattr(tunnel, "SPLICE_AFTER", 1 << 40)  # stay on the transport throughout

    async def main() -> None:
        before = _sockets_and_pipes()
        origin, port, _ = await _origin(b"z" * (32 << 20), 0)  # more than any socket buffers
        tunnels: list[asyncio.Task[None]] = []
        proxy, proxy_port = await _proxy(port, tunnels, idle_timeout=0.3)
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before the handshake
        client.connect(("127.0.0.1", proxy_port))
        client.sendall(b"GO\n")  # and then never read
        while not tunnels:
            await asyncio.sleep(0.01)
        await asyncio.wait_for(asyncio.gather(*tunnels), 5)  # the idle timer ended it
        proxy.close()
        origin.close()
        await asyncio.sleep(1.0)  # one more idle timeout for the buffered answer
        assert _sockets_and_pipes() - before == {f"socket:[{os.fstat(client.fileno()).st_ino}]"}
        client.close()

    run(main())


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_a_handshake_still_under_way_is_waited_for_and_bounded(loop_name: str) -> None:
    """Most loopback dials are connected when connect() returns; one that is not (here the
    listener's accept queue is full, so the kernel drops the SYN until a retransmission a
    second later) is waited for on the loop, and a wait longer than the timeout fails."""
    if loop_name == "uvloop":
        pytest.importorskip("uvloop")
    _, factory = choose_event_loop({"CODEX_PROXY_EVENT_LOOP": loop_name})

    async def main() -> None:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(0)
            port = listener.getsockname()[1]
            queued = []
            for _ in range(3):  # fill the accept queue
                filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
                filler.connect_ex(("127.0.0.1", port))
                queued.append(filler)
            await asyncio.sleep(0.05)
            with pytest.raises(TimeoutError):
                await connect_socket("127.0.0.1", port, 0.3)
            dial = asyncio.ensure_future(connect_socket("127.0.0.1", port, 5.0))
            await asyncio.sleep(0.2)
            assert not dial.done()  # still in the SYN retransmission wait
            listener.setblocking(False)
            loop = asyncio.get_running_loop()

            async def drain() -> None:  # accept everything, retransmitted SYNs included
                while True:
                    accepted, _ = await loop.sock_accept(listener)
                    accepted.close()

            draining = asyncio.ensure_future(drain())
            sock = await asyncio.wait_for(dial, 8)
            draining.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await draining
            assert sock.getpeername()[1] == port
            loop.remove_reader(sock.fileno())  # the reader connect_socket parks for its owner
            sock.close()
            for filler in queued:
                filler.close()

    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())
