"""Every command looks and fails alike (issue 18): plain help with an example, `-h`, no Python
type names as metavars, and under `--json` one JSON error object on stdout for every failure.

The command list is walked from the static ``GROUPS`` table, so a new command is checked the
moment it is registered.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from codex_admin.cli.main import GROUPS, main

CODEX = [sys.executable, "-c", "from codex_admin.cli.main import main; main()"]
# Typer's and click's default metavars, and the rich renderer's box drawing.
_TYPE_LABEL = re.compile(r"<[a-z][^>\s]*>|\{[A-Za-z_]+\}|\b(?:TEXT|INTEGER|FLOAT|BOOLEAN)\b")
_BOXES = re.compile("[╭╮╰╯│─┃━]")


def _commands() -> Iterator[tuple[tuple[str, ...], object]]:
    for name, (module, _) in GROUPS.items():
        root = typer.main.get_command(importlib.import_module(module).app)

        def walk(
            command: object, path: tuple[str, ...]
        ) -> Iterator[tuple[tuple[str, ...], object]]:
            yield path, command
            for sub in getattr(command, "commands", {}).values():
                yield from walk(sub, (*path, sub.name))

        yield from walk(root, (name,))


COMMANDS = list(_commands())


def _runnable(command: object) -> bool:
    """A command a user runs (not only a group of subcommands)."""
    return not getattr(command, "commands", None) or bool(
        getattr(command, "invoke_without_command", False)
    )


def _help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        main([*path, "-h"])
    assert done.value.code in (0, None), path
    return capsys.readouterr().out


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_is_plain_has_an_example_and_real_metavars(
    path: tuple[str, ...], command: object, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(path, capsys)
    assert text.startswith(f"Usage: codex {' '.join(path)}"), text
    assert not _BOXES.search(text), text
    labels = _TYPE_LABEL.findall(text)
    assert not labels, f"type names as metavars in `codex {' '.join(path)} -h`: {labels}\n{text}"
    if _runnable(command):
        assert re.search(rf"^\s*Example: .*codex {re.escape(path[0])}\b", text, re.M), text
    if not getattr(command, "commands", None):
        assert "COMMAND [ARGS]" not in text.splitlines()[0], text


def test_root_and_completion_help(capsys: pytest.CaptureFixture[str]) -> None:
    main(["-h"])
    root = capsys.readouterr().out
    for name in [*GROUPS, "completion"]:
        assert f"  {name} " in root
    main(["completion", "-h"])
    assert "Example: " in capsys.readouterr().out


JSON_COMMANDS = [
    path
    for path, command in COMMANDS
    if _runnable(command) and any("--json" in p.opts for p in getattr(command, "params", []))
]
# `sandbox linux|macos` take an unknown leading option as the command to run, as Codex's
# trailing argv does (it then fails with 127, "command not found"): not a usage error there.
USAGE_CHECKED = [p for p in JSON_COMMANDS if p[0] != "sandbox"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home, system = tmp_path / "home", tmp_path / "system"
    home.mkdir()
    system.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CODEX_")}
    return {**base, "CODEX_HOME": str(home), "CODEX_SYSTEM_DIR": str(system), "CODEX_MDM_PLIST": ""}


def _error(run: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stdout.strip().splitlines()
    document = json.loads("\n".join(lines))
    assert set(document) == {"error"}, document
    error = document["error"]
    assert isinstance(error, dict)
    assert set(error) == {"message", "path", "line", "column", "hint"}
    assert run.stderr.startswith("error: "), run.stderr
    return error


def test_the_scripted_commands_all_take_json() -> None:
    for path in [
        ("managed", "verify"),
        ("managed", "remote"),
        ("managed", "inspect"),
        ("managed", "diff"),
        ("managed", "pack"),
        ("managed", "build"),
        ("managed", "sign"),
        ("requirements", "show"),
        ("network", "check"),
        ("doctor",),
        ("config", "show"),
        ("config", "validate"),
        ("execpolicy", "test"),
    ]:
        assert path in JSON_COMMANDS, path


@pytest.mark.parametrize("path", USAGE_CHECKED, ids=[" ".join(p) for p in USAGE_CHECKED])
def test_usage_error_under_json_is_one_error_object(
    path: tuple[str, ...], env: dict[str, str], tmp_path: Path
) -> None:
    run = subprocess.run(
        [*CODEX, *path, "--json", "--no-such-option"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2, (path, run.stdout, run.stderr)
    assert "--no-such-option" in str(_error(run)["message"])


@pytest.mark.parametrize(
    "args",
    [
        ["requirements", "show", "--json"],
        ["config", "show", "--json"],
        ["execpolicy", "show", "--json"],
        ["managed", "remote", "--json"],
        ["hooks", "list", "--json"],
    ],
)
def test_user_error_under_json_is_one_error_object(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    system = Path(env["CODEX_SYSTEM_DIR"])
    (system / "requirements.toml").write_text("allowed_sandbox_modes = [\n")
    (system / "remote_requirements.toml").write_text("[remote]\nrequirements_url = 'http://x'\n")
    run = subprocess.run(
        [*CODEX, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1, (run.stdout, run.stderr)
    error = _error(run)
    assert str(error["path"]).startswith(str(system)), error


def test_execpolicy_check_json_load_error_is_an_error_object(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "bad.rules").write_text("prefix_rule(\n")
    run = subprocess.run(
        [*CODEX, "execpolicy", "check", "-r", "bad.rules", "--json", "--", "git"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert _error(run)["path"] == "bad.rules"
