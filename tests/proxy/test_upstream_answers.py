"""A broken upstream answer is the upstream's failure (502), never the client's (400).

The head reader and parser are shared with the client side, where a head cut short or a
malformed field means the *client* sent a bad request. Relayed to a client for an upstream's
answer, that 400 would tell it to fix a request that was fine. Checked on both paths that relay
a response: plain HTTP and inspected HTTPS (real sockets, real TLS, curl as the client).
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from codex_admin.proxy.exchange import MAX_INTERIM
from tests.proxy.helpers import UpstreamCA, curl, make_proxy, random_loopback, raw_exchange, run

BROKEN = {
    "eof inside the head": b"HTTP/1.1 200 OK\r\nContent-Le",
    "malformed field": b"HTTP/1.1 200 OK\r\nBad Field: x\r\n\r\n",
    "obsolete line folding": b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    "bare LF": b"HTTP/1.1 200 OK\r\nX-A: a\nX-B: b\r\nContent-Length: 0\r\n\r\n",
    "malformed status line": b"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n",
    "too large": b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 40_000 + b"\r\n\r\n",
    "after an interim 100": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nBad Field: x\r\n\r\n",
}


async def _answering(
    answer: bytes,
    host: str = "127.0.0.1",
    ssl_context: ssl.SSLContext | None = None,
    *,
    forever: bool = False,
) -> asyncio.Server:
    """An origin that reads one request head, writes ``answer`` (again and again until the
    peer goes, with ``forever``) and closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            while True:
                writer.write(answer)
                await writer.drain()
                if not forever:
                    break
                await asyncio.sleep(0.01)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    return await asyncio.start_server(handle, host, 443 if ssl_context else 0, ssl=ssl_context)


@pytest.mark.parametrize("answer", list(BROKEN.values()), ids=list(BROKEN))
def test_a_broken_plain_http_answer_is_a_502(tmp_path: Path, answer: bytes) -> None:
    _expect_502(tmp_path, answer)


def test_endless_interim_answers_are_a_502(tmp_path: Path) -> None:
    _expect_502(tmp_path, b"HTTP/1.1 102 Processing\r\n\r\n", forever=True)


def _expect_502(tmp_path: Path, answer: bytes, *, forever: bool = False) -> None:
    async def scenario() -> None:
        origin = await _answering(answer, forever=forever)
        port = origin.sockets[0].getsockname()[1]
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            reply = await raw_exchange(
                proxy.http_address,
                f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(),
            )
        origin.close()
        assert reply.startswith(b"HTTP/1.1 502 "), reply[:200]
        assert b"upstream failure" in reply

    run(scenario())


def test_interim_answers_up_to_the_bound_are_skipped(tmp_path: Path) -> None:
    interim = b"HTTP/1.1 102 Processing\r\n\r\n" * MAX_INTERIM
    answer = interim + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    async def scenario() -> None:
        origin = await _answering(answer)
        port = origin.sockets[0].getsockname()[1]
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            reply = await raw_exchange(
                proxy.http_address,
                f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Connection: close\r\n\r\n".encode(),
            )
        origin.close()
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"\r\n\r\nok"), reply

    run(scenario())


def test_a_broken_answer_inside_inspected_https_is_a_502(tmp_path: Path) -> None:
    async def scenario() -> None:
        ca = UpstreamCA.create(tmp_path)
        addr = random_loopback()
        context = ca.server_context(tmp_path, "api.example.com")
        cut_short = await _answering(BROKEN["eof inside the head"], addr, context)
        proxy, _ = make_proxy(
            tmp_path,
            {
                "mode": "limited",
                "allow_local_binding": True,
                "domains": {"api.example.com": "allow"},
            },
            answers={"api.example.com": [addr]},
            upstream_ssl_context=ca.client_context(),
        )
        async with proxy:
            assert proxy.ca_bundle_path is not None
            code, out, err = await curl(
                "-x",
                proxy.http_url,
                "--cacert",
                str(proxy.ca_bundle_path),
                "-i",
                "https://api.example.com/",
            )
        cut_short.close()
        assert code == 0, err
        statuses = [line for line in out.splitlines() if line.startswith("HTTP/1.1 ")]
        assert statuses[-1].startswith("HTTP/1.1 502 "), out  # after the CONNECT's own 200

    run(scenario())
