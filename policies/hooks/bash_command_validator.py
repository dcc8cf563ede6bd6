#!/usr/bin/env python3
"""PreToolUse hook: refuse destructive shell commands before they run.

Works unchanged in Claude Code and in Codex: it reads the hook event as JSON on stdin, looks at
`tool_input.command` when `tool_name` is `Bash`, and for a dangerous command prints the reasons
on stderr and exits 2 -- the blocking exit code, whose stderr is returned to the model. Any other
tool, or a harmless command, exits 0 with no output (no opinion).

Configure it with matcher `Bash`. Add your own rules to RULES: (regex, reason), searched in the
whole command line, so `cd /tmp && rm -rf ~` is caught too.
"""

from __future__ import annotations

import json
import re
import sys

RULES: list[tuple[str, str]] = [
    (
        r"\brm\s+(-[a-zA-Z]*\s+)*-[a-zA-Z]*[rR][a-zA-Z]*\s+(-[a-zA-Z]+\s+)*"
        r"(--no-preserve-root\s+)?(/|/\*|~/?|\$HOME/?|\$\{HOME\}/?|\.\.?/?)(\s|$|;|&|\|)",
        "recursive delete of /, the home directory or the working tree",
    ),
    (r"\brm\s+.*--no-preserve-root", "rm --no-preserve-root"),
    (
        r"\bgit\s+push\s+.*(--force\b|-f\b|--force-with-lease\b).*\b(main|master)\b",
        "force-push to main/master",
    ),
    (r"\bgit\s+push\s+.*\+(main|master)\b", "force-push to main/master"),
    (
        r"\bgit\s+reset\s+--hard\s+(origin/)?(main|master)\b.*&&\s*git\s+push",
        "rewriting a shared branch",
    ),
    (r"\bmkfs(\.\w+)?\b", "formatting a filesystem"),
    (r"\bdd\s+.*\bof=/dev/(sd|nvme|hd|disk|mmcblk)", "writing a raw disk with dd"),
    (r"\bchmod\s+(-[a-zA-Z]*R[a-zA-Z]*\s+)?0?777\s+/(\s|$)", "chmod 777 on /"),
    (r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:", "fork bomb"),
    (r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da)?sh\b", "piping a download into a shell"),
]


def problems(command: str) -> list[str]:
    return [reason for pattern, reason in RULES if re.search(pattern, command)]


def main() -> int:
    try:
        event = json.load(sys.stdin)
    except json.JSONDecodeError as err:
        print(f"bash_command_validator: invalid hook input: {err}", file=sys.stderr)
        return 1  # a non-blocking error: the tool call proceeds, the user sees a warning
    if event.get("tool_name") != "Bash":
        return 0
    command = (event.get("tool_input") or {}).get("command")
    if not isinstance(command, str):
        return 0
    found = problems(command)
    if not found:
        return 0
    for reason in found:
        print(f"Blocked by policy: {reason}.", file=sys.stderr)
    print("Do not retry this command in another form; ask the user instead.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
