"""The tool registry: what the model may call, and the shape of a call and its result.

A tool is a spec (the Responses API JSON the model sees) plus an async handler. Handlers never
raise for problems the model should see (bad arguments, a refused command, a failed patch): they
return a :class:`ToolResult` whose text goes back to the model, as Codex does. Only a cancelled
turn propagates. The registry is open: MCP tools register the same way later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from codex_admin.agent.turn_context import TurnContext

__all__ = ["Tool", "ToolArgumentError", "ToolCall", "ToolRegistry", "ToolResult", "parse_arguments"]


@dataclass(frozen=True)
class ToolCall:
    """One call from the model: ``kind`` is ``function`` (JSON ``arguments``), ``custom``
    (freeform ``input``) or ``local_shell`` (the hosted shell's ``action``)."""

    call_id: str
    name: str
    kind: str
    arguments: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ToolCall | None:
        """The call in a Responses output item, or None when the item is not a tool call."""
        kind = item.get("type")
        call_id = str(item.get("call_id") or item.get("id") or "")
        if kind == "function_call":
            return cls(
                call_id, str(item.get("name", "")), "function", str(item.get("arguments", ""))
            )
        if kind == "custom_tool_call":
            return cls(call_id, str(item.get("name", "")), "custom", str(item.get("input", "")))
        if kind == "local_shell_call":
            action = item.get("action") if isinstance(item.get("action"), dict) else {}
            return cls(call_id, "local_shell", "local_shell", json.dumps(action))
        return None


@dataclass(frozen=True)
class ToolResult:
    """What the model is told. ``success`` is for telemetry and hooks, not for the model."""

    output: str
    success: bool = True

    def history_item(self, call: ToolCall) -> dict[str, Any]:
        kind = "custom_tool_call_output" if call.kind == "custom" else "function_call_output"
        return {"type": kind, "call_id": call.call_id, "output": self.output}


class ToolArgumentError(Exception):
    """The model's arguments do not fit the tool; the message goes back to the model."""


def parse_arguments(call: ToolCall) -> dict[str, Any]:
    """A function call's JSON arguments as an object (ToolArgumentError otherwise)."""
    try:
        value = json.loads(call.arguments or "{}")
    except json.JSONDecodeError as err:
        raise ToolArgumentError(f"failed to parse function arguments: {err}") from None
    if not isinstance(value, dict):
        raise ToolArgumentError("failed to parse function arguments: expected a JSON object")
    return value


class Tool(Protocol):
    name: str
    # May run concurrently with other calls of the same response (read-only or isolated).
    parallel: bool

    def spec(self) -> dict[str, Any]: ...

    async def handle(self, call: ToolCall, ctx: TurnContext) -> ToolResult: ...


class ToolRegistry:
    """Tools by name, in the order their specs are sent."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def specs(self) -> list[dict[str, Any]]:
        return [tool.spec() for tool in self._tools.values()]

    def names(self) -> list[str]:
        return list(self._tools)
