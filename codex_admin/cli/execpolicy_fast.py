"""Typer-free fast path for `codex execpolicy check` (it runs in every CI job and hook).

Importing typer/click costs about as much as the whole rest of `check`, so the dispatcher hands
well-formed `check` invocations here first. Only the unambiguous shapes are handled:
`[-r FILE | --rules FILE | --rules=FILE | --resolve-host-executables | --pretty]... [--] ARGV...`
with at least one rules file and a non-empty command. Anything else (help, a missing `-r`, a
missing command, an unknown option) returns False and the typer command answers it, so usage
errors still exit 2 with click's message. Load errors exit 1 via CodexError in both paths.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

__all__ = ["render_check", "try_check"]


def render_check(rules: Sequence[str], command: Sequence[str], resolve: bool, pretty: bool) -> str:
    """Load ``rules`` (raises CodexError) and render Codex's check JSON plus a newline."""
    from codex_admin.execpolicy.discovery import load_policy_files

    policy = load_policy_files(rules)
    data = policy.check(list(command), resolve_host_executables=resolve).to_check_json()
    if pretty:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n"


def _parse(args: Sequence[str]) -> tuple[list[str], list[str], bool, bool] | None:
    rules: list[str] = []
    resolve = pretty = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-r", "--rules"):
            if i + 1 >= len(args):
                return None
            rules.append(args[i + 1])
            i += 2
        elif arg.startswith("--rules="):
            rules.append(arg[len("--rules=") :])
            i += 1
        elif arg == "--resolve-host-executables":
            resolve = True
            i += 1
        elif arg == "--pretty":
            pretty = True
            i += 1
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-"):
            return None
        else:
            break
    command = list(args[i:])
    if not rules or not command or any(not r for r in rules):
        return None
    return rules, command, resolve, pretty


def try_check(args: Sequence[str]) -> bool:
    """Answer `codex execpolicy check ARGS` if well-formed; False to defer to typer."""
    parsed = _parse(args)
    if parsed is None:
        return False
    from codex_admin.errors import CodexError

    rules, command, resolve, pretty = parsed
    try:
        text = render_check(rules, command, resolve, pretty)
    except CodexError as err:
        sys.stderr.write(f"error: {err}\n")
        sys.exit(1)
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        sys.exit(1)
    return True
