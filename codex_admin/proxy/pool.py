"""Idle keep-alive connections to plain-HTTP upstreams, shared by all clients of one proxy.

Many clients (curl in a script, package managers) open a new connection per request; without
a pool, each of their requests costs the proxy a second TCP set-up and tear-down upstream. The
pool keeps connections whose last response was cleanly framed and not marked ``close``, so the
next request to the same host reuses one. It is safe to share them between clients because a
proxy serves one session (one sandbox, one agent): no other tenant's requests travel on them,
and every request is still checked by the policy before a pooled connection is taken.

Keys are the *checked* host and port (a connection was dialled to an address the policy
checked for that host; the upstream proxy route, if any, is fixed per host). Bounded:
:data:`MAX_IDLE_PER_HOST` per key, :data:`MAX_IDLE` in all (the oldest is closed first), and a
connection idle for more than ``idle_timeout`` seconds, or closed by the upstream while idle,
is discarded instead of reused. A reused connection can still turn out dead mid-request (the
upstream closed it just then); :mod:`.http_handler` retries such a request once on a fresh
connection when it carried no body.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

from codex_admin.proxy.dial import Streams
from codex_admin.proxy.upstream import UpstreamProxy

__all__ = ["MAX_IDLE", "MAX_IDLE_PER_HOST", "Pooled", "UpstreamPool"]

MAX_IDLE_PER_HOST = 128
MAX_IDLE = 512

Pooled = tuple[Streams, UpstreamProxy | None]
Key = tuple[str, int]


class UpstreamPool:
    """Idle upstream connections by ``(checked host, port)``; see the module docstring."""

    def __init__(self, *, idle_timeout: float = 30.0) -> None:
        self.idle_timeout = idle_timeout
        # key -> idle connections (most recently returned last), each with its return time
        self._idle: dict[Key, list[tuple[float, Pooled]]] = {}
        self._order: OrderedDict[int, Key] = OrderedDict()  # id(conn) -> key, oldest first
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def take(self, key: Key) -> Pooled | None:
        """A live idle connection for ``key`` (removed from the pool), or None."""
        entries = self._idle.get(key)
        cutoff = time.monotonic() - self.idle_timeout
        while entries:
            returned, conn = entries.pop()
            self._forget(conn)
            reader, writer = conn[0]
            # Bytes that arrived while idle were never asked for: never hand them on.
            if (
                returned >= cutoff
                and not reader.at_eof()
                and not writer.is_closing()
                and not (_unread(reader))
            ):
                if not entries:
                    del self._idle[key]
                return conn
            conn[0][1].close()
        self._idle.pop(key, None)
        return None

    def give(self, key: Key, conn: Pooled) -> None:
        """Keep ``conn`` for the next request to ``key`` (closing the oldest beyond a bound).

        A connection holding unread bytes is closed instead: an upstream that sent more than
        its framed response would otherwise answer the next request with them.
        """
        if _unread(conn[0][0]):
            conn[0][1].close()
            return
        entries = self._idle.setdefault(key, [])
        entries.append((time.monotonic(), conn))
        self._order[id(conn)] = key
        self._count += 1
        if len(entries) > MAX_IDLE_PER_HOST:
            self._drop(key, entries[0][1])
        while self._count > MAX_IDLE:
            oldest_id, oldest_key = next(iter(self._order.items()))
            victim = next(c for _, c in self._idle[oldest_key] if id(c) == oldest_id)
            self._drop(oldest_key, victim)

    def close(self) -> None:
        """Close every idle connection (the proxy stops)."""
        for entries in self._idle.values():
            for _, conn in entries:
                conn[0][1].close()
        self._idle.clear()
        self._order.clear()
        self._count = 0

    def _drop(self, key: Key, conn: Pooled) -> None:
        entries = self._idle[key]
        entries[:] = [(t, c) for t, c in entries if c is not conn]
        if not entries:
            del self._idle[key]
        self._forget(conn)
        conn[0][1].close()

    def _forget(self, conn: Pooled) -> None:
        if self._order.pop(id(conn), None) is not None:
            self._count -= 1


def _unread(reader: asyncio.StreamReader) -> bool:
    """Does ``reader`` hold bytes nobody consumed? asyncio has no public peek, so this reads
    its buffer (as :func:`.tunnel.detach` does); if that ever changes, say yes (not pooled)."""
    buffer = getattr(reader, "_buffer", None)
    return not isinstance(buffer, bytearray) or len(buffer) > 0
