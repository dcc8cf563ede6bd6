"""Opaque tunnels: byte-exact both ways, pipelined and server-first bytes, half-close, cleanup."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import struct
from pathlib import Path

import pytest

from codex_admin.proxy import tunnel
from codex_admin.proxy.dial import connect_socket
from tests.proxy.helpers import make_proxy, raw_exchange, run

PAYLOAD = os.urandom(3 * 1024 * 1024 + 17)


async def _sink_server(
    banner: bytes = b"",
) -> tuple[asyncio.Server, int, asyncio.Future[bytes]]:
    """An origin that sends ``banner`` first, then echoes a SHA-256 of everything it read."""
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if banner:
            writer.write(banner)
            await writer.drain()
        data = await reader.read()  # until the client half-closes
        got.set_result(data)
        writer.write(hashlib.sha256(data).hexdigest().encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], got


def test_connect_tunnel_pipelined_bytes_half_close_and_bulk(tmp_path: Path) -> None:
    async def main() -> None:
        server, port, got = await _sink_server(banner=b"220 banner\r\n")
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy, server:
            reader, writer = await asyncio.open_connection(*proxy.http_address)
            # The first payload bytes ride in the same segment as the CONNECT head.
            writer.write(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode() + PAYLOAD[:100])
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            assert await reader.readexactly(12) == b"220 banner\r\n"  # server spoke first
            writer.write(PAYLOAD[100:])
            await writer.drain()
            writer.write_eof()  # half-close: the origin sees EOF and still answers
            digest = await asyncio.wait_for(reader.read(), 10)
            assert await got == PAYLOAD
            assert digest == hashlib.sha256(PAYLOAD).hexdigest().encode()
            writer.close()
            for _ in range(50):
                if proxy.active_connections == 0:
                    break
                await asyncio.sleep(0.02)
            assert proxy.active_connections == 0

    run(main())


def test_socks5_tunnel_bulk_download_byte_exact(tmp_path: Path) -> None:
    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(PAYLOAD)
            await writer.drain()
            writer.close()

        origin = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = origin.sockets[0].getsockname()[1]
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy, origin:
            assert proxy.socks_address is not None
            reader, writer = await asyncio.open_connection(*proxy.socks_address)
            writer.write(b"\x05\x01\x00")
            assert await reader.readexactly(2) == b"\x05\x00"
            writer.write(
                b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", port)
            )
            assert (await reader.readexactly(10))[1] == 0
            data = await asyncio.wait_for(reader.read(-1), 10)
            assert hashlib.sha256(data).digest() == hashlib.sha256(PAYLOAD).digest()
            writer.close()

    run(main())


@pytest.mark.parametrize("use_splice", [True, False])
def test_relay_over_socket_pairs_both_paths(
    monkeypatch: pytest.MonkeyPatch, use_splice: bool
) -> None:
    """The kernel splice path and the recv/send fallback (no splice: macOS) behave the same."""
    monkeypatch.setattr(tunnel, "_SPLICE", use_splice)

    async def main() -> None:
        left_outer, left_inner = socket.socketpair()
        right_inner, right_outer = socket.socketpair()
        for sock in (left_outer, left_inner, right_inner, right_outer):
            sock.setblocking(False)
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(
            tunnel.relay(left_inner, right_inner, a_leftover=b"early:", b_leftover=b"hello:")
        )

        async def send() -> None:
            await loop.sock_sendall(left_outer, PAYLOAD)
            left_outer.shutdown(socket.SHUT_WR)

        async def receive() -> bytes:
            received = bytearray()
            while chunk := await loop.sock_recv(right_outer, 1 << 16):
                received += chunk
            return bytes(received)

        _, received = await asyncio.gather(send(), receive())
        assert received == b"early:" + PAYLOAD
        await loop.sock_sendall(right_outer, b"reply")
        right_outer.shutdown(socket.SHUT_WR)
        back = bytearray()
        while chunk := await loop.sock_recv(left_outer, 1 << 16):
            back += chunk
        assert bytes(back) == b"hello:reply"
        await asyncio.wait_for(task, 5)
        assert left_inner.fileno() == -1 and right_inner.fileno() == -1  # closed on return
        left_outer.close()
        right_outer.close()

    run(main())


def test_relay_cancellation_closes_every_descriptor() -> None:
    async def main() -> None:
        before = len(os.listdir("/proc/self/fd"))
        a_outer, a_inner = socket.socketpair()
        b_inner, b_outer = socket.socketpair()
        for sock in (a_inner, b_inner):
            sock.setblocking(False)
        task = asyncio.create_task(tunnel.relay(a_inner, b_inner))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        a_outer.close()
        b_outer.close()
        assert len(os.listdir("/proc/self/fd")) == before  # sockets and pipes all closed

    run(main())


def test_reset_on_one_side_ends_the_tunnel() -> None:
    async def main() -> None:
        a_outer, a_inner = socket.socketpair()
        b_inner, b_outer = socket.socketpair()
        for sock in (a_inner, b_inner, b_outer):
            sock.setblocking(False)
        task = asyncio.create_task(tunnel.relay(a_inner, b_inner))
        b_outer.close()  # the upstream vanishes while the client still writes
        a_outer.sendall(b"x" * 1024)
        await asyncio.wait_for(task, 5)
        a_outer.settimeout(5)
        assert a_outer.recv(10) == b""  # the client sees the tunnel close
        a_outer.close()

    run(main())


def test_connect_over_the_unix_socket_listener(tmp_path: Path) -> None:
    """The sandbox reaches the proxy over AF_UNIX: the tunnel must splice from that too."""

    async def main() -> None:
        server, port, got = await _sink_server()
        sockdir = tmp_path / "sock"
        sockdir.mkdir()
        proxy, _ = make_proxy(
            tmp_path, {"domains": {"127.0.0.1": "allow"}}, unix_socket_dir=sockdir
        )
        async with proxy, server:
            assert proxy.http_unix_path is not None
            reader, writer = await asyncio.open_unix_connection(str(proxy.http_unix_path))
            writer.write(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            writer.write(PAYLOAD)
            await writer.drain()
            writer.write_eof()
            digest = await asyncio.wait_for(reader.read(), 10)
            assert await got == PAYLOAD
            assert digest == hashlib.sha256(PAYLOAD).hexdigest().encode()
            writer.close()

    run(main())


def test_out_of_descriptors_for_pipes_falls_back_to_copying(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review finding: a failed pipe2 (EMFILE) leaked the other pipe and killed the tunnel."""
    import errno

    calls = 0
    real_pipe2 = os.pipe2

    def flaky_pipe2(flags: int) -> tuple[int, int]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(errno.EMFILE, "Too many open files")
        return real_pipe2(flags)

    monkeypatch.setattr(tunnel.os, "pipe2", flaky_pipe2)
    monkeypatch.setattr(tunnel, "SPLICE_AFTER", 0)  # take the pipes at once

    async def main() -> None:
        before = len(os.listdir("/proc/self/fd"))
        a_outer, a_inner = socket.socketpair()
        b_inner, b_outer = socket.socketpair()
        for sock in (a_outer, a_inner, b_inner, b_outer):
            sock.setblocking(False)
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(tunnel.relay(a_inner, b_inner))
        await loop.sock_sendall(a_outer, b"over the pipe")
        await loop.sock_sendall(b_outer, b"copied")
        assert await loop.sock_recv(b_outer, 100) == b"over the pipe"
        assert await loop.sock_recv(a_outer, 100) == b"copied"
        a_outer.shutdown(socket.SHUT_WR)
        b_outer.shutdown(socket.SHUT_WR)
        await asyncio.wait_for(task, 5)
        a_outer.close()
        b_outer.close()
        assert len(os.listdir("/proc/self/fd")) == before
        assert calls == 2

    run(main())


