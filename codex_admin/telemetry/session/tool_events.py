"""Emitters of one tool call's life: the rules' verdict, who decided, the sandbox, the result.

``codex.execpolicy.decision`` (the command is content: logs only), ``codex.tool_decision``
(logs only, as in Codex), ``codex.sandbox_outcome`` and ``codex.tool_result`` (arguments and
output on logs, their sizes on traces and on the open tool-call span).
"""

from __future__ import annotations

from collections.abc import Sequence

from codex_admin.telemetry.model import DecisionSource, ToolDecision
from codex_admin.telemetry.names import Event, Metric
from codex_admin.telemetry.session.content import flag, line_count, shell_join
from codex_admin.telemetry.session.core import TelemetryCore, current_scope
from codex_admin.telemetry.session.scopes import ToolCallScope

__all__ = ["ToolEvents"]


class ToolEvents(TelemetryCore):
    """The tool-call emitters of :class:`Telemetry`."""

    __slots__ = ()

    def tool_decision(
        self,
        *,
        tool_name: str,
        call_id: str,
        decision: ToolDecision | str,
        source: DecisionSource | str,
    ) -> None:
        """``codex.tool_decision`` (logs only): who allowed or refused a tool call."""
        sink = self._sink
        if sink is None:
            return
        attributes = {
            "tool_name": tool_name,
            "call_id": call_id,
            "decision": decision,
            "source": source,
        }
        self._event(sink, Event.TOOL_DECISION, attributes, None)

    def tool_result(
        self,
        *,
        tool_name: str,
        call_id: str,
        arguments: str,
        output: str,
        duration_ms: float,
        success: bool,
        mcp_server: str | None = None,
        mcp_server_origin: str | None = None,
    ) -> None:
        """``codex.tool_result``: arguments and output on logs; their sizes on traces."""
        sink = self._sink
        if sink is None:
            return
        is_mcp = bool(mcp_server)
        self._event(
            sink,
            Event.TOOL_RESULT,
            {
                "tool_name": tool_name,
                "call_id": call_id,
                "arguments": self._content(arguments),
                "duration_ms": int(duration_ms),
                "success": flag(success),
                "output": self._content(output),
                "mcp_server": mcp_server or "",
                "mcp_server_origin": mcp_server_origin or "",
            },
            {
                "tool_name": tool_name,
                "call_id": call_id,
                "duration_ms": int(duration_ms),
                "success": flag(success),
                "arguments_length": len(arguments),
                "output_length": len(output),
                "output_line_count": line_count(output),
                "tool_origin": "mcp" if is_mcp else "builtin",
                "mcp_tool": is_mcp,
            },
        )
        tags = {"tool": tool_name, "success": success}
        self._count(sink, Metric.TOOL_CALL, tags)
        self._duration(sink, Metric.TOOL_CALL_DURATION, duration_ms, tags)
        scope = current_scope()
        if isinstance(scope, ToolCallScope) and scope._sink is sink:
            scope._finished(len(arguments), len(output), line_count(output), success)

    def sandbox_outcome(
        self,
        *,
        tool_name: str,
        call_id: str,
        outcome: str,
        initial_duration_ms: float,
        escalated_duration_ms: float | None = None,
        sandbox: str | None = None,
    ) -> None:
        """``codex.sandbox_outcome``: how the sandboxed run ended (e.g. ``success``,
        ``sandbox_denied``, ``timeout``, ``escalated``)."""
        sink = self._sink
        if sink is None:
            return
        attributes = {
            "tool_name": tool_name,
            "call_id": call_id,
            "outcome": outcome,
            "initial_duration_ms": int(initial_duration_ms),
            "escalated_duration_ms": (
                int(escalated_duration_ms) if escalated_duration_ms is not None else None
            ),
            "sandbox": sandbox,
        }
        self._event(sink, Event.SANDBOX_OUTCOME, attributes, attributes)
        self._count(sink, Metric.SANDBOX_OUTCOME, {"outcome": outcome, "sandbox": sandbox})

    def execpolicy_decision(
        self,
        *,
        call_id: str,
        command: Sequence[str] | str,
        decision: str,
        source: str,
        matched_rules: Sequence[str] = (),
        justification: str | None = None,
        tool_name: str = "shell",
    ) -> None:
        """``codex.execpolicy.decision``: what the command rules said (``allow`` | ``prompt`` |
        ``forbidden``) and why (``source``: ``rule`` | ``heuristics`` | ``requirements`` ...).

        The command text is content: logs only. Traces get the decision and sizes.
        """
        sink = self._sink
        if sink is None:
            return
        text = command if isinstance(command, str) else shell_join(command)
        words = 1 if isinstance(command, str) else len(command)
        self._event(
            sink,
            Event.EXECPOLICY_DECISION,
            {
                "tool_name": tool_name,
                "call_id": call_id,
                "command": self._content(text),
                "decision": decision,
                "source": source,
                "matched_rules": "; ".join(matched_rules),
                "justification": justification,
            },
            {
                "tool_name": tool_name,
                "call_id": call_id,
                "decision": decision,
                "source": source,
                "command_length": len(text),
                "argv_count": words,
                "matched_rule_count": len(matched_rules),
            },
        )
        self._count(sink, Metric.EXECPOLICY_DECISION, {"decision": decision, "source": source})
