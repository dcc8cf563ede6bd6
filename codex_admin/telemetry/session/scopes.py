"""The ``codex.turn`` and ``codex.tool_call`` spans, with the turn metrics they record.

Use them as context managers (:meth:`Telemetry.turn`, :meth:`Telemetry.tool_call`); events
emitted inside, in the same task or tasks it starts, become their span events. A turn counts its
tool calls and records ``codex.turn.*`` (end to end, time to first token and first message, token
usage) at exit; a tool call's span gets the sizes of its result (:meth:`Telemetry.tool_result`).
With telemetry off, :data:`NOOP_TURN` and :data:`NOOP_TOOL` stand in and do nothing.
"""

from __future__ import annotations

from types import TracebackType

from codex_admin.telemetry.model import AttributeValue, Sink, TokenUsage
from codex_admin.telemetry.names import Metric
from codex_admin.telemetry.session.content import flag
from codex_admin.telemetry.session.core import Scope, TelemetryCore, current_scope

__all__ = ["NOOP_TOOL", "NOOP_TURN", "ToolCallScope", "TurnScope"]


class TurnScope(Scope):
    """The open ``codex.turn`` span. Mark the first token / first message and add token usage."""

    __slots__ = ("_failed", "_model", "_tool_calls", "_ttfm", "_ttft", "_turn_id", "_usage")

    def __init__(
        self, telemetry: TelemetryCore | None, sink: Sink | None, turn_id: str, model: str | None
    ) -> None:
        super().__init__(telemetry, sink)
        self._turn_id = turn_id
        self._model = model
        self._tool_calls = 0
        self._ttft: float | None = None
        self._ttfm: float | None = None
        self._usage: TokenUsage | None = None
        self._failed = False

    def __enter__(self) -> TurnScope:
        self._open("codex.turn", {"turn.id": self._turn_id, "model": self._model})
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        telemetry, sink = self._telemetry, self._sink
        if telemetry is None or sink is None:
            return
        tags: dict[str, object] = {"success": exc_type is None and not self._failed}
        telemetry._duration(sink, Metric.TURN_E2E_DURATION, self.elapsed_ms(), tags)
        if self._ttft is not None:
            telemetry._duration(sink, Metric.TURN_TTFT_DURATION, self._ttft, {})
        if self._ttfm is not None:
            telemetry._duration(sink, Metric.TURN_TTFM_DURATION, self._ttfm, {})
        telemetry._count(sink, Metric.TURN_TOOL_CALL, {}, self._tool_calls)
        usage = self._usage
        if usage is not None:
            for token_type, count in usage.by_type().items():
                telemetry._count(sink, Metric.TURN_TOKEN_USAGE, {"token_type": token_type}, count)
        if self._span is not None:
            attributes: dict[str, AttributeValue] = {"tool_call_count": self._tool_calls}
            if usage is not None:
                attributes.update(
                    {
                        "gen_ai.usage.input_tokens": usage.input_tokens,
                        "gen_ai.usage.cache_read.input_tokens": usage.cached_input_tokens,
                        "gen_ai.usage.output_tokens": usage.output_tokens,
                        "codex.usage.reasoning_output_tokens": usage.reasoning_output_tokens,
                        "codex.usage.total_tokens": usage.total,
                    }
                )
            self._span.set_attributes(attributes)
        self._close()

    def failed(self) -> None:
        """The turn ended in failure without an exception (``success=false`` on its metrics)."""
        self._failed = True

    def first_token(self) -> None:
        """The first streamed token arrived (``codex.turn.ttft.duration_ms``)."""
        if self._sink is not None and self._ttft is None:
            self._ttft = self.elapsed_ms()

    def first_message(self) -> None:
        """The first complete assistant message arrived (``codex.turn.ttfm.duration_ms``)."""
        if self._sink is not None and self._ttfm is None:
            self._ttfm = self.elapsed_ms()

    def token_usage(self, usage: TokenUsage) -> None:
        """Add a response's usage; exported at turn end (``codex.turn.token_usage``)."""
        if self._sink is not None:
            self._usage = usage if self._usage is None else self._usage + usage


class ToolCallScope(Scope):
    """The open ``codex.tool_call`` span; :meth:`Telemetry.tool_result` fills in its sizes."""

    __slots__ = ("_call_id", "_mcp_server", "_tool_name")

    def __init__(
        self,
        telemetry: TelemetryCore | None,
        sink: Sink | None,
        tool_name: str,
        call_id: str,
        mcp_server: str | None,
    ) -> None:
        super().__init__(telemetry, sink)
        self._tool_name = tool_name
        self._call_id = call_id
        self._mcp_server = mcp_server

    def __enter__(self) -> ToolCallScope:
        parent = current_scope()
        if isinstance(parent, TurnScope) and parent._sink is self._sink:
            parent._tool_calls += 1
        self._open(
            "codex.tool_call",
            {
                "tool_name": self._tool_name,
                "call_id": self._call_id,
                "tool_origin": "mcp" if self._mcp_server else "builtin",
                "mcp_tool": bool(self._mcp_server),
            },
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sink is not None:
            if self._span is not None:
                self._span.set_attributes({"duration_ms": int(self.elapsed_ms())})
            self._close()

    def _finished(self, arguments_length: int, output_length: int, lines: int, ok: bool) -> None:
        if self._span is not None:
            self._span.set_attributes(
                {
                    "arguments_length": arguments_length,
                    "output_length": output_length,
                    "output_line_count": lines,
                    "success": flag(ok),
                }
            )


NOOP_TURN = TurnScope(None, None, "", None)
NOOP_TOOL = ToolCallScope(None, None, "", "", None)
