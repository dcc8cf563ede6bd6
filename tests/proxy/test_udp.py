"""SOCKS5 UDP ASSOCIATE through the real relay: real UDP sockets on 127.0.0.x only.

The SOCKS5 client is written by hand here (greeting, ASSOCIATE, RFC 1928 §7 datagram header)
so the tests check the wire format, not a library's idea of it. Negative checks ("nothing
arrived") are ordered behind a positive one on the same path wherever possible, so they do not
depend on sleeping.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
from pathlib import Path
from typing import Any, cast

import pytest

from codex_admin.proxy import ProxyServer, udp_relay
from tests.proxy.helpers import make_proxy, random_loopback, run

UDP_ON = {"enable_socks5_udp": True, "domains": {"127.0.0.1": "allow"}}


class Peer(asyncio.DatagramProtocol):
    """A UDP socket with a receive queue; ``echo`` answers every datagram with its payload."""

    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self.received: list[tuple[bytes, tuple[Any, ...]]] = []
        self.queue: asyncio.Queue[tuple[bytes, tuple[Any, ...]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls, host: str = "127.0.0.1", *, echo: bool = False) -> Peer:
        _, peer = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: cls(echo), local_addr=(host, 0)
        )
        return peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not a DatagramTransport subclass on 3.11, but it is one in behaviour.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.received.append((data, addr))
        self.queue.put_nowait((data, addr))
        if self.echo and self.transport is not None:
            self.transport.sendto(b"echo:" + data, addr)

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, addr)

    async def recv(self, timeout: float = 2.0) -> tuple[bytes, tuple[Any, ...]]:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def silent(self, wait: float = 0.15) -> bool:
        await asyncio.sleep(wait)
        return self.queue.empty()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def header(host: str, port: int, *, frag: int = 0, rsv: bytes = b"\x00\x00") -> bytes:
    ip = ipaddress.ip_address(host)
    atyp = 1 if ip.version == 4 else 4
    return rsv + bytes([frag, atyp]) + ip.packed + struct.pack("!H", port)


def domain_header(name: str, port: int) -> bytes:
    raw = name.encode()
    return b"\x00\x00\x00\x03" + bytes([len(raw)]) + raw + struct.pack("!H", port)


async def associate(
    proxy: ProxyServer, declared: tuple[str, int] = ("0.0.0.0", 0), *, unix: bool = False
) -> tuple[int, tuple[str, int], asyncio.StreamReader, asyncio.StreamWriter]:
    """Greeting + UDP ASSOCIATE; returns (reply code, BND address, control reader/writer)."""
    if unix:
        assert proxy.socks_unix_path is not None
        reader, writer = await asyncio.open_unix_connection(str(proxy.socks_unix_path))
    else:
        assert proxy.socks_address is not None
        reader, writer = await asyncio.open_connection(*proxy.socks_address)
    writer.write(b"\x05\x01\x00")
    ip = ipaddress.ip_address(declared[0])
    writer.write(b"\x05\x03\x00\x01" + ip.packed + struct.pack("!H", declared[1]))
    await writer.drain()
    assert await reader.readexactly(2) == b"\x05\x00"
    version, code, _rsv, atyp = await reader.readexactly(4)
    assert version == 5 and atyp == 1
    addr = str(ipaddress.IPv4Address(await reader.readexactly(4)))
    (port,) = struct.unpack("!H", await reader.readexactly(2))
    return code, (addr, port), reader, writer


async def expect_reply(client: Peer, source: tuple[str, int], payload: bytes) -> None:
    data, _ = await client.recv()
    assert data == header(*source) + payload


def test_round_trip_byte_exact_and_denied_destination_audited_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        echo = await Peer.open(echo=True)
        other = await Peer.open(random_loopback(), echo=True)
        client = await Peer.open()
        proxy, _ = make_proxy(tmp_path, UDP_ON)
        async with proxy:
            code, relay, _, writer = await associate(proxy)
            assert code == 0x00 and relay[0] == "127.0.0.1" and relay[1] > 0
            payload = bytes(range(256)) * 8
            client.send(header(*echo.address) + payload, relay)
            await expect_reply(client, echo.address, b"echo:" + payload)
            assert echo.received[0][0] == payload
            # The same destination as an IPv4-mapped IPv6 address: one policy entry, one cache
            # entry (no second audit event), and the reply names the canonical address.
            client.send(header(f"::ffff:{echo.address[0]}", echo.address[1]) + b"m", relay)
            await expect_reply(client, echo.address, b"echo:m")
            # A second 127.x destination is not allowlisted: dropped, audited once.
            for _ in range(3):
                client.send(header(*other.address) + b"secret", relay)
            client.send(header(*echo.address) + b"after", relay)
            await expect_reply(client, echo.address, b"echo:after")
            assert await other.silent()
            assert other.received == []
            udp_events = [b for b in proxy.blocked if b.protocol == "socks5_udp"]
            assert [(b.host, b.port, b.reason) for b in udp_events] == [
                (other.address[0], other.address[1], "not_allowed_local")
            ]
            writer.close()
        for peer in (echo, other, client):
            peer.close()

    run(scenario())


@pytest.mark.parametrize(
    ("network", "code", "reason"),
    [
        ({"domains": {"127.0.0.1": "allow"}}, 0x02, "method_not_allowed"),
        ({**UDP_ON, "mode": "limited"}, 0x02, "method_not_allowed"),
        ({**UDP_ON, "enabled": False}, 0x01, "proxy_disabled"),
    ],
    ids=["udp-off-by-default", "limited-mode", "proxy-disabled"],
)
def test_associate_refused_by_policy(
    tmp_path: Path, network: dict[str, Any], code: int, reason: str
) -> None:
    async def scenario() -> None:
        proxy, _ = make_proxy(tmp_path, network)
        async with proxy:
            got, bound, reader, writer = await associate(proxy)
            assert (got, bound) == (code, ("0.0.0.0", 0))
            assert await reader.read() == b""  # the control connection is closed
            writer.close()
        [event] = proxy.blocked
        assert (event.protocol, event.reason, event.method) == ("socks5_udp", reason, "none")

    run(scenario())


def test_associate_refused_over_unix_socket(tmp_path: Path) -> None:
    async def scenario() -> None:
        sockdir = tmp_path / "socks"
        sockdir.mkdir()
        proxy, _ = make_proxy(tmp_path, UDP_ON, unix_socket_dir=sockdir)
        async with proxy:
            code, _, reader, writer = await associate(proxy, unix=True)
            assert code == 0x07  # command not supported: no UDP route from a sandbox
            assert await reader.read() == b""
            writer.close()
        [event] = proxy.blocked
        assert (event.protocol, event.reason, event.source) == (
            "socks5_udp",
            "udp_unsupported_on_unix_socket",
            "proxy_state",
        )

    run(scenario())


def test_source_lock_and_malformed_datagrams_dropped(tmp_path: Path) -> None:
    async def scenario() -> None:
        echo = await Peer.open(echo=True)
        client = await Peer.open()
        intruder = await Peer.open()  # same IP, other port
        elsewhere = await Peer.open(random_loopback())  # other IP
        proxy, _ = make_proxy(tmp_path, UDP_ON)
        async with proxy:
            _, relay, _, writer = await associate(proxy)
            elsewhere.send(header(*echo.address) + b"other-ip", relay)  # cannot take the lock
            client.send(header(*echo.address) + b"first", relay)
            await expect_reply(client, echo.address, b"echo:first")
            host, port = echo.address
            bad = [
                header(host, port, frag=1) + b"fragment",
                header(host, port, rsv=b"\x00\x01") + b"reserved",
                b"\x00\x00\x00\x09" + b"\x7f\x00\x00\x01\x00\x35" + b"atyp",
                header(host, port)[:6],  # truncated address
                b"\x00\x00\x00",
                header(host, 0) + b"port-zero",
                domain_header("localhost", port) + b"name",
                domain_header(host, port) + b"ip-spelled-as-name",
                domain_header("localhost", port) + b"name-again",
            ]
            for datagram in bad:
                client.send(datagram, relay)
            intruder.send(header(*echo.address) + b"intruder", relay)
            client.send(header(*echo.address) + b"last", relay)
            await expect_reply(client, echo.address, b"echo:last")
            assert [data for data, _ in echo.received] == [b"first", b"last"]
            assert await intruder.silent(0.05) and await elsewhere.silent(0.0)
            names = [(b.host, b.reason) for b in proxy.blocked]
            assert names == [("localhost", "not_allowed"), (host, "not_allowed")]
            writer.close()
        for peer in (echo, client, intruder, elsewhere):
            peer.close()

    run(scenario())


def test_declared_source_port_is_enforced(tmp_path: Path) -> None:
    async def scenario() -> None:
        echo = await Peer.open(echo=True)
        client = await Peer.open()
        early = await Peer.open()
        proxy, _ = make_proxy(tmp_path, UDP_ON)
        async with proxy:
            _, relay, _, writer = await associate(proxy, client.address)
            early.send(header(*echo.address) + b"early", relay)  # would lock an undeclared one
            client.send(header(*echo.address) + b"declared", relay)
            await expect_reply(client, echo.address, b"echo:declared")
            assert [data for data, _ in echo.received] == [b"declared"]
            assert await early.silent(0.05)
            writer.close()
        for peer in (echo, client, early):
            peer.close()

    run(scenario())


def test_unsolicited_inbound_is_not_relayed(tmp_path: Path) -> None:
    async def scenario() -> None:
        echo = await Peer.open(echo=True)
        client = await Peer.open()
        stranger = await Peer.open()  # allowed IP (127.0.0.1) but never sent to
        proxy, _ = make_proxy(tmp_path, UDP_ON)
        async with proxy:
            _, relay, _, writer = await associate(proxy)
            client.send(header(*echo.address) + b"hello", relay)
            await expect_reply(client, echo.address, b"echo:hello")
            upstream_socket = echo.received[0][1][:2]  # where the relay sends from
            stranger.send(b"injected", upstream_socket)
            client.send(header(*echo.address) + b"again", relay)
            await expect_reply(client, echo.address, b"echo:again")
            assert await client.silent()
            writer.close()
        for peer in (echo, client, stranger):
            peer.close()

    run(scenario())


def _port_free(address: tuple[str, int]) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(address)
        except OSError:
            return False
    return True


def test_sockets_released_on_control_close_idle_timeout_and_stop(tmp_path: Path) -> None:
    async def scenario() -> None:
        echo = await Peer.open(echo=True)
        client = await Peer.open()
        proxy, _ = make_proxy(tmp_path, UDP_ON, udp_idle_timeout=0.3)
        async with proxy:
            # 1. Closing the control connection closes the relay and its upstream socket.
            _, relay, _, writer = await associate(proxy)
            client.send(header(*echo.address) + b"x", relay)
            await expect_reply(client, echo.address, b"echo:x")
            upstream_socket = echo.received[0][1][:2]
            assert not _port_free(relay) and not _port_free(upstream_socket)
            writer.close()
            for _ in range(100):
                if proxy.active_connections == 0 and _port_free(relay):
                    break
                await asyncio.sleep(0.01)
            assert proxy.active_connections == 0
            assert _port_free(relay) and _port_free(upstream_socket)
            # 2. A quiet association is closed by the idle timeout (the server hangs up).
            _, relay, reader, writer = await associate(proxy)
            assert await asyncio.wait_for(reader.read(), 2.0) == b""
            writer.close()
            await asyncio.sleep(0.05)
            assert _port_free(relay) and proxy.active_connections == 0
            # 3. stop() with a live association leaves no socket and no task behind.
            _, relay, _, writer = await associate(proxy)
            client.send(header(*echo.address) + b"y", relay)
            await expect_reply(client, echo.address, b"echo:y")
            upstream_socket = echo.received[-1][1][:2]
        assert _port_free(relay) and _port_free(upstream_socket)
        assert asyncio.all_tasks() == {asyncio.current_task()}
        writer.close()
        for peer in (echo, client):
            peer.close()

    run(scenario())


def test_destination_cap_drops_and_audits_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(udp_relay, "MAX_DESTINATIONS", 2)

    async def scenario() -> None:
        echoes = [await Peer.open(echo=True) for _ in range(3)]
        client = await Peer.open()
        proxy, _ = make_proxy(tmp_path, UDP_ON)
        async with proxy:
            _, relay, _, writer = await associate(proxy)
            for echo in echoes[:2]:
                client.send(header(*echo.address) + b"in", relay)
                await expect_reply(client, echo.address, b"echo:in")
            for _ in range(3):
                client.send(header(*echoes[2].address) + b"over", relay)
            client.send(header(*echoes[0].address) + b"still", relay)
            await expect_reply(client, echoes[0].address, b"echo:still")
            assert await echoes[2].silent(0.05) and echoes[2].received == []
            assert [(b.reason, b.port) for b in proxy.blocked] == [
                ("udp_destination_limit", echoes[2].address[1])
            ]
            writer.close()
        for peer in (*echoes, client):
            peer.close()

    run(scenario())


def test_a_failing_policy_worker_ends_the_association(tmp_path: Path) -> None:
    """Review finding: a worker exception left the association swallowing datagrams."""

    async def scenario() -> None:
        asked: list[tuple[str, int]] = []

        async def broken_decider(host: str, port: int, protocol: str) -> tuple[str, str]:
            asked.append((host, port))
            raise RuntimeError("decider service is down")

        client = await Peer.open()
        proxy, _ = make_proxy(tmp_path, {"enable_socks5_udp": True}, decider=broken_decider)
        loop = asyncio.get_running_loop()
        errors: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _loop, context: errors.append(context))
        async with proxy:
            code, relay, reader, writer = await associate(proxy)
            assert code == 0
            # A public literal no rule allows goes to the decider, which fails: nothing is sent.
            client.send(header("93.184.216.34", 9) + b"x", relay)
            assert await asyncio.wait_for(reader.read(), 2) == b""  # control connection closed
            writer.close()
        assert asked == [("93.184.216.34", 9)]
        assert any("decider service is down" in str(c.get("exception")) for c in errors)
        client.close()

    run(scenario())
