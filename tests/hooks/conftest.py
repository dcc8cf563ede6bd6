"""Helpers for hook tests: write hook files, load the real config, trust, build an engine.

Every hook here is a real command run by a real shell; scripts are written to the test's tmp dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from codex_admin.config import ConfigResult, LoadOptions, load_config, trust_project
from codex_admin.errors import CodexError
from codex_admin.hooks import (
    HookEngine,
    HookSet,
    SessionInfo,
    discover_hooks,
    has_hook_sources,
    trust_hooks,
)
from tests.conftest import Env

T = TypeVar("T")
PY = shlex.quote(sys.executable)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def group(command: str, matcher: str | None = None, **handler: Any) -> dict[str, Any]:
    """One matcher group with one command handler."""
    entry: dict[str, Any] = {"matcher": matcher} if matcher is not None else {}
    entry["hooks"] = [{"type": "command", "command": command, **handler}]
    return entry


def emit(obj: Any) -> str:
    """A command that drains stdin and prints ``obj`` as JSON."""
    return f"cat >/dev/null; printf '%s' {shlex.quote(json.dumps(obj))}"


@dataclass
class Hooks:
    env: Env
    tmp: Path

    @property
    def child_env(self) -> dict[str, str]:
        home = self.tmp / "hook-home"
        home.mkdir(exist_ok=True)
        return {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "SHELL": "/bin/sh",
            "LANG": "C.UTF-8",
        }

    def hooks_json(
        self, folder: Path, events: dict[str, list[dict[str, Any]]], **root: Any
    ) -> Path:
        return self.env.write(
            folder / "hooks.json", json.dumps({"hooks": events, **root}, indent=2)
        )

    def script(self, name: str, body: str) -> Path:
        path = self.env.write(self.tmp / "scripts" / name, body)
        path.chmod(0o755)
        return path

    def load(self, cwd: Path | None = None, **kw: Any) -> ConfigResult:
        """The config for ``cwd``. A trusted project is re-trusted first, as a user who reviewed
        the test's edits would (config trust fingerprints `.codex`; see tests/config for that
        mechanism, these tests are about the hooks' own trust)."""
        options = LoadOptions(cwd=cwd or self.env.root, **kw)
        result = load_config(options)
        if result.project_trust == "trusted" and any(
            layer.kind == "project" and not layer.enabled for layer in result.layers
        ):
            with contextlib.suppress(CodexError):  # a folder trust refuses stays refused
                trust_project(options)
                result = load_config(options)
        return result

    def discover(self, cwd: Path | None = None, **kw: Any) -> HookSet:
        """Discovery, checking what a session relies on to skip it: whenever discovery finds a
        hook, a problem or a warning, or fails, :func:`has_hook_sources` says there is a
        source (every discovery test checks this)."""
        config = self.load(cwd, **kw)
        try:
            hooks = discover_hooks(config)
        except CodexError:
            assert has_hook_sources(config), "discovery failed on a source not seen"
            raise
        if hooks.hooks or hooks.problems or hooks.warnings:
            assert has_hook_sources(config), "discovery found what has_hook_sources missed"
        return hooks

    def trusted(self, cwd: Path | None = None, **kw: Any) -> HookSet:
        """Trust everything in force here, then discover again."""
        hooks = self.discover(cwd, **kw)
        trust_hooks(hooks.codex_home, hooks.hooks)
        return self.discover(cwd, **kw)

    def engine(self, hooks: HookSet, **kw: Any) -> HookEngine:
        session = SessionInfo("sess-1", hooks.cwd, model="gpt-test", permission_mode="default")
        return HookEngine(hooks, session, kw.pop("env", self.child_env), **kw)

    def user_hooks(self, events: dict[str, list[dict[str, Any]]]) -> HookEngine:
        """Trusted user-level hooks and an engine for them (the common test setup)."""
        self.hooks_json(self.env.home, events)
        return self.engine(self.trusted())


@pytest.fixture
def hk(env: Env, tmp_path: Path) -> Hooks:
    return Hooks(env, tmp_path)
