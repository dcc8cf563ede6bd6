"""Recording trust in $CODEX_HOME/config.toml: comments kept, atomic, 0600, never for managed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib

import pytest

from codex_admin.errors import CodexError
from codex_admin.hooks import TrustStatus, trust_hooks
from codex_admin.hooks.trust import hook_hash
from tests.hooks.conftest import Hooks, group

REQ = '[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ncommand = "echo managed"\n'


def test_trust_keeps_comments_and_layout(hk: Hooks) -> None:
    original = '# my settings\nmodel = "o3"  # keep me\n\n[tui]\n# theme comment\ntheme = "dark"\n'
    hk.env.user(original)
    hk.hooks_json(hk.env.home, {"Stop": [group("echo a")]})
    [hook] = hk.discover().hooks
    assert [h.id for h in trust_hooks(hk.env.home, [hook])] == [hook.id]
    text = (hk.env.home / "config.toml").read_text()
    assert text.startswith(original)
    assert tomllib.loads(text)["hooks"]["state"][hook.key] == {"trusted_hash": hook.hash}
    assert [h.trust for h in hk.discover().hooks] == [TrustStatus.TRUSTED]


def test_new_config_is_private_and_existing_mode_is_kept(hk: Hooks) -> None:
    hk.hooks_json(hk.env.home, {"Stop": [group("echo a")]})
    hk.trusted()
    path = hk.env.home / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o640)
    hk.hooks_json(hk.env.home, {"Stop": [group("echo b")]})
    hk.trusted()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    leftovers = [p.name for p in hk.env.home.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_trust_rewrites_the_target_of_a_symlinked_config(hk: Hooks) -> None:
    dotfiles = hk.tmp / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "codex.toml"
    real.write_text('model = "o3"\n')
    (hk.env.home / "config.toml").symlink_to(real)
    hk.hooks_json(hk.env.home, {"Stop": [group("echo a")]})
    hk.trusted()
    assert (hk.env.home / "config.toml").is_symlink()
    assert "trusted_hash" in real.read_text()


def test_managed_and_trusted_hooks_are_not_written(hk: Hooks) -> None:
    hk.env.requirements(REQ)
    hooks = hk.discover()
    assert trust_hooks(hk.env.home, hooks.hooks) == []
    assert not (hk.env.home / "config.toml").exists()
    hk.hooks_json(hk.env.home, {"Stop": [group("echo a")]})
    hooks = hk.trusted()
    assert trust_hooks(hk.env.home, hooks.hooks) == []


def test_inline_hooks_table_is_extended(hk: Hooks) -> None:
    hk.env.user("hooks = {}\n")
    hk.hooks_json(hk.env.home, {"Stop": [group("echo a")]})
    assert [h.trust for h in hk.trusted().hooks] == [TrustStatus.TRUSTED]


def test_existing_state_entry_keeps_enabled(hk: Hooks) -> None:
    hk.hooks_json(hk.env.home, {"Stop": [group("echo a")]})
    [hook] = hk.discover().hooks
    hk.env.user(f'[hooks.state."{hook.key}"]\nenabled = false # off for now\n')
    hk.trusted()
    text = (hk.env.home / "config.toml").read_text()
    assert "# off for now" in text
    assert tomllib.loads(text)["hooks"]["state"][hook.key] == {
        "enabled": False,
        "trusted_hash": hook.hash,
    }


def test_broken_user_toml_is_a_located_error(hk: Hooks) -> None:
    hk.hooks_json(hk.env.home, {"Stop": [group("echo a")]})
    [hook] = hk.discover().hooks
    hk.env.user("model = \n")
    with pytest.raises(CodexError) as info:
        trust_hooks(hk.env.home, [hook])
    assert info.value.location is not None and info.value.location.line == 1


def test_hooks_key_that_is_not_a_table(hk: Hooks) -> None:
    hk.hooks_json(hk.env.home, {"Stop": [group("echo a")]})
    [hook] = hk.discover().hooks
    hk.env.user("hooks = 3\n")
    with pytest.raises(CodexError, match="not a table"):
        trust_hooks(hk.env.home, [hook])


def test_concurrent_trusts_do_not_lose_updates(hk: Hooks) -> None:
    hk.hooks_json(hk.env.home, {"Stop": [group(f"echo {i}") for i in range(4)]})
    hooks = hk.discover().hooks
    code = (
        "import sys; from pathlib import Path; from codex_admin.config import load_config, LoadOptions;"
        "from codex_admin.hooks import discover_hooks, trust_hooks;"
        "hs = discover_hooks(load_config(LoadOptions(cwd=Path.cwd())));"
        "trust_hooks(hs.codex_home, [h for h in hs.hooks if h.id in sys.argv[1:]])"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, hook.id], env=dict(os.environ), cwd=hk.env.root
        )
        for hook in hooks
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    assert all(h.trust is TrustStatus.TRUSTED for h in hk.discover().hooks)


def test_hash_covers_every_field() -> None:
    base = {
        "event": "PreToolUse",
        "matcher": "Bash",
        "command": "x",
        "timeout": 600.0,
        "is_async": False,
        "status_message": None,
        "source_path": "/a/hooks.json",
        "files": {},
    }
    digest = hook_hash(**base)  # type: ignore[arg-type]
    assert digest.startswith("sha256:") and len(digest) == 71
    for key, value in [
        ("event", "PostToolUse"),
        ("matcher", "*"),
        ("command", "y"),
        ("timeout", 5.0),
        ("is_async", True),
        ("status_message", "checking"),
        ("source_path", "/b/hooks.json"),
        ("files", {"/a/x.sh": "00"}),
    ]:
        assert hook_hash(**{**base, key: value}) != digest, key  # type: ignore[arg-type]
    assert hook_hash(**{**base, "timeout": 600}) == digest  # type: ignore[arg-type]
