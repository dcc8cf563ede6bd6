"""Shared fixtures: an isolated CODEX_HOME / system dir / MDM for every test, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Env:
    home: Path
    system: Path
    root: Path

    def write(self, path: Path | str, text: str | bytes) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")
        return target

    def user(self, text: str) -> Path:
        return self.write(self.home / "config.toml", text)

    def sys_config(self, text: str) -> Path:
        return self.write(self.system / "config.toml", text)

    def managed(self, text: str) -> Path:
        return self.write(self.system / "managed_config.toml", text)

    def requirements(self, text: str) -> Path:
        return self.write(self.system / "requirements.toml", text)

    def project(self, name: str = "proj", *, trusted: bool | None = True) -> Path:
        project = self.root / name
        (project / ".git").mkdir(parents=True, exist_ok=True)
        (project / ".codex").mkdir(exist_ok=True)
        if trusted is not None:
            level = "trusted" if trusted else "untrusted"
            existing = (
                (self.home / "config.toml").read_text()
                if (self.home / "config.toml").exists()
                else ""
            )
            self.user(existing + f'\n[projects."{project.resolve()}"]\ntrust_level = "{level}"\n')
        return project

    def mdm(self, config: str | None = None, requirements: str | None = None) -> Path:
        import base64
        import plistlib

        payload = {}
        if config is not None:
            payload["config_toml_base64"] = base64.b64encode(config.encode()).decode()
        if requirements is not None:
            payload["requirements_toml_base64"] = base64.b64encode(requirements.encode()).decode()
        path = self.root / "mdm.plist"
        path.write_bytes(plistlib.dumps(payload))
        os.environ["CODEX_MDM_PLIST"] = str(path)
        return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    home, system, root = tmp_path / "home", tmp_path / "system", tmp_path / "work"
    for d in (home, system, root):
        d.mkdir()
    monkeypatch.setenv("CODEX_HOME", str(home))
    monkeypatch.setenv("CODEX_SYSTEM_DIR", str(system))
    monkeypatch.setenv("CODEX_MDM_PLIST", "")
    monkeypatch.chdir(root)
    yield Env(home=home, system=system, root=root)


def run_codex(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as a subprocess with the current (isolated) environment."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "codex_admin.cli.main", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
    )
