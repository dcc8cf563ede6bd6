#!/usr/bin/env python3
"""PostToolUse + Stop hook: do not let a turn end with edited files and no test run.

* PostToolUse on an edit (`apply_patch`, or Claude Code's `Write` / `Edit` / `MultiEdit`):
  remember that this session edited files.
* PostToolUse on `Bash` running a test command that succeeded (or whose result carries no exit
  code): forget it again.
* Stop: when edits are pending and this is not already a hook-driven continuation
  (`stop_hook_active`), answer `{"decision": "block", "reason": ...}` so the agent continues the
  turn and runs the tests. On the re-entry the hook lets the turn end, so it cannot loop.

State: one marker file per session under `$CODEX_HOOKS_STATE_DIR` (default
`${XDG_STATE_HOME:-~/.local/state}/codex-hooks/tests-pending`), created 0700. Test commands:
`$CODEX_TEST_COMMAND_REGEX` (default: common runners such as pytest, npm test, go test, cargo
test, make test).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

EDIT_TOOLS = {"apply_patch", "Write", "Edit", "MultiEdit", "NotebookEdit"}
DEFAULT_TESTS = (
    r"(^|[\s;&|(])("
    r"pytest|py\.test|python3? -m (pytest|unittest)|tox|nox|"
    r"(npm|yarn|pnpm|bun)( run)? test|go test|cargo (test|nextest)|"
    r"make (test|check)|mvn (-\S+ )*test|\./gradlew test|gradle test|ctest|rspec|phpunit"
    r")\b"
)
REASON = (
    "Files were edited in this session but no test run has succeeded since. Run the project's"
    " tests now, fix any failures, and only then finish."
)


def state_dir() -> Path:
    configured = os.environ.get("CODEX_HOOKS_STATE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "codex-hooks" / "tests-pending"


def marker(session_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", session_id)[:128] or "unknown"
    return state_dir() / safe


def main() -> int:
    event = json.load(sys.stdin)
    name = event.get("hook_event_name")
    path = marker(str(event.get("session_id", "")))
    if name == "PostToolUse":
        tool = event.get("tool_name")
        if tool in EDIT_TOOLS:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.touch()
        elif tool == "Bash":
            command = str((event.get("tool_input") or {}).get("command", ""))
            response = event.get("tool_response")
            code = response.get("exit_code") if isinstance(response, dict) else None
            pattern = os.environ.get("CODEX_TEST_COMMAND_REGEX") or DEFAULT_TESTS
            if re.search(pattern, command) and code in (None, 0):
                path.unlink(missing_ok=True)
        return 0
    if name == "Stop":
        if event.get("stop_hook_active") or not path.exists():
            return 0
        print(json.dumps({"decision": "block", "reason": REASON}))
        return 0
    if name == "SessionEnd":
        path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
