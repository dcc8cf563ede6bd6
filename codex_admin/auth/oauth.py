"""ChatGPT sign-in: PKCE with a local callback server, device code, and token refresh.

Endpoints (relative to the issuer, `https://auth.openai.com` unless overridden):

=============================================  ===========================================
``GET  /oauth/authorize?...``                  the browser page (PKCE S256, ``state``)
``POST /oauth/token`` (form)                   authorization code -> id/access/refresh tokens;
                                               token exchange -> an API key (best effort)
``POST /oauth/token`` (JSON)                   refresh: ``grant_type=refresh_token``
``POST /api/accounts/deviceauth/usercode``     device code: ``{client_id}`` -> user code
``POST /api/accounts/deviceauth/token``        poll: 403/404 = pending; 200 = code + PKCE pair
=============================================  ===========================================

The callback server listens on 127.0.0.1 only, port 1455 (1457 when 1455 is busy), and accepts
exactly ``/auth/callback`` (with the ``state`` it issued, compared in constant time), then
``/success``; ``/cancel`` aborts; anything else is a 404. A request whose ``state`` does not
match is answered 400 and does not end the login, so a local process that guesses the port
cannot inject a code. Codes, tokens and the PKCE verifier never appear in errors or ``repr``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import html
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx

from codex_admin.auth.model import AuthDotJson, AuthMode, TokenData, parse_id_token
from codex_admin.errors import CodexError

__all__ = [
    "DEFAULT_PORT",
    "FALLBACK_PORT",
    "DeviceCode",
    "ExchangedTokens",
    "LoginServer",
    "OAuthError",
    "PkceCodes",
    "RefreshFailed",
    "auth_from_tokens",
    "build_authorize_url",
    "complete_device_code",
    "ensure_workspace_allowed",
    "exchange_code",
    "generate_pkce",
    "obtain_api_key",
    "refresh_tokens",
    "request_device_code",
    "tokens_from_refresh",
]

DEFAULT_PORT = 1455
FALLBACK_PORT = 1457
SCOPE = "openid profile email offline_access"
_DEVICE_MAX_WAIT = 15 * 60.0
_MAX_REQUEST_HEAD = 16 * 1024
_SUCCESS_WAIT = 5.0  # seconds to wait for the browser to load /success after the callback
_HTTP_TIMEOUT = 30.0


class OAuthError(CodexError):
    """Sign-in or refresh failed (the issuer refused, a code was wrong, the user cancelled)."""


class RefreshFailed(OAuthError):
    """The refresh token is no longer usable: the user must sign in again."""


@dataclass(frozen=True)
class PkceCodes:
    verifier: str = field(repr=False)
    challenge: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def generate_pkce() -> PkceCodes:
    """A 64-byte random verifier and its S256 challenge (RFC 7636)."""
    verifier = _b64url(secrets.token_bytes(64))
    return PkceCodes(verifier, _b64url(hashlib.sha256(verifier.encode("ascii")).digest()))


def build_authorize_url(
    issuer: str,
    client_id: str,
    redirect_uri: str,
    pkce: PkceCodes,
    state: str,
    *,
    workspace_ids: Sequence[str] | None = None,
    originator: str = "codex_cli_rs",
) -> str:
    query = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", SCOPE),
        ("code_challenge", pkce.challenge),
        ("code_challenge_method", "S256"),
        ("id_token_add_organizations", "true"),
        ("codex_cli_simplified_flow", "true"),
        ("state", state),
        ("originator", originator),
    ]
    if workspace_ids:
        query.append(("allowed_workspace_id", ",".join(workspace_ids)))
    return f"{issuer.rstrip('/')}/oauth/authorize?{urlencode(query, quote_via=quote)}"


@dataclass(frozen=True)
class ExchangedTokens:
    id_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)


def ensure_workspace_allowed(expected: Sequence[str] | None, id_token: str) -> None:
    """Refuse tokens of a workspace other than the forced one(s)."""
    if not expected:
        return
    actual = parse_id_token(id_token).account_id
    if actual is None:
        raise OAuthError(
            "Login is restricted to a specific workspace, but the token did not include a"
            " chatgpt_account_id claim."
        )
    if actual not in expected:
        raise OAuthError(f"Login is restricted to workspace id(s) {', '.join(expected)}.")


def auth_from_tokens(tokens: ExchangedTokens, api_key: str | None = None) -> AuthDotJson:
    """The document stored after a ChatGPT sign-in."""
    return AuthDotJson(
        openai_api_key=api_key,
        tokens=TokenData(
            tokens.id_token,
            tokens.access_token,
            tokens.refresh_token,
            parse_id_token(tokens.id_token).account_id,
        ),
        last_refresh=dt.datetime.now(dt.UTC),
        auth_mode=AuthMode.CHATGPT,
    )


def _error_detail(response: httpx.Response) -> str:
    """The issuer's error description (never echoes the request)."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:200] if text else "unknown error"
    if isinstance(body, dict):
        desc = body.get("error_description")
        err = body.get("error")
        if isinstance(desc, str) and desc.strip():
            return desc
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str) and err:
            return err
    return "unknown error"


