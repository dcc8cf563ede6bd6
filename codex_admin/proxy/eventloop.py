"""Which asyncio event loop a standalone proxy runs on: uvloop when installed, else asyncio's.

uvloop (the optional ``fast`` extra, libuv underneath) measurably speeds the proxy's
connection handling (see ``benchmarks/proxy_bench.py``, which runs the proxy on both loops).
The proxy code is loop-agnostic: it uses only public asyncio APIs plus reader/writer callbacks
on file descriptors (the splice tunnel), which uvloop implements; the test suite passes on
both (``CODEX_PROXY_EVENT_LOOP=uvloop``).

``CODEX_PROXY_EVENT_LOOP``: ``auto`` (default: uvloop if importable), ``uvloop`` (required:
an error if it is missing) or ``asyncio``. An embedded proxy (an agent session, a sandbox run)
uses whatever loop its caller runs; this only decides for `codex proxy run`
(:func:`run_on_event_loop`), which also settles the heap once it serves
(:func:`freeze_start_up_heap`).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from codex_admin.errors import CodexError

__all__ = [
    "EVENT_LOOP_VARIABLE",
    "choose_event_loop",
    "freeze_start_up_heap",
    "run_on_event_loop",
]

EVENT_LOOP_VARIABLE = "CODEX_PROXY_EVENT_LOOP"
T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def choose_event_loop(environ: Mapping[str, str] | None = None) -> tuple[str, LoopFactory | None]:
    """``(name, factory)`` for the chosen loop; factory None means asyncio's default."""
    env = os.environ if environ is None else environ
    choice = env.get(EVENT_LOOP_VARIABLE, "auto").strip().lower() or "auto"
    if choice not in ("auto", "uvloop", "asyncio"):
        raise CodexError(
            f"{EVENT_LOOP_VARIABLE}={choice!r} is not one of auto, uvloop, asyncio",
            hint=f"unset {EVENT_LOOP_VARIABLE} to use uvloop when it is installed",
        )
    if choice == "asyncio":
        return "asyncio", None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise CodexError(
                f"{EVENT_LOOP_VARIABLE}=uvloop but uvloop is not installed",
                hint="pip install 'codex-admin[fast]', or unset the variable",
            ) from None
        return "asyncio", None
    factory: LoopFactory = uvloop.new_event_loop
    return "uvloop", factory


def run_on_event_loop(
    main: Callable[[], Coroutine[Any, Any, T]], environ: Mapping[str, str] | None = None
) -> T:
    """``asyncio.run(main())`` on the loop :func:`choose_event_loop` chooses (a bad choice
    raises before ``main`` is called)."""
    _, factory = choose_event_loop(environ)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


def freeze_start_up_heap() -> None:
    """Collect once, then move every object alive into the collector's permanent generation.

    A standalone proxy builds its imports, policy and CA once and keeps them until it exits.
    Left in the tracked generations, every full collection walks them all again: about 31,000
    objects, a 45 ms pause measured under load, and every request in flight waits for it (it
    lands in the p99). Frozen, a collection walks only what serving allocated (8,500 objects,
    at most 8 ms in the same benchmark, ``benchmarks/proxy_bench.py``). Only for a process that
    serves until it exits (or calls ``gc.unfreeze()`` when it stops serving): nothing frozen is
    collected, so an embedded proxy (an agent session, a sandbox run, a test) must not call
    this. A supervisor calls it before forking workers, and each worker again once it
    listens: the second collection walks only what the worker made.
    """
    gc.collect()
    gc.freeze()
