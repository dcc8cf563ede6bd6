"""`codex` entry point: a tiny dispatcher that imports a subcommand group only when it runs.

Start-up time is part of the product (`codex execpolicy check` runs in every CI job and hook), so
this module imports nothing heavy: `codex --help` is answered from the static table below, and a
group's typer app (with pydantic, httpx, cryptography behind it) is imported on demand.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from codex_admin import __version__
from codex_admin.cli import context

# name -> (module, one-line help). Order is the order shown by `codex --help`.
GROUPS: dict[str, tuple[str, str]] = {
    "config": (
        "codex_admin.cli.config_cmd",
        "Show, explain, validate and export the layered configuration",
    ),
    "requirements": (
        "codex_admin.cli.requirements_cmd",
        "Show the enforced requirements and where each comes from",
    ),
    "execpolicy": (
        "codex_admin.cli.execpolicy_cmd",
        "Check, explain, show, test and amend command rules (*.rules)",
    ),
    "proxy": ("codex_admin.cli.proxy_cmd", "Run the managed network proxy with a per-session CA"),
    "network": (
        "codex_admin.cli.network_cmd",
        "Ask whether a request would pass the network policy",
    ),
    "sandbox": ("codex_admin.cli.sandbox_cmd", "Run a command under the Linux or macOS sandbox"),
    "managed": (
        "codex_admin.cli.managed_cmd",
        "Build, inspect, diff, sign and verify managed policy",
    ),
    "exec": ("codex_admin.cli.exec_cmd", "Run the governed agent non-interactively"),
    "hooks": (
        "codex_admin.cli.hooks_cmd",
        "List, trust and test lifecycle hooks (Claude-Code-compatible)",
    ),
    "guardian": (
        "codex_admin.cli.guardian_cmd",
        "Review actions with the auto-reviewer; test and show its policy",
    ),
    "login": ("codex_admin.cli.login_cmd", "Sign in with ChatGPT or an API key; show the login"),
    "logout": ("codex_admin.cli.logout_cmd", "Remove stored authentication credentials"),
    "doctor": (
        "codex_admin.cli.doctor_cmd",
        "Diagnose configuration, requirements, rules, sandbox and proxy",
    ),
    "apply-patch": (
        "codex_admin.cli.apply_patch_cmd",
        "Apply a patch in Codex's apply_patch format (optionally all or nothing)",
    ),
    "instructions": (
        "codex_admin.cli.instructions_cmd",
        "Show the AGENTS.md instructions the agent would receive here",
    ),
}

COMPLETION_ENTRY = ("completion", "Print a shell completion script (bash, zsh, fish)")

# argv[0] names (and Codex's hidden first argument) that make `codex` the standalone tool.
APPLY_PATCH_NAMES = frozenset({"apply_patch", "applypatch"})
RUN_AS_APPLY_PATCH = "--codex-run-as-apply-patch"

ROOT_HELP = """\
Usage: codex [-c KEY=VALUE]... COMMAND [ARGS]...

codex-admin: the governed Codex-compatible CLI and its admin toolkit.

Options:
  -c, --config KEY=VALUE  Override a config key (TOML value; repeatable; applies to every command)
  --version               Show the version and exit
  -h, --help              Show this message and exit

Commands:
{commands}

Run `codex COMMAND --help` for a command's options.
"""

COMPLETION_HELP = """\
Usage: codex completion [bash|zsh|fish]

  Print a shell completion script (default: bash).

  Example: eval "$(codex completion bash)"    # or add it to ~/.bashrc
