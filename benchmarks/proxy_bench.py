"""Proxy benchmark: our proxy vs mitmproxy vs direct, on loopback, in one run.

    .venv/bin/python benchmarks/proxy_bench.py [--seconds 3] [--connections 16] [--bulk-runs 5]

Measures (each component in its own process):
  1. plain HTTP keep-alive GETs: requests/s and p99 latency — direct, ours, mitmproxy;
  2. CONNECT bulk throughput (256 MiB downloads through an opaque tunnel, median of alternating
     runs) — ours vs direct;
  3. inspected HTTPS keep-alive GETs (TLS terminated with a session CA) — ours vs mitmproxy.

mitmproxy is installed with pip into its own virtual environment under
``$XDG_CACHE_HOME/codex-admin-bench`` (default ``~/.cache``), never into the project venv.
Inspection happens on port 443 only, so the HTTPS origin binds a random 127.x.y.z:443 (root).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.proxy.helpers import UpstreamCA

BODY = b"x" * 1024
BULK = 256 * 1024 * 1024
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "codex-admin-bench"

ORIGIN = r"""
import asyncio, ssl, sys
body = b"x" * 1024
resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
async def http(r, w):
    try:
        while True:
            await r.readuntil(b"\r\n\r\n")
            w.write(resp)
            await w.drain()
    except Exception:
        w.close()
async def bulk(r, w):
    chunk = b"b" * 262144
    for _ in range(int(sys.argv[4]) // len(chunk)):
        w.write(chunk)
        await w.drain()
    w.close()
async def main():
    host, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
    a = await asyncio.start_server(http, "127.0.0.1", 0, backlog=1024)
    b = await asyncio.start_server(bulk, "127.0.0.1", 0)
    c = await asyncio.start_server(http, host, 443, ssl=ctx, backlog=1024)
    print(a.sockets[0].getsockname()[1], b.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))] if ordered else float("nan")


