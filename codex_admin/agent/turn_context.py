"""Per-session services and per-turn state that tool handlers work with.

:class:`SessionServices` are shared by every turn of a thread: the governance of the working
directory, the one sandbox session (and its lazily started proxy), the reviewer, the commands
approved for the session, the event sink and the session's telemetry (``observe``).
:class:`TurnContext` adds the turn's id and keeps the items it opened, so the turn can guarantee
that every ``item.started`` gets exactly one terminal ``item.completed`` -- even when the turn
fails or is interrupted.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_admin.agent.events import Event
from codex_admin.agent.lifecycle import SessionHooks
from codex_admin.agent.observability import SessionObservability, TurnObservation
from codex_admin.agent.reviewers import Reviewer
from codex_admin.vocabulary import ApprovalPolicy, SandboxMode

if TYPE_CHECKING:
    # The items load with the first one a turn makes (start-up, see .items): annotations here.
    from codex_admin.agent.items import Item, TodoEntry, TodoListItem
    from codex_admin.governance import Governance
    from codex_admin.sandbox import SandboxSession

__all__ = ["SessionServices", "TurnContext"]


@dataclass
class SessionServices:
    """What every turn of a session shares: governance, sandbox, reviewer, hooks, telemetry."""

    thread_id: str
    governance: Governance
    sandbox: SandboxSession
    reviewer: Reviewer
    emit: Callable[[Event], None]
    freeform_apply_patch: bool = True
    # what commands' environments are built from (None: this process's); bootstrap leaves the
    # session's own model credentials out
    environ: Mapping[str, str] | None = None
    hooks: SessionHooks = field(default_factory=lambda: SessionHooks(None, lambda _: None))
    observe: SessionObservability = field(default_factory=SessionObservability.off)
    approved_commands: set[tuple[str, ...]] = field(default_factory=set)
    # argv of the commands running right now (the trigger of a proxy allow-list miss)
    running: list[tuple[str, ...]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def next_item_id(self) -> str:
        return f"item_{next(self._ids)}"


class TurnContext:
    """One turn's view of the session: emit item events, open/close items, ask reviewers."""

    def __init__(
        self,
        services: SessionServices,
        turn_id: str,
        history: Sequence[dict[str, Any]],
        observation: TurnObservation | None = None,
    ) -> None:
        self.services = services
        self.turn_id = turn_id
        self.history = history
        self.observation = observation or TurnObservation.off()
        self._open: dict[str, Item] = {}
        self._closed: set[str] = set()
        self._plan: TodoListItem | None = None

    # ------------------------------------------------------------------------ plain settings

    @property
    def governance(self) -> Governance:
        return self.services.governance

    @property
    def cwd(self) -> Path:
        return self.services.governance.cwd

    @property
    def approval_policy(self) -> ApprovalPolicy:
        return self.services.governance.approval_policy

    @property
    def sandbox_mode(self) -> SandboxMode:
        return self.services.governance.sandbox_mode

    # ---------------------------------------------------------------------------- item events

    def new_id(self) -> str:
        return self.services.next_item_id()

    def start(self, item: Item) -> None:
        self._open[item.id] = item
        self.services.emit(item.started(self.turn_id))

    def update(self, item: Item) -> None:
        self.services.emit(item.updated(self.turn_id))

    def complete(self, item: Item) -> None:
        """Emit the one terminal event of ``item`` (a second call is ignored)."""
        if item.id in self._closed:
            return
        self._open.pop(item.id, None)
        self._closed.add(item.id)
        self.services.emit(item.completed(self.turn_id))

    def warn(self, message: str) -> None:
        """A non-fatal problem, as an ``error`` item (CI logs show it)."""
        # Here, not at the top: the items load with the first one (start-up); a warning is
        # often that first one (a retry before the response).
        from codex_admin.agent.items import ErrorItem

        self.complete(ErrorItem(self.new_id(), message=message))

    def update_plan(self, entries: list[TodoEntry]) -> None:
        # Here, not at the top: the items load with the first one (start-up); the plan tool
        # has loaded them for its entries, so this is a lookup.
        from codex_admin.agent.items import TodoListItem

        if self._plan is None:
            self._plan = TodoListItem(self.new_id(), items=entries)
            self.start(self._plan)
        else:
            self._plan.items = entries
            self.update(self._plan)

    def finish(self) -> None:
        """Close every item still open: commands and patches abandoned mid-run are ``failed``
        (never ``completed``); the plan completes with its last state."""
        for item in list(self._open.values()):
            item.abandon()
            self.complete(item)
        self._plan = None
