"""Properties (hypothesis): the parser only ever raises PatchError; atomic applies are atomic.

* any text given to :func:`parse` either parses or raises :class:`PatchError`;
* applying with ``atomic=True`` either succeeds with the same tree as Codex's in-order mode, or
  fails with :class:`PatchError` and leaves the tree byte-identical, even when the filesystem
  fails part-way through the commit (injected faults), in memory and on disk.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path, PurePosixPath

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codex_admin.apply_patch import LocalFileSystem, MemoryFileSystem, PatchError, apply, parse

MARKERS = [
    "*** Begin Patch", "*** End Patch", "*** Add File: ", "*** Delete File: ",
    "*** Update File: ", "*** Move to: ", "*** End of File", "@@", "@@ ", "+", "-", " ", "",
    "<<'EOF'", "EOF", "\r", "\t", "\u00a0", "“", "—", "\x1c", "\x00", "*", "..", "/",
]  # fmt: skip
fragments = st.one_of(st.sampled_from(MARKERS), st.text(max_size=8))
patch_like = st.lists(st.lists(fragments, max_size=4).map("".join), max_size=14).map("\n".join)


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(), patch_like))
def test_parse_raises_only_patch_errors(text: str) -> None:
    try:
        patch = parse(text)
    except PatchError as error:
        assert str(error) and error.kind == "parse"
    else:
        assert patch.text.startswith("*** Begin Patch") or patch.text.lstrip().startswith("***")


NAMES = ["a", "b", "d/c", "d/e/f", "link", "d"]
LINES = ["x", "y", "  x", "x  ", "“q”", "", "z—w"]
line_text = st.lists(st.sampled_from(LINES), max_size=5).map(
    lambda ls: "".join(f"{s}\n" for s in ls)
)


@st.composite
def trees(draw: st.DrawFn) -> dict[str, str]:
    return {name: draw(line_text) for name in ("a", "b", "d/c") if draw(st.booleans())}


@st.composite
def operations(draw: st.DrawFn) -> str:
    out = ["*** Begin Patch"]
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["add", "delete", "update", "move"]))
        name = draw(st.sampled_from(NAMES))
        if kind == "add":
            out.append(f"*** Add File: {name}")
            out += [f"+{line}" for line in draw(st.lists(st.sampled_from(LINES), max_size=3))]
        elif kind == "delete":
            out.append(f"*** Delete File: {name}")
        else:
            out.append(f"*** Update File: {name}")
            if kind == "move":
                out.append(f"*** Move to: {draw(st.sampled_from([*NAMES, 'm/n']))}")
            for index in range(draw(st.integers(1, 2))):
                out.append("@@")
                body = draw(
                    st.lists(
                        st.tuples(st.sampled_from(" -+"), st.sampled_from(LINES)),
                        min_size=1,
                        max_size=3,
                    )
                )
                out += [marker + text for marker, text in body]
                if index and draw(st.booleans()):
                    out.append("*** End of File")
    out.append("*** End Patch")
    return "\n".join(out)


def _memory(files: dict[str, str], fail_at: int | None) -> MemoryFileSystem:
    fs = MemoryFileSystem(files)
    fs.add_symlink("link", "a")
    if fail_at is not None:
        calls = {"n": 0}

        def fail(operation: str, path: PurePosixPath) -> OSError | None:
            if operation in ("write_bytes", "delete", "mkdir", "rename"):
                calls["n"] += 1
                if calls["n"] == fail_at:
                    return OSError(errno.EIO, "Input/output error", str(path))
            return None

        fs.fail = fail
    return fs


@settings(max_examples=400, deadline=None)
@given(trees(), operations(), st.one_of(st.none(), st.integers(1, 6)))
def test_atomic_apply_is_all_or_nothing_in_memory(
    files: dict[str, str], text: str, fail_at: int | None
) -> None:
    patch = parse(text)
    sequential = _memory(files, None)
    try:
        apply(patch, sequential)
        sequential_ok = True
    except PatchError:
        sequential_ok = False
    fs = _memory(files, fail_at)
    before = fs.snapshot()
    try:
        result = apply(patch, fs, atomic=True)
    except PatchError:
        fs.fail = None
        assert fs.snapshot() == before
    else:
        assert sequential_ok
        after = fs.snapshot()
        if result.warnings:  # the fault hit after the commit point: only trash is left over
            after = {k: v for k, v in after.items() if ".codex-trash-" not in k}
        assert after == sequential.snapshot()


class FlakyDisk(LocalFileSystem):
    """The real filesystem, failing the n-th mutating call (a full disk, an I/O error)."""

    def __init__(self, cwd: Path, fail_at: int | None) -> None:
        super().__init__(cwd)
        self.fail_at = fail_at
        self.calls = 0

    def _tick(self, path: PurePosixPath) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

    def write_bytes(self, path: PurePosixPath, data: bytes, *, mode: int | None = None) -> None:
        self._tick(path)
        super().write_bytes(path, data, mode=mode)

    def delete(self, path: PurePosixPath) -> None:
        self._tick(path)
        super().delete(path)

    def mkdir(self, path: PurePosixPath) -> None:
        self._tick(path)
        super().mkdir(path)

    def rename(self, src: PurePosixPath, dst: PurePosixPath) -> None:
        self._tick(src)
        super().rename(src, dst)


def _disk_tree(root: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            out[rel] = ("dir", None)
        else:
            out[rel] = ("file", path.read_bytes(), path.stat().st_mode)
    return out


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(trees(), operations(), st.one_of(st.none(), st.integers(1, 6)))
def test_atomic_apply_is_all_or_nothing_on_disk(
    tmp_path: Path, files: dict[str, str], text: str, fail_at: int | None
) -> None:
    root = tmp_path / f"t{len(list(tmp_path.iterdir()))}"
    root.mkdir()
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    (root / "link").symlink_to("a")
    if files.get("b") is not None:
        os.chmod(root / "b", 0o751)
    before = _disk_tree(root)
    try:
        result = apply(parse(text), FlakyDisk(root, fail_at), atomic=True)
    except PatchError:
        assert _disk_tree(root) == before
    else:
        leftovers = [p for p in root.rglob("*") if p.name.startswith(".codex-")]
        assert len(leftovers) == len(result.warnings)


odd_names = st.one_of(
    st.sampled_from(NAMES),
    st.text(min_size=1, max_size=12).filter(lambda t: "\n" not in t and "\r" not in t),
)


@st.composite
def odd_patches(draw: st.DrawFn) -> str:
    out = ["*** Begin Patch"]
    for _ in range(draw(st.integers(1, 3))):
        name = draw(odd_names)
        out.append(
            draw(st.sampled_from(["*** Add File: ", "*** Delete File: ", "*** Update File: "]))
            + name
        )
        if out[-1].startswith("*** Add"):
            out.append("+x")
        elif out[-1].startswith("*** Update"):
            if draw(st.booleans()):
                out.append("*** Move to: " + draw(odd_names))
            out += ["@@", draw(st.sampled_from(["+x", "-x", " x", "-", "+"]))]
    out.append("*** End Patch")
    return "\n".join(out)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(odd_patches(), st.booleans())
def test_apply_raises_only_patch_errors_for_any_path(
    tmp_path: Path, text: str, atomic: bool
) -> None:
    """Names with NUL, `..`, absolute paths, overlong or odd Unicode: a PatchError at worst."""
    systems: list[MemoryFileSystem | LocalFileSystem] = [MemoryFileSystem({"a": "x\n"})]
    names = [line.split(": ", 1)[1] for line in text.splitlines() if ": " in line]
    if not any(n.startswith("/") or ".." in n for n in names):  # the disk copy stays in tmp
        root = tmp_path / f"t{len(list(tmp_path.iterdir()))}"
        root.mkdir()
        (root / "a").write_text("x\n")
        systems.append(LocalFileSystem(root))
    for fs in systems:
        try:
            apply(parse(text), fs, atomic=atomic)
        except PatchError as error:
            assert str(error)
