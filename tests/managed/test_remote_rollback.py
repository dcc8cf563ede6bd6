"""Remote requirements against a user who controls ``$CODEX_HOME`` (issue 10: rollback/freeze).

The user can delete the cache, plant an older signed bundle they kept, and edit the cache's
unsigned ``fetched_at``/``etag``. None of it may keep an old bundle alive past its signed
``expires``, lower the anti-rollback floor set in the system dir, or hang the loader.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.managed import CACHE_NAME, resolve_remote_requirements

from .conftest import KeyPair, PolicyServer, Tls

OLD = 'allowed_sandbox_modes = ["read-only", "workspace-write", "danger-full-access"]\n'
NEW = 'allowed_sandbox_modes = ["read-only"]\n'
DAY = 86400.0

Bundle = Callable[..., dict[str, object]]


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
    grace: float = 7 * DAY,
    extra: str = "",
) -> None:
    (system / "remote_requirements.toml").write_text(
        "[remote]\n"
        f'requirements_url = "{server.url}"\n'
        f'public_keys = ["{key.public_b64}"]\n'
        f'ca_file = "{tls.ca_file}"\n'
        f"ttl_seconds = {ttl}\ngrace_seconds = {grace}\n"
        "timeout_seconds = 2\nmax_attempts = 1\n" + extra
    )


def plant_cache(
    home: Path, server: PolicyServer, wire: dict[str, object], **fields: object
) -> None:
    """What the user can write: any cache document at all."""
    document: dict[str, object] = {"url": server.url, "etag": None, "wire": wire, **fields}
    (home / CACHE_NAME).write_text(json.dumps(document))


def test_planted_old_bundle_with_a_fresh_fetched_at_dies_at_its_signed_expiry(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    # The user kept bundle 10 (loose) and rewrites fetched_at before every run, so it always
    # looks fresh and no request is ever made. It stops working when its signed life ends.
    system, home = dirs
    configure(system, policy_server, tls, keypair)
    signed_at = time.time() - 40 * DAY
    old = new_bundle(tmp_path / "b10", keypair, OLD, serial=10, now=signed_at, valid_for=30 * DAY)
    policy_server.serve_bundle(new_bundle(tmp_path / "b11", keypair, NEW, serial=11))
    now = time.time()
    plant_cache(home, policy_server, old, fetched_at=now - 1)
    result = resolve_remote_requirements(system, home, now=now)
    assert result.state == "fresh" and result.text == NEW
    assert any("expired" in w for w in result.warnings), result.warnings
    # With the server unreachable the expired bundle is not a fallback either: fail closed.
    plant_cache(home, policy_server, old, fetched_at=now - 1)
    policy_server.stop()
    with pytest.raises(CodexError, match="fail closed"):
        resolve_remote_requirements(system, home, now=now)


def test_cache_that_claims_a_future_fetch_time_is_refused(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair, ttl=60, grace=10 * 365 * DAY)
    wire = new_bundle(tmp_path / "b", keypair, OLD, serial=10)
    now = time.time()
    for future in (now + 3600, now + 10 * 365 * DAY, float("inf")):
        plant_cache(home, policy_server, wire, fetched_at=future)
        policy_server.stop()
        with pytest.raises(CodexError, match="no valid cached bundle"):
            resolve_remote_requirements(system, home, now=now)
    # NaN is not a time either (json.dumps writes it as NaN, which json.loads reads back).
    plant_cache(home, policy_server, wire, fetched_at=float("nan"))
    with pytest.raises(CodexError, match="no valid cached bundle"):
        resolve_remote_requirements(system, home, now=now)


def test_cache_fetched_before_its_bundle_was_signed_is_refused(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair, ttl=3600)
    now = time.time()
    wire = new_bundle(tmp_path / "b", keypair, OLD, serial=10, now=now - 60)
    plant_cache(home, policy_server, wire, fetched_at=now - DAY)
    policy_server.stop()
    with pytest.raises(CodexError, match="no valid cached bundle"):
        resolve_remote_requirements(system, home, now=now)


def test_grace_period_never_outlives_the_signed_expiry(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair, ttl=60, grace=30 * DAY)
    now = time.time()
    policy_server.serve_bundle(
        new_bundle(tmp_path / "b", keypair, OLD, serial=10, now=now, valid_for=1000)
    )
    resolve_remote_requirements(system, home, now=now)
    policy_server.stop()
    within = resolve_remote_requirements(system, home, now=now + 500)
    assert within.state == "stale-grace"
    assert within.bundle is not None and within.bundle.expires is not None
    with pytest.raises(CodexError, match="fail closed"):
        resolve_remote_requirements(system, home, now=now + 1001)


def test_system_min_serial_refuses_a_replay_after_the_cache_is_deleted(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    # The admin revoked bundle 10 by raising min_serial; a server (or a man in the middle the
    # user set up) replaying it is refused even on a machine with no cache at all...
    system, home = dirs
    configure(system, policy_server, tls, keypair, extra="min_serial = 11\n")
    old = new_bundle(tmp_path / "b10", keypair, OLD, serial=10)
    policy_server.serve_bundle(old)
    with pytest.raises(CodexError, match="older than the already accepted serial 11"):
        resolve_remote_requirements(system, home)
    # ...and as a planted cache.
    policy_server.serve_bundle(new_bundle(tmp_path / "b12", keypair, NEW, serial=12))
    plant_cache(home, policy_server, old, fetched_at=time.time())
    result = resolve_remote_requirements(system, home)
    assert result.state == "fresh" and result.text == NEW
    assert any("serial 11" in w for w in result.warnings), result.warnings


def test_remote_bundle_without_a_signed_expiry_is_refused(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair)
    policy_server.serve_bundle(new_bundle(tmp_path / "b", keypair, NEW, serial=3, valid_for=None))
    with pytest.raises(CodexError, match="no signed `expires`"):
        resolve_remote_requirements(system, home)
    assert not (home / CACHE_NAME).exists()


def test_expired_bundle_from_the_server_is_refused(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair)
    wire = new_bundle(
        tmp_path / "b", keypair, NEW, serial=3, now=time.time() - 2 * DAY, valid_for=DAY
    )
    policy_server.serve_bundle(wire)
    with pytest.raises(CodexError, match="expired at"):
        resolve_remote_requirements(system, home)


@pytest.mark.timeout(20)
def test_cache_replaced_by_a_fifo_or_a_device_does_not_hang(
    dirs: tuple[Path, Path],
    policy_server: PolicyServer,
    tls: Tls,
    keypair: KeyPair,
    new_bundle: Bundle,
    tmp_path: Path,
) -> None:
    system, home = dirs
    configure(system, policy_server, tls, keypair)
    policy_server.serve_bundle(new_bundle(tmp_path / "b", keypair, NEW, serial=3))
    os.mkfifo(home / CACHE_NAME)
    result = resolve_remote_requirements(system, home)
    assert result.text == NEW
    assert any("unreadable remote requirements cache" in w for w in result.warnings)
    (home / CACHE_NAME).unlink(missing_ok=True)
    (home / CACHE_NAME).symlink_to("/dev/zero")
    result = resolve_remote_requirements(system, home, now=time.time() + 7200)
    assert result.text == NEW
