"""LocalFileSystem: never blocks, never writes through links, replaces atomically."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path, PurePosixPath

import pytest

from codex_admin.apply_patch import LocalFileSystem, PatchError, apply, parse


def p(path: Path) -> PurePosixPath:
    return PurePosixPath(path)


def test_fifo_and_devices_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fs = LocalFileSystem(tmp_path)
    done = threading.Event()

    def read() -> None:
        with pytest.raises(OSError) as info:
            fs.read_bytes(p(fifo))
        assert info.value.errno == errno.EINVAL
        done.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(5)
    assert done.is_set(), "reading a FIFO blocked"
    with pytest.raises(OSError):
        fs.read_bytes(PurePosixPath("/dev/zero"))
    text = "*** Begin Patch\n*** Update File: fifo\n@@\n+x\n*** End Patch"
    with pytest.raises(PatchError, match="is not a file"):
        apply(parse(text), fs)


def test_write_refuses_a_final_symlink_and_keeps_mode(tmp_path: Path) -> None:
    fs = LocalFileSystem(tmp_path)
    target = tmp_path / "target"
    target.write_text("t")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(OSError) as info:
        fs.write_bytes(p(tmp_path / "link"), b"x")
    assert info.value.errno == errno.ELOOP
    script = tmp_path / "run.sh"
    script.write_text("echo\n")
    script.chmod(0o754)
    fs.write_bytes(p(script), b"echo hi\n")
    assert script.read_text() == "echo hi\n" and script.stat().st_mode & 0o7777 == 0o754
    fs.write_bytes(p(tmp_path / "fresh"), b"f", mode=0o600)
    assert (tmp_path / "fresh").stat().st_mode & 0o777 == 0o600
    assert sorted(x.name for x in tmp_path.iterdir()) == ["fresh", "link", "run.sh", "target"]


def test_write_replaces_the_inode(tmp_path: Path) -> None:
    fs = LocalFileSystem(tmp_path)
    path = tmp_path / "f"
    path.write_text("old")
    os.link(path, tmp_path / "other-name")
    fs.write_bytes(p(path), b"new")
    assert path.read_text() == "new" and (tmp_path / "other-name").read_text() == "old"


def test_reads_are_capped(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2048)
    fs = LocalFileSystem(tmp_path, max_read_bytes=1024)
    with pytest.raises(PatchError, match=r"File too large \(os error 27\)"):
        apply(parse("*** Begin Patch\n*** Update File: big\n@@\n+y\n*** End Patch"), fs)


def test_nul_in_a_path_is_a_patch_error_not_a_crash(tmp_path: Path) -> None:
    fs = LocalFileSystem(tmp_path)
    with pytest.raises(PatchError, match="Failed to write file"):
        apply(parse("*** Begin Patch\n*** Add File: a\x00b\n+x\n*** End Patch"), fs)
    with pytest.raises(PatchError, match="unexpected NUL byte"):
        apply(parse("*** Begin Patch\n*** Update File: a\x00b\n@@\n+x\n*** End Patch"), fs)


def test_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    class Full(LocalFileSystem):
        pass

    fs = Full(tmp_path)
    target = tmp_path / "dir-in-the-way"
    target.mkdir()
    with pytest.raises(IsADirectoryError):
        fs.write_bytes(p(target), b"x")
    assert [x.name for x in tmp_path.iterdir()] == ["dir-in-the-way"]


def test_rewrite_drops_setuid_and_setgid(tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o6755)
    LocalFileSystem(tmp_path).write_bytes(p(tool), b"#!/bin/sh\necho patched\n")
    assert tool.stat().st_mode & 0o7777 == 0o755
