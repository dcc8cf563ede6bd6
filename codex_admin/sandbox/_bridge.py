"""Inside the sandbox's network namespace: TCP listeners on 127.0.0.1 forwarding to the proxy's
Unix sockets, then the command itself.

Run as ``python -I -S _bridge.py --listen PORT=SOCKET ... -- CMD...`` (stdlib only; it must not
import codex_admin, whose files may be masked). The namespace is fresh, so the fixed ports are
free; the listeners are bound *before* the command starts, so it never races the bridge. The
bridge is the command's parent: it exits with the command's status, re-raising a fatal signal so
that bubblewrap reports ``128 + N``. SIGINT/SIGTERM/SIGHUP sent to the process group reach the
command directly; the bridge only waits for it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

_CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


def _handler(socket_path: str):  # type: ignore[no-untyped-def]
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_unix_connection(socket_path)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pump(client_r, up_w), _pump(up_r, client_w))
        for w in (client_w, up_w):
            w.close()

    return handle


async def _main(listens: list[tuple[int, str]], command: list[str]) -> int:
    loop = asyncio.get_running_loop()
    servers = [
        await asyncio.start_server(_handler(path), "127.0.0.1", port) for port, path in listens
    ]
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, lambda: None)
    try:
        proc = await asyncio.create_subprocess_exec(*command)
    except OSError as err:
        sys.stderr.write(f"codex sandbox: cannot run {command[0]}: {err.strerror}\n")
        return 127 if isinstance(err, FileNotFoundError) else 126
    code = await proc.wait()
    for server in servers:
        server.close()
    return code


def main(argv: list[str]) -> None:
    listens: list[tuple[int, str]] = []
    while argv and argv[0] == "--listen":
        port, _, path = argv[1].partition("=")
        listens.append((int(port), path))
        argv = argv[2:]
    if not argv or argv[0] != "--":
        sys.stderr.write("usage: _bridge.py --listen PORT=SOCKET ... -- CMD...\n")
        sys.exit(2)
    code = asyncio.run(_main(listens, argv[1:]))
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    sys.stdout.flush()
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
