"""Network mode `proxy` end to end: real proxy, real bridge, real bubblewrap, real TLS.

The target servers listen on the host's 127.0.0.1. Inside the sandbox's fresh network namespace
127.0.0.1 is a different loopback, so the only way to them is the bridge -> Unix socket -> proxy,
and the proxy's policy decides.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from codex_admin.sandbox import NetworkMode, RunResult, SandboxPolicy, run_command

from .conftest import policy

pytestmark = pytest.mark.usefixtures("bwrap")

HTTPS_HOST = "127.0.0.2"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n"


def _serve(
    srv: socket.socket,
    wrap: ssl.SSLContext | None,
    stop: threading.Event,
    response: bytes = RESPONSE,
) -> None:
    srv.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except TimeoutError:
            continue
        try:
            conn.settimeout(5)
            if wrap is not None:
                conn = wrap.wrap_socket(conn, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                head += chunk
            conn.sendall(response)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


BIG = 3 * 1024 * 1024


@pytest.fixture(params=[RESPONSE], ids=["small"])
def http_port(request: pytest.FixtureRequest) -> Iterator[int]:
    srv = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(srv, None, stop, request.param), daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join()
    srv.close()


def _test_ca(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throw-away CA and a server cert for 127.0.0.1: (server context, client context)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sandbox test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HTTPS_HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HTTPS_HOST))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (tmp / "server.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp / "server.pem")
    client = ssl.create_default_context(cafile=str(tmp / "ca.pem"))
    return server, client


@pytest.fixture
def https_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, ssl.SSLContext]]:
    """An HTTPS origin on HTTPS_HOST:443: the proxy inspects CONNECT to port 443 only."""
    tls_dir = tmp_path_factory.mktemp("tls")
    server_ctx, client_ctx = _test_ca(tls_dir)
    try:
        srv = socket.create_server((HTTPS_HOST, 443))
    except OSError as err:
        pytest.skip(f"cannot listen on {HTTPS_HOST}:443 for the inspected-HTTPS test: {err}")
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(srv, server_ctx, stop), daemon=True)
    thread.start()
    yield tls_dir / "ca.pem", client_ctx
    stop.set()
    thread.join()
    srv.close()


def _run(
    pol: SandboxPolicy, script: str, network: dict[str, Any], tmp_path: Path, **options: Any
) -> RunResult:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return asyncio.run(
        run_command(
            pol,
            ["sh", "-c", script],
            codex_home=home,
            network_config=network,
            timeout=30,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            proxy_options=options,
        )
    )


RAW = (
    "import socket,sys\n"
    "try:\n"
    "    socket.create_connection(('127.0.0.1',{port}),timeout=3); print('RAW-CONNECTED')\n"
    "except OSError as e:\n"
    "    print('raw-blocked', type(e).__name__)\n"
)


def test_allowed_target_is_reachable_only_through_the_proxy(
    ws: Path, tmp_path: Path, http_port: int
) -> None:
    network = {"enabled": True, "mode": "full", "domains": {"127.0.0.1": "allow"}}
    raw = RAW.format(port=http_port)
    script = (
        f"curl -sS -m 10 http://127.0.0.1:{http_port}/; "
        f'{sys.executable} -c "{raw}"; '
        f"curl -sS -m 5 --noproxy '*' http://127.0.0.1:{http_port}/ || echo direct-failed"
    )
    r = _run(policy(ws, network=NetworkMode.PROXY), script, network, tmp_path)
    out = r.stdout or b""
    assert b"hello" in out, r.stderr
    assert b"RAW-CONNECTED" not in out and b"raw-blocked" in out
    assert b"direct-failed" in out


def test_target_not_allowed_by_policy_is_blocked_by_the_proxy(
    ws: Path, tmp_path: Path, http_port: int
) -> None:
    network = {"enabled": True, "mode": "full", "domains": {"example.com": "allow"}}
    script = f"curl -sS -m 10 -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{http_port}/"
    r = _run(policy(ws, network=NetworkMode.PROXY), script, network, tmp_path)
    assert (r.stdout or b"").strip() == b"403", r.stderr


def test_allow_local_binding_reaches_local_targets_via_the_proxy(
    ws: Path, tmp_path: Path, http_port: int
) -> None:
    network = {
        "enabled": True,
        "mode": "full",
        "allow_local_binding": True,
        "domains": {"*": "allow"},
    }
    # NO_PROXY lists 127.0.0.1 in this mode, so force the proxy the way a client would.
    script = f'curl -sS -m 10 --noproxy "" -x "$HTTP_PROXY" http://127.0.0.1:{http_port}/'
    r = _run(policy(ws, network=NetworkMode.PROXY), script, network, tmp_path)
    assert b"hello" in (r.stdout or b""), r.stderr


@pytest.mark.parametrize(
    "http_port",
    [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % BIG + b"x" * BIG],
    indirect=True,
    ids=["3MiB"],
)
def test_bridge_carries_a_bulk_download(ws: Path, tmp_path: Path, http_port: int) -> None:
    network = {"enabled": True, "mode": "full", "domains": {"127.0.0.1": "allow"}}
    script = f"curl -sS -m 20 -o down.bin http://127.0.0.1:{http_port}/ && wc -c < down.bin"
    r = _run(policy(ws, network=NetworkMode.PROXY), script, network, tmp_path)
    assert (r.stdout or b"").strip() == str(BIG).encode(), r.stderr


PY_HTTPS = (
    "import urllib.request\n"
    "print(urllib.request.urlopen('https://{host}/', timeout=10).read().decode())\n"
)


def test_https_is_inspected_and_verifies_against_the_session_bundle(
    ws: Path, tmp_path: Path, https_server: tuple[Path, ssl.SSLContext]
) -> None:
    upstream_ca, upstream_ctx = https_server
    network = {
        "enabled": True,
        "mode": "full",
        "mitm": True,
        "domains": {HTTPS_HOST: "allow"},
    }
    py = PY_HTTPS.format(host=HTTPS_HOST)
    script = (
        'echo "bundle=$CURL_CA_BUNDLE"; '
        f"curl -sS -m 10 https://{HTTPS_HOST}/ && echo curl-ok; "
        f'{sys.executable} -c "{py}" && echo python-ok; '
        f"curl -sS -m 10 --cacert {upstream_ca} https://{HTTPS_HOST}/ "
        "|| echo untrusted-without-bundle; "
        'grep -c "PRIVATE KEY" "$SSL_CERT_FILE" || true'
    )
    r = _run(
        policy(ws, network=NetworkMode.PROXY),
        script,
        network,
        tmp_path,
        upstream_ssl_context=upstream_ctx,
    )
    out = (r.stdout or b"").decode()
    assert "curl-ok" in out and "python-ok" in out, (r.stderr or b"").decode()
    assert out.count("hello") == 2
    assert "untrusted-without-bundle" in out
    bundle = out.split("bundle=")[1].split()[0]
    assert Path(bundle).is_relative_to(tmp_path / "home")
    assert out.strip().endswith("0")  # the CA private key is not in the bundle


def test_proxy_mode_closes_unix_side_doors_and_nothing_inside_holds_a_socket(
    ws: Path, tmp_path: Path
) -> None:
    """Regression: a Python bridge inside the sandbox once held the proxy's Unix socket and
    could be hijacked. Now the listeners are handed out and no process inside keeps any."""
    target = tmp_path / "host.sock"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(target))
    srv.listen()
    code = (
        "import os, socket\n"
        "try:\n"
        f"    socket.socket(socket.AF_UNIX).connect({str(target)!r}); print('UNIX-CONNECTED')\n"
        "except OSError as e:\n"
        "    print('unix-blocked', e.errno)\n"
        "held = []\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    for fd in os.listdir(f'/proc/{pid}/fd'):\n"
        "        try:\n"
        "            link = os.readlink(f'/proc/{pid}/fd/{fd}')\n"
        "        except OSError:\n"
        "            continue\n"
        "        if link.startswith('socket:'):\n"
        "            held.append((pid, fd))\n"
        "print('sockets', held)\n"
        "print('fds', sorted(os.listdir('/proc/self/fd')))\n"
    )
    network = {"enabled": True, "mode": "full", "domains": {"example.com": "allow"}}
    try:
        r = _run(
            policy(ws, network=NetworkMode.PROXY),
            f'exec {sys.executable} -c "{code}"',
            network,
            tmp_path,
        )
    finally:
        srv.close()
    out = (r.stdout or b"").decode()
    assert "unix-blocked 1" in out and "UNIX-CONNECTED" not in out, r.stderr
    assert "sockets []" in out
    assert "fds ['0', '1', '2', '3']" in out  # stdio + the listdir handle


def test_proxy_mode_for_an_unprivileged_user(
    ws: Path, tmp_path: Path, bwrap: str, http_port: int
) -> None:
    """As a non-root user bubblewrap makes a user namespace, and the listeners are opened by a
    forked child that joins it (netns._in_child). Run the CLI as uid 1000 inside an outer
    sandbox (a user namespace without privileges) to take that path for real."""
    import os
    import subprocess

    home, system = tmp_path / "h", tmp_path / "s"
    home.mkdir()
    system.mkdir()
    outer = [
        bwrap,
        "--unshare-user",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--bind",
        "/proc",
        "/proc",
        "--bind",
        str(tmp_path),
        str(tmp_path),
        "--setenv",
        "CODEX_HOME",
        str(home),
        "--setenv",
        "CODEX_SYSTEM_DIR",
        str(system),
        "--chdir",
        str(ws),
        "--",
    ]
    probe = subprocess.run(
        [*outer, bwrap, "--ro-bind", "/", "/", "--unshare-net", "--", "true"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"no nested unprivileged bubblewrap here: {probe.stderr.decode().strip()}")
    script = f'id -u; curl -sS -m 10 --noproxy "" -x "$HTTP_PROXY" http://127.0.0.1:{http_port}/'
    r = subprocess.run(
        [
            *outer,
            sys.executable,
            "-m",
            "codex_admin.cli.main",
            "sandbox",
            "linux",
            "-s",
            "workspace-write",
            "-c",
            "sandbox_workspace_write.exclude_slash_tmp=true",
            "-c",
            "network.enabled=true",
            "-c",
            "network.allow_local_binding=true",
            "-c",
            'network.domains={"127.0.0.1"="allow"}',
            "--network",
            "proxy",
            "--",
            "sh",
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ},
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "1000" and "hello" in r.stdout
