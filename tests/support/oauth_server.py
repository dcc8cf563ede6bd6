"""A mock ChatGPT OAuth issuer: PKCE authorization code, token exchange, refresh, device code.

    with MockOAuthIssuer(account_id="ws-1") as issuer:
        env = {"CODEX_LOGIN_ISSUER": issuer.issuer}
        ...

Endpoints (the real ones, relative to :attr:`MockOAuthIssuer.issuer`):

* ``GET /oauth/authorize`` -- checks ``response_type=code``, ``client_id``, ``redirect_uri`` (must
  be ``http://localhost:<port>/auth/callback``), ``code_challenge_method=S256``, ``state``; then
  plays the user who approves: ``302`` to ``redirect_uri?code=...&state=...`` (or
  ``?error=...`` when ``deny`` is set). A test's "browser" just follows the redirects.
* ``POST /oauth/token`` form ``grant_type=authorization_code`` -- the code must be unused, for the
  same redirect URI and client, and ``code_verifier`` must hash (S256) to the challenge; answers
  ``{id_token, access_token, refresh_token}``. ``grant_type=...token-exchange`` answers
  ``{access_token: <api_key>}`` (404 when ``api_key`` is None).
* ``POST /oauth/token`` JSON ``grant_type=refresh_token`` -- rotates the tokens, or answers 401
  ``{"error": {"code": refresh_error}}`` when ``refresh_error`` is set.
* ``POST /api/accounts/deviceauth/usercode`` / ``.../token`` -- device code; the poll answers 403
  ``device_pending_polls`` times, then the authorization code and its PKCE pair.

Tokens are unsigned JWTs (:func:`make_jwt`) carrying Codex's claims
(``https://api.openai.com/auth``: ``chatgpt_account_id``, ``chatgpt_plan_type``). Issued and
refreshed tokens are listed in :attr:`issued` / :attr:`refreshed` for assertions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.support.http_server import RecordedRequest, ResponseWriter, ThreadedHttpServer

__all__ = ["MockOAuthIssuer", "make_jwt"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict[str, Any]) -> str:
    """An unsigned compact JWT with ``claims`` (Codex decodes, it does not verify)."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}.c2ln"


@dataclass
class _Code:
    challenge: str
    redirect_uri: str
    client_id: str
    used: bool = False


