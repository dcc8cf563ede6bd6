"""The tool registry: what the model may call.

A tool is a spec (the Responses API JSON the model sees) plus an async handler taking a
:class:`~codex_admin.agent.calls.ToolCall` and returning a :class:`~codex_admin.agent.calls.
ToolResult`. Only a cancelled turn propagates out of a handler. The registry is open: MCP tools
register the same way later.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from codex_admin.agent.calls import ToolCall, ToolResult

if TYPE_CHECKING:
    from codex_admin.agent.turn_context import TurnContext

__all__ = ["Tool", "ToolRegistry"]


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
