"""The `shell` tool as the session registers it: its definition, and the hand-off to
:func:`~.shell.run_shell_call` (which, with governed execution -- rules, approvals, the sandbox
runner -- behind it, is imported by the first shell call: a session that never runs a command
never loads it -- start-up cost)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codex_admin.agent.calls import ToolCall, ToolResult

if TYPE_CHECKING:
    from codex_admin.agent.tools.shell import HeredocFinder, PatchRunner
    from codex_admin.agent.turn_context import TurnContext

__all__ = ["ShellTool"]

_SPEC: dict[str, Any] = {
    "type": "function",
    "name": "shell",
    "description": "Runs a shell command and returns its output.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "command": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The command to execute",
            },
            "workdir": {
                "type": "string",
                "description": "The working directory to execute the command in",
            },
            "timeout_ms": {
                "type": "number",
                "description": "The timeout for the command in milliseconds",
            },
            "sandbox_permissions": {
                "type": "string",
                "description": (
                    'Sandbox permissions for the command. Set to "require_escalated" to request '
                    'running without sandbox restrictions; defaults to "use_default".'
                ),
            },
            "justification": {
                "type": "string",
                "description": (
                    'Only set if sandbox_permissions is "require_escalated". One sentence '
                    "explaining why the command needs to run outside the sandbox."
                ),
            },
            "prefix_rule": {
                "type": "array",
                "items": {"type": "string"},
                "description": (
                    'Only with sandbox_permissions "require_escalated": a command prefix the '
                    'user could approve for future runs, e.g. ["npm", "test"].'
                ),
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    },
}


class ShellTool:
    """``shell``; intercepted heredoc patches go to ``run_patch``."""

    name = "shell"
    parallel = True

    def __init__(self, find_heredoc: HeredocFinder, run_patch: PatchRunner) -> None:
        self._find_heredoc = find_heredoc
        self._run_patch = run_patch

    def spec(self) -> dict[str, Any]:
        return _SPEC

    async def handle(self, call: ToolCall, ctx: TurnContext) -> ToolResult:
        # Deferred: governed execution loads with the first shell call (start-up cost).
        from codex_admin.agent.tools.shell import run_shell_call

        return await run_shell_call(call, ctx, self._find_heredoc, self._run_patch)
