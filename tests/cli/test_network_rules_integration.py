"""execpolicy `network_rule`s feed the proxy's lists through the shared CLI glue."""

from __future__ import annotations

import json

from tests.conftest import Env, run_codex

RESOLVE = [
    "--resolve",
    "api.example.com=93.184.216.34",
    "--resolve",
    "paste.example.net=93.184.216.35",
    "--resolve",
    "other.example.org=93.184.216.36",
]


def _check(host: str, *extra: str) -> tuple[int, dict[str, object]]:
    proc = run_codex("network", "check", "--connect", f"{host}:443", *RESOLVE, "--json", *extra)
    assert proc.returncode in (0, 3), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_network_rules_allow_and_deny_hosts(env: Env) -> None:
    env.write(
        env.home / "rules/net.rules",
        'network_rule(host="api.example.com", protocol="https", decision="allow")\n'
        'network_rule(host="paste.example.net", protocol="https", decision="deny")\n',
    )
    code, data = _check("api.example.com")
    assert code == 0 and data["matched_pattern"] == "api.example.com"
    code, data = _check("paste.example.net")
    assert code == 3 and data["x_proxy_error"] == "blocked-by-denylist"
    code, data = _check("other.example.org")
    assert code == 3 and data["x_proxy_error"] == "blocked-by-allowlist"


def test_a_network_rule_cannot_lift_a_config_or_managed_deny(env: Env) -> None:
    env.write(
        env.home / "rules/net.rules",
        'network_rule(host="paste.example.net", protocol="https", decision="allow")\n',
    )
    env.user('[network]\ndomains = { "paste.example.net" = "deny" }\n')
    code, data = _check("paste.example.net")
    assert code == 3 and data["reason"] == "denied"
    env.user("")
    env.requirements('[experimental_network]\ndenied_domains = ["paste.example.net"]\n')
    code, data = _check("paste.example.net")
    assert code == 3 and data["reason"] == "denied"


def test_broken_rules_file_stops_the_proxy_policy(env: Env) -> None:
    env.write(
        env.home / "rules/bad.rules",
        'network_rule(host="a.com", protocol="ftp", decision="allow")\n',
    )
    proc = run_codex("network", "check", "--connect", "a.com:443", "--json")
    assert proc.returncode == 1
    assert "bad.rules" in proc.stderr and "Traceback" not in proc.stderr
