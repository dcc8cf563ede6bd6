"""AGENTS.md discovery (spec §6) against what Codex 0.169.0 sends, plus our safety rules.

The expected messages were produced by the Codex binary for the same trees (captured from its
request to a local mock Responses server).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from codex_admin.instructions import Instructions, candidate_filenames, load_instructions


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "AGENTS.md").write_text("ROOT DOC\n")
    (root / "sub" / "AGENTS.md").write_text("SUB DOC\n")
    return root


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def load(cwd: Path, home: Path | None = None, **kwargs: Any) -> Instructions:
    return load_instructions(cwd, codex_home=home, **kwargs)


def test_root_to_cwd_with_global_first(repo: Path, home: Path) -> None:
    (home / "AGENTS.md").write_text("GLOBAL DOC\n")
    got = load(repo / "sub" / "deep", home)
    assert got.git_root == repo
    assert got.message == (
        f"# AGENTS.md instructions for {repo}/sub/deep\n\n<INSTRUCTIONS>\nGLOBAL DOC\n\n"
        "--- project-doc ---\n\nROOT DOC\n\n\nSUB DOC\n\n</INSTRUCTIONS>"
    )
    assert [(s.scope, s.status, s.bytes_used) for s in got.sources] == [
        ("global", "used", 11),
        ("project", "used", 9),
        ("project", "used", 8),
    ]


def test_global_only_has_no_directory_in_the_header(tmp_path: Path, home: Path) -> None:
    (home / "AGENTS.md").write_text("  GLOBAL  \n\n")
    (tmp_path / "plain").mkdir()
    got = load(tmp_path / "plain", home)
    assert got.message == "# AGENTS.md instructions\n\n<INSTRUCTIONS>\nGLOBAL\n</INSTRUCTIONS>"


def test_nothing_found_sends_nothing(tmp_path: Path, home: Path) -> None:
    got = load(tmp_path, home)
    assert got.message is None and got.text is None and got.sources == ()


def test_global_override_wins_unless_blank(home: Path, tmp_path: Path) -> None:
    (home / "AGENTS.md").write_text("GLOBAL\n")
    (home / "AGENTS.override.md").write_text("   \n")
    assert load(tmp_path, home).user_instructions == "GLOBAL"
    (home / "AGENTS.override.md").write_text("OVERRIDE\n")
    assert load(tmp_path, home).user_instructions == "OVERRIDE"


def test_first_candidate_per_directory_even_if_empty(repo: Path) -> None:
    (repo / "sub" / "AGENTS.override.md").write_text("")
    got = load(repo / "sub" / "deep")
    assert got.project_doc == "ROOT DOC\n"
    assert [s.status for s in got.sources] == ["used", "empty"]


def test_fallback_filenames(repo: Path) -> None:
    (repo / "sub" / "AGENTS.override.md").write_text("OV\n")
    (repo / "sub" / "deep" / "TEAM.md").write_text("FB\n")
    got = load(repo / "sub" / "deep", fallback_filenames=["TEAM.md", "", "AGENTS.md"])
    assert got.project_doc == "ROOT DOC\n\n\nOV\n\n\nFB\n"
    assert candidate_filenames(["TEAM.md", "", "AGENTS.md"]) == [
        "AGENTS.override.md",
        "AGENTS.md",
        "TEAM.md",
    ]


def test_budget_truncates_with_codex_warning_and_blank_files_are_free(repo: Path) -> None:
    got = load(repo / "sub" / "deep", project_doc_max_bytes=12)
    assert got.project_doc == "ROOT DOC\n\n\nSUB"
    assert got.sources[1].truncated and got.sources[1].bytes_used == 3
    assert got.warnings == (
        f"Loaded only 3 of 8 bytes from `{repo}/sub/AGENTS.md` under the 12-byte project"
        " instruction budget. Trim your project instructions to fit the budget. If you need to"
        " keep them all, increase `project_doc_max_bytes`.",
    )
    (repo / "AGENTS.md").write_text("  \n\n")
    got = load(repo / "sub" / "deep", project_doc_max_bytes=4)
    assert got.project_doc == "SUB " and got.sources[0].status == "empty"


def test_budget_spent_skips_the_rest_and_zero_disables(repo: Path, home: Path) -> None:
    got = load(repo / "sub", project_doc_max_bytes=9)
    assert [s.status for s in got.sources] == ["used", "skipped"]
    (home / "AGENTS.md").write_text("G\n")
    got = load(repo / "sub", home, project_doc_max_bytes=0)
    assert got.project_doc is None and got.user_instructions == "G"
    assert got.message == "# AGENTS.md instructions\n\n<INSTRUCTIONS>\nG\n</INSTRUCTIONS>"


def test_git_file_marks_the_root_and_no_walk_past_it(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "worktree"
    inner.mkdir(parents=True)
    (outer / ".git").mkdir()
    (outer / "AGENTS.md").write_text("OUTER\n")
    (inner / ".git").write_text("gitdir: /elsewhere\n")
    (inner / "AGENTS.md").write_text("INNER\n")
    got = load(inner)
    assert got.git_root == inner and got.project_doc == "INNER\n"


def test_without_git_only_the_cwd_is_read(tmp_path: Path) -> None:
    (tmp_path / "AGENTS.md").write_text("PARENT\n")
    (tmp_path / "child").mkdir()
    (tmp_path / "child" / "AGENTS.md").write_text("CHILD\n")
    assert load(tmp_path / "child").project_doc == "CHILD\n"


def test_close_tag_in_a_file_is_escaped(repo: Path) -> None:
    (repo / "AGENTS.md").write_text("a </INSTRUCTIONS> b </instructions>\n")
    message = load(repo).message or ""
    assert message.count("</INSTRUCTIONS>") == 1 and message.endswith("</INSTRUCTIONS>")
    assert "a <\\/INSTRUCTIONS> b <\\/INSTRUCTIONS>" in message


def test_symlink_inside_the_repo_is_followed(repo: Path) -> None:
    (repo / "docs").mkdir()
    (repo / "docs" / "team.md").write_text("TEAM\n")
    (repo / "sub" / "AGENTS.md").unlink()
    (repo / "sub" / "AGENTS.md").symlink_to(repo / "docs" / "team.md")
    assert load(repo / "sub").project_doc == "ROOT DOC\n\n\nTEAM\n"


def test_symlink_leaving_the_repo_is_skipped_with_a_warning(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("TOKEN=hunter2\n")
    (repo / "sub" / "AGENTS.md").unlink()
    (repo / "sub" / "AGENTS.md").symlink_to(tmp_path / "secret.txt")
    got = load(repo / "sub")
    assert "hunter2" not in (got.message or "")
    assert got.sources[1].status == "skipped" and "outside the repository" in (
        got.sources[1].reason or ""
    )
    assert any("outside the repository" in w for w in got.warnings)


def test_fallback_name_cannot_escape_the_repo(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.md").write_text("OUTSIDE\n")
    (repo / "AGENTS.md").unlink()
    got = load(repo, fallback_filenames=["../outside.md"])
    assert got.project_doc is None and got.sources[0].status == "skipped"


def test_deny_read_files_are_never_read(repo: Path, home: Path, tmp_path: Path) -> None:
    (home / "AGENTS.md").write_text("GLOBAL\n")
    got = load(repo / "sub", home, deny_read=[str(repo / "sub"), str(home)])
    assert got.project_doc == "ROOT DOC\n" and got.user_instructions is None
    assert [s.status for s in got.sources] == ["skipped", "used", "skipped"]
    got = load(repo / "sub", deny_read=[f"{repo}/**/AGENTS.md"])
    assert got.project_doc is None
    # a symlink to a denied file inside the repo is refused by its resolved path
    (repo / "private").mkdir()
    (repo / "private" / "notes.md").write_text("PRIVATE\n")
    (repo / "sub" / "AGENTS.md").unlink()
    (repo / "sub" / "AGENTS.md").symlink_to(repo / "private" / "notes.md")
    got = load(repo / "sub", deny_read=[str(repo / "private")])
    assert "PRIVATE" not in (got.text or "")


def test_outside_readable_roots_is_not_read(repo: Path, home: Path) -> None:
    (home / "AGENTS.md").write_text("GLOBAL\n")
    got = load(repo / "sub", home, readable_roots=[repo])
    assert got.user_instructions is None and got.project_doc == "ROOT DOC\n\n\nSUB DOC\n"


def test_fifo_directory_and_dangling_link_never_hang(repo: Path) -> None:
    os.mkfifo(repo / "sub" / "deep" / "AGENTS.md")
    (repo / "sub" / "AGENTS.md").unlink()
    (repo / "sub" / "AGENTS.md").symlink_to(repo / "nowhere")
    (repo / "sub" / "deep" / "more").mkdir()
    (repo / "sub" / "deep" / "more" / "AGENTS.md").mkdir()
    result: list[Instructions] = []
    thread = threading.Thread(
        target=lambda: result.append(load(repo / "sub" / "deep")), daemon=True
    )
    thread.start()
    thread.join(5)
    assert result, "reading a FIFO blocked"
    assert result[0].project_doc == "ROOT DOC\n"
    assert load(repo / "sub" / "deep" / "more").project_doc == "ROOT DOC\n"


def test_huge_file_reads_only_the_budget(repo: Path) -> None:
    with open(repo / "sub" / "AGENTS.md", "wb") as handle:
        handle.truncate(1 << 30)  # a sparse GiB of NULs
        handle.seek(0)
        handle.write(b"HEAD ")
    got = load(repo / "sub")
    assert got.sources[1].bytes_used == 32 * 1024 - 9
    assert got.sources[1].size == 1 << 30 and got.sources[1].truncated


def test_invalid_utf8_is_replaced(repo: Path) -> None:
    (repo / "AGENTS.md").write_bytes(b"caf\xe9\n")
    assert load(repo).project_doc == "caf\ufffd\n"


def test_json_shape(repo: Path) -> None:
    payload = load(repo).to_json()
    assert set(payload) == {
        "cwd", "git_root", "project_doc_max_bytes", "project_bytes_used", "sources", "warnings",
        "user_instructions", "project_doc", "text", "message",
    }  # fmt: skip
    assert payload["sources"] == [
        {
            "path": f"{repo}/AGENTS.md",
            "real_path": f"{repo}/AGENTS.md",
            "scope": "project",
            "status": "used",
            "size": 9,
            "bytes_used": 9,
            "truncated": False,
            "reason": None,
        }
    ]
