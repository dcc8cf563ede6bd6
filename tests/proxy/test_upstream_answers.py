"""Whose fault a failed exchange is decides the answer: the upstream's is a 502, the client's a 4xx.

The head reader and parser are shared by both sides. Read from a client, a head cut short or a
malformed field is a 400; read from an upstream, relaying that 400 would tell the client to
fix a request that was fine. The body reader calls a body cut short a 502, which is right for
a response and wrong for a client's own upload. And once an upstream has answered at all, even
with an interim 1xx, it has seen the request, which must then never be sent again. Checked on
the paths that relay an exchange: plain HTTP, and inspected HTTPS (real sockets, real TLS).
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from codex_admin.proxy.exchange import MAX_INTERIM
from tests.proxy.helpers import (
    UpstreamCA,
    curl,
    make_inspecting_proxy,
    make_proxy,
    random_loopback,
    run,
)

INTERIM = b"HTTP/1.1 102 Processing\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
BROKEN = {
    "eof inside the head": b"HTTP/1.1 200 OK\r\nContent-Le",
    "malformed field": b"HTTP/1.1 200 OK\r\nBad Field: x\r\n\r\n",
    "obsolete line folding": b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    "bare LF": b"HTTP/1.1 200 OK\r\nX-A: a\nX-B: b\r\nContent-Length: 0\r\n\r\n",
    "malformed status line": b"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n",
    "too large": b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 40_000 + b"\r\n\r\n",
    "after an interim 100": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nBad Field: x\r\n\r\n",
    "one interim head too many": INTERIM * (MAX_INTERIM + 1) + OK,
    # Upgrade is hop-by-hop and never forwarded: no upstream was asked to switch.
    "unasked 101": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
    "unasked 101 after a 100": b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
}


class Origin:
    """Answers each request on a connection with the next of ``answers`` (the last one
    again and again with ``forever``), then closes; records every request head."""

    def __init__(self, answers: list[bytes], *, forever: bool = False) -> None:
        self.answers = answers
        self.forever = forever
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(
        self, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
    ) -> int:
        port = 443 if ssl_context else 0
        self.server = await asyncio.start_server(self._handle, host, port, ssl=ssl_context)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for index, answer in enumerate(self.answers):
                self.requests.append(await reader.readuntil(b"\r\n\r\n"))
                writer.write(answer)
                await writer.drain()
                while self.forever and index == len(self.answers) - 1:
                    await asyncio.sleep(0.01)
                    writer.write(answer)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    def close(self) -> None:
        assert self.server is not None
        self.server.close()


async def _send(address: tuple[str, int], data: bytes, *, half_close: bool = False) -> bytes:
    """Send ``data`` to the proxy (then shut down writing, with ``half_close``) and read
    until the proxy closes or goes quiet for 5 s."""
    reader, writer = await asyncio.open_connection(*address)
    writer.write(data)
    if half_close:
        writer.write_eof()
    chunks = []
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), 5):
            chunks.append(chunk)
    except TimeoutError:
        pass
    writer.close()
    return b"".join(chunks)


def _through_plain_proxy(
    tmp_path: Path,
    origin: Origin,
    requests: list[bytes],
    *,
    half_close: bool = False,
    body_timeout: float = 60.0,
) -> list[bytes]:
    """Each request on its own client connection, in turn; the proxy's replies."""

    async def scenario() -> list[bytes]:
        port = await origin.start()
        proxy, _ = make_proxy(
            tmp_path, {"domains": {"127.0.0.1": "allow"}}, body_timeout=body_timeout
        )
        async with proxy:
            replies = [
                await _send(
                    proxy.http_address, r.replace(b"{port}", b"%d" % port), half_close=half_close
                )
                for r in requests
            ]
        origin.close()
        return replies

    result: list[bytes] = run(scenario())
    return result


GET = b"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"


