"""The decision engine (spec §5, §6), sans-IO apart from the injected resolver.

Order for a host: deny list → local literal guard (explicit-literal exception) → allow list
(empty blocks everything) → DNS guard (any non-public answer or a failed lookup blocks) →
optional decider for allow-list misses. Unlike Codex, a name that no rule allows is refused
*before* any lookup when there is no decider, so the proxy never resolves names it will refuse
(attack A26). Protocol wrappers add the mode guards: limited mode allows only GET/HEAD/OPTIONS,
only port 443 for CONNECT/SOCKS, and only through inspection (``mitm_required``); SOCKS5 UDP
is refused in limited mode and unless ``enable_socks5_udp`` (:func:`udp_association_decision`).

Limited mode means "no uploads", so a safe method is not enough (:class:`RequestShape`): a
request body on GET/HEAD/OPTIONS (``Content-Length`` > 0 or any ``Transfer-Encoding``) and
every method-override signal servers honour (``X-HTTP-Method-Override``, ``X-HTTP-Method``,
``X-Method-Override`` and any other header naming a method, a ``_method``-style query
parameter) are refused with ``method_not_allowed``, in plain HTTP and inside inspection alike.
The one header that names a method legitimately, a CORS preflight's
``Access-Control-Request-Method``, passes only when it names a safe method.

:func:`decide` is the single entry point used by the running proxy and `codex network check`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from codex_admin.proxy.hosts import (
    HostError,
    ip_literal,
    is_local_literal,
    is_non_public,
    normalize_host,
)
from codex_admin.proxy.netpolicy import NetworkPolicy
from codex_admin.proxy.resolver import ResolveError, Resolver

if TYPE_CHECKING:
    # An annotation only (not a cycle): building a policy (a `--network proxy` sandbox run,
    # `codex network check`) need not load the HTTP parser; the handlers that make a
    # RequestShape have it already.
    from codex_admin.proxy.http1 import Head

__all__ = [
    "SAFE_METHODS",
    "Decider",
    "Decision",
    "NetworkPolicy",
    "RequestShape",
    "decide",
    "dial_permitted",
    "evaluate_host",
    "udp_association_decision",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# reason -> (status, x-proxy-error, message)
_WIRE: dict[str, tuple[int, str | None, str]] = {
    "denied": (403, "blocked-by-denylist", "Domain denied by the sandbox policy."),
    "not_allowed": (403, "blocked-by-allowlist", "Domain not in allowlist."),
    "not_allowed_local": (
        403,
        "blocked-by-allowlist",
        "Sandbox policy blocks local/private network addresses.",
    ),
    "method_not_allowed": (403, "blocked-by-method-policy", "Method not allowed in limited mode."),
    "mitm_required": (403, "blocked-by-mitm-required", "MITM required for limited HTTPS."),
    "proxy_disabled": (503, None, "network proxy is disabled"),
    "invalid_host": (400, None, "invalid host"),
}

Decider = Callable[[str, int, str], Awaitable[tuple[str, str]]]
"""``(host, port, protocol) -> (decision, reason)`` with decision ``allow``/``deny``/``ask``, or
``allow_once``/``deny_once``: allowed/denied like ``allow``/``deny``, but a session decider
must not remember them (nobody judged the host: a guardian review that failed open, or one that
failed closed -- timed out, unreachable -- and may succeed next time)."""


@dataclass(frozen=True)
class Decision:
    """Outcome of a policy check; ``addresses`` are the checked addresses to dial (pinned)."""

    allowed: bool
    reason: str
    host: str
    port: int
    source: str = "baseline_policy"
    decision: str = "allow"
    scope: str = "domain"
    matched_pattern: str | None = None
    addresses: tuple[str, ...] = ()
    override: bool = False
    detail: str | None = None  # a more precise human message than the reason's wire text

    @property
    def status(self) -> int | None:
        if self.allowed:
            return None
        return _WIRE.get(self.reason, (403, None, ""))[0]

    @property
    def x_proxy_error(self) -> str | None:
        if self.allowed:
            return None
        return _WIRE.get(self.reason, (403, "blocked-by-policy", ""))[1]

    @property
    def message(self) -> str:
        if self.allowed:
            return "allowed"
        if self.detail:
            return self.detail
        return _WIRE.get(self.reason, (403, None, "Request denied by the sandbox policy."))[2]


@dataclass(frozen=True, slots=True)
class RequestShape:
    """The parts of an HTTP request limited mode judges besides its method (see the module
    docstring). Holds the parsed head and body framing; judged only in limited mode."""

    head: Head
    framing: tuple[str, int]

    def upload_signal(self) -> str | None:
        """Why this request could carry an upload or a write, or None."""
        kind, length = self.framing
        if kind == "chunked" or (kind == "length" and length > 0):
            return f"A request body is not allowed on {self.head.start[0]} in limited mode."
        for name, value in self.head.headers:
            lname = name.lower()
            if lname == "access-control-request-method":
                if value.strip() in SAFE_METHODS:
                    continue
            elif "method" not in lname:
                continue
            return f"Method override header {name} is not allowed in limited mode."
        _, _, query = self.head.start[1].partition("?")
        for item in query.split("#", 1)[0].replace(";", "&").split("&"):
            key = unquote_plus(item.partition("=")[0]).strip().lower()
            if _is_override_parameter(key):
                return f"Method override parameter {key} is not allowed in limited mode."
        return None


def _is_override_parameter(name: str) -> bool:
    """``_method``, ``$method``, ``x-http-method-override``, ``method_override``, ..."""
    if "method" not in name:
        return False
    return name[:1] in ("_", "$") or "override" in name or name.startswith("x-")


def _deny(host: str, port: int, reason: str, **kw: object) -> Decision:
    return Decision(allowed=False, reason=reason, host=host, port=port, decision="deny", **kw)  # type: ignore[arg-type]


async def evaluate_host(
    policy: NetworkPolicy,
    raw_host: str,
    port: int,
    *,
    resolver: Resolver,
    decider: Decider | None = None,
    protocol: str = "http",
) -> Decision:
    """Host policy only (no mode guards)."""
    try:
        host = normalize_host(raw_host)
    except HostError:
        return _deny(raw_host.strip(), port, "invalid_host")
    deny_hit = policy.denied.match(host)
    if deny_hit is not None:
        return _deny(host, port, "denied", matched_pattern=deny_hit.text)
    guard = not policy.allow_local_binding
    if is_local_literal(host):
        explicit = policy.literal_allowed.explicit(host)
        if guard and explicit is None:
            return _deny(host, port, "not_allowed_local")
        if explicit is None and not policy.allowed.match(host):
            return _deny(host, port, "not_allowed")
        matched = explicit or policy.allowed.match(host)
        return Decision(
            allowed=True,
            reason="allow",
            host=host,
            port=port,
            matched_pattern=matched.text if matched else None,
            addresses=_literal_addresses(host),
        )
    allow_hit = policy.allowed.match(host)
    if allow_hit is None and (decider is None or policy.managed_allowed_domains_only):
        return _deny(host, port, "not_allowed")
    literal = ip_literal(host)
    if literal is not None:
        addresses: tuple[str, ...] = (str(literal),)
    else:
        try:
            addresses = tuple(await resolver.resolve(host))
        except ResolveError as err:
            if guard:
                # Codex's reason (fail closed: a name we cannot check is treated as local), but
                # the message says what happened: the lookup failed, nothing was found private.
                detail = f"DNS lookup for {host} failed ({err}); unresolvable names are refused."
                return _deny(host, port, "not_allowed_local", detail=detail)
            addresses = ()
        if guard and any(_non_public_text(a) for a in addresses):
            return _deny(host, port, "not_allowed_local")
    if allow_hit is not None:
        return Decision(
            True, "allow", host, port, matched_pattern=allow_hit.text, addresses=addresses
        )
    assert decider is not None
    verdict, reason = await decider(host, port, protocol)
    if verdict in ("allow", "allow_once"):
        return Decision(
            True, "allow", host, port, source="decider", addresses=addresses, override=True
        )
    return Decision(
        False,
        reason or "policy_denied",
        host,
        port,
        source="decider",
        decision="ask" if verdict == "ask" else "deny",
    )


def _literal_addresses(host: str) -> tuple[str, ...]:
    if host == "localhost" or host.endswith(".localhost"):
        return ("127.0.0.1", "::1")
    return (host,)


def _non_public_text(address: str) -> bool:
    ip = ip_literal(address)
    # A resolver answer that is not an address is not dialable.
    return True if ip is None else is_non_public(ip)


def dial_permitted(policy: NetworkPolicy, host: str, address: str) -> bool:
    """Connect-time guard: may the proxy dial ``address`` for normalised target ``host``?

    A non-public address is dialable only with local binding allowed, or when the target itself
    is an explicitly allowlisted local literal and the address is that literal (``localhost``:
    a loopback address). An allowlisted *hostname* never launders a private address.
    """
    ip = ip_literal(address)
    if ip is None or ip.is_unspecified:
        return False  # a DNS answer of 0.0.0.0 / :: would reach loopback under no listed name
    if policy.allow_local_binding or not is_non_public(ip):
        return True
    if policy.literal_allowed.explicit(host) is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return ip.is_loopback
    return ip_literal(host) == ip


def udp_association_decision(
    policy: NetworkPolicy, *, host: str = "", port: int = 0
) -> Decision | None:
    """The association-level guard for SOCKS5 UDP ASSOCIATE: None when a relay may be opened.

    Runs before any host policy because an ASSOCIATE request names the *client's* expected
    source address, not a destination; destinations are checked per datagram with
    :func:`decide` (``protocol="socks5_udp"``), which starts with this same guard so the proxy
    and `codex network check --udp` agree. ``host``/``port`` only label the refusal.
    Refusals: ``proxy_disabled`` when the proxy is off; ``method_not_allowed`` in limited mode
    (no uninspected bytes, spec §6) or while ``enable_socks5_udp`` is false (the default).
    """
    if not policy.enabled:
        return _deny(host, port, "proxy_disabled", source="proxy_state", scope="non_domain")
    if policy.mode == "limited" or not policy.enable_socks5_udp:
        detail = None if policy.mode == "limited" else "SOCKS5 UDP is off (enable_socks5_udp)."
        return _deny(
            host, port, "method_not_allowed", source="mode_guard", scope="non_domain", detail=detail
        )
    return None


async def decide(
    policy: NetworkPolicy,
    *,
    protocol: str,
    host: str,
    port: int,
    method: str = "none",
    resolver: Resolver,
    decider: Decider | None = None,
    mitm_available: bool | None = None,
    request: RequestShape | None = None,
) -> Decision:
    """Full protocol-aware check: what the proxy does for one request.

    ``protocol``: ``http`` (plain absolute-form), ``https_connect``, ``socks5_tcp``,
    ``socks5_udp`` or ``https_mitm`` (a request inside an inspected tunnel). ``request`` is the
    HTTP request's head and framing, for limited mode's upload guard.
    """
    inspect = policy.inspects_https if mitm_available is None else mitm_available
    limited = policy.mode == "limited"
    if not policy.enabled:
        return _deny(host, port, "proxy_disabled", source="proxy_state", scope="non_domain")
    if protocol in ("https_connect", "socks5_tcp") and limited and port != 443:
        return _deny(host, port, "method_not_allowed", source="mode_guard", scope="non_domain")
    if protocol == "socks5_udp":
        refused = udp_association_decision(policy, host=host, port=port)
        if refused is not None:
            return refused
        if ip_literal(host.strip("[]")) is None:
            # A relayed datagram names no host a rule could match: only IP-literal rules
            # (or `*`) can allow UDP (spec §7.6).
            return _deny(host, port, "not_allowed")
    result = await evaluate_host(
        policy, host, port, resolver=resolver, decider=decider, protocol=protocol
    )
    if protocol == "https_mitm" and not result.allowed and result.reason != "not_allowed_local":
        # Inside a tunnel that was already admitted only the local re-check can block.
        if result.reason == "invalid_host":
            return result
        result = Decision(True, "allow", result.host, port, addresses=result.addresses)
    if not result.allowed:
        return result
    if protocol in ("http", "https_mitm") and limited:
        if method not in SAFE_METHODS:
            return _deny(result.host, port, "method_not_allowed", source="mode_guard")
        signal = request.upload_signal() if request is not None else None
        if signal is not None:
            return _deny(
                result.host, port, "method_not_allowed", source="mode_guard", detail=signal
            )
    if protocol in ("https_connect", "socks5_tcp") and limited and not inspect:
        return _deny(result.host, port, "mitm_required", source="mode_guard")
    return result
