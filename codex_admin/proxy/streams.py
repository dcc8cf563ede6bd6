"""Byte movers over asyncio streams: bounded head reads and body re-framing.

Bodies are copied byte-for-byte; only their *framing* is re-done (a chunked body is decoded and
re-encoded chunk by chunk, trailers dropped), so no ambiguity in the client's framing can reach
the upstream. Every read has a timeout so a slow or stalled peer cannot pin a connection forever.

Timeouts use ``asyncio.timeout`` (a timer on the current task) rather than ``asyncio.wait_for``
(a new task per read): measured, that alone is a quarter more plain-HTTP requests per second.
"""

from __future__ import annotations

import asyncio
import re

from codex_admin.proxy.http1 import MAX_HEAD_BYTES, ProtocolError

__all__ = ["copy_body", "read_head"]

CHUNK = 256 * 1024
_CHUNK_LINE = re.compile(rb"^([0-9a-fA-F]{1,16})(?:;[^\r\n]*)?\r\n$")


async def read_head(reader: asyncio.StreamReader, timeout: float) -> bytes | None:
    """Read up to and including CRLFCRLF; None on a clean EOF before any byte."""
    try:
        async with asyncio.timeout(timeout):
            return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial:
            return None
        raise ProtocolError("connection closed inside the message head") from None
    except asyncio.LimitOverrunError:
        raise ProtocolError("request header fields too large", 431) from None
    except ValueError:  # StreamReader wraps LimitOverrunError when the buffer is exceeded
        raise ProtocolError("request header fields too large", 431) from None


async def _read(reader: asyncio.StreamReader, n: int, timeout: float) -> bytes:
    async with asyncio.timeout(timeout):
        data = await reader.read(n)
    if not data:
        raise ProtocolError("connection closed inside the message body", 502)
    return data


async def copy_body(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    framing: tuple[str, int],
    *,
    timeout: float,
    chunked_out: bool,
    prefix: bytes = b"",
) -> None:
    """Copy one body framed as ``framing`` from ``reader`` to ``writer``.

    ``chunked_out`` re-encodes a chunked body as chunked; otherwise its bytes are written
    unframed (for a close-delimited response to an HTTP/1.0 client). ``prefix`` (the message
    head) is written together with the first body bytes, in one send; it is written even when
    the body is empty, and never when reading the body fails before any byte.
    """
    kind, length = framing
    if kind == "length":
        remaining = length
        while remaining:
            data = await _read(reader, min(remaining, CHUNK), timeout)
            remaining -= len(data)
            writer.write(prefix + data if prefix else data)
            prefix = b""
            await writer.drain()
    elif kind == "chunked":
        await _copy_chunked(reader, writer, timeout, chunked_out, prefix)
        return
    elif kind == "close":
        while True:
            async with asyncio.timeout(timeout):
                data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(prefix + data if prefix else data)
            prefix = b""
            await writer.drain()
    if prefix:
        writer.write(prefix)
        await writer.drain()


async def _copy_chunked(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    timeout: float,
    chunked_out: bool,
    prefix: bytes,
) -> None:
    while True:
        try:
            async with asyncio.timeout(timeout):
                line = await reader.readuntil(b"\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            raise ProtocolError("malformed chunked body") from None
        match = _CHUNK_LINE.match(line)
        if match is None:
            raise ProtocolError("malformed chunk size line")
        size = int(match.group(1), 16)
        if size == 0:
            await _skip_trailers(reader, timeout)
            last = b"0\r\n\r\n" if chunked_out else b""
            if prefix or last:
                writer.write(prefix + last)
                await writer.drain()
            return
        if chunked_out:
            prefix += b"%x\r\n" % size
        remaining = size
        while remaining:
            data = await _read(reader, min(remaining, CHUNK), timeout)
            remaining -= len(data)
            writer.write(prefix + data if prefix else data)
            prefix = b""
            await writer.drain()  # a huge chunk must not pile up when upstream stops reading
        try:
            async with asyncio.timeout(timeout):
                crlf = await reader.readexactly(2)
        except asyncio.IncompleteReadError:
            raise ProtocolError("truncated chunk") from None
        if crlf != b"\r\n":
            raise ProtocolError("chunk data not followed by CRLF")
        if chunked_out:
            writer.write(b"\r\n")
        await writer.drain()


async def _skip_trailers(reader: asyncio.StreamReader, timeout: float) -> None:
    total = 0
    while True:
        try:
            async with asyncio.timeout(timeout):
                line = await reader.readuntil(b"\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            raise ProtocolError("malformed chunked trailer") from None
        total += len(line)
        if total > MAX_HEAD_BYTES:
            raise ProtocolError("chunked trailer too large", 431)
        if line == b"\r\n":
            return
