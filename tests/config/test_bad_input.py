"""Bad-input corpus: every case exits 1 with a located message and never a traceback."""

from __future__ import annotations

import base64
import json
import os
import plistlib
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Env, run_codex

Setup = Callable[[Env], Path | None]


def _project(env: Env, text: str | bytes) -> Path:
    project = env.project()
    env.write(project / ".codex/config.toml", text)
    return project


def _mdm(env: Env, **settings: object) -> None:
    path = env.root / "mdm.plist"
    path.write_bytes(plistlib.dumps(settings))
    os.environ["CODEX_MDM_PLIST"] = str(path)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


CASES: dict[str, tuple[Callable[[Env], object], str]] = {
    "user toml": (lambda e: e.user("model = \n"), "config.toml:1:"),
    "system toml": (lambda e: e.sys_config("[a\n"), "config.toml:1:"),
    "managed toml": (lambda e: e.managed("x = [1,\n"), "managed_config.toml:"),
    "requirements toml": (lambda e: e.requirements("a = 'b' 'c'\n"), "requirements.toml:1:"),
    "trusted project toml": (
        lambda e: _project(e, "model = = 1\n"),
        "Error parsing project config file",
    ),
    "user wrong type": (lambda e: e.user("\n\nsandbox_mode = 3\n"), "config.toml:3:1"),
    "nested wrong type": (
        lambda e: e.user("[sandbox_workspace_write]\nwritable_roots = 'x'\n"),
        "config.toml:2:1",
    ),
    "requirements wrong type": (
        lambda e: e.requirements("allowed_sandbox_modes = 1\n"),
        "requirements.toml:1:1",
    ),
    "user non-utf8": (lambda e: e.user(b'model = "\xff"\n'), "config.toml:1:10"),
    "requirements non-utf8": (lambda e: e.requirements(b"\n\xfe\n"), "requirements.toml:2:1"),
    "project non-utf8": (lambda e: _project(e, b"a = '\xc3'"), ".codex/config.toml:1:"),
    "mdm bad base64": (lambda e: _mdm(e, requirements_toml_base64="%%%"), "not valid base64"),
    "mdm non-utf8": (lambda e: _mdm(e, config_toml_base64=_b64(b"\xff")), "UTF-8"),
    "mdm bad toml": (
        lambda e: _mdm(e, config_toml_base64=_b64(b"a = ")),
        "MDM com.openai.codex:config_toml_base64",
    ),
    "mdm wrong value type": (lambda e: _mdm(e, requirements_toml_base64=["x"]), "must be a string"),
    "mdm requirement wrong type": (
        lambda e: _mdm(e, requirements_toml_base64=_b64(b"allowed_approval_policies = 1")),
        "MDM com.openai.codex:requirements_toml_base64:1:1",
    ),
    "directory instead of user file": (
        lambda e: (e.home / "config.toml").mkdir(),
        "is a directory",
    ),
    "directory instead of requirements": (
        lambda e: (e.system / "requirements.toml").mkdir(),
        "is a directory",
    ),
    "directory instead of plist": (lambda e: _mdm_dir(e), "is a directory"),
    "bad -c key": (lambda e: None, "Empty key in override"),
}


def _mdm_dir(env: Env) -> None:
    path = env.root / "dir.plist"
    path.mkdir()
    os.environ["CODEX_MDM_PLIST"] = str(path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_a_located_error(env: Env, name: str) -> None:
    setup, needle = CASES[name]
    project = setup(env)
    args = ["config", "show", "--json"]
    if name == "bad -c key":
        args += ["-c", "=1"]
    if isinstance(project, Path) and project.is_dir():
        args += ["-C", str(project)]
    proc = run_codex(*args)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    # Under --json the only stdout is the JSON error object (issue 18); the text is on stderr.
    error = json.loads(proc.stdout)["error"]
    assert error["message"] in proc.stderr
    assert needle in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr


def test_unreadable_file_is_a_located_error(env: Env, tmp_path: Path) -> None:
    path = env.user('model = "x"\n')
    path.chmod(0)
    as_nobody = os.geteuid() == 0
    if as_nobody:
        # root reads anything: run the CLI as an unprivileged user instead
        for directory in (tmp_path, env.home, env.system, env.root):
            directory.chmod(0o755)
        for parent in tmp_path.parents:
            if parent == Path("/tmp") or parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | stat.S_IXOTH)
    proc = run_codex_as_nobody(as_nobody, "config", "show", cwd=env.root)
    assert proc.returncode == 1, proc.stderr
    assert "permission denied" in proc.stderr and str(path) in proc.stderr
    assert "Traceback" not in proc.stderr


def run_codex_as_nobody(as_nobody: bool, *args: str, cwd: Path) -> object:
    import subprocess
    import sys

    if not as_nobody:
        return run_codex(*args, cwd=cwd)
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is needed to drop root privileges for this test")
    return subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "codex_admin.cli.main",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