"""


def _root_help() -> str:
    entries = [*((name, text) for name, (_, text) in GROUPS.items()), COMPLETION_ENTRY]
    width = max(len(name) for name, _ in entries)
    lines = [f"  {name.ljust(width)}  {text}" for name, text in entries]
    return ROOT_HELP.format(commands="\n".join(lines))


def _usage_error(message: str) -> NoReturn:
    sys.stderr.write(f"Usage: codex [-c KEY=VALUE]... COMMAND [ARGS]...\nError: {message}\n")
    sys.exit(2)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse root options, pick the group, hand the rest of argv to the group's typer app.

    Invoked as ``apply_patch``/``applypatch`` (a symlink or hard link to ``codex``), or with
    ``--codex-run-as-apply-patch`` first, it is Codex's standalone apply_patch tool instead.
    """
    if os.environ.get("_CODEX_COMPLETE"):
        from codex_admin.cli.completion import complete

        complete(GROUPS)
        return
    args = list(sys.argv[1:] if argv is None else argv)
    run_as = args[:1] == [RUN_AS_APPLY_PATCH]
    if run_as or (argv is None and os.path.basename(sys.argv[0]) in APPLY_PATCH_NAMES):
        # Imported here so `codex --help` and other commands never load the patch engine.
        from codex_admin.cli.apply_patch_standalone import main as apply_patch_main

        apply_patch_main(args[1:] if run_as else args)
    overrides: list[str] = []
    while args:
        head = args[0]
        if head in ("-h", "--help"):
            sys.stdout.write(_root_help())
            return
        if head == "--version":
            sys.stdout.write(f"codex-admin {__version__}\n")
            return
        if head in ("-c", "--config"):
            if len(args) < 2:
                _usage_error(f"Option '{head}' requires an argument.")
            overrides.append(args[1])
            args = args[2:]
            continue
        if head.startswith("--config="):
            overrides.append(head.split("=", 1)[1])
            args = args[1:]
            continue
        if head.startswith("-c") and len(head) > 2:
            overrides.append(head[2:])
            args = args[1:]
            continue
        break
    if not args:
        sys.stdout.write(_root_help())
        return
    name, rest = args[0], args[1:]
    if name == "completion":
        from codex_admin.cli.completion import print_script

        if rest[:1] in (["-h"], ["--help"]):
            sys.stdout.write(COMPLETION_HELP)
            return
        if len(rest) > 1:
            _usage_error("codex completion takes one shell name")
        sys.exit(print_script(rest[0] if rest else "bash"))
    if name not in GROUPS:
        _usage_error(f"No such command '{name}'. Run `codex --help` for the list.")
    context.ROOT_OVERRIDES[:] = overrides
    if name == "execpolicy" and rest[:1] == ["check"]:
        # Fast path: `check` runs in every CI job and hook; skip typer's import when the
        # arguments are well-formed (see execpolicy_fast for the exact contract).
        from codex_admin.cli.execpolicy_fast import try_check

        if try_check(rest[1:]):
            return
    if name == "config" and rest[:1] == ["show"]:
        # Fast path: scripts and editors ask for the effective configuration at start-up;
        # skip typer (and its pydantic adapters) for well-formed arguments (see config_show).
        from codex_admin.cli.config_show import try_show

        if try_show(rest[1:]):
            return
    if name == "exec":
        # Fast path: `codex exec` start-up is measured to the first model request; typer's
        # import costs more than the agent's own (see exec_run for the exact contract).
        from codex_admin.cli.exec_run import try_exec

        try_exec(rest)  # exits when it handled the invocation
    if name == "sandbox" and rest[:1] == ["linux"]:
        # Fast path: one start-up per confined command; typer's import costs more than the
        # rest (see sandbox_fast for the exact contract).
        from codex_admin.cli.sandbox_fast import try_linux

        try_linux(rest[1:])  # exits when it handled the invocation
    if name == "network" and rest[:1] == ["check"]:
        # Fast path: admins and CI ask the policy one request at a time; typer's import costs
        # more than the check (see network_fast for the exact contract).
        from codex_admin.cli.network_fast import try_check as try_network_check

        if try_network_check(rest[1:]):
            return
    if name == "doctor":
        # Fast path: admins and fleet scripts run it to see whether Codex is governed here;
        # typer's import costs more than most checks (see doctor_fast for the exact contract).
        from codex_admin.cli.doctor_fast import try_doctor

        if try_doctor(rest):
            return
    module = importlib.import_module(GROUPS[name][0])
    from codex_admin.cli.runner import run_typer_app

    if name == "exec" and rest[:1] == ["resume"]:
        run_typer_app(module.resume_app, rest[1:], prog_name="codex exec resume")
        return
    run_typer_app(module.app, rest, prog_name=f"codex {name}")


if __name__ == "__main__":  # pragma: no cover
    main()
