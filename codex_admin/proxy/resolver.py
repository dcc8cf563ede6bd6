"""Name resolution behind an interface, so policy and tests never need real DNS.

The policy resolves a name once, checks every answer, and the proxy then dials exactly those
checked addresses (attack A6: a rebinding resolver gets no second chance). Failure or timeout is
reported as :class:`ResolveError`, which the local guard treats as a block (fail closed).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = ["BlockingResolver", "ResolveError", "Resolver", "StaticResolver", "SystemResolver"]

DEFAULT_TIMEOUT = 2.0


class ResolveError(Exception):
    """The name could not be resolved (NXDOMAIN, timeout, resolver failure).

    The message says why, without repeating the name (callers put it in context).
    """


class Resolver(Protocol):
    async def resolve(self, host: str) -> list[str]:
        """All addresses for ``host`` as IP literal strings; raise ResolveError on failure."""
        ...


class SystemResolver:
    """The platform resolver via ``getaddrinfo`` with a timeout."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    async def resolve(self, host: str) -> list[str]:
        # Imported here to keep start-up cheap: building a policy (a sandbox plan, `codex
        # network check` before it resolves) must not pay for asyncio.
        import asyncio

        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise ResolveError(f"no answer within {self.timeout:g} s") from None
        except (OSError, UnicodeError) as err:
            raise ResolveError(_reason(err)) from None
        return _addresses(infos)


class BlockingResolver:
    """The platform resolver without an event loop: ``getaddrinfo`` in a daemon thread, waited
    for at most ``timeout``.

    Its ``resolve`` never suspends, so a one-shot check (`codex network check`) can run the
    policy's coroutines to completion without importing asyncio, which is most of that
    command's start-up (see :func:`codex_admin.proxy.check.check_request_now`). A lookup that
    outlives the timeout is abandoned to its thread, which ends with the process.
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    async def resolve(self, host: str) -> list[str]:
        answer: list[list[Any] | OSError | UnicodeError] = []

        def lookup() -> None:
            try:
                answer.append(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
            except (OSError, UnicodeError) as err:
                answer.append(err)

        worker = threading.Thread(target=lookup, name="codex-resolve", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if not answer:
            raise ResolveError(f"no answer within {self.timeout:g} s")
        if isinstance(answer[0], OSError | UnicodeError):
            raise ResolveError(_reason(answer[0]))
        return _addresses(answer[0])


class StaticResolver:
    """Answers from a mapping (``--resolve HOST=IP``, tests); unknown names go to ``fallback``.

    The mapping may be changed between calls, which is how tests model a rebinding resolver.
    """

    def __init__(
        self, answers: Mapping[str, Sequence[str]], fallback: Resolver | None = None
    ) -> None:
        self.answers: dict[str, list[str]] = {k.lower(): list(v) for k, v in answers.items()}
        self.fallback = fallback
        self.calls: list[str] = []

    async def resolve(self, host: str) -> list[str]:
        self.calls.append(host)
        answer = self.answers.get(host.lower())
        if answer is not None:
            if not answer:
                raise ResolveError("no addresses")
            return list(answer)
        if self.fallback is not None:
            return await self.fallback.resolve(host)
        raise ResolveError("no answer configured")


def _reason(err: OSError | UnicodeError) -> str:
    reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    return reason or "resolver failure"


def _addresses(infos: Sequence[Any]) -> list[str]:
    """The distinct addresses of a ``getaddrinfo`` answer."""
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        addr = str(sockaddr[0])
        if addr not in addresses:
            addresses.append(addr)
    if not addresses:
        raise ResolveError("no addresses")
    return addresses
