"""`codex exec` end to end: a git workspace, a mock Responses server, the real CLI as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from tests.support import MockResponsesServer

CODEX = [sys.executable, "-c", "from codex_admin.cli.main import main; main()"]
API_KEY = "sk-test-abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass
class ExecRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def items(self, kind: str | None = None, event: str = "item.completed") -> list[dict[str, Any]]:
        found = [e["item"] for e in self.events if e["type"] == event]
        return [i for i in found if kind is None or i["type"] == kind]


@dataclass
class Workspace:
    root: Path
    home: Path
    system: Path
    server: MockResponsesServer
    env: dict[str, str]

    def config(self, **extra: Any) -> None:
        """Write $CODEX_HOME/config.toml: the mock provider plus ``extra`` keys."""
        document: dict[str, Any] = {
            "model": "gpt-test",
            "model_provider": "mock",
            "model_providers": {"mock": self.server.provider_config(env_key="MOCK_API_KEY")},
        }
        document.update(extra)
        (self.home / "config.toml").write_text(tomlkit.dumps(document))

    def exec(
        self,
        args: Sequence[str],
        *,
        stdin: str | None = "",
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> ExecRun:
        run = subprocess.run(
            [*CODEX, "exec", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd or self.root,
            env={**self.env, **(env or {})},
            timeout=timeout,
            check=False,
        )
        return ExecRun(run.returncode, run.stdout, run.stderr)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    root, home, system = tmp_path / "repo", tmp_path / "home", tmp_path / "system"
    for folder in (root, home, system):
        folder.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CODEX_", "OPENAI_")) and key != "PYTHONSTARTUP"
    }
    env.update(
        CODEX_HOME=str(home),
        CODEX_SYSTEM_DIR=str(system),
        CODEX_MDM_PLIST="",
        MOCK_API_KEY=API_KEY,
    )
    with MockResponsesServer() as server:
        space = Workspace(root, home, system, server, env)
        space.config()
        yield space
        assert not server.errors, server.errors
