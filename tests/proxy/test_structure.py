"""The proxy package's shape: no import cycles, nothing imported to dodge one, cheap imports.

Issue 11: `server` ↔ `http_handler` ↔ `socks5` ↔ `udp_relay` imported each other through
function-level and ``TYPE_CHECKING`` imports. Handlers now depend on the narrow
``context.ProxyContext``; these tests keep it that way, and keep TLS work off the paths that do
not need it (start-up of every sandboxed command pays for whatever the proxy imports).
"""

from __future__ import annotations

import ast
import json
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

import codex_admin.proxy as proxy_package
from tests.proxy.helpers import make_proxy, raw_exchange, run, start_upstream

PACKAGE = Path(proxy_package.__file__).parent
# Function-level imports allowed, each only to keep start-up cheap (commented in the code).
LAZY_IMPORTS = {
    ("server", "codex_admin.proxy.ca"),  # cryptography only with inspection on
    ("resolver", "asyncio"),  # a policy build must not import asyncio
    ("hosts", "idna"),  # only for a non-ASCII host; a policy of ASCII patterns never needs it
}
# TYPE_CHECKING imports allowed: the lazy package exports, the lazily imported CA type, and
# the HTTP head type the engine's RequestShape annotates (a policy build needs no parser).
TYPE_ONLY = {
    ("__init__", "*"),
    ("server", "codex_admin.proxy.ca"),
    ("policy", "codex_admin.proxy.http1"),
}


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text()) for p in PACKAGE.glob("*.py")}


def _imports(node: ast.AST) -> list[str]:
    names: list[str] = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            names += [a.name for a in sub.names]
        elif isinstance(sub, ast.ImportFrom) and sub.module:
            names.append(sub.module)
    return names


def test_no_import_cycles_inside_the_proxy_package() -> None:
    graph: dict[str, set[str]] = {}
    for name, tree in _modules().items():
        if name == "__init__":
            continue
        graph[name] = {
            target.rsplit(".", 1)[1]
            for target in _imports(tree)
            if target.startswith("codex_admin.proxy.")
        }
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            assert state.get(nxt) != 1, f"import cycle: {' -> '.join([*path, node, nxt])}"
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_no_function_level_or_type_checking_imports_dodge_a_cycle() -> None:
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for target in _imports(node):
                    assert (name, target) in LAZY_IMPORTS, f"{name}: import {target} in a function"
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                for target in _imports(node):
                    allowed = (name, "*") in TYPE_ONLY or (name, target) in TYPE_ONLY
                    assert allowed, f"{name}: TYPE_CHECKING import of {target}"


def test_handlers_never_import_the_server() -> None:
    for name in ("http_handler", "mitm", "socks5", "udp_relay", "exchange", "dial", "context"):
        assert "codex_admin.proxy.server" not in _imports(_modules()[name]), name


@pytest.mark.parametrize(
    ("code", "absent"),
    [
        ("from codex_admin.proxy import build_network_policy", ["ssl", "asyncio", "cryptography"]),
        # Every `--network proxy` sandbox run builds a policy before its command starts: the
        # value and its patterns only, not the decision engine, the HTTP parser or idna.
        (
            "from codex_admin.proxy import build_network_policy\n"
            "build_network_policy({'enabled': True, 'domains': {'**.example.com': 'allow'}}, None)",
            ["idna", "codex_admin.proxy.http1", "codex_admin.proxy.policy", "socket", "ctypes"],
        ),
        ("from codex_admin.proxy import check_request", ["ssl", "cryptography"]),
        ("from codex_admin.proxy import ProxyServer", ["cryptography"]),
    ],
)
def test_cheap_imports(code: str, absent: list[str]) -> None:
    probe = f"import sys\n{code}\nprint(__import__('json').dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not [m for m in absent if m in loaded], code


def test_a_proxy_without_inspection_builds_no_tls_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: an SSL context per proxy cost 17 ms of a 44 ms proxied sandbox run."""
    built: list[object] = []
    real = ssl.create_default_context

    def counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        built.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl, "create_default_context", counting)

    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            reply = await raw_exchange(
                proxy.http_address,
                f"GET http://127.0.0.1:{up.port}/ HTTP/1.1\r\nHost: 127.0.0.1:{up.port}\r\n"
                "Connection: close\r\n\r\n".encode(),
            )
            assert reply.startswith(b"HTTP/1.1 200")
            tunnel = await raw_exchange(
                proxy.http_address,
                f"CONNECT 127.0.0.1:{up.port} HTTP/1.1\r\n\r\n".encode(),
                read_timeout=0.3,
            )
            assert tunnel.startswith(b"HTTP/1.1 200")
            assert proxy.ca is None
        up.close()

    run(scenario())
    assert built == []
