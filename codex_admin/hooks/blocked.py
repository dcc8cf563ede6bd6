""":class:`HookBlockedError` on its own, so the turn loop can catch it without loading the
engine, its outcomes or the runner (a session without hooks never does; start-up cost)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the annotation only; outcomes (which imports this module) builds runs
    from codex_admin.hooks.results import HookRun

__all__ = ["HookBlockedError"]


class HookBlockedError(Exception):
    """A hook blocked the action. ``reason`` goes back to the model (or the user)."""

    def __init__(self, reason: str, runs: tuple[HookRun, ...]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.runs = runs
