"""The `apply_patch` tool as the session registers it: its definition, and the hand-off to
:func:`~.patch.apply_patch_governed` (which, with the patch engine behind it, is imported by
the first patch: a session that never patches never loads it -- start-up cost)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codex_admin.agent.calls import ToolArgumentError, ToolCall, ToolResult, parse_arguments
from codex_admin.apply_patch import PatchError, patch_from_function_arguments, tool_spec

if TYPE_CHECKING:
    from codex_admin.agent.turn_context import TurnContext

__all__ = ["PatchTool"]


class PatchTool:
    """``apply_patch`` as a freeform (custom) tool or a function tool with ``input``."""

    name = "apply_patch"
    parallel = False

    def __init__(self, kind: str = "freeform") -> None:
        self.kind = kind

    def spec(self) -> dict[str, Any]:
        return tool_spec(self.kind)

    async def handle(self, call: ToolCall, ctx: TurnContext) -> ToolResult:
        if call.kind == "custom":
            text = call.arguments
        else:
            try:
                parse_arguments(call)  # strict JSON: no NUL, lone surrogate or NaN inside
                text = patch_from_function_arguments(call.arguments)
            except (ToolArgumentError, PatchError) as err:
                return ToolResult(str(err), success=False)
        # Deferred: the patch engine loads with the first patch (start-up cost).
        from codex_admin.agent.tools.patch import apply_patch_governed

        return await apply_patch_governed(ctx, text, ctx.cwd)
