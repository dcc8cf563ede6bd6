"""Applying patches: Codex 0.169.0's matching, line endings, moves and messages; our modes.

Byte results marked "binary" were produced by the Codex binary for the same file and patch.
"""

from __future__ import annotations

import errno
from pathlib import Path, PurePosixPath

import pytest

from codex_admin.apply_patch import (
    ChangeKind,
    MemoryFileSystem,
    PatchError,
    apply,
    commit,
    parse,
    preview,
)

B, E = "*** Begin Patch\n", "*** End Patch"


def update(body: str, path: str = "x") -> str:
    return f"{B}*** Update File: {path}\n{body}{E}"


def run(files: dict[str, str | bytes], text: str, *, atomic: bool = False) -> MemoryFileSystem:
    fs = MemoryFileSystem(files)
    apply(parse(text), fs, atomic=atomic)
    return fs


def data(fs: MemoryFileSystem, path: str) -> bytes:
    return fs.read_bytes(PurePosixPath("/work") / path)


@pytest.mark.parametrize(
    ("before", "body", "after"),
    [
        # line endings (binary): new lines take the first line's ending, context keeps its own
        (b"a\r\nb\r\nc\r\n", "@@\n a\n-b\n+B\n+B2\n", b"a\r\nB\r\nB2\r\nc\r\n"),
        (b"a\r\nb\r\nc", "@@\n a\n-b\n+B\n", b"a\r\nB\r\nc\r\n"),
        (b"a\r\nb\nc\r\nd\n", "@@\n a\n-b\n+B\n c\n+C\n", b"a\r\nB\r\nc\r\nC\r\nd\n"),
        (b"a\r\nb\nc\nd\n", "@@\n a\n-b\n+B\n c\n", b"a\r\nB\r\nc\nd\n"),
        (b"a\nb\r\nc\r\nd\r\n", "@@\n a\n-b\n+B\n", b"a\nB\nc\r\nd\r\n"),
        (b"a\nb\r\n", "@@\n a\n+X\n b\n", b"a\nX\nb\r\n"),
        (b"a\rb\nc\n", "@@\n-c\n+C\n", b"a\rb\nC\r"),
        (b"ab\rc\nc\n", "@@\n-c\n+C\n", b"ab\rC\rc\n"),
        (b"a\r\nb\r\n", "@@\n+c\n", b"a\r\nb\r\nc\r\n"),
        # trailing newline is always added; pure additions go to the end
        (b"a\nb", "@@\n-a\n+A\n", b"A\nb\n"),
        (b"a\nb\n", "@@\n+c\n+d\n", b"a\nb\nc\nd\n"),
        (b"a\n\n", "@@\n+c\n", b"a\n\nc\n"),
        (b"a\nb\nc\n", "@@ a\n+X\n", b"a\nb\nc\nX\n"),
        (b"", "@@\n+B\n", b"B\n"),
        # context lines keep the file's text, added lines are verbatim
        (b"a  \nb\n", "@@\n a\n-b\n+B\n", b"a  \nB\n"),
        (b"    a\n    b\n", "@@\n a\n-b\n+B\n", b"    a\nB\n"),
        (b"x\n  a  \n", "@@\n-a\n+a\n", b"x\na\n"),
        (b" a\n b\n", "@@\n-a\n b\n+a\n", b" b\na\n"),
        # typographic punctuation and odd spaces match their ASCII forms
        ("x = “hi” — ok\nb\n".encode(), '@@\n-x = "hi" - ok\n+y\n', b"y\nb\n"),
        ("a\u00a0b\n".encode(), "@@\n-a b\n+y\n", b"y\n"),
        # a chunk ending in an empty line is retried without it
        (b"a\nb\n", "@@\n-a\n\n+A\n", b"\nA\nb\n"),
        (b"a\nb\n", "@@\n a\n-b\n+B\n\n", b"a\nB\n"),
        # an End of File chunk matches the last lines
        (b"r\nm\nr\n", "@@\n-r\n+R\n*** End of File\n", b"r\nm\nR\n"),
        # the cursor moves past each match: chunks apply in file order
        (b"x\nx\nx\n", "@@\n-x\n+1\n@@\n-x\n+2\n", b"1\n2\nx\n"),
        # edits at the same line keep patch order: the earlier end-of-file addition comes first
        (b"\r\n", "@@\n+ \n@@\n \n+a\n", b"\r\n \r\na\r\n"),
    ],
)
def test_update_bytes(before: bytes, body: str, after: bytes) -> None:
    assert data(run({"x": before}, update(body)), "x") == after


