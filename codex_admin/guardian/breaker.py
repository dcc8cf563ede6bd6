"""The circuit breaker: an agent that keeps hitting denials has its turn interrupted.

Per turn (spec guardian_otel_hooks §1.7, v3): trip after :data:`CONSECUTIVE_DENIALS` denials in
a row, or :data:`WINDOW_DENIALS` denials among the last :data:`WINDOW` reviews. Only real
denials count -- by the deterministic tier or the model; failures that fail closed (API, parse,
prompt errors, offline), timeouts and aborted reviews do not, as in Codex: an unreachable model
must not look like a misbehaving agent. Once tripped, a turn stays tripped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["CONSECUTIVE_DENIALS", "WINDOW", "WINDOW_DENIALS", "CircuitBreaker"]

CONSECUTIVE_DENIALS = 3
WINDOW = 50
WINDOW_DENIALS = 10


@dataclass
class _Turn:
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=WINDOW))
    consecutive: int = 0
    tripped: bool = False


class CircuitBreaker:
    def __init__(
        self,
        consecutive: int = CONSECUTIVE_DENIALS,
        window: int = WINDOW,
        window_denials: int = WINDOW_DENIALS,
    ) -> None:
        self.consecutive = consecutive
        self.window = window
        self.window_denials = window_denials
        self._turns: dict[str, _Turn] = {}

    def record(self, turn_id: str | None, *, denied: bool) -> bool:
        """Count one review's result; True when the turn must be interrupted (now or before)."""
        turn = self._turns.setdefault(turn_id or "", _Turn(deque(maxlen=self.window)))
        turn.recent.append(denied)
        turn.consecutive = turn.consecutive + 1 if denied else 0
        if turn.consecutive >= self.consecutive or sum(turn.recent) >= self.window_denials:
            turn.tripped = True
        return turn.tripped

    def tripped(self, turn_id: str | None) -> bool:
        turn = self._turns.get(turn_id or "")
        return bool(turn and turn.tripped)

    def reason(self, turn_id: str | None) -> str:
        turn = self._turns.get(turn_id or "")
        if turn is None:
            return ""
        if turn.consecutive >= self.consecutive:
            return f"{turn.consecutive} consecutive denials"
        return f"{sum(turn.recent)} denials among the last {len(turn.recent)} reviews"
