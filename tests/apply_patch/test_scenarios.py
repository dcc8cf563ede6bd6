"""Codex's fixture scenarios (spec §5.3), with our own inputs, through the real command lines.

Each ``fixtures/scenarios/NNN_name`` has ``input/``, ``patch.txt`` and ``expected/``; the patch
is applied in a temporary copy of ``input/`` and the whole tree must equal ``expected/`` (like
Codex's harness, the exit status is not what is compared). Every scenario was also checked once
against the Codex 0.169.0 binary. 001-022 are the upstream behaviours; 023+ are our additions.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.apply_patch.conftest import run, tree

SCENARIOS = Path(__file__).parent / "fixtures" / "scenarios"
NAMES = sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir())
UPSTREAM = {
    "001_add_file", "002_multiple_operations", "003_multiple_chunks",
    "004_move_to_new_directory", "005_rejects_empty_patch", "006_rejects_missing_context",
    "007_rejects_missing_file_delete", "008_rejects_empty_update_hunk",
    "009_requires_existing_file_for_update", "010_move_overwrites_existing_destination",
    "011_add_overwrites_existing_file", "012_delete_directory_fails",
    "013_rejects_invalid_hunk_header", "014_update_file_appends_trailing_newline",
    "015_failure_after_partial_success_leaves_changes", "016_pure_addition_update_chunk",
    "017_whitespace_padded_hunk_header", "018_whitespace_padded_patch_markers",
    "019_unicode_simple", "020_delete_file_success", "020_whitespace_padded_patch_marker_lines",
    "021_update_file_deletion_only", "022_update_file_end_of_file_marker",
}  # fmt: skip


def test_every_upstream_scenario_has_a_fixture() -> None:
    assert set(NAMES) >= UPSTREAM


def _prepare(name: str, tmp_path: Path) -> tuple[Path, bytes]:
    work = tmp_path / "work"
    shutil.copytree(SCENARIOS / name / "input", work, ignore=shutil.ignore_patterns(".keep"))
    return work, (SCENARIOS / name / "patch.txt").read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_scenario_codex_apply_patch(name: str, tmp_path: Path) -> None:
    work, patch = _prepare(name, tmp_path)
    result = run([sys.executable, "-m", "codex_admin", "apply-patch", patch], work)
    assert tree(work) == tree(SCENARIOS / name / "expected"), result.stderr.decode()
    if result.returncode == 0:
        assert result.stdout.startswith(b"Success. Updated the following files:\n")
        assert result.stderr == b""
    else:
        assert result.returncode == 1 and result.stdout == b"" and result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_scenario_standalone_argv0(name: str, tmp_path: Path, apply_patch_exe: Path) -> None:
    work, patch = _prepare(name, tmp_path)
    result = run([str(apply_patch_exe)], work, stdin=patch)
    assert tree(work) == tree(SCENARIOS / name / "expected"), result.stderr.decode()


@pytest.mark.parametrize("name", NAMES)
def test_scenario_atomic_never_leaves_partial_changes(name: str, tmp_path: Path) -> None:
    """With --atomic a failing scenario leaves the input untouched (015 keeps nothing)."""
    work, patch = _prepare(name, tmp_path)
    before = tree(work)
    result = run([sys.executable, "-m", "codex_admin", "apply-patch", "--atomic", "-"], work, patch)
    if result.returncode == 0:
        assert tree(work) == tree(SCENARIOS / name / "expected")
    else:
        assert tree(work) == before
