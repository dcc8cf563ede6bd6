"""Chaining to an organisation's own HTTP proxy (``allow_upstream_proxy``, spec §2.2, §7.1).

Many corporate networks only reach the internet through an HTTP proxy named in the
environment. With ``allow_upstream_proxy = true`` (off by default; requirements can forbid it)
the managed proxy honours *its own process's* ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` and
``NO_PROXY``, never anything a sandboxed child sets:

* plain HTTP is forwarded in absolute form to the ``http`` route;
* tunnels (CONNECT, SOCKS5 TCP, the upstream leg of inspected HTTPS) open a ``CONNECT`` through
  the ``https`` route, then run TLS or the opaque tunnel inside it.

Only ``http://`` upstream proxies are supported; other schemes are ignored with a warning. The
policy's DNS pre-check still runs for every request; the connect-time address guard cannot
(the dialled address is the upstream proxy's), which is why this is opt-in and the upstream
proxy should enforce egress too. Credentials in the URL become ``Proxy-Authorization: Basic``
and are never printed (:meth:`UpstreamProxy.display`).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from codex_admin.proxy.hosts import is_local_literal
from codex_admin.proxy.http1 import MAX_HEAD_BYTES, ProtocolError, parse_head

__all__ = ["UpstreamError", "UpstreamProxy", "UpstreamRoutes", "open_tunnel", "parse_proxy_url"]


class UpstreamError(Exception):
    """The upstream proxy refused or broke a CONNECT."""


@dataclass(frozen=True)
class UpstreamProxy:
    """One upstream HTTP proxy: where it listens and the credentials to present."""

    host: str
    port: int
    authorization: str | None = field(default=None, repr=False)

    def display(self) -> str:
        """``http://host:port`` with credentials elided, safe for logs and warnings."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        creds = "***@" if self.authorization else ""
        return f"http://{creds}{host}:{self.port}"

    def headers(self) -> list[tuple[str, str]]:
        return [("Proxy-Authorization", self.authorization)] if self.authorization else []


def parse_proxy_url(text: str) -> UpstreamProxy:
    """``http://[user:pass@]host[:port]`` (a bare ``host:port`` means http). Raises ValueError."""
    value = text.strip()
    if "://" not in value:
        value = "http://" + value
    try:
        parts = urlsplit(value)
    except ValueError:
        # urlsplit's message quotes the netloc, password included: never pass it on.
        raise ValueError("malformed proxy URL") from None
    if parts.scheme.lower() != "http":
        raise ValueError(f"only http:// upstream proxies are supported, not {parts.scheme}://")
    if not parts.hostname:
        raise ValueError("no host")
    try:
        port = parts.port or 80
    except ValueError:
        raise ValueError("invalid port") from None
    authorization = None
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in parts.netloc):
        raise ValueError("malformed proxy URL")
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return UpstreamProxy(parts.hostname.lower().rstrip("."), port, authorization)


def _first(env: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return None


@dataclass(frozen=True)
class UpstreamRoutes:
    """Which upstream proxy (if any) serves plain HTTP and tunnels, honouring ``NO_PROXY``."""

    http: UpstreamProxy | None = None
    https: UpstreamProxy | None = None
    no_proxy: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> UpstreamRoutes:
        """Read the proxy process's environment (lower-case names win, as in curl)."""
        warnings: list[str] = []
        routes: dict[str, UpstreamProxy | None] = {}
        for kind, names in (
            ("http", ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")),
            ("https", ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")),
        ):
            found = _first(env, *names)
            routes[kind] = None
            if found is None:
                continue
            try:
                routes[kind] = parse_proxy_url(found[1])
            except ValueError as err:
                warnings.append(f"{found[0]} ignored for upstream {kind}: {err}")
        found = _first(env, "no_proxy", "NO_PROXY")
        no_proxy = tuple(_no_proxy_entries(found[1])) if found else ()
        return cls(routes["http"], routes["https"], no_proxy, tuple(warnings))

    def for_plain_http(self, host: str) -> UpstreamProxy | None:
        return None if self.bypass(host) else self.http

    def for_tunnel(self, host: str) -> UpstreamProxy | None:
        return None if self.bypass(host) else self.https

    def bypass(self, host: str) -> bool:
        """Is the normalised ``host`` dialled directly? Local literals always are.

        ``localhost`` or a private address that the policy explicitly allowed means *this*
        machine's network; the organisation's proxy would reach its own instead. Otherwise
        ``NO_PROXY`` decides (``*``, domain suffixes, IPs and CIDRs).
        """
        if is_local_literal(host):
            return True
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            address = None
        for entry in self.no_proxy:
            if entry == "*":
                return True
            if address is not None:
                try:
                    if address in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    pass
                continue
            if host == entry or host.endswith("." + entry):
                return True
        return False

    def without(self, listeners: list[tuple[str, int]]) -> UpstreamRoutes:
        """Drop a route that points back at one of our own listeners (a loop)."""
        warnings = list(self.warnings)

        def keep(route: UpstreamProxy | None) -> UpstreamProxy | None:
            if route is None:
                return None
            for host, port in listeners:
                if port == route.port and _same_loopback(route.host, host):
                    warnings.append(f"upstream proxy {route.display()} is this proxy; ignored")
                    return None
            return route

        return UpstreamRoutes(keep(self.http), keep(self.https), self.no_proxy, tuple(warnings))

    def describe(self) -> dict[str, str | None]:
        """``{"http": url|None, "https": url|None}`` with credentials elided."""
        return {
            "http": self.http.display() if self.http else None,
            "https": self.https.display() if self.https else None,
        }


def _same_loopback(a: str, b: str) -> bool:
    """Do two listen/connect hosts name the same local endpoint (any loopback or wildcard)?"""

    def local(host: str) -> bool:
        if host == "localhost":
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return address.is_loopback or address.is_unspecified

    return a == b or (local(a) and local(b))


def _no_proxy_entries(text: str) -> list[str]:
    entries = []
    for raw in text.replace(" ", ",").split(","):
        entry = raw.strip().lower().rstrip(".")
        if not entry:
            continue
        if entry.startswith("*."):
            entry = entry[2:]
        entry = entry.lstrip(".")
        if entry.startswith("[") and "]" in entry:
            entry = entry[1 : entry.index("]")]
        elif entry.count(":") == 1:
            entry = entry.split(":", 1)[0]  # a port restriction is treated as the host
        if entry:
            entries.append(entry)
    return entries


async def open_tunnel(
    proxy: UpstreamProxy, host: str, port: int, *, timeout: float, limit: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to ``proxy`` and ``CONNECT host:port`` through it; the streams carry the tunnel."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(proxy.host, proxy.port, limit=limit)
    try:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        lines += [f"{name}: {value}" for name, value in proxy.headers()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        async with asyncio.timeout(timeout):
            raw = await reader.readuntil(b"\r\n\r\n")
        if len(raw) > MAX_HEAD_BYTES:
            raise UpstreamError("upstream proxy answer too large")
        status = parse_head(raw, request=False).start[1]
        if not status.startswith("2"):
            raise UpstreamError(f"upstream proxy {proxy.display()} answered {status} to CONNECT")
    except (ProtocolError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        writer.close()
        raise UpstreamError(f"upstream proxy {proxy.display()} broke the CONNECT") from None
    except BaseException:
        writer.close()
        raise
    return reader, writer
