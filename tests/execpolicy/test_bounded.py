"""Hostile rules files: deep nesting, non-termination, huge inputs and NUL bytes are bounded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.execpolicy import Limits, PolicyParser
from codex_admin.execpolicy.isolation import ChildFailure, run_in_child, run_streaming

FAST = Limits(timeout_seconds=1.0)


def _load(source: str, limits: Limits = FAST) -> None:
    PolicyParser(limits=limits).parse_source("evil.rules", source)


@pytest.mark.parametrize(
    "source",
    [
        "x = " + "[" * 5000 + "]" * 5000,
        "x = " + "(" * 5000 + "1" + ")" * 5000,
        "x = 1" + " + 1" * 5000,
        "x = " + "-" * 5000 + "1",
        "x = " + "not " * 5000 + "True",
        "x = f" + "(1)" * 5000,
        "".join("    " * i + "if True:\n" for i in range(1500)) + "    " * 1500 + "x = 1\n",
    ],
)
def test_deep_nesting_is_rejected_without_crashing(source: str) -> None:
    with pytest.raises(CodexError, match="nesting too deep") as info:
        _load(source)
    assert info.value.location is not None and info.value.location.line is not None


def test_moderate_nesting_still_works() -> None:
    _load("x = " + "[" * 200 + "]" * 200 + '\nprefix_rule(pattern=["a"] + ["b"] * 2)\n')


@pytest.mark.parametrize(
    "source",
    [
        "x = 0\nfor i in range(2147483647):\n    x += 1\n",
        "def f():\n    for i in range(2147483647):\n        pass\nf()\n",
        "[i for i in range(2147483647) for j in range(10)]\n",
    ],
)
def test_non_terminating_evaluation_times_out(source: str) -> None:
    start = time.monotonic()
    with pytest.raises(
        CodexError,
        match="evaluation (exceeded 1s|exceeded its memory budget|aborted by the interpreter: out of memory)",
    ):
        _load(source)
    assert time.monotonic() - start < 5


def test_unbounded_recursion_is_a_clean_error() -> None:
    with pytest.raises(CodexError, match="call stack overflow"):
        _load("def f(n):\n    return f(n + 1)\nf(0)\n")


@pytest.mark.parametrize(
    "source",
    [
        "x = [1, 2] * 2147483647\n",  # 32 GiB allocation: Rust aborts the process
        'x = "a" * 2147483647\n',  # one 2 GiB operation that check_cancelled cannot interrupt
        'x = "ab" * 2147483647\n',  # panics ("AlignedSize must not exceed u32::MAX")
        'x = "a" * 100000000\nfor i in range(8):\n    x = x + x\n',
    ],
)
def test_memory_bombs_are_contained(source: str) -> None:
    start = time.monotonic()
    with pytest.raises(CodexError, match="starlark error: (the evaluator|evaluation)"):
        _load(source, Limits(timeout_seconds=5.0))
    assert time.monotonic() - start < 8


def test_isolation_reports_timeouts_crashes_and_results() -> None:
    assert run_in_child(lambda: b'["ok"]', timeout=5, memory_bytes=0) == b'["ok"]'
    start = time.monotonic()
    with pytest.raises(ChildFailure, match="exceeded 0.5s"):
        run_in_child(lambda: time.sleep(30) or b"", timeout=0.5, memory_bytes=0)
    assert time.monotonic() - start < 5
    with pytest.raises(ChildFailure, match="SIGABRT"):
        run_in_child(lambda: os.abort() or b"", timeout=5, memory_bytes=0)
    with pytest.raises(ChildFailure, match="out of memory") as info:
        run_in_child(lambda: bytes(bytearray(1 << 33)), timeout=5, memory_bytes=256 << 20)
    assert info.value.kind == "memory"


def test_streaming_frames_arrive_in_order_and_a_callback_error_stops_the_child() -> None:
    seen: list[bytes] = []

    def child(emit: Callable[[bytes], None]) -> bytes:
        for i in range(100):
            emit(str(i).encode() * 1000)
        return b"done"

    assert run_streaming(child, seen.append, timeout=10, memory_bytes=0) == b"done"
    assert [s[: len(str(i))] for i, s in enumerate(seen)] == [str(i).encode() for i in range(100)]

    def forever(emit: Callable[[bytes], None]) -> bytes:
        while True:
            emit(b"x" * 65536)

    def stop(_: bytes) -> None:
        raise KeyError("stop")

    start = time.monotonic()
    with pytest.raises(KeyError):
        run_streaming(forever, stop, timeout=10, memory_bytes=0)
    assert time.monotonic() - start < 5


def test_in_process_mode_still_works() -> None:
    parser = PolicyParser(limits=Limits(isolate=False))
    parser.parse_source("a.rules", 'prefix_rule(pattern=["a"], match=["a b"])\n')
    assert parser.policy.rule_count == 1
    with pytest.raises(CodexError, match="nesting too deep"):
        _load("x = " + "[" * 5000 + "]" * 5000, Limits(isolate=False))


def test_huge_and_nul_sources(tmp_path: Path) -> None:
    with pytest.raises(CodexError, match="too large"):
        _load("#" * 100, Limits(max_source_bytes=10))
    with pytest.raises(CodexError, match="NUL byte") as info:
        _load('prefix_rule(pattern=["a"])\nprefix_rule(pattern=["b\0"])\n')
    assert info.value.location is not None and info.value.location.line == 2


def test_many_rules_load_quickly() -> None:
    source = "\n".join(f'prefix_rule(pattern=["tool{i}", "sub"])' for i in range(5000))
    start = time.monotonic()
    parser = PolicyParser()
    parser.parse_source("big.rules", source)
    assert parser.policy.rule_count == 5000
    assert time.monotonic() - start < 15


def test_cli_survives_a_segfault_shaped_file(tmp_path: Path) -> None:
    """The same input that kills a bare starlark-pyo3 process gives exit 1 and a message."""
    evil = tmp_path / "evil.rules"
    evil.write_text("x = " + "[" * 100000 + "]" * 100000 + "\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codex_admin.cli.main",
            "execpolicy",
            "check",
            "-r",
            str(evil),
            "ls",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "nesting too deep" in proc.stderr and "Traceback" not in proc.stderr
