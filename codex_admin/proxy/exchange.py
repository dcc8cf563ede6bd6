"""Relaying one HTTP/1.1 request and its response, shared by plain HTTP and inspected HTTPS.

The request is re-serialised from its parsed head (hop-by-hop fields dropped, ``Host`` set to
the checked target, body re-framed), never forwarded as raw bytes (attack A18). The response is
re-framed the same way for the client's HTTP version. Head and body go out in one ``send``
when the body is already at hand (the common small response), which saves a system call and a
TCP segment per request.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable
from typing import TypeVar

from codex_admin.proxy.context import ProxyContext
from codex_admin.proxy.dial import DialError, Streams, refusal
from codex_admin.proxy.hosts import HostError, normalize_host
from codex_admin.proxy.http1 import (
    Authority,
    Head,
    ProtocolError,
    body_framing,
    forward_headers,
    parse_head,
    serialize_head,
)
from codex_admin.proxy.policy import Decision
from codex_admin.proxy.responses import decision_answer, send_simple, simple_answer
from codex_admin.proxy.streams import Deadline, copy_body, read_head

__all__ = [
    "StaleUpstream",
    "client_name",
    "dial_failure_answer",
    "dial_or_answer",
    "exchange",
    "host_value",
    "same_host",
]

Dialled = TypeVar("Dialled")
_UPSTREAM_CLOSED = "upstream closed the connection"
MAX_INTERIM = 16  # 1xx heads before the final answer; real servers send one or two


class _ClientBodyError(ProtocolError):
    """The client's request body could not be read: the client's fault, told to the client
    (the callers answer a :class:`ProtocolError` with its status)."""


class StaleUpstream(Exception):
    """A reused upstream connection failed before any response byte (``stale_ok`` only)."""


def client_name(connection: asyncio.StreamWriter | asyncio.BaseTransport) -> str:
    """The peer's address for audit events (``unix`` over the Unix-socket listener)."""
    peer = connection.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "unix" if peer == "" else "unknown"


def same_host(a: str, b: str) -> bool:
    """Do two spellings name one host (normalised; an invalid one matches nothing)?"""
    try:
        return normalize_host(a) == normalize_host(b)
    except HostError:
        return False


def host_value(authority: Authority, default_port: int) -> str:
    """The ``Host`` header for ``authority`` (port omitted when it is the default)."""
    host = f"[{authority.host}]" if ":" in authority.host else authority.host
    return host if authority.port == default_port else f"{host}:{authority.port}"


async def dial_or_answer(
    ctx: ProxyContext,
    writer: asyncio.StreamWriter,
    decision: Decision,
    protocol: str,
    method: str,
    client: str,
    dial: Awaitable[Dialled],
) -> Dialled | None:
    """Await ``dial``; on failure answer the client (:func:`dial_failure_answer`)."""
    try:
        return await dial
    except DialError as err:
        writer.write(dial_failure_answer(ctx, err, decision, protocol, method, client))
        await writer.drain()
        return None


def dial_failure_answer(
    ctx: ProxyContext,
    err: DialError,
    decision: Decision,
    protocol: str,
    method: str,
    client: str,
) -> bytes:
    """The answer to a failed dial: a vetoed address is a (recorded) block, 403; anything
    else is an upstream failure, 502."""
    if not err.refused:
        return simple_answer(502, b"upstream failure\n")
    refused = refusal(decision)
    ctx.record(refused, protocol=protocol, method=method, client=client)
    return decision_answer(refused, protocol=protocol, method=method, json_body=protocol == "http")


