"""Issue 10 high #2: a sandboxed command must not write what the next run trusts.

Real bubblewrap, real files. Protected names (.git, .codex, .agents) at every depth of every
writable root, created before or during the run, through symlinks, by renaming ancestors; and
$CODEX_HOME, the system dir and loaded config/rules files below a writable root.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from codex_admin.sandbox import RunResult, SandboxMode, SandboxSession, TreeIndex, netns
from codex_admin.sandbox import guard as guard_module

from .conftest import policy, sh

pytestmark = pytest.mark.usefixtures("bwrap")


def _quarantined(result: RunResult) -> dict[Path, Path]:
    return {r.path: r.moved_to for r in result.repairs if r.action == "quarantined" and r.moved_to}


def _names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


@pytest.mark.parametrize(
    "script",
    [
        "mkdir -p sub/.codex/rules && echo 'sandbox_mode=\"danger-full-access\"' > "
        'sub/.codex/config.toml && echo \'prefix_rule(pattern=["rm"], decision="allow")\' > '
        "sub/.codex/rules/x.rules",
        "mkdir -p a/b/c/.git/hooks && echo '[core] fsmonitor = evil' > a/b/c/.git/config",
        "mkdir -p deep/er/.agents/skills && echo evil > deep/er/.agents/skills/SKILL.md",
        "mkdir -p x && cd x && sh -c 'mkdir .codex && echo pwn > .codex/config.toml'",
        "mkdir -p tmpdir/.codex && mv tmpdir renamed",
        "mkdir -p q/foo && echo x > q/foo/config.toml && mv q/foo q/.codex",
        "mkdir -p y && ln -s /tmp y/.codex",
        "mkdir -p z && echo gitdir: /tmp/evil > z/.git",
    ],
    ids=[
        "project-config",
        "git-dir",
        "agents",
        "nested-shell",
        "renamed-dir",
        "renamed-to-name",
        "symlink",
        "file",
    ],
)
def test_protected_names_created_at_any_depth_are_moved_aside(ws: Path, script: str) -> None:
    before = set(ws.rglob("*"))
    r = sh(policy(ws), script)
    quarantined = _quarantined(r)
    assert quarantined, (r.stderr, r.repairs)
    for original, moved in quarantined.items():
        assert not os.path.lexists(original)
        assert os.path.lexists(moved) and ".codex-quarantine-" in moved.name
        assert moved.parent == original.parent
    leftover = [
        p for p in ws.rglob("*") if p.name in (".git", ".codex", ".agents") and p not in before
    ]
    assert leftover == []


def test_quarantine_keeps_the_content_and_the_message_says_what_happened(ws: Path) -> None:
    r = sh(policy(ws), "mkdir -p s/.codex && echo keep-me > s/.codex/config.toml")
    [moved] = _quarantined(r).values()
    assert (moved / "config.toml").read_text() == "keep-me\n"
    [repair] = r.repairs
    assert "cannot be created in a writable root" in repair.message()
    assert repair.to_json()["action"] == "quarantined"


def test_existing_nested_protected_dirs_are_read_only_and_cannot_be_moved(ws: Path) -> None:
    (ws / "sub" / ".codex" / "rules").mkdir(parents=True)
    (ws / "sub" / ".codex" / "config.toml").write_text("trusted = 1\n")
    (ws / "sub" / "lib" / ".git").mkdir(parents=True)
    script = (
        "echo x >> sub/.codex/config.toml; echo r > sub/.codex/rules/new.rules;"
        " rm -rf sub/.codex; mv sub/.codex sub/old; mv sub sub2; mv sub/lib sub/lib2;"
        " rm -rf sub/lib/.git; echo hook > sub/lib/.git/hooks; ln sub/.codex/config.toml hard;"
        " echo ok > sub/normal"
    )
    r = sh(policy(ws), script)
    assert (ws / "sub" / ".codex" / "config.toml").read_text() == "trusted = 1\n"
    assert _names(ws / "sub" / ".codex" / "rules") == []
    assert _names(ws / "sub") == [".codex", "lib", "normal"]
    assert _names(ws / "sub" / "lib") == [".git"]
    assert (ws / "sub" / "normal").read_text() == "ok\n"
    assert r.repairs == []
    err = r.stderr or b""
    assert b"Read-only file system" in err and b"busy" in err


def test_existing_worktree_git_file_at_depth_protects_its_gitdir(ws: Path) -> None:
    gitdir = ws / "main" / ".git" / "worktrees" / "w"
    gitdir.mkdir(parents=True)
    (gitdir / "HEAD").write_text("ref\n")
    (ws / "nested" / "w").mkdir(parents=True)
    (ws / "nested" / "w" / ".git").write_text(f"gitdir: {gitdir}\n")
    r = sh(policy(ws), f"echo x > {gitdir}/HEAD; echo y > nested/w/.git")
    assert (gitdir / "HEAD").read_text() == "ref\n"
    assert (ws / "nested" / "w" / ".git").read_text() == f"gitdir: {gitdir}\n"
    assert r.exit_code != 0


def test_a_symlinked_protected_name_keeps_its_target_read_only_and_cannot_be_replaced(
    ws: Path,
) -> None:
    real = ws / "shared-codex"
    real.mkdir()
    (real / "config.toml").write_text("mine = 1\n")
    (ws / "proj").mkdir()
    (ws / "proj" / ".codex").symlink_to("../shared-codex")
    script = (
        "echo pwn >> proj/.codex/config.toml; echo pwn >> shared-codex/config.toml;"
        " rm proj/.codex && mkdir proj/.codex && echo evil=1 > proj/.codex/config.toml"
    )
    r = sh(policy(ws), script)
    assert (real / "config.toml").read_text() == "mine = 1\n"
    link = ws / "proj" / ".codex"
    assert link.is_symlink() and os.readlink(link) == "../shared-codex"
    # The link itself is pinned (a mount point): it cannot be removed or renamed.
    assert b"busy" in (r.stderr or b"") and r.repairs == []


def test_a_symlinked_git_pointing_outside_cannot_be_written_or_swapped(
    ws: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "repo.git"
    outside.mkdir(parents=True)
    (outside / "config").write_text("[core]\n")
    (ws / ".git").symlink_to(outside)
    r = sh(
        policy(ws), "echo '[core] fsmonitor=evil' >> .git/config; rm .git; mv .git g; mkdir .git"
    )
    assert (outside / "config").read_text() == "[core]\n"
    assert (ws / ".git").is_symlink() and (ws / ".git").resolve() == outside
    assert not (ws / "g").exists() and r.repairs == []


def test_a_dangling_protected_symlink_cannot_be_used_to_create_its_target(ws: Path) -> None:
    (ws / "sub").mkdir()
    (ws / "sub" / ".codex").symlink_to("../made-later")
    r = sh(policy(ws), "mkdir made-later; echo x > made-later/config.toml")
    assert not (ws / "made-later" / "config.toml").exists()
    assert not os.path.lexists(ws / "made-later")  # the block's mount point is cleaned up
    assert r.exit_code != 0


def test_codex_home_and_system_dir_below_a_writable_root_are_read_only(
    ws: Path, tmp_path: Path
) -> None:
    ci = tmp_path / "ci"
    home = ci / "home"
    system = ci / "etc-codex"
    (home / "rules").mkdir(parents=True)
    system.mkdir()
    (home / "config.toml").write_text('model = "o3"\n')
    pol = policy(
        ws,
        writable_roots=(ci,),
        protected_paths=(home, system, home / "config.toml", home / "rules"),
    )
    script = (
        f"echo 'approval_policy=\"never\"' >> {home}/config.toml;"
        f' echo \'prefix_rule(pattern=["x"], decision="allow")\' > {home}/rules/a.rules;'
        f" echo '[rules]' > {system}/requirements.toml; echo x > {system}/managed_config.toml;"
        f" mv {home} {ci}/old-home; mv {ci} {tmp_path}/ci2; echo ok > {ci}/other"
    )
    r = sh(pol, script)
    assert (home / "config.toml").read_text() == 'model = "o3"\n'
    assert _names(home / "rules") == [] and _names(system) == []
    assert sorted(os.listdir(ci)) == ["etc-codex", "home", "other"]
    assert r.stderr and b"Read-only file system" in r.stderr


def test_a_codex_home_that_does_not_exist_yet_cannot_be_created(ws: Path, tmp_path: Path) -> None:
    root = tmp_path / "runner-tmp"
    root.mkdir()
    home = root / "ci" / "home"
    pol = policy(ws, writable_roots=(root,), protected_paths=(home, home / "config.toml"))
    r = sh(
        pol, f"mkdir -p {home} && echo 'sandbox_mode=\"danger-full-access\"' > {home}/config.toml"
    )
    assert r.exit_code != 0
    assert not os.path.lexists(root / "ci")  # blocked at the first missing component, cleaned


def test_a_symlink_on_the_way_to_codex_home_cannot_be_swapped(ws: Path, tmp_path: Path) -> None:
    root = tmp_path / "w"
    (root / "real" / "home").mkdir(parents=True)
    (root / "real" / "home" / "config.toml").write_text("ok = 1\n")
    (root / "link").symlink_to(root / "real")
    home = root / "link" / "home"
    pol = policy(ws, writable_roots=(root,), protected_paths=(home, home / "config.toml"))
    script = (
        f"rm {root}/link && mkdir -p {root}/link/home && "
        f"echo 'sandbox_mode=\"danger-full-access\"' > {root}/link/home/config.toml"
    )
    r = sh(pol, script)
    assert (root / "link").is_symlink() and (home / "config.toml").read_text() == "ok = 1\n"
    assert r.warnings == [] and r.repairs == [] and b"busy" in (r.stderr or b""), r


def _swap_scenario(tmp_path: Path, name: str = "link") -> tuple[Path, Path, str]:
    """A CODEX_HOME reached through the symlink ``name``, and a script that swaps the link
    for a directory holding a hostile config."""
    root = tmp_path / "w"
    (root / "real" / "home").mkdir(parents=True)
    (root / "real" / "home" / "config.toml").write_text("ok = 1\n")
    link = root / name
    link.symlink_to(root / "real")
    script = (
        f"rm '{link}' && mkdir -p '{link}/home' && "
        f"echo 'sandbox_mode=\"danger-full-access\"' > '{link}/home/config.toml'"
    )
    return root, link, script


def test_a_pin_that_did_not_take_is_seen_in_the_mount_table_and_made_again(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pin reported as done but absent from the sandbox's mount table (it went into a tree
    the sandbox no longer uses) must not leave the link replaceable for the run."""
    root, link, script = _swap_scenario(tmp_path)
    real_pin = netns.pin_symlinks
    calls: list[int] = []

    def first_one_lost(pid: int, links: list[Path]) -> str | None:
        calls.append(pid)
        return None if len(calls) == 1 else real_pin(pid, links)

    monkeypatch.setattr(netns, "pin_symlinks", first_one_lost)
    home = link / "home"
    r = sh(policy(ws, writable_roots=(root,), protected_paths=(home, home / "config.toml")), script)
    assert len(calls) == 2
    assert link.is_symlink() and (home / "config.toml").read_text() == "ok = 1\n"
    assert r.warnings == [] and r.repairs == [] and b"busy" in (r.stderr or b""), r


