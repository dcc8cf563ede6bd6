"""`ProxyServer(audit_observer=...)`: the hook telemetry uses to export every allow and deny
(`codex.network_proxy.policy_decision`) -- host, port and method only, never the URL."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import httpx

from codex_admin.proxy import AuditEvent
from tests.proxy.helpers import make_proxy, run, start_upstream


def test_the_observer_hears_every_allow_and_deny_without_paths(tmp_path: Path) -> None:
    events: list[AuditEvent] = []

    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(
            tmp_path,
            {"allow_local_binding": True, "domains": {"allowed.example": "allow"}},
            answers={"allowed.example": ["127.0.0.1"]},
            audit_observer=events.append,
        )
        # (the client is built once the proxy has started: its URL is known then)
        async with proxy, httpx.AsyncClient(proxy=proxy.http_url, trust_env=False) as client:
            ok = await client.get(f"http://allowed.example:{up.port}/secret-path?token=abc")
            assert ok.status_code == 200
            denied = await client.get("http://denied.example/other-path?q=1")
            assert denied.status_code == 403
        up.close()

    run(scenario())
    decisions = [(e.host, e.decision) for e in events]
    assert ("allowed.example", "allow") in decisions
    assert ("denied.example", "deny") in decisions
    denied = next(e for e in events if e.host == "denied.example")
    assert denied.protocol == "http" and denied.method == "GET" and denied.port == 80
    text = repr([asdict(e) for e in events])
    assert "secret-path" not in text and "token=abc" not in text and "other-path" not in text