async def exchange_code(
    client: httpx.AsyncClient,
    issuer: str,
    client_id: str,
    redirect_uri: str,
    verifier: str,
    code: str,
) -> ExchangedTokens:
    """Authorization code + PKCE verifier -> tokens."""
    try:
        response = await client.post(
            f"{issuer.rstrip('/')}/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        )
    except httpx.HTTPError as err:
        raise OAuthError(
            f"Token exchange failed: cannot reach the issuer ({type(err).__name__})"
        ) from None
    if response.status_code != 200:
        raise OAuthError(
            f"Token exchange failed: token endpoint returned status {response.status_code}:"
            f" {_error_detail(response)}"
        )
    data = _json_object(response, "token endpoint")
    values = [data.get(k) for k in ("id_token", "access_token", "refresh_token")]
    if not all(isinstance(v, str) and v for v in values):
        raise OAuthError("Token exchange failed: the token endpoint's answer lacks tokens")
    return ExchangedTokens(str(values[0]), str(values[1]), str(values[2]))


async def obtain_api_key(
    client: httpx.AsyncClient, issuer: str, client_id: str, id_token: str
) -> str | None:
    """Best effort: trade the ID token for an API key (None when the issuer declines)."""
    try:
        response = await client.post(
            f"{issuer.rstrip('/')}/oauth/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "client_id": client_id,
                "requested_token": "openai-api-key",
                "subject_token": id_token,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            },
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        key = response.json().get("access_token")
    except (ValueError, AttributeError):
        return None
    return key if isinstance(key, str) and key else None


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise OAuthError(f"the {what} did not answer with JSON") from None
    if not isinstance(data, dict):
        raise OAuthError(f"the {what} did not answer with a JSON object")
    return data


# ---------------------------------------------------------------------------------- refresh

_REFRESH_MESSAGES = {
    "refresh_token_expired": (
        "Your access token could not be refreshed because your refresh token has expired."
        " Please log out and sign in again."
    ),
    "refresh_token_reused": (
        "Your access token could not be refreshed because your refresh token was already"
        " used. Please log out and sign in again."
    ),
    "refresh_token_invalidated": (
        "Your access token could not be refreshed because your refresh token was revoked."
        " Please log out and sign in again."
    ),
}
_REFRESH_UNKNOWN = "Your access token could not be refreshed. Please log out and sign in again."


async def refresh_tokens(
    client: httpx.AsyncClient, url: str, client_id: str, refresh_token: str
) -> dict[str, str]:
    """New tokens for ``refresh_token``: a dict with some of id/access/refresh_token.

    A 401 is permanent (:class:`RefreshFailed`, with Codex's message for the issuer's code);
    anything else is a transient :class:`OAuthError`.
    """
    try:
        response = await client.post(
            url,
            json={
                "client_id": client_id,
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "scope": "openid profile email",
            },
        )
    except httpx.HTTPError as err:
        raise OAuthError(
            f"Failed to refresh token: cannot reach the issuer ({type(err).__name__})"
        ) from None
    if response.status_code == 401:
        code = _error_code(response)
        raise RefreshFailed(
            _REFRESH_MESSAGES.get(code or "", _REFRESH_UNKNOWN), hint="run `codex login`"
        )
    if response.status_code != 200:
        raise OAuthError(
            f"Failed to refresh token: {response.status_code}: {_error_detail(response)}"
        )
    data = _json_object(response, "token endpoint")
    return {
        k: v
        for k in ("id_token", "access_token", "refresh_token")
        if isinstance(v := data.get(k), str) and v
    }


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict) and isinstance(err.get("code"), str):
        return str(err["code"]).lower()
    if isinstance(err, str):
        return err.lower()
    code = body.get("code")
    return code.lower() if isinstance(code, str) else None


# ------------------------------------------------------------------------------- device code


@dataclass(frozen=True)
class DeviceCode:
    verification_url: str
    user_code: str
    device_auth_id: str = field(repr=False)
    interval: float = 5.0


