"""ChatGPT sign-in against the mock issuer: PKCE browser flow, device code, restrictions."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from codex_admin.auth import (
    AuthDotJson,
    AuthMode,
    LoginRestricted,
    OAuthError,
    TokenData,
    auth_settings,
    enforce_login_restrictions,
    login_status,
    open_store,
)
from codex_admin.auth.oauth import LoginServer
from tests.conftest import Env, run_codex
from tests.support import MockOAuthIssuer

BROWSER = """\
import sys, httpx
response = httpx.get(sys.argv[1], follow_redirects=True, timeout=20)
open(sys.argv[2], "w").write(f"{response.status_code} {response.url}\\n{response.text}")
"""


def fake_browser(tmp: Path) -> tuple[str, Path]:
    script, seen = tmp / "browser.py", tmp / "browser.out"
    script.write_text(BROWSER)
    return f"{sys.executable} {script} %s {seen}", seen


def test_browser_login_end_to_end(env: Env, oauth_issuer: MockOAuthIssuer) -> None:
    browser, seen = fake_browser(env.root)
    out = run_codex(
        "login",
        "--callback-port",
        "0",
        env={"CODEX_LOGIN_ISSUER": oauth_issuer.issuer, "BROWSER": browser},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "Starting local login server on http://localhost:" in out.stderr
    assert f"{oauth_issuer.issuer}/oauth/authorize?response_type=code" in out.stderr
    assert out.stderr.rstrip().endswith("Successfully logged in")
    for _ in range(200):  # the browser process may still be writing what it saw
        if seen.exists() and seen.read_text():
            break
        time.sleep(0.05)
    page = seen.read_text()
    assert (
        page.startswith("200 http://localhost:")
        and "/success" in page
        and "Signed in to Codex" in page
    )
    stored = json.loads((env.home / "auth.json").read_text())
    assert stored["auth_mode"] == "chatgpt"
    assert stored["tokens"]["account_id"] == "ws-test"
    assert stored["tokens"]["refresh_token"] == oauth_issuer.issued[0]["refresh_token"]
    assert stored["OPENAI_API_KEY"] == "sk-exchanged-0123456789abcdef"
    assert stored["last_refresh"].endswith("Z")
    (authorize,) = [r for r in oauth_issuer.requests if r.path == "/oauth/authorize"]
    q = {k: v[0] for k, v in authorize.query.items()}
    assert q["code_challenge_method"] == "S256" and q["client_id"] == "app_EMoamEEZ73f0CkXaXp7hrann"
    assert q["scope"] == "openid profile email offline_access" and q["originator"] == "codex_cli_rs"
    status = run_codex("login", "status")
    assert (status.returncode, status.stderr) == (0, "Logged in using ChatGPT\n")
    data = json.loads(run_codex("login", "status", "--json").stdout)
    assert (data["email"], data["plan_type"], data["account_id"]) == (
        "dev@example.com",
        "plus",
        "ws-test",
    )


def test_device_code_login(env: Env) -> None:
    with MockOAuthIssuer(device_pending_polls=2, api_key=None) as issuer:
        out = run_codex(
            "login", "--device-auth", env={"CODEX_LOGIN_ISSUER": issuer.issuer}, timeout=60
        )
        polls = [r for r in issuer.requests if r.path.endswith("/deviceauth/token")]
    assert out.returncode == 0, out.stderr
    assert f"{issuer.issuer}/codex/device" in out.stderr and "ABCD-" in out.stderr
    assert "Never share this code." in out.stderr
    assert len(polls) == 3
    stored = json.loads((env.home / "auth.json").read_text())
    assert stored["auth_mode"] == "chatgpt" and stored["OPENAI_API_KEY"] is None


def test_workspace_restriction_refuses_other_workspaces(env: Env) -> None:
    env.managed('forced_chatgpt_workspace_id = "ws-allowed"\n')
    with MockOAuthIssuer(account_id="ws-other") as issuer:
        out = run_codex(
            "login", "--device-auth", env={"CODEX_LOGIN_ISSUER": issuer.issuer}, timeout=60
        )
    assert out.returncode == 1
    assert "Login is restricted to workspace id(s) ws-allowed." in out.stderr
    assert not (env.home / "auth.json").exists()


def test_issuer_must_be_https_or_loopback(env: Env) -> None:
    out = run_codex("login", "--device-auth", env={"CODEX_LOGIN_ISSUER": "http://auth.example.com"})
    assert out.returncode == 1 and "must be an https:// URL" in out.stderr


def _settings(home: Path, issuer: str, **config: object):
    return auth_settings(dict(config), codex_home=home, environ={"CODEX_LOGIN_ISSUER": issuer})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_callback_server_refuses_wrong_state_and_falls_back_to_the_second_port(
    tmp_path: Path,
) -> None:
    busy, fallback = socket.socket(), _free_port()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        with MockOAuthIssuer() as issuer:

            async def go() -> tuple[int, list[int], str]:
                async with httpx.AsyncClient() as http:
                    server = LoginServer(
                        http,
                        issuer=issuer.issuer,
                        client_id=issuer.client_id,
                        ports=(busy.getsockname()[1], fallback),
                    )
                    async with server:
                        base = f"http://127.0.0.1:{server.port}"
                        statuses = []
                        for path in ("/auth/callback?code=x&state=forged", "/elsewhere"):
                            statuses.append((await http.get(base + path)).status_code)
                        page = await http.get(server.auth_url, follow_redirects=True)
                        tokens, _ = await server.wait(10)
                    return server.port, statuses, page.text + tokens.id_token[:3]

            port, statuses, text = asyncio.run(go())
        assert port == fallback
        assert statuses == [400, 404]  # a forged state neither completes nor aborts the login
        assert "Signed in to Codex" in text
    finally:
        busy.close()


def test_denied_sign_in_is_reported(tmp_path: Path) -> None:
    with MockOAuthIssuer(deny="access_denied") as issuer:

        async def go() -> None:
            async with (
                httpx.AsyncClient() as http,
                LoginServer(
                    http, issuer=issuer.issuer, client_id=issuer.client_id, ports=(0,)
                ) as server,
            ):
                await http.get(server.auth_url, follow_redirects=True)
                await server.wait(10)

        with pytest.raises(OAuthError, match="Sign-in failed: access_denied"):
            asyncio.run(go())


def _chatgpt(account: str) -> AuthDotJson:
    with MockOAuthIssuer(account_id=account) as issuer:
        t = issuer.tokens()
    return AuthDotJson(
        tokens=TokenData(t["id_token"], t["access_token"], t["refresh_token"], account),
        last_refresh=dt.datetime.now(dt.UTC),
        auth_mode=AuthMode.CHATGPT,
    )


def test_mismatching_stored_workspace_is_removed(tmp_path: Path) -> None:
    open_store("file", tmp_path).save(_chatgpt("ws-old"))
    settings = auth_settings(
        {"forced_chatgpt_workspace_id": ["ws-new", "ws-newer"]}, codex_home=tmp_path, environ={}
    )
    assert login_status(settings).logged_in is False  # status reports, does not delete
    assert (tmp_path / "auth.json").exists()
    with pytest.raises(LoginRestricted) as info:
        enforce_login_restrictions(settings)
    assert info.value.message == (
        "Login is restricted to workspace ws-new, ws-newer, but current credentials belong to ws-old."
        " Logging out."
    )
    assert not (tmp_path / "auth.json").exists()


def test_forced_api_removes_a_chatgpt_login(tmp_path: Path) -> None:
    open_store("file", tmp_path).save(_chatgpt("ws-1"))
    settings = auth_settings({"forced_login_method": "api"}, codex_home=tmp_path, environ={})
    with pytest.raises(
        LoginRestricted, match="API key login is required, but ChatGPT is currently being used"
    ):
        enforce_login_restrictions(settings)
    assert open_store("file", tmp_path).load() is None
    allowed = auth_settings(
        {"forced_chatgpt_workspace_id": "ws-1"}, codex_home=tmp_path, environ={}
    )
    open_store("file", tmp_path).save(_chatgpt("ws-1"))
    assert enforce_login_restrictions(allowed) is not None
