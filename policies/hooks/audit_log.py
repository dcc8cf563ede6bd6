#!/usr/bin/env python3
"""Audit hook for every event: append one JSON line per event to a private log file.

Never blocks and never prints to stdout (stdout would become model context for some events).
Records the event, session, turn, cwd, tool name and -- for `Bash` -- the command (first 4096
characters). Prompts and tool output are not logged: only their length, unless
`CODEX_HOOK_AUDIT_PROMPTS=1`.

Log file: `$CODEX_HOOK_AUDIT_LOG` (default `${XDG_STATE_HOME:-~/.local/state}/codex-hooks/
audit.jsonl`). It is opened append-only, never through a symlink, and created 0600. Ship the
file with your log collector; rotate it with `copytruncate`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

LIMIT = 4096


def log_path() -> Path:
    configured = os.environ.get("CODEX_HOOK_AUDIT_LOG")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "codex-hooks" / "audit.jsonl"


def record(event: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "event": event.get("hook_event_name"),
        "session_id": event.get("session_id"),
        "turn_id": event.get("turn_id"),
        "cwd": event.get("cwd"),
        "user": os.environ.get("USER") or os.environ.get("LOGNAME"),
    }
    for key in ("tool_name", "tool_use_id", "source", "trigger", "reason", "stop_hook_active"):
        if key in event:
            out[key] = event[key]
    tool_input = event.get("tool_input")
    if event.get("tool_name") == "Bash" and isinstance(tool_input, dict):
        out["command"] = str(tool_input.get("command", ""))[:LIMIT]
    if isinstance(event.get("prompt"), str):
        prompt = str(event["prompt"])
        out["prompt_chars"] = len(prompt)
        if os.environ.get("CODEX_HOOK_AUDIT_PROMPTS") == "1":
            out["prompt"] = prompt[:LIMIT]
    response = event.get("tool_response")
    if isinstance(response, dict) and "exit_code" in response:
        out["exit_code"] = response["exit_code"]
    return out


def main() -> int:
    try:
        event = json.load(sys.stdin)
    except json.JSONDecodeError as err:
        print(f"audit_log: invalid hook input: {err}", file=sys.stderr)
        return 1
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        os.write(fd, (json.dumps(record(event), ensure_ascii=False) + "\n").encode("utf-8"))
    finally:
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
