"""Decision order, mode guards, managed clamping and the child environment (no sockets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codex_admin.errors import CodexError
from codex_admin.proxy import (
    Decision,
    StaticResolver,
    build_network_policy,
    decide,
    dial_permitted,
    proxy_environment,
    udp_association_decision,
)
from tests.proxy.helpers import run

PUBLIC = "93.184.216.34"


def check(
    network: dict[str, Any],
    host: str,
    *,
    port: int = 80,
    protocol: str = "http",
    method: str = "GET",
    answers: dict[str, list[str]] | None = None,
    managed: dict[str, Any] | None = None,
    decider: Any = None,
) -> tuple[Decision, StaticResolver]:
    policy = build_network_policy({"enabled": True, **network}, managed)
    resolver = StaticResolver(answers or {})
    decision = run(
        decide(
            policy,
            protocol=protocol,
            host=host,
            port=port,
            method=method,
            resolver=resolver,
            decider=decider,
        )
    )
    return decision, resolver


def test_deny_beats_allow_and_global_wildcard() -> None:
    d, _ = check({"domains": {"*": "allow", "api.example.com": "deny"}}, "API.example.com.")
    assert (d.allowed, d.reason, d.x_proxy_error) == (False, "denied", "blocked-by-denylist")
    assert d.matched_pattern == "api.example.com"


def test_empty_allowlist_blocks_everything_without_dns() -> None:
    d, resolver = check({}, "example.com", answers={"example.com": [PUBLIC]})
    assert (d.reason, d.status, d.x_proxy_error) == ("not_allowed", 403, "blocked-by-allowlist")
    assert resolver.calls == []  # never resolve a name no rule allows (A26)


def test_allowlisted_name_is_resolved_and_pinned() -> None:
    d, _ = check(
        {"domains": {"**.example.com": "allow"}},
        "api.example.com",
        answers={"api.example.com": [PUBLIC]},
    )
    assert d.allowed and d.addresses == (PUBLIC,) and d.matched_pattern == "**.example.com"


@pytest.mark.parametrize(
    "answers",
    [["10.0.0.5"], [PUBLIC, "127.0.0.1"], ["::ffff:10.0.0.1"], ["64:ff9b::a9fe:a9fe"], []],
)
def test_any_private_answer_or_failure_blocks(answers: list[str]) -> None:
    d, _ = check(
        {"domains": {"api.example.com": "allow"}},
        "api.example.com",
        answers={"api.example.com": answers},
    )
    assert d.reason == "not_allowed_local"


def test_lookup_failure_blocks() -> None:
    d, _ = check({"domains": {"api.example.com": "allow"}}, "api.example.com")
    assert d.reason == "not_allowed_local"


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST.",
        "127.0.0.1",
        "[::1]",
        "10.0.0.1",
        "169.254.169.254",
        "fe80::1%25eth0",
        "[::ffff:127.0.0.1]",
    ],
)
def test_local_literals_blocked_even_under_wildcard(host: str) -> None:
    d, resolver = check({"domains": {"*": "allow", "**.example.com": "allow"}}, host)
    assert d.reason == "not_allowed_local"
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("pattern", "host"),
    [("localhost", "localhost"), ("10.0.0.1", "10.0.0.1"), ("[fe80::1%25lo0]", "fe80::1%lo0")],
)
def test_explicit_local_literal_is_allowed(pattern: str, host: str) -> None:
    d, _ = check({"domains": {pattern: "allow"}}, host)
    assert d.allowed


def test_allow_local_binding_turns_guard_off() -> None:
    d, _ = check({"allow_local_binding": True, "domains": {"*": "allow"}}, "127.0.0.1")
    assert d.allowed
    d, _ = check(
        {"allow_local_binding": True, "domains": {"x.example.com": "allow"}},
        "x.example.com",
        answers={"x.example.com": ["10.1.1.1"]},
    )
    assert d.allowed and d.addresses == ("10.1.1.1",)


def test_connect_time_guard() -> None:
    policy = build_network_policy(
        {
            "enabled": True,
            "domains": {"api.example.com": "allow", "10.0.0.1": "allow", "localhost": "allow"},
        },
        None,
    )
    assert not dial_permitted(policy, "api.example.com", "10.0.0.9")
    assert dial_permitted(policy, "api.example.com", PUBLIC)
    assert dial_permitted(policy, "10.0.0.1", "10.0.0.1")
    assert not dial_permitted(policy, "10.0.0.1", "10.0.0.2")
    assert dial_permitted(policy, "localhost", "127.0.0.1")
    assert not dial_permitted(policy, "localhost", "10.0.0.1")


def test_decider_only_for_allowlist_misses() -> None:
    calls: list[str] = []

    async def decider(host: str, port: int, protocol: str) -> tuple[str, str]:
        calls.append(host)
        return ("allow", "") if host == "ok.example.org" else ("ask", "")

    d, _ = check(
        {"domains": {"bad.example.org": "deny"}},
        "ok.example.org",
        decider=decider,
        answers={"ok.example.org": [PUBLIC]},
    )
    assert d.allowed and d.source == "decider" and d.override
    d, _ = check({}, "maybe.example.org", decider=decider, answers={"maybe.example.org": [PUBLIC]})
    assert (d.allowed, d.decision, d.reason) == (False, "ask", "policy_denied")
    assert d.x_proxy_error == "blocked-by-policy"
    d, _ = check({"domains": {"bad.example.org": "deny"}}, "bad.example.org", decider=decider)
    d2, _ = check(
        {}, "private.example.org", decider=decider, answers={"private.example.org": ["10.0.0.1"]}
    )
    assert d.reason == "denied" and d2.reason == "not_allowed_local"
    assert calls == ["ok.example.org", "maybe.example.org"]
    d, _ = check(
        {},
        "ok.example.org",
        decider=decider,
        answers={"ok.example.org": [PUBLIC]},
        managed={"managed_allowed_domains_only": True},
    )
    assert d.reason == "not_allowed"  # managed-only allow lists never ask


def test_disabled_proxy_answers_503() -> None:
    d, _ = check({"enabled": False, "domains": {"*": "allow"}}, "example.com")
    assert (d.reason, d.status, d.x_proxy_error, d.source) == (
        "proxy_disabled",
        503,
        None,
        "proxy_state",
    )


@pytest.mark.parametrize(
    ("protocol", "method", "port", "reason"),
    [
        ("http", "GET", 80, None),
        ("http", "HEAD", 80, None),
        ("http", "OPTIONS", 80, None),
        ("http", "POST", 80, "method_not_allowed"),
        ("http", "get", 80, "method_not_allowed"),
        ("http", "TRACE", 80, "method_not_allowed"),
        ("https_connect", "CONNECT", 443, None),
        ("https_connect", "CONNECT", 22, "method_not_allowed"),
        ("socks5_tcp", "none", 80, "method_not_allowed"),
        ("socks5_udp", "none", 443, "method_not_allowed"),
        ("https_mitm", "PUT", 443, "method_not_allowed"),
    ],
)
def test_limited_mode(protocol: str, method: str, port: int, reason: str | None) -> None:
    d, _ = check(
        {"mode": "limited", "domains": {"example.com": "allow"}},
        "example.com",
        protocol=protocol,
        method=method,
        port=port,
        answers={"example.com": [PUBLIC]},
    )
    assert d.allowed is (reason is None)
    if reason:
        assert d.reason == reason and d.x_proxy_error == "blocked-by-method-policy"


def test_limited_connect_without_inspection_needs_mitm() -> None:
    d, _ = check(
        {"mode": "limited", "mitm": False, "domains": {"example.com": "allow"}},
        "example.com",
        protocol="https_connect",
        method="CONNECT",
        port=443,
        answers={"example.com": [PUBLIC]},
    )
    assert (d.reason, d.x_proxy_error) == ("mitm_required", "blocked-by-mitm-required")


def test_socks_port_guard_runs_before_host_policy() -> None:
    d, resolver = check({"mode": "limited"}, "denied.example", protocol="socks5_tcp", port=80)
    assert d.reason == "method_not_allowed" and resolver.calls == []


@pytest.mark.parametrize(
    ("network", "managed", "reason"),
    [
        ({"enable_socks5_udp": True}, None, None),
        ({}, None, "method_not_allowed"),  # off unless opted in
        ({"enable_socks5_udp": True, "mode": "limited"}, None, "method_not_allowed"),
        ({"enable_socks5_udp": True}, {"enable_socks5_udp": False}, "method_not_allowed"),
        ({"enable_socks5_udp": True, "enabled": False}, None, "proxy_disabled"),
    ],
)
def test_udp_association_guard_matches_per_datagram_decide(
    network: dict[str, Any], managed: dict[str, Any] | None, reason: str | None
) -> None:
    network = {**network, "domains": {"127.0.0.1": "allow", "*": "allow"}}
    policy = build_network_policy({"enabled": True, **network}, managed)
    guard = udp_association_decision(policy)
    assert (guard.reason if guard else None) == reason
    # decide() starts with the same guard, so `network check --udp` reports the same reason.
    for host in ("127.0.0.1", PUBLIC):
        d, resolver = check(network, host, protocol="socks5_udp", port=53, managed=managed)
        assert d.reason == (reason or "allow") and resolver.calls == []
    if reason is None:
        # A datagram names no host: only IP-literal rules can allow UDP, even under `*`.
        d, resolver = check(network, "example.com", protocol="socks5_udp", port=53)
        assert d.reason == "not_allowed" and resolver.calls == []
        d, _ = check(network, "127.0.0.2", protocol="socks5_udp", port=53)
        assert d.reason == "not_allowed_local"


# -- managed clamping (spec §2.3) -------------------------------------------------------


def test_managed_denies_are_a_floor_and_allows_a_baseline() -> None:
    policy = build_network_policy(
        {"domains": {"user.example.com": "allow", "x.example.com": "deny"}},
        {"domains": {"corp.example.com": "allow", "*.bad.example.com": "deny"}},
    )
    assert policy.allowed.texts() == ["corp.example.com", "user.example.com"]
    assert policy.denied.texts() == ["*.bad.example.com", "x.example.com"]


def test_managed_allowed_domains_only() -> None:
    policy = build_network_policy(
        {"allowed_domains": ["user.example.com"]},
        {"allowed_domains": ["corp.example.com"], "managed_allowed_domains_only": True},
        extra_allowed=["rule.example.com"],
    )
    assert policy.allowed.texts() == ["corp.example.com"]
    assert any("ignores user allow entries" in w for w in policy.warnings)


def test_managed_mode_is_a_ceiling_and_false_clamps() -> None:
    policy = build_network_policy(
        {"enabled": True, "mode": "full", "allow_local_binding": True, "mitm": True},
        {"mode": "limited", "allow_local_binding": False, "enabled": True},
    )
    assert policy.mode == "limited" and not policy.allow_local_binding and policy.enabled
    assert len(policy.warnings) == 2
    assert not build_network_policy({"enabled": True}, {"enabled": False}).enabled


def test_extra_rules_feed_the_lists_and_ports_can_be_pinned() -> None:
    policy = build_network_policy(
        {"http_port": 3128},
        {"http_port": 4000},
        extra_allowed=["a.example.com"],
        extra_denied=["b.example.com"],
    )
    assert policy.http_port == 4000
    assert policy.allowed.texts() == ["a.example.com"]
    assert policy.denied.texts() == ["b.example.com"]


@pytest.mark.parametrize(
    ("network", "managed", "message"),
    [
        ({"domains": {"*": "deny"}}, None, "network.denied_domains: the global wildcard"),
        (None, {"allowed_domains": ["*"]}, "experimental_network.allowed_domains"),
        ({"mode": "open"}, None, 'network.mode: expected "full" or "limited"'),
        ({"enabled": "yes"}, None, "network.enabled: expected true or false"),
        ({"http_port": 70000}, None, "network.http_port: expected a port"),
        ({"domains": {"a.example": "maybe"}}, None, "network.domains.'a.example'"),
        ({"allowed_domains": "example.com"}, None, "network.allowed_domains: expected a list"),
        ({"domains": {"exa[mp]le.com": "allow"}}, None, "character classes"),
    ],
)
def test_validation_errors_are_located(network: Any, managed: Any, message: str) -> None:
    with pytest.raises(CodexError) as err:
        build_network_policy(network, managed, network_source="/etc/x/config.toml")
    text = str(err.value)
    assert message in text
    assert ("/etc/x/config.toml" in text) or ("requirements.toml" in text)


# -- child environment ------------------------------------------------------------------


def test_proxy_environment() -> None:
    env = proxy_environment(
        "http://127.0.0.1:1",
        "socks5h://127.0.0.1:2",
        allow_local_binding=False,
        ca_bundle=Path("/b.pem"),
    )
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        assert env[key] == "http://127.0.0.1:1"
    assert env["ALL_PROXY"] == env["all_proxy"] == "socks5h://127.0.0.1:2"
    assert env["NO_PROXY"] == env["no_proxy"] == ""
    for key in (
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "GIT_SSL_CAINFO",
        "PIP_CERT",
        "CODEX_CA_CERTIFICATE",
        "CARGO_HTTP_CAINFO",
    ):
        assert env[key] == "/b.pem"
    local = proxy_environment("http://127.0.0.1:1", None, allow_local_binding=True, ca_bundle=None)
    assert "127.0.0.1" in local["NO_PROXY"] and local["ALL_PROXY"] == "http://127.0.0.1:1"
    assert "SSL_CERT_FILE" not in local


def test_shipped_example_policies_build() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[2] / "proxy"
    managed = tomllib.loads((root / "requirements-network.toml").read_text())
    for name in ("org-allowlist.toml", "strict-limited.toml"):
        network = tomllib.loads((root / name).read_text())["network"]
        policy = build_network_policy(network, None)
        assert policy.enabled and policy.allowed and policy.denied
        clamped = build_network_policy(network, managed["experimental_network"])
        assert clamped.mode == "limited" and clamped.allowed.texts() == ["**.example.com"]
        assert "uploads.example.com" in clamped.denied.texts()


@pytest.mark.parametrize(
    "host", ["::ffff:" + PUBLIC, "[::ffff:" + PUBLIC + "]", "::ffff:5db8:d822"]
)
def test_ipv4_mapped_spelling_cannot_dodge_a_deny_entry(host: str) -> None:
    """Regression: `::ffff:a.b.c.d` reaches a.b.c.d but once missed its deny entry."""
    d, _ = check({"domains": {"*": "allow", PUBLIC: "deny"}}, host)
    assert (d.allowed, d.reason) == (False, "denied")
    d, _ = check({"domains": {"*": "allow", "[::ffff:" + PUBLIC + "]": "deny"}}, PUBLIC)
    assert (d.allowed, d.reason) == (False, "denied")


@pytest.mark.parametrize("host", ["0.0.0.0", "[::]", "::", "0:0:0:0:0:0:0:0"])
def test_unspecified_address_is_never_a_destination(host: str) -> None:
    """Regression: with local binding on, 0.0.0.0 / :: reached loopback past a deny of 127.0.0.1."""
    network = {
        "domains": {"*": "allow", "127.0.0.1": "deny", "::1": "deny", "localhost": "deny"},
        "allow_local_binding": True,
    }
    d, _ = check(network, host)
    assert not d.allowed


def test_dns_answer_of_unspecified_address_is_never_dialled() -> None:
    policy = build_network_policy(
        {"enabled": True, "domains": {"*": "allow"}, "allow_local_binding": True}, None
    )
    assert not dial_permitted(policy, "example.com", "0.0.0.0")
    assert not dial_permitted(policy, "example.com", "::")
    assert dial_permitted(policy, "example.com", "127.0.0.1")


def test_a_deciders_allow_once_is_an_allow_and_an_unknown_answer_a_deny() -> None:
    async def once(host: str, port: int, protocol: str) -> tuple[str, str]:
        return ("allow_once", "review failed open")

    async def odd(host: str, port: int, protocol: str) -> tuple[str, str]:
        return ("allow-ish", "?")

    answers = {"example.com": [PUBLIC]}
    yes, _ = check({}, "example.com", answers=answers, decider=once)
    assert yes.allowed and yes.source == "decider"
    no, _ = check({}, "example.com", answers=answers, decider=odd)
    assert not no.allowed


def test_the_effective_policy_cannot_be_changed_after_it_is_built() -> None:
    """The proxy, the sandbox and `network check` share one policy value (a NamedTuple since
    issue 11): nothing holding it may loosen it in place."""
    policy = build_network_policy(
        {"enabled": True, "domains": {"example.com": "allow"}}, {"allow_local_binding": False}
    )
    for name, value in (("allow_local_binding", True), ("allowed", None), ("mode", "full")):
        with pytest.raises(AttributeError):
            setattr(policy, name, value)
    with pytest.raises(AttributeError):
        object.__setattr__(policy, "enabled", False)
    with pytest.raises(TypeError):
        policy[0] = False  # type: ignore[index]
    assert policy.enabled and policy.allowed.texts() == ["example.com"]
    assert policy == build_network_policy(
        {"enabled": True, "domains": {"example.com": "allow"}}, {"allow_local_binding": False}
    )
