"""`update_plan`: the model's todo list, shown as a `todo_list` item (spec runtime §4).

The first update starts the item, later ones update it, and the turn completes it. At most one
step may be ``in_progress``; bad input is reported to the model, not raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codex_admin.agent.calls import ToolArgumentError, ToolCall, ToolResult, parse_arguments

if TYPE_CHECKING:
    from codex_admin.agent.items import TodoEntry
    from codex_admin.agent.turn_context import TurnContext

__all__ = ["PlanTool"]

_STATUSES = ("pending", "in_progress", "completed")

_SPEC: dict[str, Any] = {
    "type": "function",
    "name": "update_plan",
    "description": (
        "Updates the task plan. Provide an optional explanation and a list of plan items, "
        "each with a step and status. At most one step can be in_progress at a time."
    ),
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "explanation": {"type": "string"},
            "plan": {
                "type": "array",
                "description": "The list of steps",
                "items": {
                    "type": "object",
                    "properties": {
                        "step": {"type": "string"},
                        "status": {
                            "type": "string",
                            "description": "One of: pending, in_progress, completed",
                        },
                    },
                    "required": ["step", "status"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["plan"],
        "additionalProperties": False,
    },
}


def parse_plan(arguments: dict[str, Any]) -> list[TodoEntry]:
    # Here, not at the top: the tool is registered at start-up, and its entries are items,
    # which load with the first plan (start-up).
    from codex_admin.agent.items import TodoEntry

    plan = arguments.get("plan")
    if not isinstance(plan, list):
        raise ToolArgumentError("failed to parse function arguments: `plan` must be an array")
    entries: list[TodoEntry] = []
    in_progress = 0
    for step in plan:
        if not isinstance(step, dict) or not isinstance(step.get("step"), str):
            raise ToolArgumentError("each plan item needs a `step` string and a `status`")
        status = step.get("status")
        if status not in _STATUSES:
            raise ToolArgumentError(f"plan status must be one of {', '.join(_STATUSES)}")
        in_progress += status == "in_progress"
        entries.append(TodoEntry(step["step"], status == "completed"))
    if in_progress > 1:
        raise ToolArgumentError("at most one plan step can be in_progress")
    return entries


class PlanTool:
    name = "update_plan"
    parallel = False

    def spec(self) -> dict[str, Any]:
        return _SPEC

    async def handle(self, call: ToolCall, ctx: TurnContext) -> ToolResult:
        try:
            entries = parse_plan(parse_arguments(call))
        except ToolArgumentError as err:
            return ToolResult(str(err), success=False)
        ctx.update_plan(entries)
        return ToolResult("Plan updated")
