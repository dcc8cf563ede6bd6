"""Requirements are a floor no user layer can lift (issue 10).

A managed restrictive value must win whichever way a user tries to loosen it: the user's
``[network]`` table (domains map or legacy lists), a rules file's ``network_rule`` (an extra
allow), ``--config-file``, ``-c`` or a command-line flag. The headline case: managed
``allow_local_binding = false`` used to lose to a user's explicit literal allow of
``169.254.169.254`` or ``127.0.0.1``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codex_admin.errors import CodexError
from codex_admin.proxy import (
    ProxyServer,
    StaticResolver,
    build_network_policy,
    decide,
    dial_permitted,
)
from tests.proxy.helpers import make_proxy, raw_exchange, run, start_upstream

MANAGED_NO_LOCAL = {"allow_local_binding": False}
LOCAL_LITERALS = ["169.254.169.254", "127.0.0.1", "localhost", "10.0.0.5", "::1", "fd00:ec2::254"]


def _user_layers(host: str) -> list[tuple[str, dict[str, Any], list[str]]]:
    """Every way a user can write an explicit allow for ``host``, plus local binding on."""
    return [
        ("domains map", {"domains": {host: "allow"}, "allow_local_binding": True}, []),
        ("legacy list", {"allowed_domains": [host]}, []),
        ("network_rule", {}, [host]),
        ("bracketed", {"domains": {f"[{host}]" if ":" in host else host: "allow"}}, []),
    ]


def _decide(policy: Any, protocol: str, host: str, port: int) -> Any:
    return asyncio.run(
        decide(
            policy,
            protocol=protocol,
            host=host,
            port=port,
            method="GET" if protocol == "http" else "none",
            resolver=StaticResolver({}),
        )
    )


@pytest.mark.parametrize("host", LOCAL_LITERALS)
def test_managed_no_local_binding_beats_every_user_literal_allow(host: str) -> None:
    for label, table, extra in _user_layers(host):
        policy = build_network_policy(
            {"enabled": True, **table}, MANAGED_NO_LOCAL, extra_allowed=extra
        )
        assert policy.allow_local_binding is False, label
        for protocol, port in (("http", 80), ("https_connect", 443), ("socks5_tcp", 443)):
            decision = _decide(policy, protocol, host, port)
            assert not decision.allowed and decision.reason == "not_allowed_local", (
                label,
                protocol,
            )
        address = "127.0.0.1" if host == "localhost" else host
        assert not dial_permitted(policy, host, address), label
        assert any("cannot reach local/private addresses" in w for w in policy.warnings), label


@pytest.mark.parametrize("host", ["169.254.169.254", "127.0.0.1", "localhost"])
def test_without_the_requirement_the_explicit_literal_still_works(host: str) -> None:
    policy = build_network_policy({"enabled": True, "domains": {host: "allow"}}, None)
    assert _decide(policy, "http", host, 80).allowed
    managed_true = build_network_policy(
        {"enabled": True, "domains": {host: "allow"}}, {"allow_local_binding": True}
    )
    assert _decide(managed_true, "http", host, 80).allowed


def test_a_managed_literal_allow_is_the_admins_exception() -> None:
    policy = build_network_policy(
        {"enabled": True, "domains": {"127.0.0.1": "allow", "10.0.0.5": "allow"}},
        {"allow_local_binding": False, "allowed_domains": ["127.0.0.1"]},
    )
    assert _decide(policy, "http", "127.0.0.1", 80).allowed
    assert dial_permitted(policy, "127.0.0.1", "127.0.0.1")
    assert _decide(policy, "http", "10.0.0.5", 80).reason == "not_allowed_local"


def test_the_running_proxy_refuses_a_user_allowed_loopback_when_requirements_forbid(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(
            tmp_path,
            {"domains": {"127.0.0.1": "allow"}, "allow_local_binding": True},
            managed=MANAGED_NO_LOCAL,
        )
        async with proxy:
            plain = await raw_exchange(
                proxy.http_address,
                f"GET http://127.0.0.1:{up.port}/meta HTTP/1.1\r\nHost: 127.0.0.1:{up.port}\r\n\r\n".encode(),
            )
            tunnel = await raw_exchange(
                proxy.http_address, f"CONNECT 127.0.0.1:{up.port} HTTP/1.1\r\n\r\n".encode()
            )
            assert proxy.socks_address is not None
            reader, writer = await asyncio.open_connection(*proxy.socks_address)
            writer.write(
                b"\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01" + up.port.to_bytes(2, "big")
            )
            assert await reader.readexactly(2) == b"\x05\x00"
            socks_reply = await reader.readexactly(10)
            writer.close()
        up.close()
        assert plain.startswith(b"HTTP/1.1 403") and b"not_allowed_local" in plain
        assert tunnel.startswith(b"HTTP/1.1 403")
        assert socks_reply[1] == 0x02
        assert up.received == []

    run(scenario())


@pytest.mark.parametrize(
    ("managed", "user", "field", "expected"),
    [
        ({"enabled": False}, {"enabled": True}, "enabled", False),
        ({"mitm": False}, {"mitm": True}, "mitm", False),
        ({"mode": "limited"}, {"mode": "full"}, "mode", "limited"),
        (
            {"allow_upstream_proxy": False},
            {"allow_upstream_proxy": True},
            "allow_upstream_proxy",
            False,
        ),
        ({"enable_socks5": False}, {"enable_socks5": True}, "enable_socks5", False),
        ({"enable_socks5_udp": False}, {"enable_socks5_udp": True}, "enable_socks5_udp", False),
        (
            {"dangerously_allow_non_loopback_proxy": False},
            {"dangerously_allow_non_loopback_proxy": True},
            "dangerously_allow_non_loopback_proxy",
            False,
        ),
        (
            {"allow_local_binding": False},
            {"allow_local_binding": True},
            "allow_local_binding",
            False,
        ),
    ],
)
def test_every_managed_flag_is_a_floor(
    managed: dict[str, Any], user: dict[str, Any], field: str, expected: object
) -> None:
    policy = build_network_policy({"enabled": True, **user}, managed)
    assert getattr(policy, field) == expected


def test_managed_denies_and_managed_only_allow_lists_beat_user_allows() -> None:
    policy = build_network_policy(
        {"enabled": True, "domains": {"*": "allow"}},
        {"denied_domains": ["evil.example"], "allowed_domains": ["ok.example"]},
    )
    assert _decide(policy, "http", "evil.example", 80).reason == "denied"
    only = build_network_policy(
        {"enabled": True, "domains": {"user.example": "allow"}},
        {"managed_allowed_domains_only": True, "allowed_domains": ["ok.example"]},
        extra_allowed=["rule.example"],
    )
    for host in ("user.example", "rule.example"):
        assert _decide(only, "http", host, 80).reason == "not_allowed"

    async def decider(host: str, port: int, protocol: str) -> tuple[str, str]:
        raise AssertionError("the decider is never asked under managed_allowed_domains_only")

    decision = asyncio.run(
        decide(
            only,
            protocol="http",
            host="user.example",
            port=80,
            method="GET",
            resolver=StaticResolver({}),
            decider=decider,
        )
    )
    assert decision.reason == "not_allowed"


def test_managed_non_loopback_ban_beats_the_dangerous_flag(tmp_path: Path) -> None:
    policy = build_network_policy(
        {"enabled": True, "dangerously_allow_non_loopback_proxy": True},
        {"dangerously_allow_non_loopback_proxy": False},
    )
    with pytest.raises(CodexError, match="requirements forbid it") as err:
        ProxyServer(policy, codex_home=tmp_path, http_bind=("0.0.0.0", 0), allow_non_loopback=True)
    assert "cannot lift a requirement" in (err.value.hint or "")
    loose = build_network_policy({"enabled": True}, None)
    with pytest.raises(CodexError) as err:
        ProxyServer(loose, codex_home=tmp_path, http_bind=("0.0.0.0", 0))
    assert "--dangerously-allow-non-loopback" in (err.value.hint or "")


def test_pinned_ports_beat_the_command_line() -> None:
    policy = build_network_policy({"enabled": True, "http_port": 0}, {"http_port": 4128})
    assert policy.listener_port("http", None) == 4128
    assert policy.listener_port("http", 4128) == 4128
    with pytest.raises(CodexError, match="pin the http listener to port 4128"):
        policy.listener_port("http", 9999)
    free = build_network_policy({"enabled": True, "socks_port": 8081}, None)
    assert free.listener_port("socks", 9999) == 9999 and free.listener_port("socks", None) == 8081


# -- through the real CLI: requirements.toml, a rules file, -c, --config-file, flags -------------


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    home, system = tmp_path / "home", tmp_path / "system"
    (home / "rules").mkdir(parents=True)
    system.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update({"CODEX_HOME": str(home), "CODEX_SYSTEM_DIR": str(system), "CODEX_MDM_PLIST": ""})
    (system / "requirements.toml").write_text(
        "[experimental_network]\nallow_local_binding = false\n"
        "dangerously_allow_non_loopback_proxy = false\nhttp_port = 4129\n"
    )
    return env


def _codex(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codex_admin.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=env["CODEX_HOME"],
    )


def test_cli_user_layers_cannot_reach_the_metadata_address(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    home = Path(cli_env["CODEX_HOME"])
    (home / "rules" / "net.rules").write_text(
        'network_rule(host="169.254.169.254", protocol="http", decision="allow")\n'
    )
    (home / "config.toml").write_text(
        '[network]\nallow_local_binding = true\n[network.domains]\n"127.0.0.1" = "allow"\n'
    )
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('[network]\nallowed_domains = ["169.254.169.254"]\n')
    attempts = [
        ["--connect", "169.254.169.254:80"],
        ["--url", "http://169.254.169.254/latest/meta-data/"],
        ["--url", "http://127.0.0.1:8080/"],
        ["-c", 'network.domains={"169.254.169.254"="allow"}', "--url", "http://169.254.169.254/"],
        ["--config-file", str(policy_file), "--url", "http://169.254.169.254/"],
    ]
    for extra in attempts:
        result = _codex(cli_env, "network", "check", "--json", *extra)
        assert result.returncode == 3, (extra, result.stdout, result.stderr)
        assert json.loads(result.stdout)["reason"] == "not_allowed_local", extra


def test_cli_flags_cannot_lift_bind_and_port_requirements(cli_env: dict[str, str]) -> None:
    wide = _codex(
        cli_env, "proxy", "run", "--json", "--http", "0.0.0.0", "--dangerously-allow-non-loopback"
    )
    assert wide.returncode == 1
    error = json.loads(wide.stdout)["error"]
    assert "requirements forbid it" in error["message"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        other = sock.getsockname()[1]
    moved = _codex(cli_env, "proxy", "run", "--json", "--http", f"127.0.0.1:{other}")
    assert moved.returncode == 1
    assert "pin the http listener to port 4129" in json.loads(moved.stdout)["error"]["message"]