async def request_device_code(client: httpx.AsyncClient, issuer: str, client_id: str) -> DeviceCode:
    base = issuer.rstrip("/")
    try:
        response = await client.post(
            f"{base}/api/accounts/deviceauth/usercode", json={"client_id": client_id}
        )
    except httpx.HTTPError as err:
        raise OAuthError(
            f"device code request failed: cannot reach the issuer ({type(err).__name__})"
        ) from None
    if response.status_code == 404:
        raise OAuthError(
            "device code login is not enabled for this Codex server. Use the browser login or"
            " verify the server URL."
        )
    if response.status_code != 200:
        raise OAuthError(f"device code request failed with status {response.status_code}")
    data = _json_object(response, "device code endpoint")
    user_code = data.get("user_code", data.get("usercode"))
    device_id = data.get("device_auth_id")
    if not isinstance(user_code, str) or not isinstance(device_id, str):
        raise OAuthError("the device code endpoint's answer lacks user_code or device_auth_id")
    try:
        interval = float(str(data.get("interval", "5")).strip())
    except ValueError:
        interval = 5.0
    return DeviceCode(f"{base}/codex/device", user_code, device_id, max(interval, 0.0))


async def complete_device_code(
    client: httpx.AsyncClient,
    issuer: str,
    client_id: str,
    device: DeviceCode,
    *,
    max_wait: float = _DEVICE_MAX_WAIT,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ExchangedTokens:
    """Poll until the user approves, then exchange the issued code for tokens."""
    base = issuer.rstrip("/")
    start = time.monotonic()
    while True:
        try:
            response = await client.post(
                f"{base}/api/accounts/deviceauth/token",
                json={"device_auth_id": device.device_auth_id, "user_code": device.user_code},
            )
        except httpx.HTTPError as err:
            raise OAuthError(
                f"device auth failed: cannot reach the issuer ({type(err).__name__})"
            ) from None
        if response.status_code == 200:
            break
        if response.status_code in (403, 404):
            elapsed = time.monotonic() - start
            if elapsed >= max_wait:
                raise OAuthError("device auth timed out after 15 minutes")
            await sleep(min(device.interval, max_wait - elapsed))
            continue
        raise OAuthError(f"device auth failed with status {response.status_code}")
    data = _json_object(response, "device token endpoint")
    code, verifier = data.get("authorization_code"), data.get("code_verifier")
    if not isinstance(code, str) or not isinstance(verifier, str):
        raise OAuthError("the device token endpoint's answer lacks the authorization code")
    try:
        return await exchange_code(
            client, base, client_id, f"{base}/deviceauth/callback", verifier, code
        )
    except OAuthError as err:
        raise OAuthError(f"device code exchange failed: {err.message}") from None


# ---------------------------------------------------------------------------- callback server

_REASONS = {200: "OK", 302: "Found", 400: "Bad Request", 404: "Not Found", 405: "Not Allowed"}
_SUCCESS_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Signed in to Codex</title>"
    "<h1>Signed in to Codex</h1><p>You may now close this page and return to the terminal.</p>"
)


def _page(title: str, message: str) -> str:
    return (
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
    )


@dataclass
class _Outcome:
    tokens: ExchangedTokens | None = None
    api_key: str | None = field(default=None, repr=False)
    error: OAuthError | None = None


