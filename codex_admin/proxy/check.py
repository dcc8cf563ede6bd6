"""`codex network check`: would this request pass? The same :func:`decide` the proxy runs.

The request description is parsed exactly as the proxy parses the wire (absolute-form URL
rules, CONNECT authority rules), so a URL the proxy would answer 400 is reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass

from codex_admin.errors import CodexError
from codex_admin.proxy.http1 import ProtocolError, parse_authority, parse_request_target
from codex_admin.proxy.policy import Decision, NetworkPolicy, decide
from codex_admin.proxy.resolver import Resolver

__all__ = ["CheckResult", "check_request", "parse_resolve_option"]


@dataclass(frozen=True)
class CheckResult:
    decision: Decision | None
    protocol: str
    host: str
    port: int
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        if self.decision is None:
            return {
                "decision": "deny",
                "reason": self.error or "bad_request",
                "status": 400,
                "x_proxy_error": None,
                "matched_pattern": None,
            }
        d = self.decision
        return {
            "decision": "allow" if d.allowed else "deny",
            "reason": d.reason,
            "status": d.status,
            "x_proxy_error": d.x_proxy_error,
            "matched_pattern": d.matched_pattern,
        }


async def check_request(
    policy: NetworkPolicy,
    *,
    resolver: Resolver,
    url: str | None = None,
    method: str = "GET",
    connect: str | None = None,
    socks5: str | None = None,
    udp: bool = False,
) -> CheckResult:
    """Exactly one of ``url``, ``connect`` or ``socks5`` describes the request."""
    if sum(x is not None for x in (url, connect, socks5)) != 1:
        raise CodexError("give exactly one of --url, --connect or --socks5")
    if url is not None:
        # An https URL travels as CONNECT host:443 (+ an inner request when inspected).
        protocol = "https_connect" if url.lower().startswith("https://") else "http"
        try:
            authority, _ = parse_request_target(url, {"http": 80, "https": 443})
            if authority is None:
                raise ProtocolError("the URL must be absolute (http://host/path)")
        except ProtocolError as err:
            return CheckResult(None, protocol, url, 0, err.message)
        host, port = authority.host, authority.port
    else:
        protocol = (
            "https_connect" if connect is not None else ("socks5_udp" if udp else "socks5_tcp")
        )
        text = connect if connect is not None else str(socks5)
        try:
            authority = parse_authority(text, None)
        except ProtocolError as err:
            return CheckResult(None, protocol, text, 0, err.message)
        host, port = authority.host, authority.port
    decision = await decide(
        policy, protocol=protocol, host=host, port=port, method=method, resolver=resolver
    )
    if (
        decision.allowed
        and protocol == "https_connect"
        and url is not None
        and policy.inspects_https
    ):
        inner = await decide(
            policy, protocol="https_mitm", host=host, port=port, method=method, resolver=resolver
        )
        decision = inner if not inner.allowed else decision
    return CheckResult(decision, protocol, host, port)


def parse_resolve_option(values: list[str]) -> dict[str, list[str]]:
    """``HOST=IP[,IP…]`` items -> mapping; an empty IP list means "does not resolve"."""
    answers: dict[str, list[str]] = {}
    for value in values:
        host, sep, ips = value.partition("=")
        if not sep or not host.strip():
            raise CodexError(
                f"invalid --resolve value {value!r}", hint="use --resolve HOST=IP[,IP...]"
            )
        addresses = [ip.strip() for ip in ips.split(",") if ip.strip()]
        answers.setdefault(host.strip().lower().rstrip("."), []).extend(addresses)
    return answers
