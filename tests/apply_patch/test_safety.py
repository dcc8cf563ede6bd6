"""check_targets: symlink and hard-link attacks, protected names and paths, deny_read.

Each test builds the attacker's tree on the real filesystem (as a repository or an earlier
sandboxed command could), then asks whether a patch written by the model may touch it.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from codex_admin.apply_patch import (
    LocalFileSystem,
    MemoryFileSystem,
    TargetPolicy,
    Verdict,
    check_targets,
    parse,
)

B, E = "*** Begin Patch\n", "*** End Patch"


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path, TargetPolicy]:
    workspace = tmp_path / "ws"
    outside = tmp_path / "outside"
    home = tmp_path / "codex-home"
    for directory in (workspace / "src", outside, home, workspace / ".git"):
        directory.mkdir(parents=True)
    (workspace / "src" / "app.txt").write_text("app\n")
    (outside / "secret.txt").write_text("secret\n")
    policy = TargetPolicy(
        writable_roots=(str(workspace),),
        protected_paths=(str(home), "/etc/codex"),
        deny_read=(str(tmp_path / "keys"), f"{workspace}/**/*.pem"),
    )
    return workspace, outside, policy


def judge(workspace: Path, policy: TargetPolicy, text: str) -> tuple[Verdict, list[str]]:
    report = check_targets(parse(text), LocalFileSystem(workspace), policy)
    return report.verdict, report.reasons


def test_plain_edits_inside_the_workspace_are_allowed(
    world: tuple[Path, Path, TargetPolicy],
) -> None:
    workspace, _, policy = world
    verdict, reasons = judge(
        workspace,
        policy,
        f"{B}*** Update File: src/app.txt\n@@\n-app\n+App\n*** Add File: new/dir/x.txt\n+x\n"
        f"*** Update File: src/app.txt\n*** Move to: src/renamed.txt\n@@\n-App\n+app\n{E}",
    )
    assert verdict is Verdict.ALLOW and reasons == []


def test_symlink_leaving_the_workspace_is_refused(world: tuple[Path, Path, TargetPolicy]) -> None:
    workspace, outside, policy = world
    (workspace / "src" / "evil.txt").symlink_to(outside / "secret.txt")
    verdict, reasons = judge(workspace, policy, f"{B}*** Add File: src/evil.txt\n+pwned\n{E}")
    assert verdict is Verdict.DENY
    assert "goes through a symlink" in reasons[0] and str(outside / "secret.txt") in reasons[0]


def test_symlinked_directory_component_is_followed(world: tuple[Path, Path, TargetPolicy]) -> None:
    workspace, outside, policy = world
    (workspace / "vendor").symlink_to(outside)
    verdict, _ = judge(workspace, policy, f"{B}*** Add File: vendor/sub/new.txt\n+x\n{E}")
    assert verdict is Verdict.DENY
    report = check_targets(
        parse(f"{B}*** Add File: vendor/x\n+x\n{E}"), LocalFileSystem(workspace), policy
    )
    assert report.targets[0].real == PurePosixPath(outside / "x")


def test_dotdot_after_a_symlink_is_resolved_physically(
    world: tuple[Path, Path, TargetPolicy],
) -> None:
    """`link/../x` is lexically `x`, as Codex joins it; the kernel would never see `..`."""
    workspace, outside, policy = world
    (workspace / "deep").symlink_to(outside)
    report = check_targets(
        parse(f"{B}*** Add File: deep/../inside.txt\n+x\n{E}"), LocalFileSystem(workspace), policy
    )
    assert report.targets[0].real == PurePosixPath(workspace / "inside.txt")
    assert report.verdict is Verdict.ALLOW
    # ... but `..` inside a link target is applied to the link's directory, like the kernel.
    (workspace / "sneaky").symlink_to("src/../../outside/secret.txt")
    verdict, _ = judge(workspace, policy, f"{B}*** Update File: sneaky\n@@\n-secret\n+x\n{E}")
    assert verdict is Verdict.DENY


def test_outside_the_roots_asks(world: tuple[Path, Path, TargetPolicy]) -> None:
    workspace, outside, policy = world
    verdict, reasons = judge(workspace, policy, f"{B}*** Add File: {outside}/note.txt\n+x\n{E}")
    assert verdict is Verdict.ASK and "outside the writable roots" in reasons[0]
    verdict, _ = judge(workspace, policy, f"{B}*** Delete File: ../outside/secret.txt\n{E}")
    assert verdict is Verdict.ASK


@pytest.mark.parametrize(
    "target",
    [".git/config", "src/.git/hooks/pre-commit", ".codex/config.toml", "pkg/.agents/x.md"],
)
def test_protected_names_at_any_depth_ask(
    world: tuple[Path, Path, TargetPolicy], target: str
) -> None:
    workspace, _, policy = world
    verdict, reasons = judge(workspace, policy, f"{B}*** Add File: {target}\n+x\n{E}")
    assert verdict is Verdict.ASK and "protected" in reasons[0]


def test_symlink_named_git_is_protected(world: tuple[Path, Path, TargetPolicy]) -> None:
    workspace, _, policy = world
    real_git = workspace / "real-gitdir"
    real_git.mkdir()
    (workspace / "src" / ".git").symlink_to(real_git)
    verdict, reasons = judge(workspace, policy, f"{B}*** Add File: src/.git/HEAD\n+x\n{E}")
    assert verdict is Verdict.ASK and any(".git" in r for r in reasons)


def test_protected_paths_ask(world: tuple[Path, Path, TargetPolicy], tmp_path: Path) -> None:
    workspace, _, _ = world
    home = tmp_path / "codex-home"
    policy = TargetPolicy(writable_roots=(str(tmp_path),), protected_paths=(str(home),))
    verdict, reasons = judge(workspace, policy, f"{B}*** Add File: {home}/config.toml\n+x\n{E}")
    assert verdict is Verdict.ASK and "protected path" in reasons[0]
    (workspace / "cfg").symlink_to(home)
    verdict, _ = judge(workspace, policy, f"{B}*** Add File: cfg/config.toml\n+x\n{E}")
    assert verdict is Verdict.ASK


def test_deny_read_is_refused_even_through_a_link(
    world: tuple[Path, Path, TargetPolicy], tmp_path: Path
) -> None:
    workspace, _, policy = world
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "id").write_text("key\n")
    (workspace / "k").symlink_to(keys / "id")
    verdict, reasons = judge(workspace, policy, f"{B}*** Update File: k\n@@\n-key\n+x\n{E}")
    assert verdict is Verdict.DENY and "deny_read" in " ".join(reasons)
    (workspace / "certs").mkdir()
    verdict, reasons = judge(workspace, policy, f"{B}*** Add File: certs/site.pem\n+x\n{E}")
    assert verdict is Verdict.DENY and "**/*.pem" in reasons[0]


def test_deny_read_entry_that_is_itself_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real-secrets"
    real.mkdir()
    (real / "token").write_text("t\n")
    (tmp_path / "secrets").symlink_to(real)
    policy = TargetPolicy(writable_roots=(str(tmp_path),), deny_read=(str(tmp_path / "secrets"),))
    verdict, _ = judge(tmp_path, policy, f"{B}*** Delete File: real-secrets/token\n{E}")
    assert verdict is Verdict.DENY


def test_hard_linked_file_asks_and_is_never_written_through(
    world: tuple[Path, Path, TargetPolicy],
) -> None:
    workspace, outside, policy = world
    os.link(outside / "secret.txt", workspace / "src" / "hard.txt")
    verdict, reasons = judge(
        workspace, policy, f"{B}*** Update File: src/hard.txt\n@@\n-secret\n+x\n{E}"
    )
    assert verdict is Verdict.ASK and "2 hard links" in reasons[0]
    # Approved or not, the write replaces the name: the other link keeps its bytes.
    from codex_admin.apply_patch import apply

    apply(
        parse(f"{B}*** Update File: src/hard.txt\n@@\n-secret\n+x\n{E}"),
        LocalFileSystem(workspace),
        atomic=True,
    )
    assert (workspace / "src" / "hard.txt").read_text() == "x\n"
    assert (outside / "secret.txt").read_text() == "secret\n"
    assert (outside / "secret.txt").stat().st_nlink == 1


def test_special_files_are_refused(world: tuple[Path, Path, TargetPolicy]) -> None:
    workspace, _, policy = world
    os.mkfifo(workspace / "pipe")
    verdict, reasons = judge(workspace, policy, f"{B}*** Update File: pipe\n@@\n+x\n{E}")
    assert verdict is Verdict.DENY and "not a regular file" in reasons[0]
    verdict, _ = judge(workspace, policy, f"{B}*** Delete File: pipe\n{E}")
    assert verdict is Verdict.ALLOW


def test_symlink_loop_is_refused(world: tuple[Path, Path, TargetPolicy]) -> None:
    workspace, _, policy = world
    (workspace / "loop").symlink_to("loop")
    verdict, reasons = judge(workspace, policy, f"{B}*** Add File: loop/x\n+x\n{E}")
    assert verdict is Verdict.DENY and "cannot be resolved" in reasons[0]


def test_deleting_a_link_that_points_outside_is_allowed(
    world: tuple[Path, Path, TargetPolicy],
) -> None:
    """Delete removes the link itself (inside the workspace), never its target."""
    workspace, outside, policy = world
    (workspace / "l").symlink_to(outside / "secret.txt")
    report = check_targets(parse(f"{B}*** Delete File: l\n{E}"), LocalFileSystem(workspace), policy)
    assert report.verdict is Verdict.ALLOW
    assert report.targets[0].real == PurePosixPath(workspace / "l")


def test_move_checks_both_ends(world: tuple[Path, Path, TargetPolicy]) -> None:
    workspace, outside, policy = world
    report = check_targets(
        parse(
            f"{B}*** Update File: src/app.txt\n*** Move to: {outside}/app.txt\n@@\n-app\n+x\n{E}"
        ),
        LocalFileSystem(workspace),
        policy,
    )
    assert [t.operation for t in report.targets] == ["move_from", "move_to"]
    assert [t.verdict for t in report.targets] == [Verdict.ALLOW, Verdict.ASK]
    assert report.to_json()["verdict"] == "ask"


def test_memory_filesystem_gives_the_same_answers() -> None:
    fs = MemoryFileSystem({"src/a.txt": "a\n"}, cwd="/ws")
    fs.add_dir("/outside")
    fs.add_symlink("/ws/escape", "/outside")
    fs.add_file("/outside/b", "b\n")
    fs.hard_link("/outside/b", "/ws/hard")
    policy = TargetPolicy(writable_roots=("/ws",))
    text = f"{B}*** Add File: escape/x\n+x\n*** Update File: hard\n@@\n-b\n+c\n*** Add File: src/ok\n+k\n{E}"
    report = check_targets(parse(text), fs, policy)
    assert [t.verdict for t in report.targets] == [Verdict.DENY, Verdict.ASK, Verdict.ALLOW]


def test_commit_refuses_when_a_directory_is_swapped_for_a_symlink_after_approval(
    world: tuple[Path, Path, TargetPolicy],
) -> None:
    """Check, preview and approve; then a concurrent process swaps `src` for a link outside."""
    import shutil

    from codex_admin.apply_patch import PatchError, commit, preview

    workspace, outside, policy = world
    patch = parse(f"{B}*** Add File: src/new.txt\n+x\n{E}")
    fs = LocalFileSystem(workspace)
    report = check_targets(patch, fs, policy)
    assert report.verdict is Verdict.ALLOW
    changes = preview(patch, fs)
    shutil.rmtree(workspace / "src")
    (workspace / "src").symlink_to(outside)
    with pytest.raises(PatchError, match="changed since it was checked"):
        commit(changes, fs, checked=report)
    assert not (outside / "new.txt").exists()
