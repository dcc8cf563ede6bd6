"""Streaming cost: our SSE decoder + Responses parser, and a whole ModelClient turn.

Run: .venv/bin/python benchmarks/providers_bench.py [DELTAS]   (default 5000 text deltas)

1. decode: SSEDecoder + ResponsesParser over a stream cut into awkward pieces, against the
   irreducible baseline of ``json.loads`` on each event's payload (ratio = parsing overhead).
2. stream: ModelClient.stream against the real-socket mock server, against reading the same
   response body with plain httpx (ratio = what decoding, typing and retries bookkeeping add
   on top of the transport). Runs alternate; medians of 5.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codex_admin.auth import auth_settings
from codex_admin.providers import (
    ModelClient,
    ModelRequest,
    ResponsesParser,
    SSEDecoder,
    resolve_credentials,
    resolve_provider,
)
from tests.support import MockResponsesServer, message_item, responses_turn, sse_frame
from tests.support.http_server import awkward_chunks, split_chunks


def median_alternating(fns: list[Callable[[], object]], rounds: int = 5) -> list[float]:
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main() -> None:
    deltas = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    text = "héllo wörld ✓ " * (deltas // 3 + 1)
    turn = responses_turn(message_item(text[: deltas * 5]), deltas=deltas)
    body = b"".join(sse_frame(e) for e in turn.events)
    awkward = awkward_chunks(body)
    network = split_chunks(body, 4096)

    def baseline_json() -> None:
        for line in body.split(b"\n"):
            if line.startswith(b"data: "):
                json.loads(line[6:])

    def ours(pieces: list[bytes]) -> Callable[[], None]:
        def run() -> None:
            decoder, parser = SSEDecoder(), ResponsesParser("bench", lambda: [])
            for piece in pieces:
                for event in decoder.feed(piece):
                    parser.feed(event)

        return run

    base, net, odd = median_alternating([baseline_json, ours(network), ours(awkward)])
    print(f"decode: {len(turn.events)} events, {len(body) / 1e6:.2f} MB")
    print(f"  json.loads per event (baseline)       : {base * 1e3:8.1f} ms  (1.00x)")
    print(
        f"  ours, 4 KiB pieces ({len(network):6d})          : {net * 1e3:8.1f} ms  ({net / base:.2f}x)"
    )
    print(
        f"  ours, awkward pieces ({len(awkward):6d})        : {odd * 1e3:8.1f} ms  ({odd / base:.2f}x)"
    )

    with MockResponsesServer() as server:
        env = {"MOCK_KEY": "sk-bench-0000000000000000"}
        table = server.provider_config(env_key="MOCK_KEY")
        config = {"model_provider": "mock", "model_providers": {"mock": table}}
        provider = resolve_provider(config, environ=env)
        creds = resolve_credentials(
            provider, auth_settings({}, codex_home=Path("/nonexistent")), environ=env
        )
        request = ModelRequest(
            model="m", input=[{"type": "message", "role": "user", "content": []}]
        )

        async def client_turn() -> None:
            server.enqueue(turn)
            async with ModelClient(provider, creds, environ=env) as client:
                async for _ in client.stream(request):
                    pass

        async def raw_turn() -> None:
            server.enqueue(turn)
            url = server.base_url + "/responses"
            async with (
                httpx.AsyncClient(trust_env=False) as http,
                http.stream("POST", url, json={}) as response,
            ):
                async for _ in response.aiter_bytes():
                    pass

        raw, client = median_alternating(
            [lambda: asyncio.run(raw_turn()), lambda: asyncio.run(client_turn())]
        )
    print(f"stream: one turn of {deltas} deltas over 127.0.0.1")
    print(f"  httpx reading the body (baseline): {raw * 1e3:8.1f} ms  (1.00x)")
    print(f"  ModelClient.stream typed events  : {client * 1e3:8.1f} ms  ({client / raw:.2f}x)")


if __name__ == "__main__":
    main()
