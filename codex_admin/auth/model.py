"""`auth.json` in Codex's format, and the claims Codex reads from a ChatGPT ID token.

The document (pretty JSON in the file, compact JSON in the keyring)::

    {"auth_mode": "apikey" | "chatgpt",          optional
     "OPENAI_API_KEY": "sk-..." | null,          always written
     "tokens": {"id_token": JWT, "access_token": ..., "refresh_token": ..., "account_id": ...},
     "last_refresh": "2026-01-02T03:04:05.123456Z",
     ...}                                        unknown keys are kept on rewrite

Secrets never reach ``repr()``: :class:`AuthDotJson` and :class:`TokenData` print which fields are
set, not their values, so an accidental log line or traceback shows no key.

ID tokens are decoded, not verified: they come from our own credential store (written after a TLS
exchange with the issuer) and are only read for display and for the workspace restriction; the
model API verifies the access token it receives. A token that does not decode has no claims.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from codex_admin.errors import CodexError

__all__ = ["AuthDotJson", "AuthMode", "IdTokenClaims", "TokenData", "parse_id_token"]

_AUTH_CLAIMS = "https://api.openai.com/auth"


class AuthMode(StrEnum):
    """How the stored login authenticates (Codex's `auth_mode` spellings)."""

    API_KEY = "apikey"
    CHATGPT = "chatgpt"


@dataclass(frozen=True)
class IdTokenClaims:
    """What Codex reads from a ChatGPT ID token (all optional)."""

    email: str | None = None
    plan_type: str | None = None
    account_id: str | None = None
    user_id: str | None = None
    expires_at: dt.datetime | None = None


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_payload(token: str) -> dict[str, Any]:
    """The decoded payload of a compact JWT, or ``{}`` when it is not one."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return {}
    try:
        payload = json.loads(_b64url(parts[1]))
    except (ValueError, binascii.Error):
        return {}
    return payload if isinstance(payload, dict) else {}


def parse_id_token(token: str) -> IdTokenClaims:
    """Claims of a ChatGPT ID (or access) token; unknown shapes give empty claims."""
    payload = jwt_payload(token)
    auth = payload.get(_AUTH_CLAIMS)
    auth = auth if isinstance(auth, dict) else {}
    exp = payload.get("exp")

    def text(source: dict[str, Any], key: str) -> str | None:
        value = source.get(key)
        return value if isinstance(value, str) and value else None

    return IdTokenClaims(
        email=text(payload, "email")
        or text(payload.get("https://api.openai.com/profile") or {}, "email"),
        plan_type=text(auth, "chatgpt_plan_type"),
        account_id=text(auth, "chatgpt_account_id"),
        user_id=text(auth, "chatgpt_user_id") or text(auth, "user_id"),
        expires_at=(
            dt.datetime.fromtimestamp(exp, dt.UTC)
            if isinstance(exp, int | float) and not isinstance(exp, bool)
            else None
        ),
    )


@dataclass(frozen=True)
class TokenData:
    """ChatGPT OAuth tokens. ``repr`` hides every token."""

    id_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    account_id: str | None = None

    @property
    def claims(self) -> IdTokenClaims:
        return parse_id_token(self.id_token)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id_token": self.id_token,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
        }
        if self.account_id is not None:
            out["account_id"] = self.account_id
        return out

    @classmethod
    def from_json(cls, data: Any, where: str) -> TokenData:
        if not isinstance(data, dict):
            raise _bad(where, "`tokens` must be an object")
        values = {}
        for key in ("id_token", "access_token", "refresh_token"):
            value = data.get(key)
            if not isinstance(value, str):
                raise _bad(where, f"`tokens.{key}` must be a string")
            values[key] = value
        account = data.get("account_id")
        if account is not None and not isinstance(account, str):
            raise _bad(where, "`tokens.account_id` must be a string")
        return cls(account_id=account, **values)


@dataclass(frozen=True)
class AuthDotJson:
    """The stored login. ``repr`` shows the mode and which secrets are present, never them."""

    openai_api_key: str | None = None
    tokens: TokenData | None = None
    last_refresh: dt.datetime | None = None
    auth_mode: AuthMode | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return (
            f"AuthDotJson(mode={self.mode.value}, api_key={'set' if self.openai_api_key else None},"
            f" tokens={'set' if self.tokens else None}, last_refresh={self.last_refresh!r})"
        )

    @property
    def mode(self) -> AuthMode:
        """The effective mode: the explicit one, else ChatGPT when tokens are present."""
        if self.auth_mode is not None:
            return self.auth_mode
        if self.tokens is not None and not self.openai_api_key:
            return AuthMode.CHATGPT
        return AuthMode.API_KEY if self.openai_api_key else AuthMode.CHATGPT

    @classmethod
    def api_key(cls, key: str) -> AuthDotJson:
        return cls(openai_api_key=key, auth_mode=AuthMode.API_KEY)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.auth_mode is not None:
            out["auth_mode"] = self.auth_mode.value
        out["OPENAI_API_KEY"] = self.openai_api_key
        if self.tokens is not None:
            out["tokens"] = self.tokens.to_json()
        if self.last_refresh is not None:
            stamp = self.last_refresh.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
            out["last_refresh"] = stamp
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    def dumps(self, *, pretty: bool) -> str:
        if pretty:
            return json.dumps(self.to_json(), indent=2)
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str, where: str) -> AuthDotJson:
        """Parse a stored document; ``where`` names the file or keyring entry in errors."""
        try:
            data = json.loads(text)
        except ValueError as err:
            raise _bad(where, f"not valid JSON ({err.args[0] if err.args else err})") from None
        if not isinstance(data, dict):
            raise _bad(where, "the document must be a JSON object")
        key = data.get("OPENAI_API_KEY")
        if key is not None and not isinstance(key, str):
            raise _bad(where, "`OPENAI_API_KEY` must be a string or null")
        raw_mode = data.get("auth_mode")
        mode: AuthMode | None = None
        if raw_mode is not None:
            try:
                mode = AuthMode(raw_mode)
            except ValueError:
                raise _bad(where, f"unknown `auth_mode` {raw_mode!r}") from None
        tokens = TokenData.from_json(data["tokens"], where) if data.get("tokens") else None
        stamp = data.get("last_refresh")
        last_refresh = None
        if stamp is not None:
            try:
                last_refresh = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            except ValueError:
                raise _bad(where, f"`last_refresh` is not an RFC 3339 time: {stamp!r}") from None
            if last_refresh.tzinfo is None:
                last_refresh = last_refresh.replace(tzinfo=dt.UTC)
        known = {"auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh"}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(key or None, tokens, last_refresh, mode, extra)


def _bad(where: str, message: str) -> CodexError:
    return CodexError(
        f"stored credentials in {where} are malformed: {message}",
        hint="run `codex logout` and sign in again (`codex login`)",
    )
