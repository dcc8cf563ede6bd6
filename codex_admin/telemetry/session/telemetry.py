"""The per-session telemetry object: its emitter families, state, spans and lifecycle.

:class:`Telemetry` is the emitter families (:mod:`.model_events`, :mod:`.tool_events`,
:mod:`.governance_events`) over the shared routing of :mod:`.core`, plus what a session asks of
it as a whole: which signals are on, its warnings, metadata updates, secrets to redact, the
turn and tool-call spans, and a bounded flush and shutdown.
"""

from __future__ import annotations

import time
from dataclasses import replace

from codex_admin.telemetry.model import SessionMeta, ShutdownReport
from codex_admin.telemetry.session.governance_events import GovernanceEvents
from codex_admin.telemetry.session.model_events import ModelEvents
from codex_admin.telemetry.session.scopes import NOOP_TOOL, NOOP_TURN, ToolCallScope, TurnScope
from codex_admin.telemetry.session.tool_events import ToolEvents
from codex_admin.telemetry.settings import OtelSettings

__all__ = ["Telemetry"]


class Telemetry(ModelEvents, ToolEvents, GovernanceEvents):
    """One session's telemetry. Build it with :func:`codex_admin.telemetry.start_telemetry`.

    All emitters are keyword-only, never raise for bad values, and cost one attribute test when
    the session exports nothing (:meth:`disabled`).
    """

    __slots__ = ()

    @classmethod
    def disabled(cls, originator: str = "codex_cli_rs", version: str = "") -> Telemetry:
        """A session that exports nothing (no `[otel]` exporter configured)."""
        return cls(None, settings=OtelSettings(), originator=originator, version=version)

    # -- state -------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """True when at least one signal is exported."""
        return self._sink is not None

    @property
    def signals(self) -> frozenset[str]:
        """The exported signals: a subset of {"logs", "traces", "metrics"}."""
        sink = self._sink
        if sink is None:
            return frozenset()
        flags = (("logs", sink.logs), ("traces", sink.traces), ("metrics", sink.metrics))
        return frozenset(name for name, on in flags if on)

    @property
    def settings(self) -> OtelSettings:
        return self._settings

    @property
    def meta(self) -> SessionMeta:
        return self._meta

    @property
    def warnings(self) -> list[str]:
        """Set-up and export problems so far (export failures never raise)."""
        if self._sink is not None:
            for warning in self._sink.take_warnings():
                if warning not in self._warnings:
                    self._warnings.append(warning)
        return list(self._warnings)

    def update_meta(self, **changes: str) -> None:
        """Change session metadata (e.g. ``model=...`` once known, ``conversation_id=...``)."""
        self._meta = replace(self._meta, **changes)
        self._refresh_common()

    def register_secret(self, secret: str) -> None:
        """Never export ``secret`` anywhere (API keys, proxy passwords; 8+ characters)."""
        self._redact.add(secret)

    # -- spans -------------------------------------------------------------------------------

    def turn(self, turn_id: str, *, model: str | None = None) -> TurnScope:
        """A ``codex.turn`` span around one turn; records the ``codex.turn.*`` metrics at exit.

        Use as ``with telemetry.turn(turn_id) as turn:``; events emitted inside (in the same task
        or tasks it starts) become span events of the turn.
        """
        if self._sink is None:
            return NOOP_TURN
        return TurnScope(self, self._sink, turn_id, model)

    def tool_call(
        self, tool_name: str, call_id: str, *, mcp_server: str | None = None
    ) -> ToolCallScope:
        """A ``codex.tool_call`` span around one tool call (sizes and counts only)."""
        if self._sink is None:
            return NOOP_TOOL
        return ToolCallScope(self, self._sink, tool_name, call_id, mcp_server)

    # -- lifecycle ---------------------------------------------------------------------------

    def force_flush(self, timeout: float = 2.0) -> bool:
        """Export what is queued now; blocks the calling thread at most ``timeout`` seconds."""
        sink = self._sink
        return True if sink is None or self._stopped else sink.force_flush(timeout)

    def shutdown(self, timeout: float | None = None) -> ShutdownReport:
        """Flush and stop, within ``timeout`` seconds (default: the session's flush bound).

        Idempotent. Never raises for export problems: they are in the report's warnings. Call it
        from a worker thread (``await asyncio.to_thread(telemetry.shutdown)``) inside an event
        loop; it is also run at interpreter exit if forgotten.
        """
        start = time.monotonic()
        sink = self._sink
        if sink is None or self._stopped:
            return ShutdownReport(True, 0.0, tuple(self.warnings))
        self._stopped = True
        bound = sink.flush_timeout if timeout is None else timeout
        flushed = sink.shutdown(bound)
        return ShutdownReport(flushed, time.monotonic() - start, tuple(self.warnings))
