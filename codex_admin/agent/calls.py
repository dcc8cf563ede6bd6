"""One tool call from the model and its result, as plain data (shared by the tools, the
lifecycle hooks and the turn loop).

Handlers never raise for problems the model should see (bad arguments, a refused command, a
failed patch): they return a :class:`ToolResult` whose text goes back to the model, as Codex does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["ToolArgumentError", "ToolCall", "ToolResult", "parse_arguments"]


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


def _no_constant(name: str) -> Any:
    raise ToolArgumentError(f"failed to parse function arguments: {name} is not JSON")


def _check_text(value: Any) -> None:
    """Refuse what strict JSON parsers (Codex's serde) refuse and what no program can take:
    lone surrogates (not encodable, they crashed the rollout and request encoders) and NUL
    (cannot be passed in an argv or a path)."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, str):
            if _UNENCODABLE.search(current):
                raise ToolArgumentError(
                    "failed to parse function arguments: a string holds a NUL or a lone surrogate"
                )
        elif isinstance(current, dict):
            pending += current.keys()
            pending += current.values()
        elif isinstance(current, list):
            pending += current


_UNENCODABLE = re.compile("[\x00\ud800-\udfff]")


def parse_arguments(call: ToolCall) -> dict[str, Any]:
    """A function call's JSON arguments as an object (ToolArgumentError otherwise): strict
    JSON, so no ``NaN``/``Infinity`` (``timeout_ms: Infinity`` crashed the turn)."""
    try:
        value = json.loads(call.arguments or "{}", parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise ToolArgumentError(f"failed to parse function arguments: {err}") from None
    except RecursionError:
        raise ToolArgumentError("failed to parse function arguments: nested too deeply") from None
    if not isinstance(value, dict):
        raise ToolArgumentError("failed to parse function arguments: expected a JSON object")
    _check_text(value)
    return value
