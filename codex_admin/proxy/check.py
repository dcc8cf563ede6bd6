"""`codex network check`: would this request pass? The same :func:`decide` the proxy runs.

The request description is parsed exactly as the proxy parses the wire (absolute-form URL
rules, CONNECT authority rules), so a URL the proxy would answer 400 is reported as such. A
description that is not a request at all (``--url example.com`` without a scheme,
``--connect host`` without a port, a method that is not an HTTP token, ``--resolve
a.com=notanip``) raises :class:`RequestSyntaxError`: a usage error, never a silent deny.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from codex_admin.errors import CodexError
from codex_admin.proxy.hosts import HostError, normalize_host
from codex_admin.proxy.http1 import ProtocolError, parse_authority, parse_request_target
from codex_admin.proxy.policy import Decision, NetworkPolicy, decide
from codex_admin.proxy.resolver import BlockingResolver, Resolver, StaticResolver

__all__ = [
    "CheckResult",
    "RequestSyntaxError",
    "check_request",
    "check_request_now",
    "parse_resolve_option",
    "validate_request",
]

_METHOD = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HOST_PORT = re.compile(r"^(?:\[[^\]]*\]|[^:\[\]]+):[0-9]+$")


class RequestSyntaxError(CodexError):
    """The request description itself is malformed (the CLI exits 2, a usage error).

    ``option`` names the command-line option at fault (``--url``, ``--resolve``...).
    """

    def __init__(self, option: str, message: str, hint: str) -> None:
        super().__init__(f"{option}: {message}", hint=hint)
        self.option = option


@dataclass(frozen=True)
class CheckResult:
    decision: Decision | None
    protocol: str
    host: str
    port: int
    error: str | None = None

    @property
    def message(self) -> str:
        """One human sentence: what the proxy would say."""
        if self.decision is None:
            return f"The proxy would answer 400: {self.error or 'bad request'}."
        return self.decision.message

    def to_json(self) -> dict[str, object]:
        if self.decision is None:
            return {
                "decision": "deny",
                "reason": self.error or "bad_request",
                "status": 400,
                "x_proxy_error": None,
                "matched_pattern": None,
                "message": self.message,
            }
        d = self.decision
        return {
            "decision": "allow" if d.allowed else "deny",
            "reason": d.reason,
            "status": d.status,
            "x_proxy_error": d.x_proxy_error,
            "matched_pattern": d.matched_pattern,
            "message": self.message,
        }


def validate_request(
    *,
    url: str | None = None,
    method: str = "GET",
    connect: str | None = None,
    socks5: str | None = None,
) -> None:
    """Raise :class:`RequestSyntaxError` unless the description is a request at all.

    Separate from :func:`check_request` so a caller can reject a malformed description before
    it loads any policy (``codex network check``'s usage errors)."""
    if sum(x is not None for x in (url, connect, socks5)) != 1:
        raise CodexError("give exactly one of --url, --connect or --socks5")
    if url is not None and not _METHOD.match(method):
        raise RequestSyntaxError(
            "--method", f"{method!r} is not an HTTP method", "use a token such as GET or POST"
        )
    if url is not None and "://" not in url:
        raise RequestSyntaxError(
            "--url",
            f"{url!r} is not an absolute URL",
            f"give the scheme, for example --url https://{url.lstrip('/')}",
        )
    for option, value in (("--connect", connect), ("--socks5", socks5)):
        if value is not None and not _HOST_PORT.match(value):
            raise RequestSyntaxError(
                option,
                f"{value!r} is not HOST:PORT",
                f"give the port, for example {option} {value.split(':')[0] or 'example.com'}:443",
            )


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
    validate_request(url=url, method=method, connect=connect, socks5=socks5)
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
    """``HOST=IP[,IP…]`` items -> mapping; an empty IP list means "does not resolve".

    Hosts are normalised as the policy sees them (so ``BÜCHER.example`` answers for
    ``xn--bcher-kva.example``); every IP must be an address. Raises :class:`RequestSyntaxError`.
    """
    hint = "use --resolve HOST=IP[,IP...] (an empty list: the name does not resolve)"
    answers: dict[str, list[str]] = {}
    for value in values:
        host, sep, ips = value.partition("=")
        if not sep or not host.strip():
            raise RequestSyntaxError("--resolve", f"{value!r} is not HOST=IP[,IP...]", hint)
        try:
            name = normalize_host(host)
        except HostError as err:
            raise RequestSyntaxError("--resolve", f"{value!r}: {err}", hint) from None
        addresses = []
        for item in (ip.strip() for ip in ips.split(",")):
            if not item:
                continue
            try:
                addresses.append(str(ipaddress.ip_address(item)))
            except ValueError:
                raise RequestSyntaxError(
                    "--resolve", f"{item!r} in {value!r} is not an IP address", hint
                ) from None
        answers.setdefault(name, []).extend(addresses)
    return answers


def check_request_now(
    policy: NetworkPolicy,
    answers: Mapping[str, Sequence[str]],
    *,
    url: str | None = None,
    method: str = "GET",
    connect: str | None = None,
    socks5: str | None = None,
    udp: bool = False,
) -> CheckResult:
    """:func:`check_request` without an event loop: ``answers`` first, then the platform
    resolver (:class:`BlockingResolver`). The policy's coroutines only ever wait on the
    resolver, and neither resolver suspends, so they run to completion in one step -- a
    one-shot check skips asyncio's import, most of its start-up. A coroutine that did suspend
    (a decider that waits) is a programming error, reported as such."""
    step = check_request(
        policy,
        resolver=StaticResolver(answers, fallback=BlockingResolver()),
        url=url,
        method=method,
        connect=connect,
        socks5=socks5,
        udp=udp,
    )
    try:
        step.send(None)
    except StopIteration as done:
        result: CheckResult = done.value
        return result
    step.close()
    raise RuntimeError("check_request suspended: it needs an event loop (a waiting decider?)")