async def _open(
    target: tuple[str, int],
    proxy: tuple[str, int] | None,
    tls_host: str | None,
    ctx: ssl.SSLContext | None,
):
    if proxy is None:
        if tls_host:
            return await asyncio.open_connection(*target, ssl=ctx, server_hostname=tls_host)
        return await asyncio.open_connection(*target)
    reader, writer = await asyncio.open_connection(*proxy)
    if tls_host:
        writer.write(f"CONNECT {target[0]}:{target[1]} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        await writer.start_tls(ctx, server_hostname=tls_host)  # type: ignore[arg-type]
    return reader, writer


async def load(
    target: tuple[str, int],
    proxy: tuple[str, int] | None,
    *,
    seconds: float,
    connections: int,
    tls_host: str | None = None,
    ctx: ssl.SSLContext | None = None,
) -> tuple[float, float]:
    """Keep-alive GET load; returns (requests/s, p99 ms)."""
    host = f"{target[0]}:{target[1]}"
    if proxy is not None and tls_host is None:
        request = f"GET http://{host}/ HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    else:
        request = f"GET / HTTP/1.1\r\nHost: {tls_host or host}\r\n\r\n".encode()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await _open(target, proxy, tls_host, ctx)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, percentile(latencies, 0.99) * 1000


async def bulk(target: tuple[str, int], proxy: tuple[str, int] | None) -> float:
    """MiB/s for one BULK-byte download, optionally through a CONNECT tunnel."""
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection(*(proxy or target), limit=1 << 20)
    if proxy is not None:
        writer.write(f"CONNECT {target[0]}:{target[1]} HTTP/1.1\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
    total = 0
    while chunk := await reader.read(1 << 20):
        total += len(chunk)
    writer.close()
    assert total == BULK, total
    return total / (1 << 20) / (time.perf_counter() - start)


def mitmdump() -> Path | None:
    venv = CACHE / "mitm-venv"
    exe = venv / "bin" / "mitmdump"
    if exe.exists():
        return exe
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"installing mitmproxy into {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "mitmproxy"], capture_output=True, text=True
    )
    if result.returncode != 0 or not exe.exists():
        print(f"mitmproxy could not be installed:\n{result.stderr[-2000:]}", file=sys.stderr)
        return None
    return exe


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--bulk-runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="proxy-bench-"))
    procs: list[subprocess.Popen[str]] = []
    try:
        ca = UpstreamCA.create(work)
        tls_ip = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        ca.server_context(work, tls_ip)
        origin = subprocess.Popen(
            [
                sys.executable,
                "-c",
                ORIGIN,
                tls_ip,
                str(work / f"{tls_ip}.pem"),
                str(work / f"{tls_ip}.key"),
                str(BULK),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(origin)
        http_port, bulk_port = map(int, origin.stdout.readline().split())  # type: ignore[union-attr]

        home = work / "home"
        home.mkdir()
        (work / "policy.toml").write_text(
            "[network]\nenabled = true\nmitm = true\nallow_local_binding = true\n"
            'domains = { "*" = "allow" }\n'
        )
        env = dict(
            os.environ,
            CODEX_HOME=str(home),
            CODEX_SYSTEM_DIR=str(work / "sys"),
            SSL_CERT_FILE=str(ca.pem_path),
        )
        (work / "sys").mkdir()
        ours = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "codex_admin.cli.main",
                "proxy",
                "run",
                "--json",
                "--no-socks",
                "--config-file",
                str(work / "policy.toml"),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=work,
        )
        procs.append(ours)
        info = json.loads(ours.stdout.readline())  # type: ignore[union-attr]
        ours_addr = ("127.0.0.1", int(info["http"].rsplit(":", 1)[1]))
        ours_ctx = ssl.create_default_context(cafile=info["ca_bundle"])

        exe = mitmdump()
        mitm_addr = None
        mitm_ctx = None
        if exe is not None:
            port = free_port()
            confdir = work / "mitm"
            mitm = subprocess.Popen(
                [
                    str(exe),
                    "-q",
                    "--listen-host",
                    "127.0.0.1",
                    "--listen-port",
                    str(port),
                    "--set",
                    f"confdir={confdir}",
                    "--set",
                    f"ssl_verify_upstream_trusted_ca={ca.pem_path}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(mitm)
            for _ in range(100):
                if (confdir / "mitmproxy-ca-cert.pem").exists():
                    try:
                        _, w = await asyncio.open_connection("127.0.0.1", port)
                        w.close()
                        break
                    except OSError:
                        pass
                await asyncio.sleep(0.1)
            mitm_addr = ("127.0.0.1", port)
            mitm_ctx = ssl.create_default_context(cafile=str(confdir / "mitmproxy-ca-cert.pem"))

        http_target = ("127.0.0.1", http_port)
        s, c = args.seconds, args.connections
        print(f"# loopback, {c} keep-alive connections, {s:.0f}s per run, 1 KiB responses")
        direct = await load(http_target, None, seconds=s, connections=c)
        our = await load(http_target, ours_addr, seconds=s, connections=c)
        print(f"plain HTTP  direct     {direct[0]:9.0f} req/s  p99 {direct[1]:6.2f} ms")
        print(f"plain HTTP  ours       {our[0]:9.0f} req/s  p99 {our[1]:6.2f} ms")
        if mitm_addr:
            theirs = await load(http_target, mitm_addr, seconds=s, connections=c)
            print(f"plain HTTP  mitmproxy  {theirs[0]:9.0f} req/s  p99 {theirs[1]:6.2f} ms")
            print(f"  ours / mitmproxy = {our[0] / theirs[0]:.2f}x req/s")
        print(f"  ours / direct    = {our[0] / direct[0]:.2f}x req/s")

        bulk_target = ("127.0.0.1", bulk_port)
        # One 256 MiB transfer is at the mercy of the scheduler on a small machine: alternate
        # direct and tunnelled transfers and compare the medians.
        directs, tunnelled = [], []
        for _ in range(args.bulk_runs):
            directs.append(await bulk(bulk_target, None))
            tunnelled.append(await bulk(bulk_target, ours_addr))
        d, o = statistics.median(directs), statistics.median(tunnelled)
        print(
            f"CONNECT bulk direct {d:8.0f} MiB/s, through ours {o:8.0f} MiB/s "
            f"= {o / d:.0%} of direct (median of {args.bulk_runs} alternating runs)"
        )

        tls_target = (tls_ip, 443)
        our_tls = await load(
            tls_target, ours_addr, seconds=s, connections=c, tls_host=tls_ip, ctx=ours_ctx
        )
        print(f"inspected HTTPS ours      {our_tls[0]:9.0f} req/s  p99 {our_tls[1]:6.2f} ms")
        if mitm_addr:
            their_tls = await load(
                tls_target, mitm_addr, seconds=s, connections=c, tls_host=tls_ip, ctx=mitm_ctx
            )
            print(
                f"inspected HTTPS mitmproxy {their_tls[0]:9.0f} req/s  p99 {their_tls[1]:6.2f} ms"
            )
            print(f"  ours / mitmproxy = {our_tls[0] / their_tls[0]:.2f}x req/s")
        else:
            print("mitmproxy unavailable: no comparison figures")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
