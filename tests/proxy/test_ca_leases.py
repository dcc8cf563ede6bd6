"""CA artifacts cannot pile up: leases, pruning after crashes, bounded leaf cache, idle tunnels."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codex_admin.proxy import ca as ca_module
from codex_admin.proxy.ca import SessionCA, prune_artifacts
from tests.proxy.helpers import make_proxy, run

HEX = "0" * 64


def _names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


def test_live_sessions_keep_their_files_and_a_clean_stop_removes_them(tmp_path: Path) -> None:
    async def main() -> None:
        first, _ = make_proxy(tmp_path, {"mitm": True})
        second, _ = make_proxy(tmp_path, {"mitm": True})
        await first.start()
        first_files = _names(tmp_path / "proxy")
        assert len(first_files) == 3  # ca, bundle, lease
        await second.start()  # prunes on start, but first's lease is held
        assert first_files <= _names(tmp_path / "proxy")
        await first.stop()
        assert not (first_files & _names(tmp_path / "proxy"))
        assert second.ca_bundle_path is not None and second.ca_bundle_path.exists()
        await second.stop()
        assert _names(tmp_path / "proxy") == set()

    run(main())


def test_files_of_a_crashed_proxy_are_pruned_by_the_next_one(tmp_path: Path) -> None:
    crash = (
        "import os, sys; from pathlib import Path; from codex_admin.proxy.ca import SessionCA;"
        "SessionCA().write_artifacts(Path(sys.argv[1])); os._exit(9)"
    )
    done = subprocess.run([sys.executable, "-c", crash, str(tmp_path)], check=False, timeout=60)
    assert done.returncode == 9
    leftovers = _names(tmp_path / "proxy")
    assert len(leftovers) == 3
    fresh = SessionCA()
    ca_path, bundle = fresh.write_artifacts(tmp_path)
    assert _names(tmp_path / "proxy") == {
        ca_path.name,
        bundle.name,
        f"session-{ca_path.stem[3:]}.lease",
    }
    fresh.release()


def test_orphans_age_out_and_nothing_else_is_touched(tmp_path: Path) -> None:
    directory = tmp_path / "proxy"
    directory.mkdir()
    old = time.time() - 2 * 24 * 3600
    stale = directory / f"ca-{HEX}.pem"
    recent = directory / f"ca-bundle-{'1' * 64}.pem"
    unrelated = [directory / "notes.txt", directory / "ca-custom.pem"]
    for path in (stale, recent, *unrelated):
        path.write_text("x")
        os.utime(path, (old, old))
    os.utime(recent, None)
    outside = tmp_path / "outside.pem"
    outside.write_text("keep")
    link = directory / f"ca-{'2' * 64}.pem"
    link.symlink_to(outside)
    os.utime(link, (old, old), follow_symlinks=False)
    # A dead lease that lists a path outside the folder must not reach it.
    (directory / f"session-{'3' * 64}.lease").write_text(f"../outside.pem\nca-{'4' * 64}.pem\n")
    removed = prune_artifacts(directory)
    assert set(removed) == {stale.name, link.name, f"session-{'3' * 64}.lease"}
    assert recent.exists() and all(p.exists() for p in unrelated)
    assert outside.read_text() == "keep"


def test_leaf_context_cache_is_bounded_lru(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ca_module, "LEAF_CACHE_SIZE", 2)
    ca = SessionCA()
    a = ca.server_context("a.example")
    ca.server_context("b.example")
    assert ca.server_context("a.example") is a  # refreshed: b is now the oldest
    ca.server_context("c.example")
    assert ca.server_context("a.example") is a
    assert len(ca._contexts) == 2 and "b.example" not in ca._contexts


def test_silent_tunnel_is_closed_after_the_idle_timeout(tmp_path: Path) -> None:
    async def main() -> None:
        async def quiet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(100):
                writer.write(data)
            writer.close()

        origin = await asyncio.start_server(quiet, "127.0.0.1", 0)
        port = origin.sockets[0].getsockname()[1]
        proxy, _ = make_proxy(
            tmp_path, {"domains": {"127.0.0.1": "allow"}}, tunnel_idle_timeout=0.4
        )
        async with proxy, origin:

            async def open_tunnel() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
                reader, writer = await asyncio.open_connection(*proxy.http_address)
                writer.write(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
                await reader.readuntil(b"\r\n\r\n")
                return reader, writer

            busy_reader, busy_writer = await open_tunnel()
            idle_reader, _ = await open_tunnel()
            started = time.monotonic()
            for _ in range(8):  # 0.8 s of traffic every 0.1 s keeps the busy tunnel open
                busy_writer.write(b"ping")
                assert await asyncio.wait_for(busy_reader.readexactly(4), 2) == b"ping"
                await asyncio.sleep(0.1)
            assert await asyncio.wait_for(idle_reader.read(), 2) == b""  # closed by the proxy
            assert time.monotonic() - started >= 0.4
            busy_writer.write(b"last")
            assert await asyncio.wait_for(busy_reader.readexactly(4), 2) == b"last"
            busy_writer.close()

    run(main())


def test_a_fifo_or_directory_named_like_a_lease_cannot_hang_or_break_start(tmp_path: Path) -> None:
    """Review finding: os.open on a FIFO blocked start() forever; a directory raised."""
    directory = tmp_path / "proxy"
    directory.mkdir()
    os.mkfifo(directory / f"session-{'5' * 64}.lease")
    (directory / f"session-{'6' * 64}.lease").mkdir()
    (directory / f"ca-{'7' * 64}.pem").mkdir()
    os.utime(directory / f"ca-{'7' * 64}.pem", (0, 0))
    assert prune_artifacts(directory) == []
    ca = SessionCA()
    ca_path, _ = ca.write_artifacts(tmp_path)
    assert ca_path.exists()
    ca.release()
