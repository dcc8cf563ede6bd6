"""The tools the model may call: `shell`, `apply_patch`, `update_plan` (MCP tools later).

Each tool's definition (what the session registers and sends) is apart from its handling, which
loads with the tool's first call: ``shell_tool`` / ``shell`` (governed execution),
``patch_tool`` / ``patch`` (the patch engine), ``plan``. Names are resolved lazily (PEP 562)
so that registering the tools at start-up does not import what handles them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from codex_admin.agent.tools.base import Tool, ToolRegistry
    from codex_admin.agent.tools.plan import PlanTool
    from codex_admin.agent.tools.shell import parse_shell_call
    from codex_admin.agent.tools.shell_tool import ShellTool

_EXPORTS: dict[str, str] = {
    "PlanTool": "codex_admin.agent.tools.plan",
    "ShellTool": "codex_admin.agent.tools.shell_tool",
    "Tool": "codex_admin.agent.tools.base",
    "ToolRegistry": "codex_admin.agent.tools.base",
    "parse_shell_call": "codex_admin.agent.tools.shell",
}

__all__ = ["PlanTool", "ShellTool", "Tool", "ToolRegistry", "parse_shell_call"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
