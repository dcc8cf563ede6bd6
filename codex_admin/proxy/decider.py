"""A per-session :data:`~codex_admin.proxy.policy.Decider`: ask a reviewer once per host.

The proxy consults its decider only for allow-list misses (never for a deny-list hit, a
local/private target or under ``managed_allowed_domains_only``; see :mod:`.policy`). In an agent
session the useful answer is "ask someone (the user, the guardian) and remember": approving
``pypi.org`` once should let every later request to it through for the rest of the session,
and a model looping on a refused host must not flood the reviewer. :class:`SessionDecider`
does exactly that:

* hosts approved for the session pass without asking (:meth:`SessionDecider.approve` adds one
  from outside, e.g. after an approval prompt answered elsewhere; :meth:`revoke` removes one);
* concurrent requests for one host share one review (single flight), so ten parallel
  downloads cause one prompt;
* a ``deny`` is remembered for the session too (bounded), an ``ask`` is not (the reviewer may
  decide later and call :meth:`approve`), nor is an ``allow_once`` or a ``deny_once`` (the
  request passes or is refused; the next one is reviewed again: nobody judged the host);
* at most ``max_pending`` different hosts wait for a review at once; beyond that, and when the
  reviewer takes longer than ``timeout``, the request is denied and nothing is remembered
  (fail closed, reasons ``review_busy`` and ``review_timeout``). A reviewer that raises fails
  the requests waiting for it (their connections close; nothing passes) and is asked again
  next time;
* a review runs in its own task: a client that gives up does not cancel it, and the answer is
  still remembered for the next request.

Hosts arrive normalised (lower-case, IDNA, no port) from the policy; approvals are per host,
for every port and protocol, as Codex's "approve access to host" is.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from codex_admin.proxy.hosts import HostError, normalize_host
from codex_admin.proxy.policy import Decider

__all__ = ["SessionDecider"]

Verdict = tuple[str, str]


class SessionDecider:
    """Wraps a reviewer :data:`Decider` with session memory (see the module docstring).

    Pass an instance as ``ProxyServer(decider=...)`` (or in ``proxy_options`` of a sandbox
    session); it is itself a :data:`Decider`.
    """

    def __init__(
        self,
        reviewer: Decider,
        *,
        timeout: float | None = 300.0,
        max_pending: int = 16,
        max_remembered_denials: int = 1024,
    ) -> None:
        self._reviewer = reviewer
        self._timeout = timeout
        self._max_pending = max_pending
        self._max_denials = max_remembered_denials
        self._approved: set[str] = set()
        self._denied: OrderedDict[str, str] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Verdict]] = {}

    @property
    def approved(self) -> frozenset[str]:
        """Hosts approved for this session."""
        return frozenset(self._approved)

    def approve(self, host: str) -> None:
        """Let ``host`` through for the rest of the session (forgets a remembered denial)."""
        name = _normal(host)
        self._denied.pop(name, None)
        self._approved.add(name)

    def revoke(self, host: str) -> None:
        """Forget an approval (or a remembered denial): the next request asks again."""
        name = _normal(host)
        self._approved.discard(name)
        self._denied.pop(name, None)

    async def __call__(self, host: str, port: int, protocol: str) -> Verdict:
        if host in self._approved:
            return ("allow", "approved_for_session")
        denied = self._denied.get(host)
        if denied is not None:
            return ("deny", denied)
        review = self._pending.get(host)
        if review is None:
            if len(self._pending) >= self._max_pending:
                return ("deny", "review_busy")
            review = asyncio.ensure_future(self._review(host, port, protocol))
            self._pending[host] = review
            review.add_done_callback(lambda _: self._pending.pop(host, None))
        return await asyncio.shield(review)

    async def _review(self, host: str, port: int, protocol: str) -> Verdict:
        try:
            async with asyncio.timeout(self._timeout):
                decision, reason = await self._reviewer(host, port, protocol)
        except TimeoutError:
            return ("deny", "review_timeout")
        if decision == "allow":
            self._approved.add(host)
            return ("allow", reason or "approved")
        if decision == "allow_once":  # this request only: the next one asks again
            return ("allow", reason or "approved_once")
        if decision == "ask":
            return ("ask", reason or "approval_required")
        if decision == "deny_once":  # a failed review: refused now, reviewed again next time
            return ("deny", reason or "review_failed")
        reason = reason or "policy_denied"
        self._denied[host] = reason
        while len(self._denied) > self._max_denials:
            self._denied.popitem(last=False)
        return ("deny", reason)


def _normal(host: str) -> str:
    try:
        return normalize_host(host)
    except HostError:
        return host.strip().lower()
