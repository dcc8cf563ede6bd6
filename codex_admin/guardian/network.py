"""Network access reviews: the decision the managed proxy asks for on an allow-list miss.

Who may be reviewed (explicit in the API, enforced again here):

* only an **allow-list miss** (``blocked_by="not_allowed"``, the proxy's reason) is reviewable;
* a host on a deny list (``denied``), a managed deny (``managed_denied``) or a local/private
  address the policy blocks (``not_allowed_local``) is **never** reviewable: :meth:`decide`
  refuses it at once, without a review or an event, and remembers nothing.

Session memory: an approved ``(host, port)`` is allowed for the rest of the session; a denied
host stays blocked for the rest of the session on every port (a denial is not re-litigated by
connecting again). A review that failed -- closed (unreachable, malformed verdict, timed out,
aborted: ``source="fail_closed"``) or open (``source="fail_open"``) -- is remembered neither
way: nobody judged the host, so the next connection is reviewed again (the guardian's circuit
breaker keeps a dead reviewer cheap). Concurrent misses for the same host share one review.

:meth:`NetworkGate.decider` adapts this to the proxy's decider signature
``(host, port, protocol) -> (decision, reason)``; ``context()`` supplies what only the agent
knows at that moment (the triggering command, the transcript, the turn).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from codex_admin.guardian.hosts import normalize_host
from codex_admin.guardian.request import NetworkAction, ReviewRequest, TranscriptEntry
from codex_admin.guardian.reviewer import Guardian
from codex_admin.guardian.verdict import DecidedBy, ReviewStatus, Verdict
from codex_admin.vocabulary import SandboxMode

__all__ = ["NOT_REVIEWABLE", "REVIEWABLE", "NetworkContext", "NetworkDecision", "NetworkGate"]

REVIEWABLE = frozenset({"not_allowed"})
NOT_REVIEWABLE = frozenset({"denied", "managed_denied", "not_allowed_local"})


@dataclass(frozen=True)
class NetworkContext:
    """What the agent knows when the proxy asks: who connected, in which turn."""

    trigger: tuple[str, ...] | None = None
    possible_triggers: tuple[tuple[str, ...], ...] = ()
    transcript: tuple[TranscriptEntry, ...] = ()
    thread_id: str | None = None
    turn_id: str | None = None
    sandbox_mode: SandboxMode = SandboxMode.WORKSPACE_WRITE


@dataclass(frozen=True)
class NetworkDecision:
    allowed: bool
    reason: str
    source: str  # review | fail_open | fail_closed | session_allow | session_deny | not_reviewable
    verdict: Verdict | None = None

    @property
    def judged(self) -> bool:
        """A rule, a reviewer or the policy decided (a failed review did not: not remembered)."""
        return self.source not in ("fail_open", "fail_closed")


class NetworkGate:
    """Per-session network decisions over one :class:`Guardian` (see the module docstring)."""

    def __init__(self, guardian: Guardian) -> None:
        self.guardian = guardian
        self._allowed: set[tuple[str, int]] = set()
        self._denied: set[str] = set()
        self._pending: dict[tuple[str, int], asyncio.Future[NetworkDecision]] = {}

    @property
    def approved_hosts(self) -> frozenset[tuple[str, int]]:
        return frozenset(self._allowed)

    @property
    def denied_hosts(self) -> frozenset[str]:
        return frozenset(self._denied)

    async def decide(
        self,
        host: str,
        port: int,
        protocol: str,
        *,
        blocked_by: str = "not_allowed",
        context: NetworkContext | None = None,
    ) -> NetworkDecision:
        """Allow or refuse one connection the proxy's allow list did not cover. Anything but
        an allow-list miss (``NOT_REVIEWABLE`` and unknown reasons alike) is refused unreviewed."""
        if blocked_by not in REVIEWABLE:
            return NetworkDecision(
                False,
                f"{host} is blocked by the network policy ({blocked_by}); deny lists and "
                "managed denies are never sent to review",
                "not_reviewable",
            )
        name = normalize_host(host)
        if name in self._denied:
            return NetworkDecision(
                False, f"{name} was denied earlier in this session", "session_deny"
            )
        key = (name, port)
        if key in self._allowed:
            return NetworkDecision(
                True, f"{name}:{port} was approved earlier in this session", "session_allow"
            )
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[NetworkDecision] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            decision = await self._review(name, port, protocol, context or NetworkContext())
            future.set_result(decision)
            return decision
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as unhandled
            raise
        finally:
            del self._pending[key]

    async def _review(
        self, host: str, port: int, protocol: str, context: NetworkContext
    ) -> NetworkDecision:
        action = NetworkAction(
            host=host,
            protocol=protocol,
            port=port,
            trigger=context.trigger,
            possible_triggers=context.possible_triggers,
        )
        request = ReviewRequest(
            action=action,
            transcript=context.transcript,
            sandbox_mode=context.sandbox_mode,
            thread_id=context.thread_id,
            turn_id=context.turn_id,
        )
        verdict = await self.guardian.review(request)
        if verdict.status is ReviewStatus.APPROVED:
            if verdict.decided_by is DecidedBy.FAIL_OPEN:
                # Nobody judged the host: this connection passes, the next one is reviewed.
                return NetworkDecision(True, verdict.rationale, "fail_open", verdict)
            self._allowed.add((host, port))
            return NetworkDecision(True, verdict.rationale, "review", verdict)
        reason = verdict.message or verdict.rationale
        if verdict.decided_by.failed:
            # Nobody judged the host (unreachable, malformed, timed out, aborted): this
            # connection is refused, the next one is reviewed again.
            return NetworkDecision(False, reason, "fail_closed", verdict)
        if verdict.status is ReviewStatus.DENIED:
            self._denied.add(host)
        return NetworkDecision(False, reason, "review", verdict)

    def decider(
        self, context: Callable[[], NetworkContext] | None = None
    ) -> Callable[[str, int, str], Awaitable[tuple[str, str]]]:
        """The proxy's allow-list-miss decider: ``(host, port, protocol) -> ("allow"|"deny",
        reason)`` -- ``"allow_once"``/``"deny_once"`` for a review that failed (open or closed),
        so the proxy's session memory keeps only what a reviewer judged. The proxy calls it only
        for allow-list misses (never for deny lists)."""

        async def decide(host: str, port: int, protocol: str) -> tuple[str, str]:
            result = await self.decide(host, port, protocol, context=context() if context else None)
            if not result.allowed:
                return ("deny" if result.judged else "deny_once", result.reason)
            return ("allow_once" if result.source == "fail_open" else "allow", result.reason)

        return decide

    def forget(self, hosts: Sequence[str] = ()) -> None:
        """Drop session memory (all of it, or for ``hosts``) -- e.g. when the session's
        network policy is reloaded."""
        if not hosts:
            self._allowed.clear()
            self._denied.clear()
            return
        names = {normalize_host(h) for h in hosts}
        self._allowed = {k for k in self._allowed if k[0] not in names}
        self._denied -= names
