"""`codex apply-patch` and the standalone `apply_patch` (argv[0]) contracts, as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.apply_patch.conftest import SCRIPTS, run, tree

CODEX = [sys.executable, "-m", "codex_admin"]
OK = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch"
BAD = "*** Begin Patch\n*** Update File: missing.txt\n@@\n-a\n+b\n*** End Patch"
USAGE = b"Usage: apply_patch 'PATCH'\n       echo 'PATCH' | apply_patch\n"


def test_success_prints_codex_text_only(tmp_path: Path) -> None:
    result = run([*CODEX, "apply-patch", OK], tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        b"Success. Updated the following files:\nA hello.txt\n",
        b"",
    )
    assert (tmp_path / "hello.txt").read_bytes() == b"hi\n"


def test_failure_prints_codex_message_on_stderr_only(tmp_path: Path) -> None:
    result = run([*CODEX, "apply-patch", BAD], tmp_path)
    assert result.returncode == 1 and result.stdout == b""
    assert (
        result.stderr
        == (
            f"Failed to read file to update {tmp_path}/missing.txt: "
            "No such file or directory (os error 2)\n"
        ).encode()
    )


def test_stdin_dash_and_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    result = run([*CODEX, "apply-patch", "-C", str(tmp_path / "sub"), "-"], tmp_path, OK.encode())
    assert result.returncode == 0 and (tmp_path / "sub" / "hello.txt").exists()
    result = run(
        [*CODEX, "apply-patch", "--cd", "sub"], tmp_path, OK.replace("hello", "again").encode()
    )
    assert result.returncode == 0 and (tmp_path / "sub" / "again.txt").exists()
    result = run([*CODEX, "apply-patch", "-C", "nope", OK], tmp_path)
    assert result.returncode == 1 and b"nope does not exist" in result.stderr


def test_no_patch_is_a_usage_error(tmp_path: Path) -> None:
    result = run([*CODEX, "apply-patch"], tmp_path, b"")
    assert result.returncode == 2 and b"no patch given" in result.stderr


def test_partial_by_default_all_or_nothing_with_atomic(tmp_path: Path) -> None:
    text = OK.replace("*** End Patch", BAD.split("\n", 1)[1])
    result = run([*CODEX, "apply-patch", "--atomic", text], tmp_path)
    assert result.returncode == 1 and tree(tmp_path) == {}
    result = run([*CODEX, "apply-patch", text], tmp_path)
    assert result.returncode == 1 and tree(tmp_path) == {"hello.txt": b"hi\n"}


def test_json_success_and_error(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("one\ntwo\n")
    text = "*** Begin Patch\n*** Update File: f.txt\n@@\n one\n-two\n+TWO\n*** End Patch"
    result = run([*CODEX, "apply-patch", "--json", text], tmp_path)
    assert result.returncode == 0 and result.stderr == b""
    payload = json.loads(result.stdout)
    assert payload["ok"] is True
    assert payload["summary"] == "Success. Updated the following files:\nM f.txt\n"
    assert payload["modified"] == ["f.txt"] and payload["added"] == [] and payload["deleted"] == []
    (change,) = payload["changes"]
    assert change["kind"] == "update" and change["path"] == f"{tmp_path}/f.txt"
    assert change["diff"].endswith("@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n")
    result = run(
        [*CODEX, "apply-patch", "--json", "*** Begin Patch\n*** Update File: f.txt\n*** End Patch"],
        tmp_path,
    )
    assert result.returncode == 1 and result.stderr == b""
    assert json.loads(result.stdout) == {
        "error": {
            "message": "Invalid patch hunk on line 2: Update file hunk for path 'f.txt' is empty",
            "path": "<patch>",
            "line": 2,
            "column": None,
            "hint": "add at least one chunk ('@@' followed by ' ', '-' and '+' lines)",
        }
    }
    result = run([*CODEX, "apply-patch", "--json", BAD], tmp_path)
    error = json.loads(result.stdout)["error"]
    assert error["path"] == f"{tmp_path}/missing.txt" and error["line"] is None


def test_argv0_dispatch_matches_the_standalone_tool(tmp_path: Path, apply_patch_exe: Path) -> None:
    result = run([str(apply_patch_exe), OK], tmp_path)
    assert result.returncode == 0 and result.stdout.endswith(b"A hello.txt\n")
    assert run([str(apply_patch_exe)], tmp_path, b"").stderr == USAGE
    result = run([str(apply_patch_exe), "a", "b"], tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        b"Error: apply_patch accepts exactly one argument.\n",
    )
    result = run([str(apply_patch_exe), b"*** Begin Patch\xff"], tmp_path)
    assert (result.returncode, result.stderr) == (
        1,
        b"Error: apply_patch requires a UTF-8 PATCH argument.\n",
    )
    result = run([str(apply_patch_exe)], tmp_path, b"*** Begin Patch\n+\xff\n")
    assert result.returncode == 1
    assert (
        result.stderr
        == b"Error: Failed to read PATCH from stdin.\nstream did not contain valid UTF-8\n"
    )
    result = run([str(apply_patch_exe), "--help"], tmp_path)
    assert (
        result.stderr == b"Invalid patch: The first line of the patch must be '*** Begin Patch'\n"
    )


def test_installed_scripts_and_hidden_flag(tmp_path: Path) -> None:
    for name in ("apply_patch", "applypatch"):
        result = run([str(SCRIPTS / name)], tmp_path, OK.replace("hello", name).encode())
        assert result.returncode == 0, result.stderr
    result = run([*CODEX, "--codex-run-as-apply-patch", OK.replace("hello", "flag")], tmp_path)
    assert result.returncode == 0 and (tmp_path / "flag.txt").exists()


def test_unicode_paths_print_whatever_the_locale(tmp_path: Path) -> None:
    text = "*** Begin Patch\n*** Add File: grüße/日本.txt\n+x\n*** End Patch"
    result = subprocess.run(
        [*CODEX, "apply-patch", text],
        cwd=tmp_path,
        capture_output=True,
        env={**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": "ascii"},
    )
    assert result.returncode == 0
    assert result.stdout.decode("utf-8").endswith("A grüße/日本.txt\n")


def test_root_help_lists_the_commands(tmp_path: Path) -> None:
    result = run([*CODEX, "--help"], tmp_path)
    assert b"apply-patch" in result.stdout and b"instructions" in result.stdout
