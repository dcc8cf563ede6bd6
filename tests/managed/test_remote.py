"""Remote requirements against a real HTTPS server on 127.0.0.1 with a generated CA."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.managed import CACHE_NAME, resolve_remote_requirements

from .conftest import KeyPair, PolicyServer, Tls

REQ_V1 = 'allowed_sandbox_modes = ["read-only", "workspace-write"]\n'
REQ_V2 = 'allowed_sandbox_modes = ["read-only"]\n'


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    system, home = tmp_path / "etc-codex", tmp_path / "home"
    system.mkdir()
    home.mkdir()
    return system, home


def configure(
    system: Path,
    server: PolicyServer,
    tls: Tls,
    key: KeyPair,
    *,
    ttl: float = 3600,
    grace: float = 600,
    timeout: float = 2,
    attempts: int = 2,
) -> None:
    (system / "remote_requirements.toml").write_text(
        "[remote]\n"
        f'requirements_url = "{server.url}"\n'
        f'public_keys = ["{key.public_b64}"]\n'
        f'ca_file = "{tls.ca_file}"\n'
        f"ttl_seconds = {ttl}\ngrace_seconds = {grace}\n"
        f"timeout_seconds = {timeout}\nmax_attempts = {attempts}\n"
    )


Bundle = Callable[..., dict[str, object]]


def test_not_configured_returns_nothing(dirs: tuple[Path, Path]) -> None:
    system, home = dirs
    result = resolve_remote_requirements(system, home)
    assert not result.configured and result.text is None


def test_fresh_fetch_verifies_and_caches_0600(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair)
    policy_server.serve_bundle(new_bundle(tmp_path / "b", keypair, REQ_V1, serial=10), etag='"v1"')
    result = resolve_remote_requirements(system, home)
    assert result.state == "fresh" and result.text == REQ_V1
    assert result.bundle is not None and result.bundle.serial == 10
    assert "serial 10" in result.source
    cache = home / CACHE_NAME
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    # Within the TTL no request is made at all.
    again = resolve_remote_requirements(system, home)
    assert again.state == "cached" and again.text == REQ_V1
    assert len(policy_server.requests) == 1


def test_etag_gives_304_and_refreshes_cache_age(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair, ttl=60)
    policy_server.serve_bundle(new_bundle(tmp_path / "b", keypair, REQ_V1, serial=10), etag='"v1"')
    now = time.time()
    resolve_remote_requirements(system, home, now=now)
    result = resolve_remote_requirements(system, home, now=now + 120)
    assert result.state == "not-modified" and result.text == REQ_V1
    assert policy_server.requests[-1]["if_none_match"] == '"v1"'
    assert result.fetched_at == pytest.approx(now + 120)
    # ...so the next call inside the new TTL is served from the cache.
    assert resolve_remote_requirements(system, home, now=now + 150).state == "cached"


def test_newer_bundle_replaces_cache(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair, ttl=60)
    policy_server.serve_bundle(new_bundle(tmp_path / "b1", keypair, REQ_V1, serial=10), etag='"1"')
    now = time.time()
    resolve_remote_requirements(system, home, now=now)
    policy_server.serve_bundle(new_bundle(tmp_path / "b2", keypair, REQ_V2, serial=11), etag='"2"')
    result = resolve_remote_requirements(system, home, now=now + 61)
    assert result.state == "fresh" and result.text == REQ_V2


def test_server_down_with_valid_cache(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair, ttl=60)
    policy_server.serve_bundle(new_bundle(tmp_path / "b", keypair, REQ_V1, serial=10))
    now = time.time()
    resolve_remote_requirements(system, home, now=now)
    policy_server.stop()
    result = resolve_remote_requirements(system, home, now=now + 30)
    assert result.state == "cached" and result.text == REQ_V1 and not result.warnings


def test_server_down_expired_cache_within_then_after_grace(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair, ttl=60, grace=600)
    policy_server.serve_bundle(new_bundle(tmp_path / "b", keypair, REQ_V1, serial=10))
    now = time.time()
    resolve_remote_requirements(system, home, now=now)
    policy_server.stop()
    within = resolve_remote_requirements(system, home, now=now + 300)
    assert within.state == "stale-grace" and within.text == REQ_V1
    assert any("cannot reach the server" in w and "grace period ends" in w for w in within.warnings)
    with pytest.raises(CodexError, match="fail closed") as info:
        resolve_remote_requirements(system, home, now=now + 700)
    assert "expired beyond its grace period" in str(info.value)


def test_no_cache_and_server_down_fails_closed(
    dirs: tuple[Path, Path], policy_server: PolicyServer, tls: Tls, keypair: KeyPair
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair)
    policy_server.stop()
    with pytest.raises(CodexError, match="no valid cached bundle"):
        resolve_remote_requirements(system, home)


def test_bad_signature_is_never_activated(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    new_keypair: Callable[..., KeyPair],
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair)
    attacker = new_keypair(tmp_path, "attacker")
    policy_server.serve_bundle(new_bundle(tmp_path / "b", attacker, REQ_V1, serial=99))
    with pytest.raises(CodexError, match="does not verify with any trusted key"):
        resolve_remote_requirements(system, home)
    assert not (home / CACHE_NAME).exists()


def test_tampered_file_in_wire_bundle_is_refused(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    import base64

    system, home = dirs
    configure(system, policy_server, tls, keypair)
    wire = new_bundle(tmp_path / "b", keypair, REQ_V2, serial=3)
    files = wire["files"]
    assert isinstance(files, dict)
    files["requirements.toml"] = base64.b64encode(REQ_V1.encode()).decode()
    policy_server.serve_bundle(wire)
    with pytest.raises(CodexError, match=r"changed after signing: requirements\.toml"):
        resolve_remote_requirements(system, home)


def test_replayed_older_serial_is_refused_and_cache_kept(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair, ttl=60, grace=600)
    old = new_bundle(tmp_path / "old", keypair, REQ_V1, serial=10)
    policy_server.serve_bundle(new_bundle(tmp_path / "new", keypair, REQ_V2, serial=11))
    now = time.time()
    resolve_remote_requirements(system, home, now=now)
    policy_server.serve_bundle(old)  # an attacker replays the older, looser, validly signed bundle
    result = resolve_remote_requirements(system, home, now=now + 120)
    assert result.state == "stale-grace" and result.text == REQ_V2
    assert any("replayed older bundle" in w for w in result.warnings)
    assert json.loads((home / CACHE_NAME).read_text())["wire"]["manifest"]["serial"] == 11


def test_same_serial_different_content_is_refused(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair, ttl=60)
    policy_server.serve_bundle(new_bundle(tmp_path / "a", keypair, REQ_V2, serial=11))
    now = time.time()
    resolve_remote_requirements(system, home, now=now)
    policy_server.serve_bundle(new_bundle(tmp_path / "b", keypair, REQ_V1, serial=11))
    result = resolve_remote_requirements(system, home, now=now + 61)
    assert result.text == REQ_V2
    assert any("reuses serial 11" in w for w in result.warnings)


def test_slow_server_times_out_and_fails_closed(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair, timeout=0.4, attempts=2)
    policy_server.serve_bundle(new_bundle(tmp_path / "b", keypair, REQ_V1, serial=1))
    policy_server.delay = 1.5
    started = time.monotonic()
    with pytest.raises(CodexError, match="timed out"):
        resolve_remote_requirements(system, home)
    assert time.monotonic() - started < 3.0
    assert len(policy_server.requests) == 2  # bounded retries


def test_server_error_is_retried_then_fails(
    dirs: tuple[Path, Path], policy_server: PolicyServer, tls: Tls, keypair: KeyPair
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair, attempts=3)
    policy_server.status = 503
    with pytest.raises(CodexError, match="HTTP 503"):
        resolve_remote_requirements(system, home)
    assert len(policy_server.requests) == 3


def test_untrusted_tls_certificate_is_refused(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair, attempts=1)
    text = (system / "remote_requirements.toml").read_text()
    (system / "remote_requirements.toml").write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("ca_file")) + "\n"
    )
    policy_server.serve_bundle(new_bundle(tmp_path / "b", keypair, REQ_V1, serial=1))
    with pytest.raises(CodexError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
        resolve_remote_requirements(system, home)


def test_tampered_cache_is_ignored(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    import base64

    system, home = dirs
    configure(system, policy_server, tls, keypair)
    policy_server.serve_bundle(new_bundle(tmp_path / "b", keypair, REQ_V2, serial=4))
    resolve_remote_requirements(system, home)
    cache = json.loads((home / CACHE_NAME).read_text())
    cache["wire"]["files"]["requirements.toml"] = base64.b64encode(REQ_V1.encode()).decode()
    (home / CACHE_NAME).write_text(json.dumps(cache))
    policy_server.stop()
    with pytest.raises(CodexError, match="fail closed"):
        resolve_remote_requirements(system, home)


def test_http_url_and_missing_keys_are_config_errors(dirs: tuple[Path, Path]) -> None:
    system, home = dirs
    path = system / "remote_requirements.toml"
    path.write_text('[remote]\nrequirements_url = "http://x/b.json"\npublic_keys = ["AAAA"]\n')
    with pytest.raises(CodexError, match="https://"):
        resolve_remote_requirements(system, home)
    path.write_text('[remote]\nrequirements_url = "https://x/b.json"\n')
    with pytest.raises(CodexError, match="at least one trusted public key"):
        resolve_remote_requirements(system, home)
    path.write_text("[remote\n")
    with pytest.raises(CodexError, match=r"remote_requirements\.toml:1:8: invalid TOML"):
        resolve_remote_requirements(system, home)


def test_oversized_response_is_refused(
    dirs: tuple[Path, Path], policy_server: PolicyServer, tls: Tls, keypair: KeyPair
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair)
    policy_server.body = b" " * (13 * 1024 * 1024)
    with pytest.raises(CodexError, match="larger than"):
        resolve_remote_requirements(system, home)


def test_load_remote_requirements_contract(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    from codex_admin.config import RequirementsDocument, compose_requirements
    from codex_admin.managed import load_remote_requirements

    system, home = dirs
    assert load_remote_requirements(system, home) is None
    configure(system, policy_server, tls, keypair, ttl=0, grace=600)
    policy_server.serve_bundle(new_bundle(tmp_path / "b", keypair, REQ_V2, serial=8))
    doc = load_remote_requirements(system, home)
    assert isinstance(doc, RequirementsDocument) and doc.text == REQ_V2 and doc.path is None
    effective = compose_requirements([doc])
    assert effective.value("allowed_sandbox_modes") == ["read-only"]
    assert effective.source("allowed_sandbox_modes") == doc.source
    policy_server.stop()
    again = load_remote_requirements(system, home)
    assert again is not None and again.text == REQ_V2
    assert len(again.warnings) == 1 and "grace period" in again.warnings[0]
    assert compose_requirements([again]).warnings == list(again.warnings)


def test_remote_source_in_codex_home_is_ignored(
    dirs: tuple[Path, Path], policy_server: PolicyServer, tls: Tls, keypair: KeyPair
) -> None:
    # Only the admin-owned system dir may name a policy server or trusted keys.
    system, home = dirs
    configure(home, policy_server, tls, keypair)
    assert not resolve_remote_requirements(system, home).configured


def test_cache_symlink_is_replaced_not_followed(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (home / CACHE_NAME).symlink_to(victim)
    configure(system, policy_server, tls, keypair)
    policy_server.serve_bundle(new_bundle(tmp_path / "b", keypair, REQ_V1, serial=2))
    assert resolve_remote_requirements(system, home).state == "fresh"
    assert victim.read_text() == "keep me\n"
    assert not (home / CACHE_NAME).is_symlink()
