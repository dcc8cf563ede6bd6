"""Credential stores: the 0600 file (atomic, no symlinks), a real Secret Service, auto, memory."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from codex_admin.auth import (
    KEYRING_SERVICE,
    AuthDotJson,
    AuthMode,
    KeyringUnavailable,
    auth_home,
    keyring_account,
    open_store,
)
from codex_admin.errors import CodexError
from tests.support import SecretService


def test_file_store_writes_codex_format_0600(tmp_path: Path) -> None:
    store = open_store("file", tmp_path)
    store.save(AuthDotJson.api_key("sk-test-1234567890abcdef"))
    path = tmp_path / "auth.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # byte-for-byte what Codex 0.169 writes for an API key login
    assert (
        path.read_text()
        == '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-test-1234567890abcdef"\n}'
    )
    loaded = store.load()
    assert loaded is not None and loaded.mode is AuthMode.API_KEY
    assert loaded.openai_api_key == "sk-test-1234567890abcdef"
    assert [p.name for p in tmp_path.iterdir()] == ["auth.json"]  # no temp file left behind


def test_unknown_fields_survive_a_rewrite(tmp_path: Path) -> None:
    (tmp_path / "auth.json").write_text(
        json.dumps({"OPENAI_API_KEY": "k" * 20, "agent_identity": {"x": 1}})
    )
    store = open_store("file", tmp_path)
    auth = store.load()
    assert auth is not None
    store.save(auth)
    assert json.loads((tmp_path / "auth.json").read_text())["agent_identity"] == {"x": 1}


def test_symlinked_auth_file_is_refused_for_read_and_write(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"OPENAI_API_KEY": "attacker-controlled"}))
    home = tmp_path / "home"
    home.mkdir()
    (home / "auth.json").symlink_to(target)
    store = open_store("file", home)
    with pytest.raises(CodexError, match="symbolic link"):
        store.load()
    with pytest.raises(CodexError, match="symbolic link"):
        store.save(AuthDotJson.api_key("sk-new-secret-123456789"))
    assert "sk-new" not in target.read_text()  # nothing was written through the link
    assert store.delete() and target.exists()  # logout removes the link, not its target


def test_malformed_file_is_a_clear_error_without_contents(tmp_path: Path) -> None:
    (tmp_path / "auth.json").write_text('{"OPENAI_API_KEY": "sk-leak-me-please", ')
    with pytest.raises(CodexError) as info:
        open_store("file", tmp_path).load()
    assert "malformed" in info.value.message and "sk-leak" not in str(info.value)
    assert "codex logout" in (info.value.hint or "")


def test_auth_home_and_account_name(tmp_path: Path) -> None:
    assert auth_home(tmp_path, {"CODEX_AUTH_HOME": str(tmp_path / "auth")}) == tmp_path / "auth"
    assert auth_home(tmp_path, {"CODEX_AUTH_HOME": "  "}) == tmp_path
    # the value the real Codex 0.169 computed for /work/refhome-providers/h4 (see README)
    import hashlib

    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    digest = hashlib.sha256(str(tmp_path.resolve()).encode()).hexdigest()[:16]
    assert keyring_account(link) == keyring_account(tmp_path) == f"cli|{digest}"


def test_ephemeral_store_never_touches_disk(tmp_path: Path) -> None:
    store = open_store("ephemeral", tmp_path)
    store.save(AuthDotJson.api_key("sk-memory-only-12345"))
    assert list(tmp_path.iterdir()) == []
    assert open_store("ephemeral", tmp_path).load() is not None
    assert store.delete() and store.load() is None


def test_auto_falls_back_to_the_file_without_a_secret_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    with pytest.raises(KeyringUnavailable):
        open_store("keyring", tmp_path).save(AuthDotJson.api_key("sk-abcdefghijklmnop"))
    auto = open_store("auto", tmp_path)
    auto.save(AuthDotJson.api_key("sk-abcdefghijklmnop"))
    assert (tmp_path / "auth.json").exists()
    assert auto.load() is not None and "keyring unavailable" in auto.describe()


def test_invalid_store_name(tmp_path: Path) -> None:
    with pytest.raises(CodexError, match="file, keyring, auto, ephemeral"):
        open_store("vault", tmp_path)


# ------------------------------------------------------------------ a real Secret Service


def _items(service: SecretService) -> list[tuple[dict[str, str], bytes]]:
    import secretstorage
    from jeepney.io.blocking import open_dbus_connection

    conn = open_dbus_connection(service.environ["DBUS_SESSION_BUS_ADDRESS"])
    try:
        return [
            (item.get_attributes(), item.get_secret())
            for item in secretstorage.get_default_collection(conn).get_all_items()
        ]
    finally:
        conn.close()


@pytest.fixture
def keyring_env(secret_service: SecretService, monkeypatch: pytest.MonkeyPatch) -> SecretService:
    monkeypatch.setenv(
        "DBUS_SESSION_BUS_ADDRESS", secret_service.environ["DBUS_SESSION_BUS_ADDRESS"]
    )
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    return secret_service


def test_keyring_store_round_trip_in_gnome_keyring(
    keyring_env: SecretService, tmp_path: Path
) -> None:
    (tmp_path / "auth.json").write_text('{"OPENAI_API_KEY": "old-plaintext-key-xx"}')
    store = open_store("keyring", tmp_path)
    store.save(AuthDotJson.api_key("sk-keyring-secret-0123456789"))
    assert not (tmp_path / "auth.json").exists()  # a successful keyring save removes the file
    (attrs, secret) = next(
        i for i in _items(keyring_env) if i[0].get("username") == keyring_account(tmp_path)
    )
    assert attrs["service"] == KEYRING_SERVICE == "Codex Auth"
    assert json.loads(secret) == {
        "auth_mode": "apikey",
        "OPENAI_API_KEY": "sk-keyring-secret-0123456789",
    }
    loaded = store.load()
    assert loaded is not None and loaded.openai_api_key == "sk-keyring-secret-0123456789"
    assert store.delete() and store.load() is None
    assert not store.delete()


def test_auto_prefers_the_keyring_when_it_is_there(
    keyring_env: SecretService, tmp_path: Path
) -> None:
    auto = open_store("auto", tmp_path)
    auto.save(AuthDotJson.api_key("sk-auto-secret-0123456789"))
    assert not (tmp_path / "auth.json").exists()
    assert "Codex Auth" in auto.describe()
    assert auto.delete() and auto.load() is None


def test_keyring_entries_of_different_homes_do_not_mix(
    keyring_env: SecretService, tmp_path: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    open_store("keyring", a).save(AuthDotJson.api_key("sk-home-a-0123456789"))
    assert open_store("keyring", b).load() is None
    assert os.fspath(a) != os.fspath(b)
