"""Proxy benchmark: ours vs tinyproxy vs mitmproxy vs direct, on loopback, in one run.

    .venv/bin/python benchmarks/proxy_bench.py [--seconds 2] [--clients 100] [--rounds 3]
        [--bulk-mib 128] [--no-mitmproxy] [--no-tls] [--only plain,keepalive,connect,...]
        [--loops asyncio,uvloop] [--workers 2]
        [--baseline OTHER_CHECKOUT]     # e.g. `git worktree add /tmp/base main`: before/after

Every component runs in its own process: a Python origin server (asyncio protocols, cheap per
request), our proxy (`codex proxy run`, once on the default asyncio loop and once on uvloop when
it is installed, plus once with ``--workers N`` processes), tinyproxy 1.11 (C, one thread per
client) and a pinned mitmproxy. ``--baseline`` runs another checkout on the loop `codex proxy
run` picks by default. The load
generator is this process (asyncio protocols). Measured, each as the median of ``--rounds``
runs whose order rotates between targets, after a warm-up run per target:

1. plain HTTP: ``--clients`` clients sending absolute-form GETs (1 KiB answers), one request
   per connection (tinyproxy closes client connections after each answer), then keep-alive
   (ours, mitmproxy, direct): requests/s and p99 latency. Beside the proxies runs a "floor": a
   forwarder on the same loop with no policy, parsing, limits or timeouts (see 2);
2. CONNECT: per request a new connection, ``CONNECT``, one GET inside the tunnel, close —
   tunnels set up per second (policy, dial, tunnel start-up are on this path). Beside the
   proxies runs a "floor": a 50-line CONNECT relay on the same loop with no policy, audit,
   timeouts or limits, the most a Python proxy could do here (the load generator, the origin
   and the proxy share the CPUs, so no proxy's rate is its capacity alone);
3. tunnelled keep-alive: one long ``CONNECT`` tunnel per client, GETs inside: requests/s;
4. bulk CONNECT: one ``--bulk-mib`` download through a tunnel vs direct (MiB/s, alternating);
5. inspected HTTPS (ours with the session CA vs mitmproxy), unless ``--no-tls``.

Set-up is the benchmark's own: tinyproxy is the Debian package (installed with ``apt-get`` when
missing and running as root), mitmproxy is pip-installed into its own virtual environment under
``$XDG_CACHE_HOME/codex-admin-bench`` (default ``~/.cache``), never into the project venv.
Everything listens on 127.0.0.0/8 only and every run is bounded in time. On a small shared
machine the numbers move with the load of other processes: compare ratios measured in the same
run, never absolute figures from different runs. Besides requests/s and p99 each proxy's CPU
time per request is printed (user + system time of its process, all threads): under contention
a proxy with a thread per client (tinyproxy) is simply scheduled more often than a
single-threaded one, so CPU per request is the fairer measure of efficiency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.proxy.helpers import UpstreamCA

MITMPROXY = "mitmproxy==11.0.2"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "codex-admin-bench"
BODY = 1024

ORIGIN = r"""
import asyncio, ssl, sys
body = b"x" * 1024
resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
class Http(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t; self.buf = b""
    def data_received(self, data):
        self.buf += data
        n = self.buf.count(b"\r\n\r\n")
        if n:
            self.buf = self.buf[self.buf.rfind(b"\r\n\r\n") + 4:]
            self.t.write(resp * n)
async def bulk(r, w):
    chunk = b"b" * 262144
    for _ in range(int(sys.argv[4]) // len(chunk)):
        w.write(chunk)
        await w.drain()
    w.close()
async def main():
    host, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
    loop = asyncio.get_running_loop()
    a = await loop.create_server(Http, "127.0.0.1", 0, backlog=1024)
    b = await asyncio.start_server(bulk, "127.0.0.1", 0)
    c = await loop.create_server(Http, host, 443, ssl=ctx, backlog=1024)
    print(a.sockets[0].getsockname()[1], b.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


# References, not proxies: the least a Python forwarder does on this loop, to show the ceiling
# a Python proxy has on this machine. No policy, no audit, no timeouts, no limits, no error
# answers, no checking of what either side sends.
#
# CONNECT: parse the target, connect, say 200, copy both ways.
CONNECT_FLOOR = r"""
import asyncio, socket, sys
try:
    import uvloop
    loop = uvloop.new_event_loop()
except ImportError:
    loop = asyncio.new_event_loop()
EST = b"HTTP/1.1 200 Connection established\r\n\r\n"
class Relay(asyncio.Protocol):
    up = None
    def connection_made(self, t):
        self.t = t; self.buf = b""
    def data_received(self, data):
        if self.up is not None:
            try: self.up.send(data)
            except OSError: self.t.close()
            return
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0: return
        host, port = self.buf.split(b" ", 2)[1].rsplit(b":", 1)
        self.up = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        self.up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.up.connect_ex((host.decode(), int(port)))
        self.rest = self.buf[end + 4:]
        loop.add_writer(self.up.fileno(), self.connected)
    def connected(self):
        loop.remove_writer(self.up.fileno())
        self.t.write(EST)
        if self.rest: self.up.send(self.rest)
        loop.add_reader(self.up.fileno(), self.readable)
    def readable(self):
        try: data = self.up.recv(262144)
        except BlockingIOError: return
        except OSError: data = b""
        if data: self.t.write(data)
        else:
            loop.remove_reader(self.up.fileno()); self.t.close()
    def eof_received(self):
        if self.up is not None:
            try: self.up.shutdown(socket.SHUT_WR)
            except OSError: pass
        return True
    def connection_lost(self, exc):
        if self.up is not None:
            loop.remove_reader(self.up.fileno()); loop.remove_writer(self.up.fileno())
            self.up.close()
async def main():
    server = await loop.create_server(Relay, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
loop.run_until_complete(main())
"""

# Plain HTTP: a bodiless absolute-form GET is rewritten to origin form and sent on a pooled
# upstream connection; the Content-Length answer goes back as it came.
PLAIN_FLOOR = r"""
import asyncio
try:
    import uvloop
    loop = uvloop.new_event_loop()
except ImportError:
    loop = asyncio.new_event_loop()
pool = {}
class Upstream(asyncio.Protocol):
    def __init__(self, key):
        self.key = key; self.client = None; self.buf = b""
    def connection_made(self, t):
        self.t = t
    def data_received(self, data):
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0: return
        head = self.buf[:end].lower()
        at = head.find(b"content-length:") + 15
        total = end + 4 + int(head[at:].split(b"\r\n", 1)[0])
        if len(self.buf) < total: return
        answer, self.buf = self.buf[:total], self.buf[total:]
        client, self.client = self.client, None
        pool.setdefault(self.key, []).append(self)
        client.t.write(answer)
    def connection_lost(self, exc):
        if self in pool.get(self.key, ()): pool[self.key].remove(self)
class Client(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t; self.buf = b""
    def data_received(self, data):
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0: return
        head, self.buf = self.buf[:end], self.buf[end + 4:]
        line, _, rest = head.partition(b"\r\n")
        method, target, _ = line.split(b" ")
        authority, _, path = target[7:].partition(b"/")
        host, _, port = authority.partition(b":")
        request = method + b" /" + path + b" HTTP/1.1\r\n" + rest + b"\r\n\r\n"
        key = (host.decode(), int(port or 80))
        if pool.get(key):
            upstream = pool[key].pop(); upstream.client = self; upstream.t.write(request)
        else:
            loop.create_task(self.dial(key, request))
    async def dial(self, key, request):
        t, upstream = await loop.create_connection(lambda: Upstream(key), *key)
        upstream.client = self; t.write(request)
async def main():
    server = await loop.create_server(Client, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
loop.run_until_complete(main())
"""


# ---------------------------------------------------------------------------- load generator
@dataclass(frozen=True)
class Run:
    rate: float  # requests (or tunnels) per second
    p99_ms: float
    count: int


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads and its live child processes
    (the workers of `codex proxy run --workers N`) included (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return total + sum(cpu_seconds(int(child)) for child in children)


class _Client(asyncio.Protocol):
    """One keep-alive connection: send a request, parse the answer, repeat until the deadline."""

    def __init__(self, request: bytes, deadline: float, latencies: list[float]) -> None:
        self.request = request
        self.deadline = deadline
        self.latencies = latencies
        self.buffer = bytearray()
        self.need = -1
        self.started = 0.0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self) -> None:
        assert self.transport is not None
        self.started = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.need < 0:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buffer[:end]).lower()
                if not head.startswith(b"http/1.1 200") and not head.startswith(b"http/1.0 200"):
                    self._finish(RuntimeError(head[:200].decode("latin-1")))
                    return
                length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
                self.need = end + 4 + length
            if len(self.buffer) < self.need:
                return
            del self.buffer[: self.need]
            self.need = -1
            now = time.perf_counter()
            self.latencies.append(now - self.started)
            if now >= self.deadline:
                self._finish(None)
                return
            self.send()

    def _finish(self, error: Exception | None) -> None:
        if not self.done.done():
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(exc or ConnectionError("closed by peer"))


async def _connect_tunnel(
    proxy: tuple[str, int], target: tuple[str, int], *, limit: int = 1 << 16
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(*proxy, limit=limit)
    writer.write(f"CONNECT {target[0]}:{target[1]} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
        raise RuntimeError(head[:200].decode("latin-1"))
    return reader, writer


async def keepalive_load(
    target: tuple[str, int],
    proxy: tuple[str, int] | None,
    *,
    seconds: float,
    clients: int,
    tunnel: bool = False,
    tls: tuple[str, ssl.SSLContext] | None = None,
    keep_alive: bool = True,
) -> Run:
    """GETs from ``clients`` concurrent clients; returns (requests/s, p99 ms).

    ``keep_alive``: one connection per client for the whole run, else a new connection per
    request (the client closes after each answer). ``tunnel``/``tls`` go through CONNECT.
    """
    loop = asyncio.get_running_loop()
    host = f"{target[0]}:{target[1]}"
    if proxy is not None and not tunnel and tls is None:
        request = f"GET http://{host}/ HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    else:
        request = f"GET / HTTP/1.1\r\nHost: {tls[0] if tls else host}\r\n\r\n".encode()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def connection(stop: float) -> None:
        factory = lambda: _Client(request, stop, latencies)  # noqa: E731
        if proxy is None:
            kw: dict[str, object] = {"ssl": tls[1], "server_hostname": tls[0]} if tls else {}
            _, client = await loop.create_connection(factory, *target, **kw)  # type: ignore[arg-type]
        elif not tunnel and tls is None:
            _, client = await loop.create_connection(factory, *proxy)
        else:
            _, writer = await _connect_tunnel(proxy, target)
            sock = writer.get_extra_info("socket").dup()
            writer.transport.abort()
            kw = {"ssl": tls[1], "server_hostname": tls[0]} if tls else {}
            _, client = await loop.create_connection(factory, sock=sock, **kw)  # type: ignore[arg-type]
        client.send()
        try:
            await client.done
        finally:
            assert client.transport is not None
            client.transport.close()

    async def one() -> None:
        if keep_alive:
            await connection(deadline)
            return
        while time.perf_counter() < deadline:
            await connection(0.0)  # a stop time in the past: one request, then close

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return Run(len(latencies) / elapsed, _p99(latencies), len(latencies))


async def connect_load(
    target: tuple[str, int], proxy: tuple[str, int], *, seconds: float, clients: int
) -> Run:
    """New connection + CONNECT + one GET + close, in a loop: tunnels/s and p99 ms."""
    request = f"GET / HTTP/1.1\r\nHost: {target[0]}:{target[1]}\r\n\r\n".encode()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def one() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            reader, writer = await _connect_tunnel(proxy, target)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(int(head.lower().split(b"content-length:")[1].split()[0]))
            writer.close()
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    return Run(len(latencies) / (time.perf_counter() - started), _p99(latencies), len(latencies))


async def bulk(target: tuple[str, int], proxy: tuple[str, int] | None, size: int) -> float:
    """MiB/s for one ``size``-byte download, optionally through a CONNECT tunnel."""
    start = time.perf_counter()
    # The same client buffer both ways: with asyncio's default 64 KiB limit a tunnelled
    # download paused its socket eight times as often as the direct one.
    if proxy is None:
        reader, writer = await asyncio.open_connection(*target, limit=1 << 20)
    else:
        reader, writer = await _connect_tunnel(proxy, target, limit=1 << 20)
    total = 0
    while chunk := await reader.read(1 << 20):
        total += len(chunk)
    writer.close()
    if total != size:
        raise RuntimeError(f"bulk download got {total} of {size} bytes")
    return total / (1 << 20) / (time.perf_counter() - start)


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else 0.0


# ----------------------------------------------------------------------------------- set-up
def tinyproxy_binary() -> Path | None:
    """The Debian tinyproxy, installed with apt-get when missing (root only)."""
    for candidate in (shutil.which("tinyproxy"), "/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print("tinyproxy missing (install the Debian package `tinyproxy`)", file=sys.stderr)
        return None
    print("installing tinyproxy with apt-get ...", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for step in (["apt-get", "install", "-y", "-qq", "tinyproxy"],):
        result = subprocess.run(step, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:  # an old package list: refresh once and retry
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
            result = subprocess.run(step, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            print(f"apt-get failed:\n{result.stderr[-2000:]}", file=sys.stderr)
            return None
    found = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
    return Path(found) if Path(found).exists() else None


def tinyproxy_version(exe: Path) -> str:
    out = subprocess.run([str(exe), "-v"], capture_output=True, text=True, timeout=10)
    return (out.stdout or out.stderr).strip()


def mitmdump() -> Path | None:
    """mitmproxy (pinned) in a virtual environment of its own."""
    venv = CACHE / f"mitm-venv-{MITMPROXY.split('==')[1]}"
    exe = venv / "bin" / "mitmdump"
    if exe.exists():
        return exe
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"installing {MITMPROXY} into {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", MITMPROXY],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0 or not exe.exists():
        print(f"mitmproxy could not be installed:\n{result.stderr[-2000:]}", file=sys.stderr)
        return None
    return exe


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_listening(address: tuple[str, int], proc: subprocess.Popen[str]) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection(*address)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on {address}")


@dataclass
class Target:
    name: str
    address: tuple[str, int] | None  # None: direct
    tls: ssl.SSLContext | None = None  # the trust store for inspected HTTPS through it
    pid: int | None = None  # the proxy process, for CPU per request


@dataclass(frozen=True)
class Result:
    rate: float
    p99_ms: float
    cpu_us: float | None  # proxy CPU per request, microseconds


async def median_rounds(
    targets: list[Target],
    measure: Callable[[Target, float], Awaitable[Run]],
    *,
    seconds: float,
    rounds: int,
) -> dict[str, Result]:
    """Warm each target up, then ``rounds`` rotations of measured runs; medians per target."""

    async def one(target: Target, s: float) -> tuple[Run, float | None]:
        before = cpu_seconds(target.pid) if target.pid else None
        try:
            run = await measure(target, s)
        except (OSError, RuntimeError) as err:
            raise RuntimeError(f"{target.name}: {err!r}") from err
        if before is None or target.pid is None or not run.count:
            return run, None
        return run, (cpu_seconds(target.pid) - before) / run.count * 1e6

    for target in targets:
        await one(target, min(0.5, seconds))
    runs: dict[str, list[tuple[Run, float | None]]] = {t.name: [] for t in targets}
    for index in range(rounds):
        shift = index % len(targets)
        for target in targets[shift:] + targets[:shift]:
            runs[target.name].append(await one(target, seconds))
    results = {}
    for name, got in runs.items():
        cpus = [c for _, c in got if c is not None]
        results[name] = Result(
            statistics.median(r.rate for r, _ in got),
            statistics.median(r.p99_ms for r, _ in got),
            statistics.median(cpus) if cpus else None,
        )
    return results


def report(title: str, results: dict[str, Result], unit: str) -> None:
    print(f"\n{title}")
    base = results.get("tinyproxy")
    for name, got in results.items():
        cpu = f"  cpu {got.cpu_us:6.0f} us/req" if got.cpu_us is not None else " " * 21
        ratio = ""
        if base and name != "tinyproxy":
            ratio = f"  {got.rate / base.rate:5.2f}x tinyproxy"
            if got.cpu_us and base.cpu_us:
                ratio += f" ({got.cpu_us / base.cpu_us:4.2f}x its CPU/req)"
        print(f"  {name:<16} {got.rate:8.0f} {unit}  p99 {got.p99_ms:7.2f} ms{cpu}{ratio}")


# ------------------------------------------------------------------------------------- main
async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measured run")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bulk-mib", type=int, default=128)
    parser.add_argument("--no-mitmproxy", action="store_true")
    parser.add_argument("--no-tls", action="store_true", help="skip inspected HTTPS")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout of codex-admin whose proxy runs beside ours (before/after)",
    )
    parser.add_argument(
        "--loops",
        default="asyncio,uvloop",
        help="event loops to run our proxy on (comma-separated; uvloop only when installed)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="also run our proxy with `--workers N` (on the last loop; 1: not)",
    )
    parser.add_argument(
        "--only",
        default="plain,keepalive,connect,tunnel,bulk,tls",
        help="comma-separated sections to run (default: all)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="proxy-bench-"))
    procs: list[subprocess.Popen[str]] = []

    def spawn(argv: list[str], **kw: object) -> subprocess.Popen[str]:
        proc = subprocess.Popen(argv, text=True, **kw)  # type: ignore[call-overload]
        procs.append(proc)
        return proc

    try:
        ca = UpstreamCA.create(work)
        tls_ip = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        ca.server_context(work, tls_ip)
        bulk_size = args.bulk_mib << 20
        origin = spawn(
            [
                sys.executable,
                "-c",
                ORIGIN,
                tls_ip,
                str(work / f"{tls_ip}.pem"),
                str(work / f"{tls_ip}.key"),
                str(bulk_size),
            ],
            stdout=subprocess.PIPE,
        )
        http_port, bulk_port = map(int, origin.stdout.readline().split())  # type: ignore[union-attr]

        home, system = work / "home", work / "sys"
        home.mkdir()
        system.mkdir()
        policy = work / "policy.toml"
        policy.write_text(
            "[network]\nenabled = true\nmitm = true\nallow_local_binding = true\n"
            'domains = { "*" = "allow" }\n'
        )
        targets: list[Target] = [Target("direct", None)]
        import importlib.util

        available = ["asyncio"] + (["uvloop"] if importlib.util.find_spec("uvloop") else [])
        loops = [name for name in args.loops.split(",") if name in available] or available
        variants: list[tuple[str, str, Path | None, int]] = [
            (f"ours ({name})", name, None, 1) for name in loops
        ]
        if args.workers > 1:
            variants.append((f"ours ({loops[-1]}, {args.workers}w)", loops[-1], None, args.workers))
        if args.baseline is not None:
            # The other checkout on the loop `codex proxy run` picks by default (uvloop when
            # installed), so before/after compares what users run.
            variants.insert(0, ("baseline", available[-1], args.baseline.resolve(), 1))
        for label, loop_name, checkout, workers in variants:
            env = dict(
                os.environ,
                CODEX_HOME=str(home),
                CODEX_SYSTEM_DIR=str(system),
                CODEX_MDM_PLIST="",
                SSL_CERT_FILE=str(ca.pem_path),
                CODEX_PROXY_EVENT_LOOP=loop_name,
            )
            if checkout is not None:
                env["PYTHONPATH"] = str(checkout)
            ours = spawn(
                [
                    sys.executable,
                    "-m",
                    "codex_admin.cli.main",
                    "proxy",
                    "run",
                    "--json",
                    "--no-socks",
                    "--config-file",
                    str(policy),
                    *(["--workers", str(workers)] if workers > 1 else []),
                ],
                stdout=subprocess.PIPE,
                env=env,
                cwd=work,
            )
            info = json.loads(ours.stdout.readline())  # type: ignore[union-attr]
            address = ("127.0.0.1", int(info["http"].rsplit(":", 1)[1]))
            ctx = ssl.create_default_context(cafile=info["ca_bundle"])
            targets.append(Target(label, address, ctx, ours.pid))

        exe = tinyproxy_binary()
        if exe is not None:
            port = free_port()
            conf = work / "tinyproxy.conf"
            conf.write_text(
                f"Port {port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 2048\n"
                "LogLevel Critical\nDisableViaHeader Yes\n"
            )
            tiny = spawn(
                [str(exe), "-d", "-c", str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await wait_listening(("127.0.0.1", port), tiny)
            targets.append(Target("tinyproxy", ("127.0.0.1", port), pid=tiny.pid))

        mitm_exe = None if args.no_mitmproxy else mitmdump()
        if mitm_exe is not None:
            port = free_port()
            confdir = work / "mitm"
            mitm = spawn(
                [
                    str(mitm_exe),
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
            await wait_listening(("127.0.0.1", port), mitm)
            while not (confdir / "mitmproxy-ca-cert.pem").exists():
                await asyncio.sleep(0.05)
            mitm_ctx = ssl.create_default_context(cafile=str(confdir / "mitmproxy-ca-cert.pem"))
            targets.append(Target("mitmproxy", ("127.0.0.1", port), mitm_ctx, mitm.pid))

        print(
            f"# loopback, {os.cpu_count()} CPUs shared with other processes (load average "
            f"{os.getloadavg()[0]:.2f}); {args.clients} clients, {args.seconds:g} s per run, "
            f"median of {args.rounds} rotating runs after a warm-up"
        )
        print(f"# python {sys.version.split()[0]}, proxies: {', '.join(t.name for t in targets)}")
        if exe is not None:
            print(f"# {tinyproxy_version(exe)}; {MITMPROXY if mitm_exe else 'no mitmproxy'}")
        http_target = ("127.0.0.1", http_port)
        seconds, rounds, clients = args.seconds, args.rounds, args.clients

        async def plain(t: Target, s: float) -> Run:
            return await keepalive_load(
                http_target, t.address, seconds=s, clients=clients, keep_alive=False
            )

        def floor(code: str) -> Target:
            proc = spawn([sys.executable, "-c", code], stdout=subprocess.PIPE)
            port = int(proc.stdout.readline())  # type: ignore[union-attr]
            return Target("floor (no policy)", ("127.0.0.1", port), pid=proc.pid)

        sections = set(args.only.split(","))
        if "plain" in sections:
            report(
                "plain HTTP, one GET per client connection (tinyproxy has no client keep-alive;"
                " floor: the least a Python forwarder does)",
                await median_rounds(
                    [*targets, floor(PLAIN_FLOOR)], plain, seconds=seconds, rounds=rounds
                ),
                "req/s",
            )
        keepers = [t for t in targets if t.name != "tinyproxy"]

        async def plain_keepalive(t: Target, s: float) -> Run:
            return await keepalive_load(http_target, t.address, seconds=s, clients=clients)

        if "keepalive" in sections:
            report(
                "plain HTTP, keep-alive GETs",
                await median_rounds(keepers, plain_keepalive, seconds=seconds, rounds=rounds),
                "req/s",
            )
        tunnels = [t for t in targets if t.address is not None and t.name != "mitmproxy"]

        async def connects(t: Target, s: float) -> Run:
            assert t.address is not None
            return await connect_load(http_target, t.address, seconds=s, clients=clients)

        if "connect" in sections:
            report(
                "CONNECT: new tunnel + one GET per request (floor: the least a Python relay "
                "does, the ceiling for ours)",
                await median_rounds(
                    [*tunnels, floor(CONNECT_FLOOR)], connects, seconds=seconds, rounds=rounds
                ),
                "tunnels/s",
            )

        async def tunnelled(t: Target, s: float) -> Run:
            return await keepalive_load(
                http_target, t.address, seconds=s, clients=clients, tunnel=t.address is not None
            )

        if "tunnel" in sections:
            report(
                "CONNECT: keep-alive GETs inside one tunnel per client",
                await median_rounds(
                    [targets[0], *tunnels], tunnelled, seconds=seconds, rounds=rounds
                ),
                "req/s",
            )

        bulk_target = ("127.0.0.1", bulk_port)
        speeds: dict[str, list[float]] = {t.name: [] for t in [targets[0], *tunnels]}
        if "bulk" in sections:
            await bulk(bulk_target, None, bulk_size)  # warm-up
            for _ in range(rounds):
                for t in [targets[0], *tunnels]:
                    speeds[t.name].append(await bulk(bulk_target, t.address, bulk_size))
            direct = statistics.median(speeds["direct"])
            print(f"\nbulk CONNECT, {args.bulk_mib} MiB download (median of {rounds} alternating)")
            for name, got in speeds.items():
                speed = statistics.median(got)
                print(f"  {name:<18} {speed:9.0f} MiB/s  {speed / direct:6.0%} of direct")

        if not args.no_tls and "tls" in sections:
            inspecting = [t for t in targets if t.tls is not None]

            async def inspected(t: Target, s: float) -> Run:
                assert t.tls is not None
                return await keepalive_load(
                    (tls_ip, 443),
                    t.address,
                    seconds=s,
                    clients=min(clients, 20),
                    tls=(tls_ip, t.tls),
                )

            results = await median_rounds(inspecting, inspected, seconds=seconds, rounds=rounds)
            report(
                f"inspected HTTPS, keep-alive GETs ({min(clients, 20)} clients)", results, "req/s"
            )
            if "mitmproxy" in results:
                for name, got in results.items():
                    if name != "mitmproxy":
                        print(f"  {name} / mitmproxy = {got.rate / results['mitmproxy'].rate:.2f}x")
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