class LoginServer:
    """The local PKCE callback server (asyncio). Use ``async with``; then ``await wait()``.

    ``ports`` are tried in order: Codex's 1455, then 1457 when it is busy (``(0,)`` = any free
    port, for tests).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        issuer: str,
        client_id: str,
        ports: Sequence[int] = (DEFAULT_PORT, FALLBACK_PORT),
        workspace_ids: Sequence[str] | None = None,
        originator: str = "codex_cli_rs",
    ) -> None:
        self._client = client
        self._issuer = issuer.rstrip("/")
        self._client_id = client_id
        self._ports = tuple(ports)
        self._workspaces = tuple(workspace_ids) if workspace_ids else None
        self._originator = originator
        self._pkce = generate_pkce()
        self._state = _b64url(secrets.token_bytes(32))
        self._server: asyncio.Server | None = None
        self._done: asyncio.Future[_Outcome] | None = None
        self._pending: _Outcome | None = None
        self.port = 0
        self.auth_url = ""

    @property
    def redirect_uri(self) -> str:
        return f"http://localhost:{self.port}/auth/callback"

    async def __aenter__(self) -> LoginServer:
        self._done = asyncio.get_running_loop().create_future()
        self._server = await self._bind()
        self.port = self._server.sockets[0].getsockname()[1]
        self.auth_url = build_authorize_url(
            self._issuer,
            self._client_id,
            self.redirect_uri,
            self._pkce,
            self._state,
            workspace_ids=self._workspaces,
            originator=self._originator,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _bind(self) -> asyncio.Server:
        ports = self._ports
        last: OSError | None = None
        for port in ports:
            try:
                return await asyncio.start_server(self._handle, "127.0.0.1", port)
            except OSError as err:
                last = err
        raise OAuthError(
            f"Port 127.0.0.1:{ports[-1]} is already in use ({last.strerror if last else ''})",
            hint="finish or cancel the other sign-in, or use `codex login --device-auth`",
        )

    async def wait(self, timeout: float | None = None) -> tuple[ExchangedTokens, str | None]:
        """The tokens (and best-effort API key) once the browser has come back."""
        assert self._done is not None, "use `async with LoginServer(...)` first"
        try:
            outcome = await asyncio.wait_for(asyncio.shield(self._done), timeout)
        except TimeoutError:
            raise OAuthError("Login was not completed (timed out)") from None
        if outcome.error is not None:
            raise outcome.error
        assert outcome.tokens is not None
        return outcome.tokens, outcome.api_key

    def cancel(self) -> None:
        self._finish(_Outcome(error=OAuthError("Login cancelled")))

    def _finish(self, outcome: _Outcome) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(outcome)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            writer.close()
            return
        if len(head) > _MAX_REQUEST_HEAD:
            await self._respond(writer, 431, "text/plain", "Request header too large")
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "GET":
            await self._respond(writer, 405, "text/plain", "Method Not Allowed")
            return
        target = urlsplit(parts[1])
        params = {k: v[0] for k, v in parse_qs(target.query).items()}
        if target.path == "/auth/callback":
            await self._callback(writer, params)
        elif target.path == "/success" and self._pending is not None:
            await self._respond(writer, 200, "text/html; charset=utf-8", _SUCCESS_PAGE)
            self._finish(self._pending)
        elif target.path == "/cancel":
            await self._respond(writer, 200, "text/plain", "Login cancelled")
            self.cancel()
        else:
            await self._respond(writer, 404, "text/plain", "Not Found")

    async def _callback(self, writer: asyncio.StreamWriter, params: dict[str, str]) -> None:
        if not hmac.compare_digest(params.get("state", "").encode(), self._state.encode()):
            await self._respond(writer, 400, "text/plain", "State mismatch")
            return
        if params.get("error"):
            code, desc = params["error"], params.get("error_description", "")
            if code == "access_denied" and "missing_codex_entitlement" in desc.lower():
                message = (
                    "Codex is not enabled for your workspace. Contact your workspace administrator"
                    " to request access to Codex."
                )
            else:
                message = f"Sign-in failed: {desc.strip() or code}"
            await self._fail(writer, OAuthError(message))
            return
        code = params.get("code", "")
        if not code:
            await self._fail(
                writer, OAuthError("Missing authorization code. Sign-in could not be completed.")
            )
            return
        try:
            tokens = await exchange_code(
                self._client,
                self._issuer,
                self._client_id,
                self.redirect_uri,
                self._pkce.verifier,
                code,
            )
            ensure_workspace_allowed(self._workspaces, tokens.id_token)
        except OAuthError as err:
            await self._fail(writer, err)
            return
        api_key = await obtain_api_key(self._client, self._issuer, self._client_id, tokens.id_token)
        # Done once the browser has shown /success (as Codex); if it never asks, soon anyway.
        self._pending = _Outcome(tokens, api_key)
        asyncio.get_running_loop().call_later(_SUCCESS_WAIT, self._finish, self._pending)
        location = f"http://localhost:{self.port}/success"
        await self._respond(writer, 302, "text/plain", "", extra=f"Location: {location}\r\n")

    async def _fail(self, writer: asyncio.StreamWriter, err: OAuthError) -> None:
        await self._respond(
            writer,
            200,
            "text/html; charset=utf-8",
            _page("Sign-in could not be completed", err.message),
        )
        self._finish(_Outcome(error=err))

    @staticmethod
    async def _respond(
        writer: asyncio.StreamWriter, status: int, ctype: str, body: str, *, extra: str = ""
    ) -> None:
        data = body.encode("utf-8")
        reason = _REASONS.get(status, "Error")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(data)}\r\nCache-Control: no-store\r\nConnection: close\r\n"
            f"{extra}\r\n"
        )
        try:
            writer.write(head.encode("latin-1") + data)
            await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


def tokens_from_refresh(previous: TokenData, fresh: dict[str, str]) -> TokenData:
    """Merge a refresh answer into the stored tokens (fields the issuer omitted are kept)."""
    id_token = fresh.get("id_token", previous.id_token)
    return TokenData(
        id_token,
        fresh.get("access_token", previous.access_token),
        fresh.get("refresh_token", previous.refresh_token),
        parse_id_token(id_token).account_id or previous.account_id,
    )