@pytest.mark.parametrize(
    ("before", "body", "message"),
    [
        (b"a\nb\n", "@@\n-zz\n+b\n", "Failed to find expected lines in /work/x:\nzz"),
        (b"a\nb\n", "@@\n-zz\n-yy\n+b\n", "Failed to find expected lines in /work/x:\nzz\nyy"),
        (b"a\nb\n", "@@ nothere\n-a\n+b\n", "Failed to find context 'nothere' in /work/x"),
        (b"a\n", "@@  nothere  \n-a\n+b\n", "Failed to find context ' nothere' in /work/x"),
        (
            b"a\nb\nc\n",
            "@@\n-b\n+B\n*** End of File\n",
            "Failed to find expected lines in /work/x:\nb",
        ),
        (
            b"a\nb\nc\n",
            "@@\n-c\n+C\n@@\n-c\n+D\n*** End of File\n",
            "Failed to find expected lines in /work/x:\nc",
        ),
        (
            b"a\xff\nb\n",
            "@@\n-b\n+B\n",
            "Failed to read file to update /work/x: invalid utf-8 sequence of 1 bytes from index 1",
        ),
        (
            b"a\xe2\x82",
            "@@\n-a\n",
            "Failed to read file to update /work/x: incomplete utf-8 byte sequence from index 1",
        ),
    ],
)
def test_update_failures(before: bytes, body: str, message: str) -> None:
    fs = MemoryFileSystem({"x": before})
    with pytest.raises(PatchError) as info:
        apply(parse(update(body)), fs)
    assert str(info.value) == message
    assert data(fs, "x") == before


def test_missing_targets_and_directories() -> None:
    fs = MemoryFileSystem({"f": "1\n"})
    fs.add_dir("d")
    cases = {
        f"{B}*** Delete File: nope.txt\n{E}": "Failed to delete file /work/nope.txt",
        f"{B}*** Delete File: d\n{E}": "Failed to delete file /work/d",
        f"{B}*** Delete File: ./a/../b\n{E}": "Failed to delete file /work/b",
        update("@@\n-a\n", "nope.txt"): "Failed to read file to update /work/nope.txt: "
        "No such file or directory (os error 2)",
        update(
            "@@\n+x\n", "d"
        ): "Failed to read file to update /work/d: path `/work/d` is not a file",
        f"{B}*** Add File: d\n+x\n{E}": "Failed to write file /work/d",
        f"{B}*** Add File: f/s/x\n+x\n{E}": "Failed to write file /work/f/s/x",
        f"{B}*** End Patch": "No files were modified.",
    }
    for text, message in cases.items():
        with pytest.raises(PatchError) as info:
            apply(parse(text), fs)
        assert str(info.value) == message


def test_operations_run_in_order_without_rollback_by_default() -> None:
    fs = MemoryFileSystem({"x": "a\nb\n", "m": "1\n"})
    text = (
        f"{B}*** Update File: m\n*** Move to: q/m2\n@@\n-1\n+2\n"
        f"*** Update File: x\n@@\n-a\n+A\n*** Delete File: m\n{E}"
    )
    with pytest.raises(PatchError, match="Failed to delete file /work/m"):
        apply(parse(text), fs)
    assert data(fs, "x") == b"A\nb\n" and data(fs, "q/m2") == b"2\n"
    assert fs.lstat(PurePosixPath("/work/m")) is None


