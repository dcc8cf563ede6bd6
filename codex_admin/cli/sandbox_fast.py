"""`codex sandbox linux`: the logic, and a typer-free fast path for well-formed invocations.

`sandbox linux` runs once per command a script or agent wants confined, so its start-up is
measured (benchmarks/sandbox_bench.py); typer with its pydantic adapters costs more than the
rest of the command. The dispatcher hands `sandbox linux ARGS` here first. Handled shapes:
``[-s MODE | --sandbox MODE | --network MODE | -C DIR | --cd DIR | --writable-root DIR |
--timeout SECONDS | -c KEY=VALUE | --config KEY=VALUE | --json | --explain]... [--] CMD...``
(``--opt=value`` too) with a non-empty command and valid values. Anything else (help, an unknown
option, a bad value, a missing command) returns False and the typer command answers it, so
usage errors still exit 2 with click's message. Both paths run :func:`run_linux`.

Exit codes: the command's own (128+N after signal N, 124 on timeout, 127 command not found,
126 not executable), 1 for a CodexError (with ``--json``: ``{"error": {...}}`` on stdout),
2 for usage errors, 130 after Ctrl-C.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from codex_admin.cli import context
from codex_admin.cli.output import print_json, print_warnings
from codex_admin.vocabulary import NetworkMode, SandboxMode

if TYPE_CHECKING:
    from codex_admin.errors import CodexError
    from codex_admin.governance import Governance

__all__ = ["LinuxArgs", "UsageProblem", "json_error", "run_linux", "try_linux"]

_SANDBOX_CHOICES = frozenset(m.value for m in SandboxMode.cli_choices())
_NETWORK_CHOICES = frozenset(m.value for m in NetworkMode)


class UsageProblem(Exception):
    """A usage error found after parsing (exit 2); ``param`` names the option."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class UnknownOption(Exception):
    """An option this command does not have, before the command (exit 2)."""


@dataclass
class LinuxArgs:
    command: list[str]
    sandbox: str | None = None
    network: str | None = None
    cwd: Path | None = None
    writable_roots: list[Path] = field(default_factory=list)
    timeout: float | None = None
    overrides: list[str] = field(default_factory=list)
    json_out: bool = False
    explain: bool = False


def json_error(err: CodexError) -> dict[str, Any]:
    """The `--json` failure document: ``{"error": {message, path, line, column, hint}}``."""
    return {"error": err.to_json()}


def _governance(args: LinuxArgs) -> Governance:
    from codex_admin.config import Flags
    from codex_admin.governance import GovernanceRequest, load_governance

    request = GovernanceRequest(
        cwd=args.cwd,
        overrides=[*context.ROOT_OVERRIDES, *args.overrides],
        flags=Flags(sandbox=args.sandbox),
        writable_roots=tuple(args.writable_roots),
        network=NetworkMode(args.network) if args.network else None,
    )
    return load_governance(request)


def run_linux(args: LinuxArgs) -> int:
    """Run (or explain) ``args.command`` under the effective sandbox; returns the exit code.
    Raises CodexError (exit 1) and UsageProblem (exit 2)."""
    governance = _governance(args)
    print_warnings(governance.warnings)
    mode = governance.sandbox_mode
    if args.writable_roots and mode is not SandboxMode.WORKSPACE_WRITE:
        raise UsageProblem(
            "'--writable-root'",
            f"only applies to workspace-write (the effective sandbox is {mode.value})",
        )
    policy = governance.sandbox_policy(for_run=not args.explain)
    if args.explain:
        _render_explain(governance.explain_sandbox(args.command, policy), args.json_out)
        return 0
    result = governance.run_sandboxed(
        policy, args.command, timeout=args.timeout, capture=args.json_out
    )
    for warning in result.warnings:
        sys.stderr.write(f"codex sandbox: warning: {warning}\n")
    for repaired in result.repairs:
        sys.stderr.write(f"codex sandbox: {repaired.message()}\n")
    if args.json_out:
        from codex_admin.sandbox import bwrap_info

        print_json({**result.to_json(), "bwrap": bwrap_info() if result.sandboxed else None})
    elif result.timed_out:
        sys.stderr.write(f"codex sandbox: command timed out after {args.timeout:g}s; killed\n")
    return result.exit_code