def test_short_tunnels_take_no_pipe_and_long_ones_switch_to_splice_byte_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pipe pair per direction is set up only after SPLICE_AFTER bytes (short tunnels are
    the common case); the switch from copying to splicing loses and reorders nothing."""
    pipes: list[tuple[int, int]] = []
    real_pipe2 = os.pipe2

    def counting_pipe2(flags: int) -> tuple[int, int]:
        pipes.append(real_pipe2(flags))
        return pipes[-1]

    monkeypatch.setattr(tunnel.os, "pipe2", counting_pipe2)

    async def exchange(size: int) -> None:
        payload = os.urandom(size)
        a_outer, a_inner = socket.socketpair()
        b_inner, b_outer = socket.socketpair()
        for sock in (a_outer, a_inner, b_inner, b_outer):
            sock.setblocking(False)
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(tunnel.relay(a_inner, b_inner))

        async def send() -> None:
            await loop.sock_sendall(a_outer, payload)
            a_outer.shutdown(socket.SHUT_WR)

        async def receive() -> bytes:
            got = bytearray()
            while chunk := await loop.sock_recv(b_outer, 1 << 16):
                got += chunk
            return bytes(got)

        _, received = await asyncio.gather(send(), receive())
        assert received == payload
        b_outer.shutdown(socket.SHUT_WR)
        await asyncio.wait_for(task, 10)
        a_outer.close()
        b_outer.close()

    async def main() -> None:
        await exchange(tunnel.SPLICE_AFTER // 2)
        assert pipes == [] or not tunnel._SPLICE
        await exchange(tunnel.SPLICE_AFTER * 8 + 12345)
        if tunnel._SPLICE:
            assert len(pipes) == 1  # only the direction that carried the bulk

    run(main())


def test_a_tunnel_to_a_closed_port_is_a_502_and_an_idle_one_is_closed(tmp_path: Path) -> None:
    """The tunnel's own non-blocking connect reports a refusal like any dial failure, and the
    idle timer (one per tunnel, re-armed while bytes move) still closes a silent tunnel."""

    async def main() -> None:
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        server, port, _ = await _sink_server(banner=b"hi")
        proxy, _ = make_proxy(
            tmp_path, {"domains": {"127.0.0.1": "allow"}}, tunnel_idle_timeout=0.6
        )
        async with proxy, server:
            reply = await raw_exchange(
                proxy.http_address, f"CONNECT 127.0.0.1:{closed} HTTP/1.1\r\n\r\n".encode()
            )
            assert reply.startswith(b"HTTP/1.1 502 "), reply
            reader, writer = await asyncio.open_connection(*proxy.http_address)
            writer.write(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
            assert (
                await reader.readuntil(b"\r\n\r\n")
                == b"HTTP/1.1 200 Connection established\r\n\r\n"
            )
            assert await reader.readexactly(2) == b"hi"  # the server speaks first
            loop = asyncio.get_running_loop()
            for _ in range(3):  # activity keeps the tunnel open past the idle timeout
                await asyncio.sleep(0.3)
                writer.write(b"x")
                await writer.drain()
            started = loop.time()
            assert await asyncio.wait_for(reader.read(), 5) == b""  # then silence closes it
            assert 0.4 < loop.time() - started < 3
            writer.close()

    run(main())


def test_the_tunnel_connect_gives_up_after_its_timeout_and_closes_its_socket() -> None:
    """A listener whose accept queue is full drops SYNs, so the handshake never completes."""

    async def main() -> None:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(0)
            port = listener.getsockname()[1]
            queued = []
            for _ in range(4):  # fill the accept queue (and the SYN backlog beyond it)
                sock = socket.socket()
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    sock.connect(("127.0.0.1", port))
                queued.append(sock)
            await asyncio.sleep(0.2)
            before = len(os.listdir("/proc/self/fd"))
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(TimeoutError):
                await connect_socket("127.0.0.1", port, 0.3)
            assert 0.25 < loop.time() - started < 2
            assert len(os.listdir("/proc/self/fd")) == before
            for sock in queued:
                sock.close()

    run(main())