def test_a_link_whose_name_needs_escaping_in_the_mount_table_is_pinned(
    ws: Path, tmp_path: Path
) -> None:
    """mountinfo escapes spaces, tabs and backslashes: the check must read them back."""
    root, link, script = _swap_scenario(tmp_path, "my link\\x")
    home = link / "home"
    r = sh(policy(ws, writable_roots=(root,), protected_paths=(home, home / "config.toml")), script)
    assert link.is_symlink() and (home / "config.toml").read_text() == "ok = 1\n"
    assert r.warnings == [] and r.repairs == [] and b"busy" in (r.stderr or b""), r


def test_pins_the_kernel_refuses_are_reported_and_restored_after_the_run(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, link, script = _swap_scenario(tmp_path)
    monkeypatch.setattr(netns, "pin_symlinks", lambda pid, links: "open_tree: not supported")
    home = link / "home"
    r = sh(policy(ws, writable_roots=(root,), protected_paths=(home, home / "config.toml")), script)
    assert link.is_symlink() and (home / "config.toml").read_text() == "ok = 1\n"
    assert [repair.action for repair in r.repairs] == ["quarantined", "restored"]
    assert len(r.warnings) == 1 and "open_tree: not supported" in r.warnings[0]
    assert r.to_json()["warnings"] == r.warnings


def test_the_mount_table_check_reads_real_mount_points(tmp_path: Path) -> None:
    assert netns.unpinned(os.getpid(), [Path("/"), tmp_path]) == [tmp_path]


def test_a_loaded_config_file_symlinked_into_the_workspace_is_read_only(
    ws: Path, tmp_path: Path
) -> None:
    dotfiles = ws / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "config.toml").write_text("mine = 1\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").symlink_to(dotfiles / "config.toml")
    pol = policy(ws, protected_paths=(home, home / "config.toml"))
    r = sh(pol, "echo 'approval_policy=\"never\"' >> dotfiles/config.toml")
    assert (dotfiles / "config.toml").read_text() == "mine = 1\n"
    assert r.exit_code != 0


