"""Real commands under real bubblewrap: writes, protected subpaths, symlink escapes, deny_read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.sandbox import NetworkMode, SandboxMode

from .conftest import policy, sh

pytestmark = pytest.mark.usefixtures("bwrap")


def test_workspace_write_allows_inside_and_refuses_outside(ws: Path) -> None:
    outside = ws.parent / "outside"
    r = sh(policy(ws), f"echo in > inside.txt && echo out > {outside}/x.txt")
    assert r.exit_code != 0
    assert b"Read-only file system" in (r.stderr or b"")
    assert (ws / "inside.txt").read_text() == "in\n"
    assert not (outside / "x.txt").exists()


def test_read_only_mode_writes_nothing_but_dev_null(ws: Path) -> None:
    r = sh(policy(ws, SandboxMode.READ_ONLY), "echo ok > /dev/null && echo x > f")
    assert r.exit_code != 0
    assert not (ws / "f").exists()
    assert b"Read-only file system" in (r.stderr or b"")


def test_extra_writable_root_and_slash_tmp(ws: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    r = sh(policy(ws, writable_roots=(extra,)), f"echo e > {extra}/e")
    assert r.exit_code == 0, r.stderr
    assert (extra / "e").exists()
    # /tmp writable only when not excluded
    probe = tmp_path / "tmp_probe"
    r = sh(policy(ws, exclude_slash_tmp=False), f"echo t > {probe}")
    assert r.exit_code == 0, r.stderr
    probe.unlink()
    assert sh(policy(ws), f"echo t > {probe}").exit_code != 0


def test_missing_writable_root_is_an_error_before_launch(ws: Path, tmp_path: Path) -> None:
    marker = ws / "ran"
    with pytest.raises(CodexError, match="does not exist"):
        sh(policy(ws, writable_roots=(tmp_path / "nope",)), f"touch {marker}")
    assert not marker.exists()


def test_protected_subpaths_read_only_and_not_creatable(ws: Path) -> None:
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]\n")
    script = (
        "echo x >> .git/config; mkdir .git/hooks; mv .git gone; rm -rf .git;"
        " mkdir .codex; echo y > .codex; mkdir -p .agents/x; echo ok > normal"
    )
    r = sh(policy(ws), script)
    assert (ws / ".git" / "config").read_text() == "[core]\n"
    assert not (ws / ".git" / "hooks").exists()
    assert not (ws / "gone").exists()
    assert (ws / "normal").exists()
    # The /dev/null mount points bubblewrap needed are cleaned up afterwards.
    assert not os.path.lexists(ws / ".codex")
    assert not os.path.lexists(ws / ".agents")
    assert b"Read-only file system" in (r.stderr or b"")


def test_protected_paths_created_during_run_by_nested_shell_stay_blocked(ws: Path) -> None:
    r = sh(policy(ws), "cd sub 2>/dev/null; sh -c 'mkdir .codex && echo bad > .codex/config.toml'")
    assert r.exit_code != 0
    assert not os.path.lexists(ws / ".codex")


def test_gitdir_target_of_a_worktree_is_protected(ws: Path, tmp_path: Path) -> None:
    extra = tmp_path / "repo"
    gitdir = extra / ".git" / "worktrees" / "w"
    gitdir.mkdir(parents=True)
    (gitdir / "HEAD").write_text("ref\n")
    (gitdir / "commondir").write_text("../..\n")
    (ws / ".git").write_text(f"gitdir: {gitdir}\n")
    r = sh(
        policy(ws, writable_roots=(extra,)),
        f"echo x > {gitdir}/HEAD; echo y > {extra}/.git/config; echo z > {extra}/ok",
    )
    assert (gitdir / "HEAD").read_text() == "ref\n"
    assert not (extra / ".git" / "config").exists()
    assert (extra / "ok").exists()
    assert r.stderr is not None and r.stderr.count(b"Read-only file system") == 2


def test_symlink_in_workspace_to_outside_cannot_be_written(ws: Path) -> None:
    outside = ws.parent / "outside"
    (ws / "link").symlink_to(outside)
    (ws / "flink").symlink_to(outside / "file.txt")
    r = sh(policy(ws), "echo pwn > link/new.txt; echo pwn > flink; echo pwn >> link/file.txt")
    assert r.exit_code != 0
    assert not (outside / "new.txt").exists()
    assert (outside / "file.txt").read_text() == "outside\n"


def test_proc_self_root_does_not_escape(ws: Path) -> None:
    outside = ws.parent / "outside"
    r = sh(
        policy(ws), f"echo pwn > /proc/self/root{outside}/p.txt; echo pwn > /proc/1/root{outside}/q"
    )
    assert r.exit_code != 0
    assert not (outside / "p.txt").exists()
    assert not (outside / "q").exists()


def test_component_swapped_for_a_link_during_the_run(ws: Path) -> None:
    outside = ws.parent / "outside"
    (ws / "sub").mkdir()
    r = sh(policy(ws), f"rm -rf sub && ln -s {outside} sub && echo pwn > sub/swapped.txt")
    assert r.exit_code != 0
    assert not (outside / "swapped.txt").exists()


def test_writable_root_given_through_a_symlink_is_resolved(ws: Path, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    r = sh(policy(ws, writable_roots=(alias,)), f"echo a > {alias}/a && echo b > {real}/b")
    assert r.exit_code == 0, r.stderr
    assert (real / "a").exists() and (real / "b").exists()


def _secrets(tmp_path: Path) -> tuple[Path, Path]:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("TOPSECRET\n")
    secret_dir = tmp_path / "keys"
    secret_dir.mkdir()
    (secret_dir / "id_rsa").write_text("PRIVATE\n")
    return secret_file, secret_dir


@pytest.mark.parametrize("mode", list(SandboxMode))
def test_deny_read_masks_files_and_dirs_in_every_mode(
    ws: Path, tmp_path: Path, mode: SandboxMode
) -> None:
    secret_file, secret_dir = _secrets(tmp_path)
    link = ws / "via-link"
    link.symlink_to(secret_file)
    pol = policy(ws, mode, deny_read=(str(secret_file), str(secret_dir)), network=NetworkMode.NONE)
    r = sh(
        pol,
        f"cat {secret_file}; cat {link}; ls {secret_dir}; cat {secret_dir}/id_rsa;"
        f" cat /proc/self/root{secret_file}",
    )
    out = (r.stdout or b"") + (r.stderr or b"")
    assert b"TOPSECRET" not in out and b"PRIVATE" not in out
    assert b"id_rsa" not in (r.stdout or b"")
    assert b"Permission denied" in out


def test_deny_read_globs_and_writable_roots_cannot_lift_it(ws: Path) -> None:
    (ws / "creds").mkdir()
    (ws / "creds" / "a.pem").write_text("PEM-A\n")
    (ws / "b.pem").write_text("PEM-B\n")
    pol = policy(ws, deny_read=(f"{ws}/**/*.pem",))
    r = sh(pol, "cat creds/a.pem b.pem; rm b.pem; chmod 644 b.pem; cat b.pem")
    out = (r.stdout or b"") + (r.stderr or b"")
    assert b"PEM-A" not in out and b"PEM-B" not in out
    assert (ws / "b.pem").read_text() == "PEM-B\n"


def test_masks_cannot_be_unmounted(ws: Path, tmp_path: Path) -> None:
    secret_file, _ = _secrets(tmp_path)
    pol = policy(ws, deny_read=(str(secret_file),))
    r = sh(pol, f"umount {secret_file}; umount -l {secret_file}; cat {secret_file}")
    assert b"TOPSECRET" not in (r.stdout or b"")


def test_danger_full_access_without_masks_runs_unsandboxed(ws: Path, tmp_path: Path) -> None:
    outside = ws.parent / "outside"
    pol = policy(ws, SandboxMode.DANGER_FULL_ACCESS, network=NetworkMode.FULL)
    r = sh(pol, f"echo ok > {outside}/free.txt")
    assert r.exit_code == 0 and not r.sandboxed
    assert (outside / "free.txt").exists()
