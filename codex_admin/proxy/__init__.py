"""Managed egress proxy: HTTP/1.1 + CONNECT + SOCKS5, host policy, per-session CA, audit.

Implements the newest coherent era of Codex's network proxy (spec ``proxy.md``): the
``[network]`` table with a ``domains`` map (legacy lists accepted), clamped by managed
``experimental_network`` requirements, and a process-local CA whose key never touches disk.
Where Codex leaves a gap (§15) this package takes the secure choice: IDN hosts compared as
A-labels, non-canonical IPv4 refused, NAT64/6to4/Teredo classified by the embedded IPv4,
label-bounded mid-label wildcards, no DNS lookup for names no rule allows, dials pinned to the
checked addresses, CONNECT in limited mode only to 443 through inspection, no uploads in
limited mode (bodies on read-only methods and method overrides refused), strict framing.

Public API::

    policy = build_network_policy(config.get("network"), requirements_network)
    async with ProxyServer(policy, codex_home=home, decider=SessionDecider(ask)) as proxy:
        env = proxy.environment()

Module map: ``hosts``, ``patterns`` (matching), ``netpolicy`` (the effective policy value),
``policy`` (the decision order), ``netconfig`` (config + requirements → policy), ``check``
(`codex network check`), ``server`` (listeners) running the handlers ``http_handler``,
``mitm``, ``socks5`` and ``udp_relay`` against the narrow ``context.ProxyContext``; ``dial``,
``exchange``, ``responses``, ``streams``, ``tunnel`` and ``upstream`` move the bytes; ``ca``
and ``env`` serve the children; ``decider`` remembers a session's approvals; ``workers`` serves
one bound proxy from several processes (`codex proxy run --workers N`).

Names are resolved lazily (PEP 562): a policy check (`codex network check`, a sandbox plan)
imports the policy modules only, not asyncio servers, TLS or cryptography; building a policy
(every `--network proxy` sandbox run) imports neither the decision engine nor idna.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    # Names for readers and mypy only: at run time each resolves through _EXPORTS on first
    # use, so `import codex_admin.proxy` stays cheap (no cycle is being avoided here).
    from codex_admin.proxy.audit import AuditEvent, AuditObserver, BlockedRequest
    from codex_admin.proxy.ca import SessionCA
    from codex_admin.proxy.check import (
        CheckResult,
        RequestSyntaxError,
        check_request,
        check_request_now,
        parse_resolve_option,
        validate_request,
    )
    from codex_admin.proxy.decider import SessionDecider
    from codex_admin.proxy.dial import DialError
    from codex_admin.proxy.env import CA_VARIABLES, proxy_environment
    from codex_admin.proxy.eventloop import (
        choose_event_loop,
        freeze_start_up_heap,
        run_on_event_loop,
    )
    from codex_admin.proxy.hosts import HostError, is_non_public, normalize_host
    from codex_admin.proxy.netconfig import build_network_policy
    from codex_admin.proxy.patterns import PatternError, PatternSet, compile_pattern
    from codex_admin.proxy.policy import (
        Decider,
        Decision,
        NetworkPolicy,
        RequestShape,
        decide,
        dial_permitted,
        udp_association_decision,
    )
    from codex_admin.proxy.resolver import (
        BlockingResolver,
        ResolveError,
        Resolver,
        StaticResolver,
        SystemResolver,
    )
    from codex_admin.proxy.server import ProxyServer
    from codex_admin.proxy.workers import MAX_WORKERS, serve_in_workers

_EXPORTS: dict[str, str] = {
    "AuditEvent": "codex_admin.proxy.audit",
    "AuditObserver": "codex_admin.proxy.audit",
    "BlockedRequest": "codex_admin.proxy.audit",
    "SessionCA": "codex_admin.proxy.ca",
    "CheckResult": "codex_admin.proxy.check",
    "check_request": "codex_admin.proxy.check",
    "check_request_now": "codex_admin.proxy.check",
    "parse_resolve_option": "codex_admin.proxy.check",
    "RequestSyntaxError": "codex_admin.proxy.check",
    "validate_request": "codex_admin.proxy.check",
    "SessionDecider": "codex_admin.proxy.decider",
    "DialError": "codex_admin.proxy.dial",
    "CA_VARIABLES": "codex_admin.proxy.env",
    "proxy_environment": "codex_admin.proxy.env",
    "choose_event_loop": "codex_admin.proxy.eventloop",
    "freeze_start_up_heap": "codex_admin.proxy.eventloop",
    "run_on_event_loop": "codex_admin.proxy.eventloop",
    "HostError": "codex_admin.proxy.hosts",
    "is_non_public": "codex_admin.proxy.hosts",
    "normalize_host": "codex_admin.proxy.hosts",
    "build_network_policy": "codex_admin.proxy.netconfig",
    "PatternError": "codex_admin.proxy.patterns",
    "PatternSet": "codex_admin.proxy.patterns",
    "compile_pattern": "codex_admin.proxy.patterns",
    "Decider": "codex_admin.proxy.policy",
    "Decision": "codex_admin.proxy.policy",
    "NetworkPolicy": "codex_admin.proxy.netpolicy",
    "RequestShape": "codex_admin.proxy.policy",
    "decide": "codex_admin.proxy.policy",
    "dial_permitted": "codex_admin.proxy.policy",
    "udp_association_decision": "codex_admin.proxy.policy",
    "ResolveError": "codex_admin.proxy.resolver",
    "Resolver": "codex_admin.proxy.resolver",
    "StaticResolver": "codex_admin.proxy.resolver",
    "BlockingResolver": "codex_admin.proxy.resolver",
    "SystemResolver": "codex_admin.proxy.resolver",
    "ProxyServer": "codex_admin.proxy.server",
    "MAX_WORKERS": "codex_admin.proxy.workers",
    "serve_in_workers": "codex_admin.proxy.workers",
}

__all__ = [
    "CA_VARIABLES",
    "MAX_WORKERS",
    "AuditEvent",
    "AuditObserver",
    "BlockedRequest",
    "BlockingResolver",
    "CheckResult",
    "Decider",
    "Decision",
    "DialError",
    "HostError",
    "NetworkPolicy",
    "PatternError",
    "PatternSet",
    "ProxyServer",
    "RequestShape",
    "RequestSyntaxError",
    "ResolveError",
    "Resolver",
    "SessionCA",
    "SessionDecider",
    "StaticResolver",
    "SystemResolver",
    "build_network_policy",
    "check_request",
    "check_request_now",
    "choose_event_loop",
    "compile_pattern",
    "decide",
    "dial_permitted",
    "freeze_start_up_heap",
    "is_non_public",
    "normalize_host",
    "parse_resolve_option",
    "proxy_environment",
    "run_on_event_loop",
    "serve_in_workers",
    "udp_association_decision",
    "validate_request",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