def test_atomic_failure_changes_nothing() -> None:
    fs = MemoryFileSystem({"x": "a\nb\n", "m": "1\n"})
    before = fs.snapshot()
    text = (
        f"{B}*** Add File: n/e/w.txt\n+hi\n*** Update File: m\n*** Move to: q/m2\n@@\n-1\n+2\n"
        f"*** Update File: x\n@@\n-a\n+A\n*** Delete File: m\n{E}"
    )
    with pytest.raises(PatchError, match="Failed to delete file /work/m"):
        apply(parse(text), fs, atomic=True)
    assert fs.snapshot() == before


def test_success_summary_groups_added_modified_deleted() -> None:
    fs = MemoryFileSystem({"x": "a\n", "old": "o\n", "gone": "g\n"})
    text = (
        f"{B}*** Delete File: gone\n*** Update File: old\n*** Move to: new/place\n@@\n-o\n+O\n"
        f"*** Add File: made.txt\n+m\n*** Update File: x\n@@\n-a\n+A\n*** Add File: e\n{E}"
    )
    result = apply(parse(text), fs)
    assert result.success_text == (
        "Success. Updated the following files:\nA made.txt\nA e\nM new/place\nM x\nD gone\n"
    )
    assert result.change_kinds() == [
        ("/work/gone", ChangeKind.DELETE),
        ("/work/old", ChangeKind.UPDATE),
        ("/work/made.txt", ChangeKind.ADD),
        ("/work/x", ChangeKind.UPDATE),
        ("/work/e", ChangeKind.ADD),
    ]
    assert data(fs, "e") == b""


def test_same_file_updated_twice_and_paths_as_written() -> None:
    fs = MemoryFileSystem({"sub/k": "1\n"})
    text = (
        f"{B}*** Update File: ./sub/../sub/k\n@@\n-1\n+2\n*** Update File: sub/k\n@@\n-2\n+3\n{E}"
    )
    result = apply(parse(text), fs)
    assert result.modified == ("./sub/../sub/k", "sub/k")
    assert data(fs, "sub/k") == b"3\n"


def test_add_overwrites_and_creates_parents() -> None:
    fs = run(
        {"dup.txt": "old\n"}, f"{B}*** Add File: dup.txt\n+new\n*** Add File: a/b/c.txt\n+c\n{E}"
    )
    assert data(fs, "dup.txt") == b"new\n" and data(fs, "a/b/c.txt") == b"c\n"


def test_move_overwrites_destination_and_keeps_siblings() -> None:
    fs = run(
        {"old/name.txt": "x\n", "old/other.txt": "o\n", "renamed/dir/name.txt": "stale\n"},
        f"{B}*** Update File: old/name.txt\n*** Move to: renamed/dir/name.txt\n@@\n-x\n+y\n{E}",
    )
    assert data(fs, "renamed/dir/name.txt") == b"y\n" and data(fs, "old/other.txt") == b"o\n"
    assert fs.lstat(PurePosixPath("/work/old/name.txt")) is None


def test_move_onto_itself_updates_in_place() -> None:
    """Codex 0.169.0 deletes the file here (data loss); we update it in place."""
    fs = run({"f": "1\n"}, f"{B}*** Update File: f\n*** Move to: ./f\n@@\n-1\n+2\n{E}")
    assert data(fs, "f") == b"2\n"


def test_symlinks_like_codex() -> None:
    fs = MemoryFileSystem({"t": "1\n"})
    fs.add_symlink("l", "t")
    apply(parse(update("@@\n-1\n+2\n", "l")), fs)
    assert data(fs, "t") == b"2\n" and fs.readlink(PurePosixPath("/work/l")) == "t"
    apply(parse(f"{B}*** Add File: l\n+new\n{E}"), fs)
    assert data(fs, "t") == b"new\n"
    apply(parse(f"{B}*** Update File: l\n*** Move to: m\n@@\n-new\n+moved\n{E}"), fs)
    assert data(fs, "m") == b"moved\n" and data(fs, "t") == b"new\n"
    assert fs.lstat(PurePosixPath("/work/l")) is None
    fs.add_symlink("dangling", "nowhere/t")
    with pytest.raises(PatchError, match="Failed to write file /work/dangling"):
        apply(parse(f"{B}*** Add File: dangling\n+x\n{E}"), fs)
    fs.add_symlink("loop", "loop")
    with pytest.raises(PatchError, match="Too many levels of symbolic links"):
        apply(parse(update("@@\n+x\n", "loop")), fs)