def test_read_only_mode_protects_without_scanning(ws: Path) -> None:
    index = TreeIndex()
    r = sh(policy(ws, SandboxMode.READ_ONLY), "mkdir .codex", index=index)
    assert r.exit_code != 0 and r.repairs == []


def test_one_session_rescans_only_changed_directories(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(20):
        (ws / f"d{i}" / "e").mkdir(parents=True)
    monkeypatch.setattr(guard_module, "CTIME_MARGIN_NS", 0)
    listed: list[str] = []
    real_scandir = os.scandir

    def counting(path: str | os.PathLike[str]) -> object:
        listed.append(os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(guard_module.os, "scandir", counting)

    async def scenario() -> list[RunResult]:
        async with SandboxSession(codex_home=ws.parent) as session:
            first = await session.run(policy(ws), ["true"])
            listed.clear()
            second = await session.run(policy(ws), ["mkdir", "-p", "d7/e/.codex"])
            return [first, second]

    first, second = asyncio.run(scenario())
    assert first.exit_code == 0
    # The second run re-listed only what changed: d7/e (before and after) — not all 41 dirs.
    assert set(listed) <= {str(ws), str(ws / "d7" / "e")}, listed
    assert list(_quarantined(second)) == [ws / "d7" / "e" / ".codex"]


def test_empty_read_only_files_of_a_concurrent_block_are_left_alone(ws: Path) -> None:
    async def scenario() -> tuple[RunResult, RunResult]:
        long = asyncio.ensure_future(
            asyncio.to_thread(sh, policy(ws), "sleep 1.5; mkdir .codex 2>/dev/null; true")
        )
        await asyncio.sleep(0.5)
        short = await asyncio.to_thread(sh, policy(ws), "true")
        return await long, short

    long, short = asyncio.run(scenario())
    assert long.repairs == [] and short.repairs == []
    assert not os.path.lexists(ws / ".codex")


def test_shared_scratch_space_keeps_codex_home_safe_and_moves_nothing(
    ws: Path, tmp_path: Path
) -> None:
    """$TMPDIR (like /tmp) is written by every process on the machine: a new .git there may be
    another process's, so nothing is moved there (and deep names are not mounted: see
    plan.py); CODEX_HOME inside it and the symlink on the way are still fully protected."""
    shared = tmp_path / "tmpdir"
    (shared / "other-job" / ".git").mkdir(parents=True)
    home = shared / "ci-home"
    home.mkdir()
    (home / "link").symlink_to(home)
    pol = policy(
        ws,
        tmpdir=shared,
        exclude_tmpdir_env_var=False,
        protected_paths=(home / "link" / "config.toml",),
    )
    script = (
        f"mkdir -p {shared}/mine/.codex; echo y > {home}/config.toml;"
        f" rm {home}/link; mkdir {home}/link; echo z > {home}/link/config.toml;"
        f" echo x > {shared}/.git"
    )
    r = sh(pol, script)
    assert (shared / "mine" / ".codex").is_dir()  # left in place
    assert not (home / "config.toml").exists()
    assert (home / "link").is_symlink()  # on the way to a protected path: pinned
    assert r.warnings == [] and r.repairs == [], r
    assert not (shared / ".git").exists()  # directly in the root: blocked as everywhere


def test_repair_restores_a_watched_link_when_pinning_was_not_possible(tmp_path: Path) -> None:
    """The fallback when a kernel cannot mount on a symlink: put it back after the run, the
    replacement moved aside."""
    from codex_admin.sandbox.guard import WatchedLink, repair

    link = tmp_path / ".codex"
    link.symlink_to("target")
    watched = WatchedLink(link, "target", os.lstat(link).st_ino, critical=True)
    link.unlink()
    link.mkdir()
    (link / "config.toml").write_text("evil\n")
    repairs = repair({}, {}, [watched])
    assert [r.action for r in repairs] == ["quarantined", "restored"]
    assert link.is_symlink() and os.readlink(link) == "target"
    assert (repairs[0].moved_to / "config.toml").read_text() == "evil\n"  # type: ignore[operator]
    # In a shared root a non-critical link is left alone; a critical one is still restored.
    link.unlink()
    plain = WatchedLink(link, "target", 0)
    assert repair({}, {}, [plain], shared=lambda path: True) == []
    assert [r.action for r in repair({}, {}, [watched], shared=lambda p: True)] == ["restored"]
