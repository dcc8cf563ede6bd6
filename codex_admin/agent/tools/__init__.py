"""The tools the model may call: `shell`, `apply_patch`, `update_plan` (MCP tools later)."""

from codex_admin.agent.tools.base import Tool, ToolRegistry
from codex_admin.agent.tools.plan import PlanTool
from codex_admin.agent.tools.shell import ShellTool, parse_shell_call

__all__ = ["PlanTool", "ShellTool", "Tool", "ToolRegistry", "parse_shell_call"]
