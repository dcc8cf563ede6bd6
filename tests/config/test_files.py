"""The one safe reader: FIFOs, devices, huge files and symlinks out of a folder never hang, eat
memory or leak; every refusal is a located error (issue 10, "hangs and unbounded reads")."""

from __future__ import annotations

import base64
import os
import plistlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from codex_admin.config import MAX_FILE_BYTES, read_file_bytes, read_text_file, write_file_atomic
from codex_admin.errors import CodexError
from tests.conftest import Env, run_codex

# Every file the loader reads, as (name, path under the env) pairs.
TARGETS: dict[str, Callable[[Env], Path]] = {
    "user config.toml": lambda e: e.home / "config.toml",
    "system config.toml": lambda e: e.system / "config.toml",
    "managed_config.toml": lambda e: e.system / "managed_config.toml",
    "requirements.toml": lambda e: e.system / "requirements.toml",
    "trust records": lambda e: e.home / "trusted-projects.json",
}


def _fifo(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to("/dev/zero")


def _huge(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk


KINDS = {
    "fifo": (_fifo, "FIFO"),
    "/dev/zero": (_dev_zero, "character device"),
    "huge": (_huge, "larger than the limit of 8 MiB"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_special_files_are_refused_at_once(env: Env, target: str, kind: str) -> None:
    make, needle = KINDS[kind]
    path = TARGETS[target](env)
    if target == "trust records":
        project = env.project()
        env.write(project / ".codex/config.toml", 'model = "p"\n')
    make(path)
    start = time.monotonic()
    cwd = env.root / "proj" if target == "trust records" else env.root
    proc = run_codex("config", "show", "--json", cwd=cwd, timeout=20)
    assert time.monotonic() - start < 15
    assert "Traceback" not in proc.stderr
    if target == "trust records":  # fails closed for the project only (see test_trust.py)
        assert proc.returncode == 0 and needle in proc.stdout, proc.stderr
        assert '"model": "p"' not in proc.stdout
        return
    assert proc.returncode == 1, proc.stderr
    assert needle in proc.stderr and str(path) in proc.stderr


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_mdm_plist_and_project_config_refuse_special_files(env: Env, kind: str) -> None:
    make, needle = KINDS[kind]
    plist = env.root / "mdm.plist"
    make(plist)
    proc = run_codex("config", "show", env={"CODEX_MDM_PLIST": str(plist)}, timeout=20)
    assert proc.returncode == 1 and needle in proc.stderr, proc.stderr
    project = env.project("p2")
    make(project / ".codex/config.toml")
    proc = run_codex("config", "show", cwd=project, timeout=20)
    assert "Traceback" not in proc.stderr
    if kind == "huge":  # a regular file: trusted, then refused by the reader with its place
        assert proc.returncode == 1 and f"{project}/.codex/config.toml: " in proc.stderr
    else:  # refused by the trust check, never read
        assert proc.returncode == 0 and "is not loaded" in proc.stderr


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_config_file_option_refuses_special_files(env: Env, kind: str) -> None:
    """`--config-file` (governance) reads through the same reader."""
    make, needle = KINDS[kind]
    path = env.root / "net.toml"
    make(path)
    proc = run_codex(
        "network", "check", "--config-file", str(path), "--url", "https://example.com", timeout=20
    )
    assert proc.returncode == 1 and needle in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_file_option_with_non_utf8_is_a_located_error(env: Env) -> None:
    path = env.write(env.root / "net.toml", b'[network]\nmode = "\xff"\n')
    proc = run_codex("network", "check", "--config-file", str(path), "--url", "https://a.com")
    assert proc.returncode == 1
    assert f"{path}:2:9: invalid UTF-8 (byte 0xff)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_reader_contract(tmp_path: Path) -> None:
    assert read_text_file(tmp_path / "missing.toml") is None
    assert read_text_file(tmp_path / "no-dir" / "x.toml") is None
    (tmp_path / "file").write_text("x")
    assert read_text_file(tmp_path / "file" / "below") is None  # a file as a parent: absent
    (tmp_path / "d").mkdir()
    with pytest.raises(CodexError, match="it is a directory, expected a regular file"):
        read_text_file(tmp_path / "d")
    small = tmp_path / "small"
    small.write_bytes(b"12345")
    assert read_file_bytes(small, max_bytes=5) == b"12345"
    with pytest.raises(CodexError, match="larger than the limit of 4 bytes") as err:
        read_file_bytes(small, max_bytes=4)
    assert err.value.location is not None and err.value.location.path == str(small)


def test_reader_confined_to_a_folder_refuses_links_leaving_it(tmp_path: Path) -> None:
    inside = tmp_path / "proj"
    (inside / ".codex").mkdir(parents=True)
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t")
    link = inside / ".codex" / "config.toml"
    link.symlink_to(secret)
    with pytest.raises(CodexError, match="symlink to a file outside") as err:
        read_text_file(link, within=inside)
    assert "s3cr3t" not in str(err.value)
    (inside / "real.toml").write_text("ok")
    link.unlink()
    link.symlink_to(inside / "real.toml")
    assert read_text_file(link, within=inside) == "ok"


def test_write_file_atomic_keeps_mode_and_writes_through_a_dotfiles_link(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles" / "config.toml"
    dotfiles.parent.mkdir()
    dotfiles.write_text("old\n")
    dotfiles.chmod(0o640)
    link = tmp_path / "config.toml"
    link.symlink_to(dotfiles)
    write_file_atomic(link, "new\n")
    assert link.is_symlink() and dotfiles.read_text() == "new\n"
    assert dotfiles.stat().st_mode & 0o777 == 0o640
    fresh = tmp_path / "state" / "fresh.json"
    write_file_atomic(fresh, "{}")
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in fresh.parent.iterdir()] == ["fresh.json"]  # no temp file left


def test_mdm_payload_is_read_with_the_same_reader(env: Env) -> None:
    plist = env.root / "mdm.plist"
    plist.write_bytes(
        plistlib.dumps({"config_toml_base64": base64.b64encode(b'model = "mdm"\n').decode()})
    )
    proc = run_codex("config", "show", "--json", env={"CODEX_MDM_PLIST": str(plist)})
    assert proc.returncode == 0 and '"model": "mdm"' in proc.stdout
