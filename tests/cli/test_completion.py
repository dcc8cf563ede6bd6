"""`codex completion`: scripts for bash/zsh/fish, and answers for groups, subcommands, options."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODEX = [sys.executable, "-c", "from codex_admin.cli.main import main; main()"]


def _codex(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run([*CODEX, *args], capture_output=True, text=True, env=full, check=False)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_script_for_each_shell(shell: str) -> None:
    run = _codex(["completion", shell])
    assert run.returncode == 0 and "_CODEX_COMPLETE" in run.stdout


def test_unknown_shell_is_a_usage_error() -> None:
    run = _codex(["completion", "tcsh"])
    assert run.returncode == 2 and "unknown shell 'tcsh'" in run.stderr


def test_bash_completes_groups_commands_and_options() -> None:
    def answer(words: str) -> list[str]:
        run = _codex(
            [],
            _CODEX_COMPLETE="complete_bash",
            COMP_WORDS=words,
            COMP_CWORD=str(len(words.split()) - 1),
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.split()

    assert answer("codex sand") == ["sandbox"]
    assert "check" in answer("codex execpolicy ch")
    assert "--network" in answer("codex sandbox linux --net")


def test_zsh_and_fish_answers() -> None:
    zsh = _codex([], _CODEX_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="codex execpolicy ch")
    assert '"check"' in zsh.stdout
    fish = _codex(
        [],
        _CODEX_COMPLETE="complete_fish",
        _TYPER_COMPLETE_FISH_ACTION="get-args",
        _TYPER_COMPLETE_ARGS="codex con",
    )
    assert fish.stdout.startswith("config")


def test_root_help_lists_completion() -> None:
    assert "completion" in _codex(["--help"]).stdout
    assert "eval" in _codex(["completion", "--help"]).stdout
