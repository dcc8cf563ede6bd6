"""The per-connection read deadline (streams.Deadline) over real loopback sockets.

A Deadline replaces one ``asyncio.timeout`` per read with one timer per connection, so these
tests pin down that it still behaves like a timeout: a stalled read ends in TimeoutError at
its own due time (not an earlier read's), a cancellation from elsewhere stays a
cancellation, and a closed Deadline keeps nothing alive. The proxy-level tests show a body
that stalls mid-way (body_timeout) and a slow head (header_timeout) still end the connection.
"""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from codex_admin.proxy.streams import Deadline, read_head

from .helpers import make_proxy, run


@asynccontextmanager
async def _pair() -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A client stream connected to a loopback server whose writer the test controls."""
    served: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.set_result(writer)
        await reader.read()  # until the client side closes

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
    far = await served
    try:
        yield reader, far
    finally:
        writer.close()
        far.close()
        server.close()


def test_a_stalled_read_times_out_at_its_own_due_time() -> None:
    async def main() -> None:
        async with _pair() as (reader, far):
            deadline = Deadline()
            try:
                far.write(b"HTTP/1.1 200 OK\r\n\r\n")
                assert await read_head(reader, 0.2, deadline) == b"HTTP/1.1 200 OK\r\n\r\n"
                # The timer set for the first read fires at ~0.2 s, while this read (due at
                # ~1.2 s) is under way: it must re-arm, not time the second read out.
                started = time.monotonic()
                far.write(b"HTTP/1.1 204 No Content\r\n")

                async def finish_later() -> None:
                    await asyncio.sleep(0.6)
                    far.write(b"\r\n")

                later = asyncio.ensure_future(finish_later())
                assert (await read_head(reader, 1.0, deadline) or b"").startswith(b"HTTP/1.1 204")
                assert 0.5 < time.monotonic() - started < 1.0
                await later
                started = time.monotonic()
                with pytest.raises(TimeoutError):
                    await read_head(reader, 0.3, deadline)  # nothing more comes
                assert 0.25 < time.monotonic() - started < 1.0
                # After a timeout the deadline serves the next read normally.
                far.write(b"HTTP/1.1 200 OK\r\n\r\n")
                assert await read_head(reader, 0.5, deadline) == b"HTTP/1.1 200 OK\r\n\r\n"
            finally:
                deadline.close()

    run(main())


def test_a_shorter_timeout_after_a_longer_one_fires_on_time() -> None:
    async def main() -> None:
        async with _pair() as (reader, far):
            deadline = Deadline()
            try:
                far.write(b"HTTP/1.1 200 OK\r\n\r\n")
                assert await read_head(reader, 30.0, deadline) is not None  # timer at +30 s
                started = time.monotonic()
                with pytest.raises(TimeoutError):
                    await read_head(reader, 0.2, deadline)
                assert time.monotonic() - started < 1.0
            finally:
                deadline.close()

    run(main())


def test_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    async def main() -> None:
        async with _pair() as (reader, _far):

            async def reading() -> None:
                deadline = Deadline()
                try:
                    await read_head(reader, 30.0, deadline)
                finally:
                    deadline.close()

            task = asyncio.ensure_future(reading())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert task.cancelled()

    run(main())


def test_a_closed_deadline_keeps_nothing_alive() -> None:
    """Without close() the pending timer would hold the task until its due time."""

    async def main() -> None:
        async with _pair() as (reader, far):

            async def reading() -> None:
                deadline = Deadline()
                try:
                    far.write(b"HTTP/1.1 200 OK\r\n\r\n")
                    await read_head(reader, 600.0, deadline)
                finally:
                    deadline.close()

            task = asyncio.ensure_future(reading())
            await task
            for _ in range(3):  # let the loop run the task's done callbacks
                await asyncio.sleep(0)
            ref = weakref.ref(task)
            del task
            gc.collect()
            assert ref() is None

    run(main())


def test_a_deadline_needs_a_task() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        made: asyncio.Future[None] = loop.create_future()

        def outside_a_task() -> None:
            try:
                Deadline()
            except RuntimeError as err:
                made.set_exception(err)

        loop.call_soon(outside_a_task)
        with pytest.raises(RuntimeError, match="belongs to a task"):
            await made

    run(main())


def test_an_upstream_body_that_stalls_ends_within_the_body_timeout(tmp_path: Path) -> None:
    async def main() -> None:
        async def stalling(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            await reader.read()  # stall until the proxy gives up and closes

        upstream = await asyncio.start_server(stalling, "127.0.0.1", 0)
        port = upstream.sockets[0].getsockname()[1]
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}}, body_timeout=0.5)
        async with proxy:
            reader, writer = await asyncio.open_connection(*proxy.http_address)
            writer.write(f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\n\r\n".encode())
            started = time.monotonic()
            got = await asyncio.wait_for(reader.read(), 5)  # until the proxy closes
            assert got.startswith(b"HTTP/1.1 200") and got.endswith(b"0123456789")
            assert 0.4 < time.monotonic() - started < 3
            writer.close()
            assert proxy.active_connections == 0
        upstream.close()

    run(main())
