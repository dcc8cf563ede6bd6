"""Running one hook command: shell, environment, stdin, timeouts, caps, process cleanup."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from codex_admin.hooks.runner import run_command
from tests.hooks.conftest import PY, Hooks, emit, group, run


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_runs_via_shell_dash_lc_in_cwd_with_stdin(hk: Hooks, tmp_path: Path) -> None:
    log = tmp_path / "args"
    shell = hk.script("fake-shell", f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\nexec /bin/sh "$@"\n')
    env = {**hk.child_env, "SHELL": str(shell)}
    result = run(run_command("cat; pwd", stdin=b'{"a":1}\n', cwd=tmp_path, env=env, timeout=10))
    assert result.exit_code == 0 and result.error is None
    assert result.stdout == f'{{"a":1}}\n{tmp_path}\n'
    assert log.read_text() == "-lc\ncat; pwd\n"


def test_default_shell_is_bin_sh(tmp_path: Path) -> None:
    result = run(
        run_command("echo $0", stdin=b"", cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, timeout=10)
    )
    assert result.stdout.strip().endswith("sh")


def test_environment_is_exactly_the_given_one(
    hk: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    env = {**hk.child_env, "ONLY_THIS": "1"}
    result = run(run_command("env", stdin=b"", cwd=tmp_path, env=env, timeout=10))
    assert "ONLY_THIS=1" in result.stdout
    assert "sk-must-not-leak" not in result.stdout and "also-secret" not in result.stdout


def test_engine_env_adds_project_dir_and_nothing_secret(
    hk: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    project = hk.env.project()
    out = hk.tmp / "env.txt"
    hk.hooks_json(project / ".codex", {"Stop": [group(f"env > {out}")]})
    engine = hk.engine(hk.trusted(project))
    run(engine.stop(turn_id="t", stop_hook_active=False, last_assistant_message=None))
    text = out.read_text()
    assert f"CLAUDE_PROJECT_DIR={project}" in text and f"CODEX_PROJECT_DIR={project}" in text
    assert "sk-must-not-leak" not in text


@pytest.mark.timeout(20)
def test_timeout_kills_the_hook(tmp_path: Path, hk: Hooks) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    result = run(
        run_command(
            f"echo $$ > {pidfile}; sleep 30", stdin=b"", cwd=tmp_path, env=hk.child_env, timeout=1
        )
    )
    assert time.monotonic() - started < 5
    assert result.error == "hook timed out after 1s" and result.exit_code is None
    assert result.timed_out
    time.sleep(0.1)
    assert not _alive(int(pidfile.read_text()))


@pytest.mark.timeout(20)
def test_background_process_holding_pipes_is_killed(tmp_path: Path, hk: Hooks) -> None:
    pidfile = tmp_path / "pid"
    command = f"sh -c 'echo $$ > {pidfile}; exec sleep 30' & echo done"
    started = time.monotonic()
    result = run(run_command(command, stdin=b"", cwd=tmp_path, env=hk.child_env, timeout=20))
    assert time.monotonic() - started < 5
    assert result.exit_code == 0 and result.stdout == "done\n"
    time.sleep(0.1)
    assert not _alive(int(pidfile.read_text()))


@pytest.mark.timeout(20)
def test_cancellation_kills_the_hook(tmp_path: Path, hk: Hooks) -> None:
    pidfile = tmp_path / "pid"

    async def scenario() -> None:
        task = asyncio.create_task(
            run_command(
                f"echo $$ > {pidfile}; sleep 30",
                stdin=b"",
                cwd=tmp_path,
                env=hk.child_env,
                timeout=60,
            )
        )
        for _ in range(100):
            await asyncio.sleep(0.05)
            if pidfile.exists() and pidfile.read_text().strip():
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
    time.sleep(0.2)
    assert not _alive(int(pidfile.read_text()))


@pytest.mark.timeout(30)
def test_output_is_capped_and_drained(tmp_path: Path, hk: Hooks) -> None:
    command = f"{PY} -c \"import sys; sys.stdout.write('x' * 3_000_000); sys.stderr.write('y' * 3_000_000)\""
    result = run(
        run_command(command, stdin=b"", cwd=tmp_path, env=hk.child_env, timeout=20, max_output=1000)
    )
    assert result.exit_code == 0
    assert result.stdout == "x" * 1000 and result.stdout_truncated
    assert result.stderr == "y" * 1000 and result.stderr_truncated


@pytest.mark.timeout(30)
def test_hook_that_ignores_a_large_stdin(tmp_path: Path, hk: Hooks) -> None:
    result = run(
        run_command("echo ok", stdin=b"z" * 5_000_000, cwd=tmp_path, env=hk.child_env, timeout=20)
    )
    assert result.exit_code == 0 and result.stdout == "ok\n"


def test_spawn_error_is_a_result(tmp_path: Path) -> None:
    result = run(
        run_command(
            "true", stdin=b"", cwd=tmp_path, env={"SHELL": str(tmp_path / "nope")}, timeout=5
        )
    )
    assert result.exit_code is None and result.error and "failed to start hook" in result.error


def test_signal_is_reported(tmp_path: Path, hk: Hooks) -> None:
    result = run(run_command("kill -9 $$", stdin=b"", cwd=tmp_path, env=hk.child_env, timeout=5))
    assert result.exit_code is None and result.signal == 9 and result.error is None


def test_non_utf8_output_is_replaced(tmp_path: Path, hk: Hooks) -> None:
    result = run(
        run_command("printf '\\377ok'", stdin=b"", cwd=tmp_path, env=hk.child_env, timeout=5)
    )
    assert result.stdout == "\ufffdok"


@pytest.mark.timeout(30)
def test_handlers_launch_concurrently(hk: Hooks) -> None:
    engine = hk.user_hooks({"Stop": [group("sleep 1; " + emit({})) for _ in range(4)]})
    started = time.monotonic()
    outcome = run(engine.stop(turn_id="t", stop_hook_active=False, last_assistant_message="x"))
    assert len(outcome.runs) == 4
    assert time.monotonic() - started < 3.5  # four 1 s hooks in parallel, not 4 s


def test_hooks_do_not_run_from_os_environ(hk: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine never falls back to this process's environment (a PATH-less env is used)."""
    monkeypatch.setenv("MARKER_FROM_PARENT", "leaked")
    out = hk.tmp / "e.txt"
    engine = hk.user_hooks({"Stop": [group(f"/usr/bin/env > {out}")]})
    engine = hk.engine(engine.hooks, env={})
    run(engine.stop(turn_id="t", stop_hook_active=False, last_assistant_message=None))
    assert "leaked" not in out.read_text()
    assert os.environ["MARKER_FROM_PARENT"] == "leaked"
