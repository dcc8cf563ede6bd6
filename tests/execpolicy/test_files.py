"""Rules files from folders other people write: links out, FIFOs, devices, size, bad bytes.

Issue 10 (medium): a planted ``sub/.codex/rules/x.rules`` symlink to a ``deny_read`` file made
the loader quote the secret in its hint; a FIFO or ``/dev/zero`` as a rules file hung or ate
memory; non-UTF-8 arguments crashed ``explain`` and ``amend``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.execpolicy import discover_rule_files, load_configured_policy, load_policy_files
from tests.conftest import Env, run_codex

SECRET = "hunter2_0123456789_secret"
# A secret that also happens to be a Starlark syntax error whose message would name it.
SECRET_TEXT = f"password = {SECRET}\n"


def _plant(env: Env, name: str = "proj") -> tuple[Path, Path]:
    project = env.project(name, trusted=True)
    secret = env.write(env.root / "secret.txt", SECRET_TEXT)
    return project, secret


def _refused_unread(proc: subprocess.CompletedProcess[str], name: str) -> None:
    """Refused, named, never read: either the rules loader stops (exit 1, "symlink that
    leaves") or -- since trust fingerprints -- the project's `.codex` layer is not loaded at all
    (a warning naming the link), before any rule is read."""
    both = proc.stderr + proc.stdout
    assert SECRET not in both and "Traceback" not in proc.stderr
    assert name in proc.stderr
    if proc.returncode == 1:
        assert "symlink that leaves" in proc.stderr
    else:
        assert proc.returncode == 0 and "is not loaded" in proc.stderr, proc.stderr


def test_a_rules_symlink_leaving_the_config_folder_is_refused_and_never_read(env: Env) -> None:
    project, secret = _plant(env)
    rules = project / ".codex" / "rules"
    rules.mkdir(parents=True)
    (rules / "x.rules").symlink_to(secret)
    proc = run_codex("execpolicy", "explain", "ls", cwd=project)
    _refused_unread(proc, "x.rules")
    with pytest.raises(CodexError, match="symlink that leaves"):
        discover_rule_files([project / ".codex"])


def test_a_rules_folder_symlink_leaving_the_config_folder_is_refused(env: Env) -> None:
    project, _ = _plant(env)
    outside = env.root / "outside"
    outside.mkdir()
    (outside / "x.rules").write_text(SECRET_TEXT)
    (project / ".codex" / "rules").symlink_to(outside)
    proc = run_codex("execpolicy", "show", cwd=project)
    _refused_unread(proc, "rules")


def test_links_inside_the_folder_and_a_linked_config_folder_still_work(env: Env) -> None:
    real = env.root / "dotfiles" / "codex"
    (real / "rules").mkdir(parents=True)
    (real / "rules" / "base.rules").write_text('prefix_rule(pattern=["ls"])\n')
    (real / "rules" / "alias.rules").symlink_to(real / "rules" / "base.rules")
    linked = env.root / "linked-home"
    linked.symlink_to(real)  # the whole config folder may be a link (a dotfiles checkout)
    policy, files = load_configured_policy([linked])
    assert [f.name for f in files] == ["alias.rules", "base.rules"]
    assert policy.rule_count == 2


def test_a_hard_linked_rules_file_loads_but_is_never_quoted(env: Env) -> None:
    project, secret = _plant(env)
    rules = project / ".codex" / "rules"
    rules.mkdir(parents=True)
    os.link(secret, rules / "x.rules")
    proc = run_codex("execpolicy", "explain", "ls", cwd=project)
    assert proc.returncode == 1 and "details withheld" in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout


def test_an_ordinary_broken_file_is_still_quoted(env: Env) -> None:
    env.write(env.home / "rules" / "mine.rules", 'prefix_rule(pattern=["a"], decision=x)\n')
    proc = run_codex("execpolicy", "explain", "ls")
    assert proc.returncode == 1
    assert "the problem is on or around line 1: prefix_rule" in proc.stderr


def test_a_fifo_as_a_rules_file_fails_at_once(env: Env) -> None:
    fifo = env.root / "x.rules"
    os.mkfifo(fifo)
    start = time.monotonic()
    proc = run_codex("execpolicy", "check", "-r", str(fifo), "ls", timeout=30)
    assert time.monotonic() - start < 20
    assert proc.returncode == 1 and "it is a FIFO, not a regular file" in proc.stderr
    # discovery skips anything that is not a regular file, as Codex does
    os.mkfifo(env.home / "rules.fifo")
    (env.home / "rules").mkdir()
    os.mkfifo(env.home / "rules" / "pipe.rules")
    assert discover_rule_files([env.home]) == []


def test_a_device_as_a_rules_file_is_refused_without_reading_it(env: Env) -> None:
    proc = run_codex("execpolicy", "check", "-r", "/dev/zero", "ls", timeout=30)
    assert proc.returncode == 1 and "character device" in proc.stderr
    proc = run_codex("execpolicy", "check", "-r", str(env.root), "ls")
    assert proc.returncode == 1 and "directory" in proc.stderr


def test_an_oversized_file_names_the_limit_and_the_knob(env: Env) -> None:
    big = env.write(env.root / "big.rules", "# " + "x" * (2 * 1024 * 1024) + "\n")
    proc = run_codex(
        "execpolicy", "check", "-r", str(big), "ls", env={"CODEX_EXECPOLICY_MAX_FILE_MB": "1"}
    )
    assert proc.returncode == 1
    assert "more than the limit" in proc.stderr and "CODEX_EXECPOLICY_MAX_FILE_MB" in proc.stderr
    bad = run_codex(
        "execpolicy", "check", "-r", str(big), "ls", env={"CODEX_EXECPOLICY_MAX_FILE_MB": "lots"}
    )
    assert bad.returncode == 1 and "invalid CODEX_EXECPOLICY_MAX_FILE_MB" in bad.stderr


def test_non_utf8_rules_file_is_a_located_error(env: Env) -> None:
    path = env.write(env.root / "bad.rules", b'prefix_rule(pattern=["a"])\n# \xff\n')
    with pytest.raises(CodexError, match="not valid UTF-8") as info:
        load_policy_files([path])
    assert info.value.location is not None and info.value.location.line == 2


def test_non_utf8_arguments_are_handled_not_tracebacks(env: Env) -> None:
    rules = env.write(
        env.root / "r.rules", 'prefix_rule(pattern=["git", "push"], decision="forbidden")\n'
    )
    explained = run_codex(
        "execpolicy", "explain", "-r", str(rules), "--", "bash", "-c", "git \udcff"
    )
    assert explained.returncode == 0, explained.stderr
    assert "Traceback" not in explained.stderr
    pushed = run_codex(
        "execpolicy", "explain", "-r", str(rules), "--json", "--", "bash", "-c", "git push \udcff"
    )
    assert json.loads(pushed.stdout)["requirement"]["type"] == "forbidden"
    checked = run_codex("execpolicy", "check", "-r", str(rules), "git", "\udcff")
    assert checked.returncode == 0 and json.loads(checked.stdout) == {"matchedRules": []}
    amended = run_codex("execpolicy", "amend", "--", "git", "\udcff")
    assert amended.returncode == 1 and "not valid UTF-8" in amended.stderr
    assert "Traceback" not in amended.stderr
    assert not (env.home / "rules" / "default.rules").exists()
