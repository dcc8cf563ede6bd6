"""Typer-free fast path for `codex execpolicy check` (it runs in every CI job and hook).

Importing typer/click costs about as much as the whole rest of `check`, so the dispatcher hands
`check` invocations here first. The argument contract is the typer command's, parsed by hand:

    [OPTION]... [--] COMMAND...

Options (any order, before the command): `-r FILE`, `--rules FILE|=FILE`, `-rFILE`,
`--resolve-host-executables`, `--pretty`, `--json` (accepted: the output is always JSON), and
Codex's global `-c/--config KEY=VALUE`, `--enable FEATURE`, `--disable FEATURE` (accepted and
ignored: `check` reads only the `-r` files). The command starts at `--` or at the first token
that is not an option; everything after that belongs to the command, even `--pretty`. An
unknown option before the command is NOT taken as the command's first word (Codex does that,
and `check -r R --json git push` then silently answers "no match"): this path declines it, and
typer answers with a usage error (exit 2), as it does for help, a missing `-r` or a missing
command. Load errors exit 1 via CodexError in both paths.

Output is written as UTF-8 with ``backslashreplace``, so a command containing bytes that are not
UTF-8 (they arrive as lone surrogates) prints as JSON ``\\udcff`` escapes instead of crashing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["CheckArgs", "parse_check_args", "render_check", "try_check", "write_out"]

_IGNORED_WITH_VALUE = frozenset({"-c", "--config", "--enable", "--disable"})


@dataclass
class CheckArgs:
    rules: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    resolve: bool = False
    pretty: bool = False
    json: bool = False


def write_out(text: str) -> None:
    """Write to stdout as UTF-8; lone surrogates (non-UTF-8 argv bytes) become ``\\udcXX``."""
    stream = sys.stdout
    stream.flush()
    stream.buffer.write(text.encode("utf-8", "backslashreplace"))
    stream.buffer.flush()


def render_check(rules: Sequence[str], command: Sequence[str], resolve: bool, pretty: bool) -> str:
    """Load ``rules`` (raises CodexError) and render Codex's check JSON plus a newline."""
    from codex_admin.execpolicy.discovery import load_policy_files

    policy = load_policy_files(rules)
    data = policy.check(list(command), resolve_host_executables=resolve).to_check_json()
    if pretty:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n"


def parse_check_args(args: Sequence[str]) -> CheckArgs | None:
    """The parsed arguments, or None when typer must answer (help or a usage error)."""
    parsed = CheckArgs()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if arg in ("-r", "--rules") or arg in _IGNORED_WITH_VALUE:
            if i + 1 >= len(args):
                return None
            if arg in ("-r", "--rules"):
                parsed.rules.append(args[i + 1])
            i += 2
            continue
        name, eq, value = arg.partition("=")
        if eq and name in ("--rules", "--config", "--enable", "--disable"):
            if name == "--rules":
                parsed.rules.append(value)
        elif arg.startswith("-r") and not arg.startswith("--"):
            parsed.rules.append(arg[2:])
        elif arg.startswith("-c") and not arg.startswith("--"):
            pass  # -cKEY=VALUE
        elif arg == "--resolve-host-executables":
            parsed.resolve = True
        elif arg == "--pretty":
            parsed.pretty = True
        elif arg == "--json":
            parsed.json = True
        else:
            return None  # unknown option (or help): typer reports it, exit 2
        i += 1
    parsed.command = list(args[i:])
    if not parsed.rules or not parsed.command or any(not r for r in parsed.rules):
        return None
    return parsed


def try_check(args: Sequence[str]) -> bool:
    """Answer `codex execpolicy check ARGS` if well-formed; False to defer to typer."""
    parsed = parse_check_args(args)
    if parsed is None:
        return False
    from codex_admin.errors import CodexError

    try:
        text = render_check(parsed.rules, parsed.command, parsed.resolve, parsed.pretty)
    except CodexError as err:
        if parsed.json:  # the JSON error object, as every command prints it under --json
            write_out(json.dumps({"error": err.to_json()}, separators=(",", ":")) + "\n")
        sys.stderr.write(f"error: {err}\n")
        sys.exit(1)
    try:
        write_out(text)
    except BrokenPipeError:
        sys.exit(1)
    return True
