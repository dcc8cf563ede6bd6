"""`check_request_now`: the one-shot check without an event loop, and its blocking resolver."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from codex_admin.proxy import (
    BlockingResolver,
    NetworkPolicy,
    ResolveError,
    StaticResolver,
    build_network_policy,
    check_request,
    check_request_now,
)


def _policy() -> NetworkPolicy:
    return build_network_policy(
        {"enabled": True, "domains": {"**.example.com": "allow", "ads.example.com": "deny"}}, None
    )


@pytest.mark.parametrize(
    "request_",
    [
        {"url": "https://api.example.com/v1"},
        {"url": "http://ads.example.com/", "method": "POST"},
        {"connect": "other.example.org:443"},
        {"socks5": "api.example.com:22", "udp": True},
        {"url": "http://user@api.example.com/"},
        {"connect": "private.example.com:443"},
    ],
)
def test_it_answers_as_the_event_loop_check(request_: dict[str, object]) -> None:
    answers = {
        "api.example.com": ["93.184.216.34"],
        "private.example.com": ["10.0.0.5"],
        "other.example.org": ["93.184.216.35"],
    }
    policy = _policy()
    now = check_request_now(policy, answers, **request_)  # type: ignore[arg-type]
    looped = asyncio.run(
        check_request(policy, resolver=StaticResolver(answers), **request_)  # type: ignore[arg-type]
    )
    assert now.to_json() == looped.to_json()


def test_an_unanswered_name_goes_to_the_platform_resolver() -> None:
    result = check_request_now(_policy(), {}, url="http://localhost.example.com/")
    assert result.to_json()["decision"] == "deny"  # refused either way: never an exception


def test_the_blocking_resolver_answers_fails_and_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    resolver = BlockingResolver(timeout=0.2)
    step = resolver.resolve("localhost")
    with pytest.raises(StopIteration) as done:
        step.send(None)  # never suspends: no event loop needed
    assert set(done.value.value) <= {"127.0.0.1", "::1"} and done.value.value

    def failing(*_: object, **__: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", failing)
    with pytest.raises(ResolveError, match="not known"):
        resolver.resolve("gone.example").send(None)

    def slow(*_: object, **__: object) -> object:
        time.sleep(2)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    started = time.monotonic()
    with pytest.raises(ResolveError, match="no answer within 0.2 s"):
        resolver.resolve("slow.example").send(None)
    assert time.monotonic() - started < 1.5