async def exchange(
    ctx: ProxyContext,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    head: Head,
    path: str,
    host: str,
    framing: tuple[str, int],
    conn: Streams,
    *,
    extra_headers: list[tuple[str, str]] | None = None,
    stale_ok: bool = False,
    deadline: Deadline | None = None,
) -> tuple[bool, bool]:
    """Relay one request/response; return (client keep-alive, upstream reusable).

    ``path`` is the request target as sent upstream (origin form, or absolute form for an
    upstream proxy); ``host`` the ``Host`` value; ``extra_headers`` are added after the
    client's (e.g. proxy credentials). With ``stale_ok`` (a pooled connection and a request
    without a body) an upstream that fails before answering raises :class:`StaleUpstream`
    instead of a 502, so the caller can retry on a fresh connection. ``deadline`` is the
    connection task's (see :class:`~.streams.Deadline`).
    """
    up_reader, up_writer = conn
    method, _, version = head.start
    client_close = version == "HTTP/1.0" or "close" in head.connection_tokens()
    headers = [("Host", host)]
    headers += [
        (k, v)
        for k, v in forward_headers(head)
        if k.lower() not in ("host", "content-length", "expect")
    ]
    headers += extra_headers or []
    if framing[0] == "length":
        headers.append(("Content-Length", str(framing[1])))
    elif framing[0] == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
    has_body = framing != ("none", 0) and framing != ("length", 0)
    expects = [v.lower() for v in head.get_all("expect")] if has_body else []
    if expects:
        if expects != ["100-continue"]:
            await send_simple(writer, 417, b"unsupported Expect\n")
            return (False, False)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        request_head = serialize_head((method, path, "HTTP/1.1"), headers)
        try:
            await copy_body(
                reader,
                up_writer,
                framing,
                timeout=ctx.body_timeout,
                chunked_out=True,
                prefix=request_head,
                deadline=deadline,
            )
        except ProtocolError as err:
            # Read from the client, so the client's fault whatever the shared reader says
            # (it calls a body cut short a 502, which is right only for a response).
            raise _ClientBodyError(err.message, 431 if err.status == 431 else 400) from None
        except TimeoutError:
            raise _ClientBodyError("request body timeout", 408) from None
        response = await _final_response_head(up_reader, ctx.body_timeout, deadline)
        status = int(response.start[1])
    except _ClientBodyError:
        raise
    except ProtocolError as err:
        if stale_ok and err.message == _UPSTREAM_CLOSED:
            raise StaleUpstream from None
        await send_simple(writer, 502, b"upstream failure\n")
        return (False, False)
    except (OSError, ssl.SSLError):
        if stale_ok:
            raise StaleUpstream from None
        await send_simple(writer, 502, b"upstream failure\n")
        return (False, False)
    except TimeoutError:
        await send_simple(writer, 502, b"upstream failure\n")
        return (False, False)
    if method == "HEAD" or status in (204, 304):
        resp_framing: tuple[str, int] = ("none", 0)
    else:
        try:
            resp_framing = body_framing(response, request=False)
        except ProtocolError:
            await send_simple(writer, 502, b"upstream failure\n")
            return (False, False)
    out = forward_headers(response)
    chunked_out = resp_framing[0] == "chunked" and version == "HTTP/1.1"
    if chunked_out:
        out.append(("Transfer-Encoding", "chunked"))
    if resp_framing[0] == "close" or (resp_framing[0] == "chunked" and not chunked_out):
        client_close = True
    if client_close:
        out.append(("Connection", "close"))
    response_head = serialize_head(("HTTP/1.1", response.start[1], response.start[2]), out)
    try:
        await copy_body(
            up_reader,
            writer,
            resp_framing,
            timeout=ctx.body_timeout,
            chunked_out=chunked_out,
            prefix=response_head,
            deadline=deadline,
        )
    except ProtocolError:
        return (False, False)
    upstream_ok = (
        resp_framing[0] in ("length", "chunked", "none")
        and response.start[0] == "HTTP/1.1"
        and "close" not in response.connection_tokens()
    )
    return (not client_close, upstream_ok)


async def _final_response_head(
    up_reader: asyncio.StreamReader, timeout: float, deadline: Deadline | None
) -> Head:
    """The upstream's final response head, interim (1xx) heads skipped.

    Whatever is wrong with it is the upstream's failure, answered 502: the shared head
    reader and parser speak for a client (a head cut short or a malformed field is a 400
    there), and a client must never be told it sent a bad request when the upstream did.
    So are:

    * more than :data:`MAX_INTERIM` interim heads (each read has a timeout, but an upstream
      streaming ``102 Processing`` forever would otherwise hold the client);
    * ``101 Switching Protocols``: ``Upgrade`` is hop-by-hop and never forwarded, so no
      upstream was asked to switch;
    * a close after an interim head. Only a close before any byte raises the message a
      pooled connection's caller retries on (:class:`StaleUpstream`): once the upstream
      has answered at all, it has seen the request, and sending it again would repeat it.
    """
    for count in range(MAX_INTERIM + 1):
        try:
            raw = await read_head(up_reader, timeout, deadline)
            if raw is None:
                closed = _UPSTREAM_CLOSED if count == 0 else "upstream closed after 1xx"
                raise ProtocolError(closed, 502)
            response = parse_head(raw, request=False)
        except ProtocolError as err:
            if err.status == 502:
                raise
            raise ProtocolError(f"upstream response: {err.message}", 502) from None
        status = int(response.start[1])
        if status == 101:
            raise ProtocolError("upstream switched protocols unasked", 502)
        if status >= 200:
            return response
    raise ProtocolError(f"upstream sent more than {MAX_INTERIM} interim responses", 502)