@pytest.mark.parametrize("answer", list(BROKEN.values()), ids=list(BROKEN))
def test_a_broken_plain_http_answer_is_a_502(tmp_path: Path, answer: bytes) -> None:
    [reply] = _through_plain_proxy(tmp_path, Origin([answer]), [GET])
    assert reply.startswith(b"HTTP/1.1 502 "), reply[:200]
    assert b"upstream failure" in reply


def test_endless_interim_answers_are_a_502(tmp_path: Path) -> None:
    [reply] = _through_plain_proxy(tmp_path, Origin([INTERIM], forever=True), [GET])
    assert reply.startswith(b"HTTP/1.1 502 "), reply[:200]


def test_interim_answers_up_to_the_bound_are_skipped(tmp_path: Path) -> None:
    [reply] = _through_plain_proxy(tmp_path, Origin([INTERIM * MAX_INTERIM + OK]), [GET])
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"\r\n\r\nok"), reply


def test_a_request_an_upstream_answered_with_1xx_is_never_sent_again(tmp_path: Path) -> None:
    # The first GET leaves its upstream connection in the pool; on it, the second GET gets a
    # 102 and then a close. A retry on a fresh connection would send that GET a second time.
    origin = Origin([OK, INTERIM])
    first, second = _through_plain_proxy(tmp_path, origin, [GET, GET])
    assert first.endswith(b"\r\n\r\nok"), first
    assert second.startswith(b"HTTP/1.1 502 "), second
    assert len(origin.requests) == 2, origin.requests


def test_a_pooled_connection_closed_before_any_byte_is_retried_once(tmp_path: Path) -> None:
    origin = Origin([OK])  # closes after one answer: the pooled connection is stale
    first, second = _through_plain_proxy(tmp_path, origin, [GET, GET])
    assert first.endswith(b"\r\n\r\nok") and second.endswith(b"\r\n\r\nok"), second
    assert len(origin.requests) == 2


CLIENT_FAULTS = {
    "body cut short": (b"Content-Length: 10\r\n\r\nabc", 400),
    "malformed chunk size": (b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    "chunk without its CRLF": (b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcXY", 400),
    "trailer too large": (
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n"
        + (b"X-T: " + b"t" * 100 + b"\r\n") * 400
        + b"\r\n",
        431,
    ),
}


@pytest.mark.parametrize("upload, status", list(CLIENT_FAULTS.values()), ids=list(CLIENT_FAULTS))
def test_a_broken_client_body_is_the_clients_fault(
    tmp_path: Path, upload: bytes, status: int
) -> None:
    post = b"POST http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" + upload
    [reply] = _through_plain_proxy(tmp_path, Origin([OK]), [post], half_close=True)
    assert reply.startswith(b"HTTP/1.1 %d " % status), reply[:200]


def test_a_client_that_stops_sending_its_body_gets_a_408(tmp_path: Path) -> None:
    post = b"POST http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    post += b"Content-Length: 10\r\n\r\nabc"  # and then nothing, the connection left open
    [reply] = _through_plain_proxy(tmp_path, Origin([OK]), [post], body_timeout=0.3)
    assert reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), reply[:200]


def test_a_broken_answer_inside_inspected_https_is_a_502(tmp_path: Path) -> None:
    async def scenario() -> None:
        ca = UpstreamCA.create(tmp_path)
        addr = random_loopback()
        origin = Origin([BROKEN["eof inside the head"]])
        await origin.start(addr, ca.server_context(tmp_path, "api.example.com"))
        proxy = make_inspecting_proxy(tmp_path, ca, "api.example.com", addr)
        async with proxy:
            assert proxy.ca_bundle_path is not None
            bundle = str(proxy.ca_bundle_path)
            code, out, err = await curl(
                "-x", proxy.http_url, "--cacert", bundle, "-i", "https://api.example.com/"
            )
        origin.close()
        assert code == 0, err
        statuses = [line for line in out.splitlines() if line.startswith("HTTP/1.1 ")]
        assert statuses[-1].startswith("HTTP/1.1 502 "), out  # after the CONNECT's own 200

    run(scenario())
