"""Signed bundles: every tampering a verifier must catch, each named in the error."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.managed import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    generate_keypair,
    load_private_key,
    load_public_key,
    sign_bundle,
    verify_bundle,
)
from codex_admin.managed.signing import canonical_json, verify_files

from .conftest import KeyPair


@pytest.fixture
def bundle(tmp_path: Path, keypair: KeyPair) -> Path:
    directory = tmp_path / "bundle"
    (directory / "rules").mkdir(parents=True)
    (directory / "requirements.toml").write_text('allowed_sandbox_modes = ["read-only"]\n')
    (directory / "rules" / "default.rules").write_text(
        'prefix_rule(pattern=["rm"], decision="forbidden")\n'
    )
    sign_bundle(directory, load_private_key(keypair.private), serial=5)
    return directory


def _verify(bundle: Path, keypair: KeyPair, **kwargs: int) -> None:
    verify_bundle(bundle, [load_public_key(keypair.public)], **kwargs)


def test_keygen_private_key_is_0600_and_never_overwritten(tmp_path: Path) -> None:
    kid, b64 = generate_keypair(tmp_path / "k.key", tmp_path / "k.pub")
    assert stat.S_IMODE(os.stat(tmp_path / "k.key").st_mode) == 0o600
    assert len(base64.b64decode(b64)) == 32 and len(kid) == 16
    before = (tmp_path / "k.key").read_bytes()
    with pytest.raises(CodexError, match="refusing to overwrite"):
        generate_keypair(tmp_path / "k.key", tmp_path / "other.pub")
    assert (tmp_path / "k.key").read_bytes() == before
    assert not (tmp_path / "other.pub").exists()


def test_keygen_refuses_dangling_symlink_target(tmp_path: Path) -> None:
    # An attacker-planted symlink must not redirect where the private key is written.
    (tmp_path / "k.key").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(CodexError, match="refusing to overwrite"):
        generate_keypair(tmp_path / "k.key", tmp_path / "k.pub")
    assert not (tmp_path / "elsewhere").exists()


def test_valid_bundle_verifies(bundle: Path, keypair: KeyPair) -> None:
    info = verify_bundle(bundle, [load_public_key(keypair.public)])
    assert info.serial == 5
    assert sorted(info.files) == ["requirements.toml", "rules/default.rules"]


def test_tampered_file_is_named(bundle: Path, keypair: KeyPair) -> None:
    (bundle / "rules" / "default.rules").write_text(
        'prefix_rule(pattern=["rm"], decision="allow")\n'
    )
    with pytest.raises(CodexError, match=r"changed after signing: rules/default\.rules"):
        _verify(bundle, keypair)


def test_extra_file_is_named(bundle: Path, keypair: KeyPair) -> None:
    (bundle / "rules" / "extra.rules").write_text("")
    with pytest.raises(CodexError, match=r"unsigned extra file: rules/extra\.rules"):
        _verify(bundle, keypair)


def test_extra_hidden_file_is_named(bundle: Path, keypair: KeyPair) -> None:
    (bundle / ".hidden").write_text("x")
    with pytest.raises(CodexError, match=r"unsigned extra file: \.hidden"):
        _verify(bundle, keypair)


def test_missing_file_is_named(bundle: Path, keypair: KeyPair) -> None:
    (bundle / "requirements.toml").unlink()
    with pytest.raises(CodexError, match=r"file missing: requirements\.toml"):
        _verify(bundle, keypair)


def test_wrong_key_is_refused(
    bundle: Path, tmp_path: Path, new_keypair: Callable[..., KeyPair]
) -> None:
    other = new_keypair(tmp_path, "other")
    with pytest.raises(CodexError, match="does not verify with any trusted key"):
        _verify(bundle, other)


def test_truncated_signature_is_refused(bundle: Path, keypair: KeyPair) -> None:
    sig = json.loads((bundle / SIGNATURE_NAME).read_text())
    sig["signature"] = base64.b64encode(base64.b64decode(sig["signature"])[:40]).decode()
    (bundle / SIGNATURE_NAME).write_text(json.dumps(sig))
    with pytest.raises(CodexError, match="truncated or garbled"):
        _verify(bundle, keypair)


def test_garbled_signature_is_refused(bundle: Path, keypair: KeyPair) -> None:
    sig = json.loads((bundle / SIGNATURE_NAME).read_text())
    sig["signature"] = "not base64 !!"
    (bundle / SIGNATURE_NAME).write_text(json.dumps(sig))
    with pytest.raises(CodexError, match="garbled"):
        _verify(bundle, keypair)


def test_truncated_signature_file_is_refused(bundle: Path, keypair: KeyPair) -> None:
    text = (bundle / SIGNATURE_NAME).read_text()
    (bundle / SIGNATURE_NAME).write_text(text[: len(text) // 2])
    with pytest.raises(CodexError, match="not valid JSON"):
        _verify(bundle, keypair)


def test_edited_manifest_breaks_signature(bundle: Path, keypair: KeyPair) -> None:
    # Re-hashing a tampered file into the manifest is useless without the private key.
    manifest = json.loads((bundle / MANIFEST_NAME).read_text())
    manifest["serial"] = 99
    (bundle / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(CodexError, match="does not verify"):
        _verify(bundle, keypair)


def test_manifest_formatting_does_not_matter(bundle: Path, keypair: KeyPair) -> None:
    manifest = json.loads((bundle / MANIFEST_NAME).read_text())
    (bundle / MANIFEST_NAME).write_text(json.dumps(manifest, indent=7))
    _verify(bundle, keypair)


def test_unsigned_bundle_says_how_to_sign(tmp_path: Path, keypair: KeyPair) -> None:
    (tmp_path / "requirements.toml").write_text("")
    with pytest.raises(CodexError, match="not signed") as info:
        _verify(tmp_path, keypair)
    assert "codex managed sign" in str(info.value)


def test_replayed_older_serial_is_refused(bundle: Path, keypair: KeyPair) -> None:
    _verify(bundle, keypair, min_serial=5)
    with pytest.raises(CodexError, match="replayed older bundle"):
        _verify(bundle, keypair, min_serial=6)


def test_serial_is_monotonic_when_resigning(bundle: Path, keypair: KeyPair) -> None:
    key = load_private_key(keypair.private)
    with pytest.raises(CodexError, match="not greater than"):
        sign_bundle(bundle, key, serial=5)
    info = sign_bundle(bundle, key)
    assert info.serial > 5


def test_symlink_in_bundle_is_refused(bundle: Path, keypair: KeyPair, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("x")
    (bundle / "link.toml").symlink_to(tmp_path / "secret")
    with pytest.raises(CodexError, match=r"symlink: link\.toml"):
        _verify(bundle, keypair)
    with pytest.raises(CodexError, match="symlink"):
        sign_bundle(bundle, load_private_key(keypair.private))


def test_manifest_with_path_traversal_is_refused(tmp_path: Path, keypair: KeyPair) -> None:
    # Even a correctly signed manifest may not name paths outside the bundle.
    key = load_private_key(keypair.private)
    manifest = {
        "format": "codex-policy-bundle/1",
        "serial": 1,
        "created": "2026-01-01T00:00:00Z",
        "files": {"../evil": {"sha256": "0" * 64, "size": 0}},
    }
    sig = {
        "alg": "ed25519",
        "signature": base64.b64encode(key.sign(canonical_json(manifest))).decode(),
    }
    with pytest.raises(CodexError, match="unsafe path"):
        verify_files(manifest, sig, {}, [key.public_key()])


def test_private_key_of_wrong_type_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad.key").write_text("hello")
    with pytest.raises(CodexError, match="not an unencrypted PEM private key"):
        load_private_key(tmp_path / "bad.key")


def test_sign_writes_a_signed_expiry_and_verify_enforces_it(
    tmp_path: Path, keypair: KeyPair
) -> None:
    directory = tmp_path / "b"
    directory.mkdir()
    (directory / "requirements.toml").write_text('allowed_sandbox_modes = ["read-only"]\n')
    key = load_private_key(keypair.private)
    info = sign_bundle(directory, key, serial=1, now=1_800_000_000, valid_for=3600)
    assert info.expires == "2027-01-15T09:00:00Z" and info.to_json()["expires"] == info.expires
    public = [load_public_key(keypair.public)]
    assert verify_bundle(directory, public, now=1_800_000_000 + 3599).serial == 1
    with pytest.raises(CodexError, match=r"expired at 2027-01-15T09:00:00Z"):
        verify_bundle(directory, public, now=1_800_000_000 + 3600)


def test_expiry_is_covered_by_the_signature(tmp_path: Path, keypair: KeyPair) -> None:
    directory = tmp_path / "b"
    directory.mkdir()
    (directory / "requirements.toml").write_text('allowed_sandbox_modes = ["read-only"]\n')
    sign_bundle(directory, load_private_key(keypair.private), serial=1, valid_for=60)
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    manifest["expires"] = "2999-01-01T00:00:00Z"
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(CodexError, match="does not verify"):
        _verify(directory, keypair)
    del manifest["expires"]
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(CodexError, match="does not verify"):
        _verify(directory, keypair)


def test_no_expiry_only_when_asked_and_never_for_required(tmp_path: Path, keypair: KeyPair) -> None:
    directory = tmp_path / "b"
    directory.mkdir()
    (directory / "requirements.toml").write_text('allowed_sandbox_modes = ["read-only"]\n')
    info = sign_bundle(directory, load_private_key(keypair.private), serial=1, valid_for=None)
    assert info.expires is None
    public = [load_public_key(keypair.public)]
    assert verify_bundle(directory, public).expires is None
    with pytest.raises(CodexError, match="no signed `expires`"):
        verify_bundle(directory, public, require_expiry=True)


def test_signed_but_malformed_times_are_refused(keypair: KeyPair) -> None:
    key = load_private_key(keypair.private)
    for extra in (
        {"expires": "tomorrow"},
        {"expires": 1893456000},
        {"expires": "2025-12-31T00:00:00Z"},  # before `created`
    ):
        manifest = {
            "format": "codex-policy-bundle/1",
            "serial": 1,
            "created": "2026-01-01T00:00:00Z",
            "files": {},
            **extra,
        }
        sig = {
            "alg": "ed25519",
            "signature": base64.b64encode(key.sign(canonical_json(manifest))).decode(),
        }
        with pytest.raises(CodexError, match="expires"):
            verify_files(manifest, sig, {}, [key.public_key()], now=1_700_000_000)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 30 * 86400),
        ("12h", 43200),
        ("90m", 5400),
        ("3600s", 3600),
        ("2w", 14 * 86400),
        ("45", 45),
        ("never", None),
    ],
)
def test_durations(text: str, seconds: float | None) -> None:
    from codex_admin.managed.signing import parse_duration

    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0d", "-1h", "abc", "5y", "inf", "nan"])
def test_bad_durations_are_clear_errors(text: str) -> None:
    from codex_admin.managed.signing import parse_duration

    with pytest.raises(CodexError, match="invalid duration"):
        parse_duration(text)
