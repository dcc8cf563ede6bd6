"""Chaining to an organisation's upstream HTTP proxy (``allow_upstream_proxy``), on loopback.

A small "corporate proxy" (``ParentProxy``) stands in for the organisation's proxy: it demands
credentials, records what it was asked, and maps names to local origins so no test ever
touches the internet.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from codex_admin.proxy import build_network_policy
from codex_admin.proxy.upstream import UpstreamRoutes, parse_proxy_url
from tests.proxy.helpers import (
    UpstreamCA,
    curl,
    make_proxy,
    random_loopback,
    raw_exchange,
    run,
    start_upstream,
)

AUTH = "Basic " + base64.b64encode(b"corp user:s3cret").decode()
PUBLIC = "93.184.216.34"  # what the policy's resolver answers; never dialled by these tests


@dataclass
class ParentProxy:
    targets: dict[str, tuple[str, int]]
    heads: list[bytes] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://corp%20user:s3cret@127.0.0.1:{port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            if f"proxy-authorization: {AUTH}".lower().encode() not in head.lower():
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                return
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
            authority = target if method == "CONNECT" else target.split("/")[2]
            origin = self.targets.get(authority)
            if origin is None:
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
                return
            up_reader, up_writer = await asyncio.open_connection(*origin)
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                up_writer.write(head)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


def test_plain_http_goes_absolute_form_with_credentials(tmp_path: Path) -> None:
    async def main() -> None:
        origin = await start_upstream()
        parent = ParentProxy({f"app.example.com:{origin.port}": ("127.0.0.1", origin.port)})
        await parent.start()
        proxy, _ = make_proxy(
            tmp_path,
            {"domains": {"app.example.com": "allow"}, "allow_upstream_proxy": True},
            answers={"app.example.com": [PUBLIC]},
            upstream_env={"HTTP_PROXY": parent.url},
        )
        async with proxy:
            code, out, err = await curl(
                "-x",
                proxy.http_url,
                "--proxy-user",
                "child:leak",  # our proxy must not pass the child's credentials on
                f"http://app.example.com:{origin.port}/x?y=1",
            )
        assert code == 0, err
        assert len(parent.heads) == 1
        head = parent.heads[0].decode()
        assert head.startswith(f"GET http://app.example.com:{origin.port}/x?y=1 HTTP/1.1\r\n")
        assert head.lower().count("proxy-authorization") == 1 and AUTH in head
        assert "echo:GET http://app.example.com" in out
        origin.close()

    run(main())


def test_connect_and_inspected_https_tunnel_through_the_parent(tmp_path: Path) -> None:
    async def main() -> None:
        ca = UpstreamCA.create(tmp_path)
        host = random_loopback()
        origin = await start_upstream(
            host, 443, ssl_context=ca.server_context(tmp_path, "app.example.com")
        )
        parent = ParentProxy({"app.example.com:443": (host, 443)})
        await parent.start()
        env = {"https_proxy": parent.url, "HTTPS_PROXY": "http://127.0.0.1:9"}  # lower wins
        network = {"domains": {"app.example.com": "allow"}, "allow_upstream_proxy": True}
        answers = {"app.example.com": [PUBLIC]}
        # Full mode: an opaque CONNECT through the parent; curl verifies the origin itself.
        proxy, _ = make_proxy(tmp_path, network, answers=answers, upstream_env=env)
        async with proxy:
            code, out, err = await curl(
                "-x", proxy.http_url, "--cacert", str(ca.pem_path), "https://app.example.com/a"
            )
        assert code == 0, err
        assert "echo:GET /a HTTP/1.1" in out
        # Limited mode: inspected; our proxy's upstream leg is TLS inside the parent's CONNECT.
        home = tmp_path / "limited"
        proxy, _ = make_proxy(
            home,
            {**network, "mode": "limited"},
            answers=answers,
            upstream_env=env,
            upstream_ssl_context=ca.client_context(),
        )
        async with proxy:
            assert proxy.ca_bundle_path is not None
            code, out, err = await curl(
                "-x",
                proxy.http_url,
                "--cacert",
                str(proxy.ca_bundle_path),
                "https://app.example.com/b",
            )
            code_post, _, _ = await curl(
                "-x",
                proxy.http_url,
                "--cacert",
                str(proxy.ca_bundle_path),
                "-X",
                "POST",
                "-f",
                "https://app.example.com/c",
            )
        assert code == 0, err
        assert "echo:GET /b HTTP/1.1" in out
        assert code_post != 0  # the method clamp still runs inside the chained tunnel
        assert [h.split(b"\r\n")[0] for h in parent.heads] == [
            b"CONNECT app.example.com:443 HTTP/1.1",
            b"CONNECT app.example.com:443 HTTP/1.1",
        ]
        assert len(origin.received) == 2
        origin.close()

    run(main())


def test_policy_still_decides_before_anything_reaches_the_parent(tmp_path: Path) -> None:
    async def main() -> None:
        origin = await start_upstream()
        parent = ParentProxy({})
        await parent.start()
        proxy, _ = make_proxy(
            tmp_path,
            {
                "domains": {"app.example.com": "allow", "127.0.0.1": "allow"},
                "allow_upstream_proxy": True,
            },
            answers={"app.example.com": ["10.0.0.5"], "other.example.com": [PUBLIC]},
            upstream_env={"HTTP_PROXY": parent.url, "NO_PROXY": "localhost,127.0.0.0/8"},
        )
        async with proxy:
            private = await raw_exchange(
                proxy.http_address,
                b"GET http://app.example.com/ HTTP/1.1\r\nHost: app.example.com\r\n\r\n",
            )
            unlisted = await raw_exchange(
                proxy.http_address,
                b"GET http://other.example.com/ HTTP/1.1\r\nHost: other.example.com\r\n\r\n",
            )
            # NO_PROXY: an allowed local literal is dialled directly, with the address guard.
            code, out, err = await curl("-x", proxy.http_url, f"http://127.0.0.1:{origin.port}/d")
        assert b" 403 " in private.split(b"\r\n")[0] and b"not_allowed_local" in private
        assert b"blocked-by-allowlist" in unlisted
        assert code == 0 and "echo:GET /d" in out, err
        assert parent.heads == []
        origin.close()

    run(main())


def test_parent_refusal_is_a_502_and_default_off_ignores_the_environment(tmp_path: Path) -> None:
    async def main() -> None:
        origin = await start_upstream()
        parent = ParentProxy({})
        await parent.start()
        no_creds = parent.url.replace("corp%20user:s3cret@", "")
        proxy, _ = make_proxy(
            tmp_path,
            {"domains": {"app.example.com": "allow"}, "allow_upstream_proxy": True},
            answers={"app.example.com": [PUBLIC]},
            upstream_env={"ALL_PROXY": no_creds},
        )
        async with proxy:
            plain = await raw_exchange(
                proxy.http_address,
                b"GET http://app.example.com/ HTTP/1.1\r\nHost: app.example.com\r\n\r\n",
            )
            tunnel = await raw_exchange(
                proxy.http_address, b"CONNECT app.example.com:443 HTTP/1.1\r\n\r\n"
            )
        assert plain.startswith(b"HTTP/1.1 407") or b" 502 " in plain.split(b"\r\n")[0]
        assert b" 502 " in tunnel.split(b"\r\n")[0]
        assert len(parent.heads) == 2
        # allow_upstream_proxy off (the default): the variables are ignored entirely.
        off, _ = make_proxy(
            tmp_path / "off",
            {"domains": {"127.0.0.1": "allow"}},
            upstream_env={"HTTP_PROXY": parent.url},
        )
        async with off:
            code, out, err = await curl("-x", off.http_url, f"http://127.0.0.1:{origin.port}/e")
        assert code == 0 and "echo:GET /e" in out, err
        assert len(parent.heads) == 2
        origin.close()

    run(main())


def test_routes_parsing_no_proxy_loops_and_redaction() -> None:
    routes = UpstreamRoutes.from_environ(
        {
            "HTTP_PROXY": "http://u:p%40ss@proxy.corp.example:8080",
            "HTTPS_PROXY": "socks5://proxy.corp.example:1080",
            "ALL_PROXY": "proxy.corp.example:3128",
            "NO_PROXY": ".internal.example, *.lab.example,10.0.0.0/8, [::1], host.example:8443",
        }
    )
    assert routes.http is not None and routes.http.port == 8080
    assert routes.http.authorization == "Basic " + base64.b64encode(b"u:p@ss").decode()
    assert "p@ss" not in repr(routes) and "p%40ss" not in repr(routes)
    assert routes.http.display() == "http://***@proxy.corp.example:8080"
    assert routes.https is None  # socks5:// is not an HTTP proxy: ignored, with a warning
    assert any("HTTPS_PROXY" in w and "socks5" in w for w in routes.warnings)
    for host in ("internal.example", "a.internal.example", "b.lab.example", "10.2.3.4", "::1"):
        assert routes.bypass(host), host
    for host in ("internal.example.evil", "xinternal.example", "11.0.0.1", "host.example.org"):
        assert not routes.bypass(host), host
    assert routes.bypass("host.example")
    assert UpstreamRoutes.from_environ({"no_proxy": "*", "http_proxy": "h:1"}).bypass("x.y")
    looped = UpstreamRoutes.from_environ({"HTTP_PROXY": "http://localhost:3128"}).without(
        [("127.0.0.1", 3128)]
    )
    assert looped.http is None and "this proxy" in looped.warnings[-1]
    assert parse_proxy_url("HTTP://Proxy.Example.:81").host == "proxy.example"


def test_requirements_can_forbid_chaining() -> None:
    policy = build_network_policy(
        {"enabled": True, "allow_upstream_proxy": True}, {"allow_upstream_proxy": False}
    )
    assert policy.allow_upstream_proxy is False
    assert any("allow_upstream_proxy" in w for w in policy.warnings)


def test_header_injection_through_a_socks_name_never_reaches_the_parent(tmp_path: Path) -> None:
    async def main() -> None:
        parent = ParentProxy({})
        await parent.start()
        proxy, _ = make_proxy(
            tmp_path,
            {"domains": {"*": "allow"}, "allow_upstream_proxy": True},
            answers={"app.example.com": [PUBLIC]},
            upstream_env={"HTTPS_PROXY": parent.url},
        )
        async with proxy:
            assert proxy.socks_address is not None
            reader, writer = await asyncio.open_connection(*proxy.socks_address)
            writer.write(b"\x05\x01\x00")
            await reader.readexactly(2)
            name = b"app.example.com:443 HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET / HTTP/1.1"
            writer.write(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + b"\x01\xbb")
            reply = await asyncio.wait_for(reader.readexactly(10), 5)
            writer.close()
        assert reply[1] != 0
        assert parent.heads == []

    run(main())


def test_local_literals_never_go_to_the_parent_and_its_target_is_normalised(
    tmp_path: Path,
) -> None:
    """Review findings: the parent would reach *its own* loopback, and must see checked names."""

    async def main() -> None:
        origin = await start_upstream()
        parent = ParentProxy({f"app.example.com:{origin.port}": ("127.0.0.1", origin.port)})
        await parent.start()
        proxy, _ = make_proxy(
            tmp_path,
            {
                "domains": {"localhost": "allow", "127.0.0.1": "allow", "app.example.com": "allow"},
                "allow_upstream_proxy": True,
            },
            answers={"app.example.com": [PUBLIC]},
            upstream_env={"HTTP_PROXY": parent.url, "HTTPS_PROXY": parent.url, "NO_PROXY": ""},
        )
        async with proxy:
            for host in ("127.0.0.1", "localhost"):
                code, out, err = await curl("-x", proxy.http_url, f"http://{host}:{origin.port}/l")
                assert code == 0 and "echo:GET /l" in out, err
            reader, writer = await asyncio.open_connection(*proxy.http_address)
            writer.write(f"CONNECT localhost:{origin.port} HTTP/1.1\r\n\r\n".encode())
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            writer.close()
            assert parent.heads == []  # all of them went direct
            await raw_exchange(
                proxy.http_address,
                f"GET http://APP.Example.COM.:{origin.port}/n HTTP/1.1\r\n"
                f"Host: app.example.com:{origin.port}\r\n\r\n".encode(),
            )
        assert parent.heads[0].startswith(
            f"GET http://app.example.com:{origin.port}/n HTTP/1.1\r\n".encode()
        )
        origin.close()

    run(main())


def test_a_password_never_appears_in_a_warning() -> None:
    for url in ("http://svc:S3cr3t\uff0fpw@proxy.corp.example:8080", "http://svc:S3cr3t\x00@p:1"):
        routes = UpstreamRoutes.from_environ({"HTTPS_PROXY": url})
        assert routes.https is None
        assert routes.warnings and not any("S3cr3t" in w for w in routes.warnings)
        assert "S3cr3t" not in repr(routes)
