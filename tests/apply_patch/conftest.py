"""Helpers for the apply_patch tests: run the real CLI entry points as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

SCRIPTS = Path(sys.executable).parent


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and directory (None) under ``root``, relative; `.keep` ignored."""
    out: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        if path.name == ".keep":
            continue
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = b"-> " + os.readlink(path).encode()
        elif path.is_dir():
            out[rel + "/"] = None
        else:
            out[rel] = path.read_bytes()
    return out


def run(
    argv: Sequence[str | bytes], cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        list(argv),
        cwd=cwd,
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def apply_patch_exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A symlink named `apply_patch` to the installed `codex` script (argv[0] dispatch)."""
    link = tmp_path_factory.mktemp("bin") / "apply_patch"
    link.symlink_to(SCRIPTS / "codex")
    return link
