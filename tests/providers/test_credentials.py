"""Credential resolution order, the auth command, restrictions, ChatGPT refresh on 401."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import stat
from pathlib import Path

import pytest

from codex_admin.auth import (
    AuthDotJson,
    AuthMode,
    LoginRestricted,
    TokenData,
    auth_settings,
    open_store,
)
from codex_admin.providers import (
    AuthenticationFailed,
    ProviderConfigError,
    resolve_credentials,
    resolve_provider,
)
from tests.providers.helpers import stream
from tests.support import MockOAuthIssuer, MockResponsesServer, assistant_turn, http_error, make_jwt


def settings(home: Path, config: dict | None = None, env: dict | None = None):
    return auth_settings(config or {}, codex_home=home, environ=env or {})


def headers_of(provider_config: dict, home: Path, env: dict, exec_mode: bool = False) -> dict:
    provider = (
        resolve_provider(
            {"model_provider": "p", "model_providers": {"p": provider_config}}, environ=env
        )
        if provider_config
        else resolve_provider({}, environ=env)
    )
    creds = resolve_credentials(provider, settings(home, env=env), exec_mode=exec_mode, environ=env)

    async def go() -> dict:
        import httpx

        async with httpx.AsyncClient() as client:
            return await creds.headers(client)

    out = asyncio.run(go())
    out["_source"] = creds.source
    return out


def test_env_key_missing_or_blank_names_the_variable(tmp_path: Path) -> None:
    table = {
        "base_url": "http://127.0.0.1:1/v1",
        "env_key": "GW_KEY",
        "env_key_instructions": "Get a key at https://gw.example/keys",
    }
    for env in ({}, {"GW_KEY": "   "}):
        with pytest.raises(ProviderConfigError) as info:
            headers_of(table, tmp_path, env)
        assert (
            info.value.message
            == "Missing environment variable: `GW_KEY`. Get a key at https://gw.example/keys"
        )
    assert headers_of(table, tmp_path, {"GW_KEY": " k1 "})["Authorization"] == "Bearer k1"


def test_openai_order_codex_api_key_exec_only_then_openai_api_key_then_stored(
    tmp_path: Path,
) -> None:
    open_store("file", tmp_path).save(AuthDotJson.api_key("sk-stored-000000000000"))
    env = {"CODEX_API_KEY": "sk-codex-env", "OPENAI_API_KEY": "sk-openai-env"}
    assert headers_of({}, tmp_path, env, exec_mode=True)["_source"] == "env:CODEX_API_KEY"
    assert headers_of({}, tmp_path, env, exec_mode=False)["_source"] == "env:OPENAI_API_KEY"
    got = headers_of({}, tmp_path, {}, exec_mode=True)
    assert (
        got["_source"] == "stored API key"
        and got["Authorization"] == "Bearer sk-stored-000000000000"
    )


def test_not_logged_in_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AuthenticationFailed, match="not logged in"):
        headers_of({}, tmp_path, {})


def test_local_providers_send_no_credentials(tmp_path: Path) -> None:
    assert headers_of(
        {"base_url": "http://127.0.0.1:1/v1"}, tmp_path, {"OPENAI_API_KEY": "sk-x"}
    ) == {"_source": "none"}


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "token.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_auth_command_token_is_used_and_rerun_after_401(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    script = _script(
        tmp_path,
        f'n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; echo "tok-$n"\n',
    )
    with MockResponsesServer() as server:
        server.enqueue(http_error(401, "expired"), assistant_turn("ok"))
        table = server.provider_config(
            auth={"command": str(script), "timeout_ms": 5000, "refresh_interval_ms": 0}
        )
        run = stream(table, environ={"PATH": os.environ["PATH"]})
        first, second = server.model_requests
    assert run.error is None
    assert first.header("authorization") == "Bearer tok-1"
    assert second.header("authorization") == "Bearer tok-2"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("echo oops >&2; exit 3\n", "exited with status 3: oops"),
        ("sleep 5\n", "did not finish within 0.3 s"),
        ("true\n", "printed no token"),
    ],
)
def test_auth_command_failures(tmp_path: Path, body: str, message: str) -> None:
    script = _script(tmp_path, body)
    table = {
        "base_url": "http://127.0.0.1:1/v1",
        "auth": {"command": str(script), "timeout_ms": 300},
    }
    with pytest.raises(ProviderConfigError) as info:
        headers_of(table, tmp_path, {"PATH": os.environ["PATH"]})
    assert message in info.value.message


def test_auth_command_bare_name_is_found_on_path(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "print-token"
    tool.write_text("#!/bin/sh\necho bare-token\n")
    tool.chmod(0o755)
    got = headers_of(
        {"base_url": "http://127.0.0.1:1/v1", "auth": {"command": "print-token"}},
        tmp_path,
        {"PATH": str(bindir)},
    )
    assert got["Authorization"] == "Bearer bare-token"
    with pytest.raises(ProviderConfigError, match="not found on PATH"):
        headers_of(
            {"base_url": "http://127.0.0.1:1/v1", "auth": {"command": "no-such-tool"}},
            tmp_path,
            {"PATH": str(bindir)},
        )


def test_forced_chatgpt_refuses_env_keys_and_removes_stored_api_key(tmp_path: Path) -> None:
    open_store("file", tmp_path).save(AuthDotJson.api_key("sk-stored-000000000000"))
    forced = auth_settings({"forced_login_method": "chatgpt"}, codex_home=tmp_path, environ={})
    provider = resolve_provider({}, environ={})
    with pytest.raises(LoginRestricted, match="OPENAI_API_KEY"):
        resolve_credentials(provider, forced, environ={"OPENAI_API_KEY": "sk-env"})
    assert (tmp_path / "auth.json").exists()  # an env key violation leaves the store alone
    with pytest.raises(LoginRestricted) as info:
        resolve_credentials(provider, forced, environ={})
    assert (
        info.value.message
        == "ChatGPT login is required, but an API key is currently being used. Logging out."
    )
    assert not (tmp_path / "auth.json").exists()


def _chatgpt_auth(issuer: MockOAuthIssuer, *, last_refresh: dt.datetime) -> AuthDotJson:
    tokens = issuer.tokens()
    return AuthDotJson(
        tokens=TokenData(
            tokens["id_token"], tokens["access_token"], tokens["refresh_token"], issuer.account_id
        ),
        last_refresh=last_refresh,
        auth_mode=AuthMode.CHATGPT,
    )


def test_chatgpt_login_sends_account_header_and_refreshes_after_401(tmp_path: Path) -> None:
    with MockOAuthIssuer(account_id="ws-42") as issuer, MockResponsesServer() as server:
        stored = _chatgpt_auth(issuer, last_refresh=dt.datetime.now(dt.UTC))
        open_store("file", tmp_path).save(stored)
        env = {"CODEX_LOGIN_ISSUER": issuer.issuer, "OPENAI_BASE_URL": server.base_url}
        server.enqueue(http_error(401, "token expired"), assistant_turn("ok"))
        provider = resolve_provider({}, environ=env)
        creds = resolve_credentials(
            provider, auth_settings({}, codex_home=tmp_path, environ=env), environ=env
        )
        assert creds.chatgpt

        async def go() -> None:
            from codex_admin.providers import ModelClient
            from tests.providers.helpers import request

            async with ModelClient(provider, creds, environ=env) as client:
                async for _ in client.stream(request()):
                    pass

        asyncio.run(go())
        first, second = server.model_requests
        assert first.header("authorization") == f"Bearer {stored.tokens.access_token}"
        assert first.header("chatgpt-account-id") == "ws-42"
        (fresh,) = issuer.refreshed
        assert second.header("authorization") == f"Bearer {fresh['access_token']}"
        saved = open_store("file", tmp_path).load()
        assert saved is not None and saved.tokens is not None
        assert saved.tokens.refresh_token == fresh["refresh_token"]


def test_stale_chatgpt_login_refreshes_before_the_request(tmp_path: Path) -> None:
    with MockOAuthIssuer() as issuer, MockResponsesServer() as server:
        open_store("file", tmp_path).save(
            _chatgpt_auth(issuer, last_refresh=dt.datetime.now(dt.UTC) - dt.timedelta(days=9))
        )
        env = {"CODEX_LOGIN_ISSUER": issuer.issuer, "OPENAI_BASE_URL": server.base_url}
        provider = resolve_provider({}, environ=env)
        creds = resolve_credentials(
            provider, auth_settings({}, codex_home=tmp_path, environ=env), environ=env
        )

        async def go() -> dict:
            import httpx

            async with httpx.AsyncClient() as client:
                return await creds.headers(client)

        headers = asyncio.run(go())
        assert len(issuer.refreshed) == 1
        assert headers["Authorization"] == f"Bearer {issuer.refreshed[0]['access_token']}"


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("refresh_token_expired", "refresh token has expired"),
        ("refresh_token_reused", "was already used"),
        ("refresh_token_invalidated", "was revoked"),
        ("other", "could not be refreshed. Please log out"),
    ],
)
def test_refresh_failures_use_codex_messages(tmp_path: Path, code: str, text: str) -> None:
    with MockOAuthIssuer(refresh_error=code) as issuer:
        open_store("file", tmp_path).save(
            _chatgpt_auth(issuer, last_refresh=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        )
        env = {"CODEX_LOGIN_ISSUER": issuer.issuer}
        provider = resolve_provider({}, environ=env)
        creds = resolve_credentials(
            provider, auth_settings({}, codex_home=tmp_path, environ=env), environ=env
        )

        async def go() -> None:
            import httpx

            async with httpx.AsyncClient() as client:
                await creds.headers(client)

        with pytest.raises(AuthenticationFailed) as info:
            asyncio.run(go())
    assert text in info.value.message


def test_secrets_are_hidden_from_repr(tmp_path: Path) -> None:
    auth = AuthDotJson.api_key("sk-very-secret-value-123456")
    assert "sk-very" not in repr(auth)
    tokens = TokenData(make_jwt({"a": 1}), "access-secret", "refresh-secret", "acct")
    assert "secret" not in repr(tokens)
    provider = resolve_provider(
        {
            "model_provider": "p",
            "model_providers": {
                "p": {"base_url": "http://h/v1", "experimental_bearer_token": "bearer-secret"}
            },
        },
        environ={},
    )
    assert "bearer-secret" not in repr(provider) and "bearer-secret" not in str(provider.to_json())
    creds = resolve_credentials(provider, settings(tmp_path), environ={})
    assert "bearer-secret" not in repr(creds)