def test_delete_a_symlink_removes_the_link_only() -> None:
    fs = MemoryFileSystem({"t": "1\n"})
    fs.add_symlink("l", "t")
    result = apply(parse(f"{B}*** Delete File: l\n{E}"), fs, atomic=True)
    assert result.deleted == ("l",)
    assert data(fs, "t") == b"1\n" and fs.lstat(PurePosixPath("/work/l")) is None


def test_special_files_are_never_read() -> None:
    fs = MemoryFileSystem()
    fs.add_fifo("pipe")
    with pytest.raises(PatchError, match="path `/work/pipe` is not a file"):
        apply(parse(update("@@\n+x\n", "pipe")), fs)
    with pytest.raises(PatchError, match="Failed to write file /work/pipe"):
        apply(parse(f"{B}*** Add File: pipe\n+x\n{E}"), fs)


def test_preview_writes_nothing_and_gives_diffs() -> None:
    fs = MemoryFileSystem({"x": "a\r\nb\nc\r\nd\n", "gone": "bye\n", "m": "1\n"})
    before = fs.snapshot()
    text = (
        f"{B}*** Update File: x\n@@\n a\n-b\n+B\n c\n+C\n*** Delete File: gone\n"
        f"*** Update File: m\n*** Move to: q/m2\n@@\n-1\n+2\n*** Add File: n/e.txt\n+hi\n{E}"
    )
    changes = preview(parse(text), fs)
    assert fs.snapshot() == before
    assert changes.diff() == (
        "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,4 +1,5 @@\n a\n-b\n+B\n c\n+C\n d\n"
        "diff --git a/gone b/gone\ndeleted file mode 100644\n--- a/gone\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-bye\n"
        "diff --git a/m b/q/m2\nrename from m\nrename to q/m2\n--- a/m\n+++ b/q/m2\n"
        "@@ -1 +1 @@\n-1\n+2\n"
        "diff --git a/n/e.txt b/n/e.txt\nnew file mode 100644\n--- /dev/null\n+++ b/n/e.txt\n"
        "@@ -0,0 +1 @@\n+hi\n"
    )
    assert (
        changes.summary == "Success. Updated the following files:\nA n/e.txt\nM x\nM q/m2\nD gone\n"
    )
    assert [c.to_json()["kind"] for c in changes.changes] == ["update", "delete", "update", "add"]
    assert changes.changes[2].move_path == PurePosixPath("/work/q/m2")
    result = commit(changes, fs)
    assert result.success_text == changes.summary
    assert data(fs, "x") == b"a\r\nB\r\nc\r\nC\r\nd\n" and data(fs, "n/e.txt") == b"hi\n"


def test_diff_shows_a_gained_final_newline_and_limits_context() -> None:
    lines = "".join(f"{i}\n" for i in range(1, 21))
    changes = preview(
        parse(update("@@\n 10\n-11\n+eleven\n")), MemoryFileSystem({"x": lines + "21"})
    )
    assert changes.diff() == (
        "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -8,7 +8,7 @@\n 8\n 9\n 10\n-11\n+eleven\n 12\n 13\n 14\n"
        "@@ -18,4 +18,4 @@\n 18\n 19\n 20\n-21\n\\ No newline at end of file\n+21\n"
    )


def test_commit_refuses_when_a_file_changed_after_preview() -> None:
    fs = MemoryFileSystem({"x": "a\n"})
    changes = preview(parse(update("@@\n-a\n+b\n")), fs)
    fs.add_file("x", "someone else\n")
    with pytest.raises(PatchError, match="changed since the patch was previewed"):
        commit(changes, fs)
    assert data(fs, "x") == b"someone else\n"