def _render_explain(info: dict[str, Any], json_out: bool) -> None:
    if json_out:
        print_json(info)
        return
    import shlex

    out = sys.stdout.write
    policy, plan = info["policy"], info["plan"]
    out(f"sandbox:  {policy['mode']}   network: {policy['network']}   cwd: {plan['cwd']}\n")
    bwrap = info.get("bwrap") or {}
    out(f"backend:  {info['backend']}")
    if info["backend"] == "bwrap":
        out(f"   bwrap: {bwrap.get('path')} ({bwrap.get('source')}, {bwrap.get('version')})")
    out("\n")
    for key in ("writable", "pinned", "protected", "blocked", "masked_dirs", "masked_files"):
        for path in plan[key]:
            out(f"  {key:<13} {path}\n")
    for link in plan["watched_links"]:
        out(f"  {'watched_link':<13} {link['path']} -> {link['target']}\n")
    if "network_policy" in info:
        net = info["network_policy"]
        out(f"proxy:    enabled={net['enabled']} mode={net['mode']} ")
        out(f"allowed={net['allowed_domains']} denied={net['denied_domains']} ")
        out(f"local={net['allow_local_binding']}\n")
    out(f"env:      {len(info['env_names'])} variables: {' '.join(info['env_names'])}\n")
    out("argv:\n  " + shlex.join(info["argv"]) + "\n")


# ------------------------------------------------------------------------------ the fast path

_VALUE_OPTIONS = {
    "-s": "sandbox",
    "--sandbox": "sandbox",
    "--network": "network",
    "-C": "cwd",
    "--cd": "cwd",
    "--writable-root": "writable_roots",
    "--timeout": "timeout",
    "-c": "overrides",
    "--config": "overrides",
}
_FLAGS = {"--json": "json_out", "--explain": "explain"}
_SHORT_OPTIONS = frozenset({"-h", *(name for name in _VALUE_OPTIONS if not name.startswith("--"))})


def _parse(argv: Sequence[str]) -> LinuxArgs | None:
    args = LinuxArgs(command=[])
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg in _FLAGS:
            setattr(args, _FLAGS[arg], True)
            i += 1
            continue
        name, sep, inline = arg.partition("=")
        option = _VALUE_OPTIONS.get(name if sep and name.startswith("--") else arg)
        if option is None:
            if arg == "--help" or arg[:2] in _SHORT_OPTIONS:
                return None  # help, or a short option with its value attached: typer's
            if arg.startswith("-"):
                # Before the command (and before `--`) a dash word is a mistyped option, not a
                # program: running it would only fail later as "command not found" (127).
                raise UnknownOption(arg)
            break
        if sep and name.startswith("--"):
            value, i = inline, i + 1
        elif i + 1 < len(argv):
            value, i = argv[i + 1], i + 2
        else:
            return None
        if not _store(args, option, value):
            return None
    args.command = list(argv[i:])
    return args if args.command else None


def _store(args: LinuxArgs, option: str, value: str) -> bool:
    if option == "sandbox":
        args.sandbox = value
        return value in _SANDBOX_CHOICES
    if option == "network":
        args.network = value
        return value in _NETWORK_CHOICES
    if option == "cwd":
        args.cwd = Path(value)
    elif option == "writable_roots":
        args.writable_roots.append(Path(value))
    elif option == "overrides":
        args.overrides.append(value)
    elif option == "timeout":
        try:
            args.timeout = float(value)
        except ValueError:
            return False
        return math.isfinite(args.timeout) and 0.001 <= args.timeout <= 1e9
    return bool(value)


def _usage(problem: UsageProblem) -> NoReturn:
    sys.stderr.write(
        "Usage: codex sandbox linux [OPTIONS] [COMMAND]...\n"
        "Try 'codex sandbox linux -h' for help.\n\n"
        f"Error: Invalid value for {problem.param}: {problem}\n"
    )
    sys.exit(2)


def try_linux(argv: Sequence[str]) -> bool:
    """Answer `codex sandbox linux ARGV` if well-formed (exits); False to defer to typer."""
    try:
        args = _parse(argv)
    except UnknownOption as unknown:
        sys.stderr.write(
            "Usage: codex sandbox linux [OPTIONS] [COMMAND]...\n"
            "Try 'codex sandbox linux -h' for help.\n\n"
            f"Error: No such option: {unknown} (put the command after `--` if it starts with -)\n"
        )
        sys.exit(2)
    if args is None:
        return False
    from codex_admin.errors import CodexError

    try:
        code = run_linux(args)
    except UsageProblem as problem:
        _usage(problem)
    except CodexError as err:
        sys.stdout.flush()
        if args.json_out:
            print_json(json_error(err))
        sys.stderr.write(f"error: {err}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.stdout.flush()
    sys.exit(code)
