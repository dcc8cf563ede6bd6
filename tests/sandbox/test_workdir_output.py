"""The agent's needs from the runner: start in a workdir, cap captured output, kill on cancel."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.sandbox import SandboxMode, run_sandboxed
from tests.sandbox.conftest import policy


def _run(pol: object, argv: list[str], **kw: object) -> object:
    return asyncio.run(
        run_sandboxed(
            pol,  # type: ignore[arg-type]
            argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            timeout=30,
            **kw,  # type: ignore[arg-type]
        )
    )


def test_workdir_changes_where_it_starts_not_what_it_may_write(bwrap: str, ws: Path) -> None:
    sub = ws / "sub"
    sub.mkdir()
    outside = ws.parent / "outside"
    result = _run(policy(ws), ["sh", "-c", "pwd; touch here; touch ../elsewhere"], workdir=sub)
    assert result.stdout.decode().splitlines()[0] == str(sub.resolve())  # type: ignore[attr-defined]
    assert (sub / "here").exists() and (ws / "elsewhere").exists()
    # a workdir outside the writable roots does not become writable
    result = _run(policy(ws), ["sh", "-c", "touch x"], workdir=outside)
    assert result.exit_code != 0 and not (outside / "x").exists()  # type: ignore[attr-defined]


def test_missing_workdir_is_a_clear_error(bwrap: str, ws: Path) -> None:
    with pytest.raises(CodexError, match="does not exist"):
        _run(policy(ws), ["true"], workdir=ws / "nope")


@pytest.mark.parametrize("mode", [SandboxMode.WORKSPACE_WRITE, SandboxMode.DANGER_FULL_ACCESS])
def test_output_is_capped_head_and_tail(bwrap: str, ws: Path, mode: SandboxMode) -> None:
    script = "printf START; head -c 3000000 /dev/zero | tr '\\0' x; printf END"
    result = _run(policy(ws, mode), ["sh", "-c", script], output_limit=100_000)
    out = result.stdout  # type: ignore[attr-defined]
    assert out.startswith(b"START") and out.endswith(b"END")
    assert len(out) < 110_000 and b"bytes of output omitted" in out


def test_small_output_is_untouched(bwrap: str, ws: Path) -> None:
    result = _run(policy(ws), ["echo", "hi"], output_limit=100_000)
    assert result.stdout == b"hi\n"  # type: ignore[attr-defined]


def test_a_cancelled_run_kills_the_whole_process_group(bwrap: str, ws: Path) -> None:
    marker = ws / "alive"

    async def scenario() -> None:
        task = asyncio.ensure_future(
            run_sandboxed(
                policy(ws),
                ["sh", "-c", f"(sleep 3; touch {marker}) & sleep 30"],
                stdout=asyncio.subprocess.PIPE,
            )
        )
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 10
    time.sleep(3)
    assert not marker.exists(), "a background child outlived the cancelled command"
    assert os.path.isdir(ws)