def test_commit_rolls_back_when_a_write_fails() -> None:
    def fail(operation: str, path: PurePosixPath) -> OSError | None:
        if operation == "write_bytes" and path.name == "third.txt":
            return PermissionError(errno.EACCES, "Permission denied", str(path))
        return None

    fs = MemoryFileSystem({"first.txt": "1\n", "gone.txt": "g\n", "link_target": "t\n"})
    fs.add_symlink("link", "link_target")
    before = fs.snapshot()
    fs.fail = fail
    text = (
        f"{B}*** Update File: first.txt\n@@\n-1\n+one\n*** Delete File: gone.txt\n"
        f"*** Delete File: link\n*** Add File: new/dir/second.txt\n+2\n"
        f"*** Add File: new/third.txt\n+3\n{E}"
    )
    with pytest.raises(PatchError) as info:
        apply(parse(text), fs, atomic=True)
    assert str(info.value) == "Failed to write file /work/new/third.txt"
    assert "nothing was changed" in (info.value.hint or "")
    fs.fail = None
    assert fs.snapshot() == before


def test_empty_change_set_cannot_be_committed() -> None:
    changes = preview(parse(B + E), MemoryFileSystem())
    assert changes.changes == ()
    with pytest.raises(PatchError, match=r"^No files were modified\.$"):
        commit(changes, MemoryFileSystem())


def test_many_chunks_on_a_large_file() -> None:
    source = "".join(f"line {i}\n" for i in range(50000))
    body = "".join(f"@@\n line {i}\n-line {i + 1}\n+LINE {i + 1}\n" for i in range(0, 50000, 25))
    fs = run({"big": source}, update(body, "big"), atomic=True)
    text = data(fs, "big").decode()
    assert text.count("LINE ") == 2000 and text.startswith("line 0\nLINE 1\nline 2\n")


@pytest.mark.parametrize(
    ("files", "text"),
    [
        (
            {"x": "".join(f"{i}\n" for i in range(1, 40)) + "end"},
            update("@@\n 10\n-11\n+eleven\n@@\n-30\n"),
        ),
        ({"x": "a\nb\n"}, update("@@\n+c\n+d\n")),
        ({"x": "a\nb\nc\n"}, update("@@\n-a\n-b\n-c\n")),
        ({"x": "keep\n"}, f"{B}*** Add File: x\n+replaced\n+twice\n*** Add File: new/y\n+y\n{E}"),
        (
            {"gone": "1\n2\n", "m": "m\n"},
            f"{B}*** Delete File: gone\n*** Update File: m\n*** Move to: n/m\n@@\n-m\n+M\n{E}",
        ),
        ({"same": "s\n"}, f"{B}*** Update File: same\n*** Move to: d/same\n@@\n+\n-\n{E}"),
        ({"e": ""}, f"{B}*** Delete File: e\n*** Add File: f\n{E}"),
    ],
)
def test_git_apply_accepts_the_diffs(files: dict[str, str], text: str, tmp_path: Path) -> None:
    """`git apply` turns the original tree into exactly what we write."""
    import subprocess

    from codex_admin.apply_patch import LocalFileSystem

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for root in (ours, theirs):
        for name, content in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(content)
    changes = preview(parse(text), LocalFileSystem(ours))
    commit(changes, LocalFileSystem(ours))
    (tmp_path / "p.diff").write_text(changes.diff())
    subprocess.run(
        ["git", "apply", "--unsafe-paths", str(tmp_path / "p.diff")], cwd=theirs, check=True
    )
    snapshot = {
        p.relative_to(ours).as_posix(): p.read_bytes() for p in ours.rglob("*") if p.is_file()
    }
    expected = {
        p.relative_to(theirs).as_posix(): p.read_bytes() for p in theirs.rglob("*") if p.is_file()
    }
    assert snapshot == expected