class MockOAuthIssuer(ThreadedHttpServer):
    def __init__(
        self,
        *,
        account_id: str = "ws-test",
        email: str = "dev@example.com",
        plan_type: str = "plus",
        api_key: str | None = "sk-exchanged-0123456789abcdef",
        client_id: str = "app_EMoamEEZ73f0CkXaXp7hrann",
        device_pending_polls: int = 1,
        refresh_error: str | None = None,
        deny: str | None = None,
        access_ttl: int = 3600,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.account_id = account_id
        self.email = email
        self.plan_type = plan_type
        self.api_key = api_key
        self.client_id = client_id
        self.device_pending_polls = device_pending_polls
        self.refresh_error = refresh_error
        self.deny = deny
        self.access_ttl = access_ttl
        self._codes: dict[str, _Code] = {}
        self._devices: dict[str, dict[str, Any]] = {}
        self.issued: list[dict[str, str]] = []
        self.refreshed: list[dict[str, str]] = []

    @property
    def issuer(self) -> str:
        return self.origin

    def tokens(self) -> dict[str, str]:
        now = int(time.time())
        auth = {"chatgpt_account_id": self.account_id, "chatgpt_plan_type": self.plan_type}
        # a nonce keeps every issued token distinct (tests compare old and new tokens)
        auth = {**auth, "nonce": secrets.token_hex(4)}
        id_token = make_jwt(
            {"email": self.email, "exp": now + 3600, "https://api.openai.com/auth": auth}
        )
        access = make_jwt({"exp": now + self.access_ttl, "https://api.openai.com/auth": auth})
        return {
            "id_token": id_token,
            "access_token": access,
            "refresh_token": "rt-" + secrets.token_hex(8),
        }

    async def handle(self, request: RecordedRequest, w: ResponseWriter) -> None:
        path = request.path
        if request.method == "GET" and path == "/oauth/authorize":
            await self._authorize(request, w)
        elif request.method == "POST" and path == "/oauth/token":
            await self._token(request, w)
        elif request.method == "POST" and path == "/api/accounts/deviceauth/usercode":
            await self._usercode(request, w)
        elif request.method == "POST" and path == "/api/accounts/deviceauth/token":
            await self._device_token(request, w)
        else:
            await w.send(404, {"content-type": "text/plain"}, "not found")

    async def _json(self, w: ResponseWriter, status: int, body: Any) -> None:
        await w.send(status, {"content-type": "application/json"}, json.dumps(body))

    async def _authorize(self, request: RecordedRequest, w: ResponseWriter) -> None:
        q = {k: v[0] for k, v in request.query.items()}
        redirect = q.get("redirect_uri", "")
        parts = urlsplit(redirect)
        problems = []
        if q.get("response_type") != "code":
            problems.append("response_type")
        if q.get("client_id") != self.client_id:
            problems.append("client_id")
        if (
            parts.scheme != "http"
            or parts.hostname != "localhost"
            or parts.path != "/auth/callback"
        ):
            problems.append("redirect_uri")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            problems.append("code_challenge")
        if not q.get("state"):
            problems.append("state")
        if problems:
            await self._json(w, 400, {"error": "invalid_request", "fields": problems})
            return
        if self.deny:
            query = urlencode(
                {"error": self.deny, "error_description": self.deny, "state": q["state"]}
            )
        else:
            code = "code-" + secrets.token_hex(8)
            self._codes[code] = _Code(q["code_challenge"], redirect, q["client_id"])
            query = urlencode({"code": code, "state": q["state"]})
        await w.send(302, {"location": f"{redirect}?{query}"})

    async def _token(self, request: RecordedRequest, w: ResponseWriter) -> None:
        ctype = request.header("content-type") or ""
        if ctype.startswith("application/json"):
            body = request.json or {}
            if body.get("grant_type") != "refresh_token":
                await self._json(w, 400, {"error": "unsupported_grant_type"})
                return
            if self.refresh_error:
                await self._json(w, 401, {"error": {"code": self.refresh_error, "message": "no"}})
                return
            tokens = self.tokens()
            self.refreshed.append(tokens)
            await self._json(w, 200, tokens)
            return
        form = request.form
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:token-exchange":
            if self.api_key is None:
                await self._json(w, 404, {"error": "not_supported"})
            else:
                await self._json(w, 200, {"access_token": self.api_key})
            return
        if grant != "authorization_code":
            await self._json(w, 400, {"error": "unsupported_grant_type"})
            return
        code = self._codes.get(form.get("code", ""))
        verifier = form.get("code_verifier", "")
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        if (
            code is None
            or code.used
            or code.redirect_uri != form.get("redirect_uri")
            or code.client_id != form.get("client_id")
            or code.challenge != challenge
        ):
            await self._json(
                w, 400, {"error": "invalid_grant", "error_description": "bad code or verifier"}
            )
            return
        code.used = True
        tokens = self.tokens()
        self.issued.append(tokens)
        await self._json(w, 200, tokens)

    async def _usercode(self, request: RecordedRequest, w: ResponseWriter) -> None:
        if (request.json or {}).get("client_id") != self.client_id:
            await self._json(w, 400, {"error": "invalid_client"})
            return
        device_id = "dev-" + secrets.token_hex(6)
        user_code = "ABCD-" + secrets.token_hex(2).upper()
        self._devices[device_id] = {"user_code": user_code, "polls": 0}
        await self._json(
            w, 200, {"device_auth_id": device_id, "user_code": user_code, "interval": "0"}
        )

    async def _device_token(self, request: RecordedRequest, w: ResponseWriter) -> None:
        body = request.json or {}
        device = self._devices.get(body.get("device_auth_id", ""))
        if device is None or device["user_code"] != body.get("user_code"):
            await self._json(w, 400, {"error": "invalid_device"})
            return
        device["polls"] += 1
        if device["polls"] <= self.device_pending_polls:
            await self._json(w, 403, {"error": "authorization_pending"})
            return
        verifier = _b64(secrets.token_bytes(32))
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        code = "code-" + secrets.token_hex(8)
        self._codes[code] = _Code(challenge, f"{self.issuer}/deviceauth/callback", self.client_id)
        await self._json(
            w,
            200,
            {"authorization_code": code, "code_challenge": challenge, "code_verifier": verifier},
        )
