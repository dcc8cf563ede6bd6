"""Managed egress proxy: HTTP/1.1 + CONNECT + SOCKS5, host policy, per-session CA, audit.

Implements the newest coherent era of Codex's network proxy (spec ``proxy.md``): the
``[network]`` table with a ``domains`` map (legacy lists accepted), clamped by managed
``experimental_network`` requirements, and a process-local CA whose key never touches disk.
Where Codex leaves a gap (§15) this package takes the secure choice: IDN hosts compared as
A-labels, non-canonical IPv4 refused, NAT64/6to4/Teredo classified by the embedded IPv4,
label-bounded mid-label wildcards, no DNS lookup for names no rule allows, dials pinned to the
checked addresses, CONNECT in limited mode only to 443 through inspection, strict framing.

Public API::

    policy = build_network_policy(config.get("network"), requirements_network)
    async with ProxyServer(policy, codex_home=home) as proxy:
        env = proxy_environment(proxy.http_url, proxy.socks_url,
                                allow_local_binding=policy.allow_local_binding,
                                ca_bundle=proxy.ca_bundle_path)
"""

from codex_admin.proxy.audit import AuditEvent, AuditObserver, BlockedRequest
from codex_admin.proxy.ca import SessionCA
from codex_admin.proxy.check import CheckResult, check_request, parse_resolve_option
from codex_admin.proxy.env import CA_VARIABLES, proxy_environment
from codex_admin.proxy.hosts import HostError, is_non_public, normalize_host
from codex_admin.proxy.netconfig import build_network_policy
from codex_admin.proxy.patterns import PatternError, PatternSet, compile_pattern
from codex_admin.proxy.policy import (
    Decider,
    Decision,
    NetworkPolicy,
    decide,
    dial_permitted,
    udp_association_decision,
)
from codex_admin.proxy.resolver import ResolveError, Resolver, StaticResolver, SystemResolver
from codex_admin.proxy.server import ProxyServer

__all__ = [
    "CA_VARIABLES",
    "AuditEvent",
    "AuditObserver",
    "BlockedRequest",
    "CheckResult",
    "Decider",
    "Decision",
    "HostError",
    "NetworkPolicy",
    "PatternError",
    "PatternSet",
    "ProxyServer",
    "ResolveError",
    "Resolver",
    "SessionCA",
    "StaticResolver",
    "SystemResolver",
    "build_network_policy",
    "check_request",
    "compile_pattern",
    "decide",
    "dial_permitted",
    "is_non_public",
    "normalize_host",
    "parse_resolve_option",
    "proxy_environment",
    "udp_association_decision",
]
