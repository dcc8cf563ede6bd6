"""Login, logout, status and the admin restrictions, over the configured credential store.

Messages follow Codex 0.169 (`codex login status` prints "API key configured - sk-abcde***lmnop"
or "Logged in using ChatGPT"; a forced method refuses the other flow with "API key login is
disabled. Use ChatGPT login instead."). Restrictions (:func:`enforce_login_restrictions`, called
before every model request): a stored login of the wrong method or of another workspace is
deleted and the run stops with Codex's "... Logging out." message; an API key from the
environment under ``forced_login_method = "chatgpt"`` is refused without touching the store.

Nothing here prints or builds HTTP clients: the caller injects an ``httpx.AsyncClient`` (the
providers package builds it with the custom CA and proxy settings) and renders the results.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codex_admin.auth.keyring_backend import KeyringUnavailable, backend_name
from codex_admin.auth.model import AuthDotJson, AuthMode, TokenData, parse_id_token
from codex_admin.auth.settings import AuthSettings
from codex_admin.auth.store import (
    CredentialStoreMode,
    EphemeralStore,
    FileStore,
    KeyringStore,
)
from codex_admin.errors import CodexError

if TYPE_CHECKING:  # httpx is imported by the flows that use the network, not by status/logout
    import httpx

    from codex_admin.auth.oauth import DeviceCode

__all__ = [
    "ChatGptSession",
    "LoginRestricted",
    "LoginStatus",
    "describe_credentials",
    "enforce_login_restrictions",
    "load_stored_auth",
    "login_status",
    "login_with_api_key",
    "login_with_chatgpt",
    "login_with_device_code",
    "logout",
    "mask_api_key",
]

TOKEN_REFRESH_INTERVAL = dt.timedelta(days=8)
_EXPIRY_MARGIN = dt.timedelta(minutes=5)
API_KEY_DISABLED = "API key login is disabled. Use ChatGPT login instead."
CHATGPT_DISABLED = "ChatGPT login is disabled. Use API key login instead."


class LoginRestricted(CodexError):
    """An admin restriction refused a login method or workspace (exit 3: policy says no)."""


def mask_api_key(key: str) -> str:
    """Codex's masking: the first 8 and last 5 characters around ``***``; short keys hide all."""
    return "***" if len(key) <= 13 else f"{key[:8]}***{key[-5:]}"


def load_stored_auth(settings: AuthSettings) -> AuthDotJson | None:
    """The stored login of the configured store (None when there is none)."""
    return settings.store().load()


def login_with_api_key(settings: AuthSettings, key: str) -> AuthDotJson:
    """Store an API key (trimmed). Refused when ChatGPT login is forced."""
    if settings.forced_login_method == "chatgpt":
        raise LoginRestricted(API_KEY_DISABLED, hint=_forced_hint(settings))
    key = key.strip()
    if not key:
        raise CodexError("No API key provided via stdin.")
    if any(ch.isspace() or not ch.isprintable() for ch in key):
        raise CodexError(
            "the API key contains whitespace or control characters",
            hint="pipe exactly one key: `printenv OPENAI_API_KEY | codex login --with-api-key`",
        )
    auth = AuthDotJson.api_key(key)
    settings.store().save(auth)
    return auth


def _check_chatgpt_allowed(settings: AuthSettings) -> None:
    if settings.forced_login_method == "api":
        raise LoginRestricted(CHATGPT_DISABLED, hint=_forced_hint(settings))


def _forced_hint(settings: AuthSettings) -> str:
    return f"forced_login_method is set by {settings.forced_login_method_source}"


async def login_with_chatgpt(
    settings: AuthSettings,
    client: httpx.AsyncClient,
    *,
    on_url: Callable[[str], None],
    ports: Sequence[int] | None = None,
    timeout: float | None = None,
) -> AuthDotJson:
    """PKCE sign-in: start the callback server, hand its URL to ``on_url``, wait, store."""
    # The OAuth module (and httpx behind it) is imported only by the flows that sign in.
    from codex_admin.auth.oauth import DEFAULT_PORT, FALLBACK_PORT, LoginServer, auth_from_tokens

    _check_chatgpt_allowed(settings)
    async with LoginServer(
        client,
        issuer=settings.issuer,
        client_id=settings.client_id,
        ports=ports or (DEFAULT_PORT, FALLBACK_PORT),
        workspace_ids=settings.forced_workspace_ids,
    ) as server:
        on_url(server.auth_url)
        tokens, api_key = await server.wait(timeout)
    auth = auth_from_tokens(tokens, api_key)
    settings.store().save(auth)
    return auth


async def login_with_device_code(
    settings: AuthSettings,
    client: httpx.AsyncClient,
    *,
    on_code: Callable[[DeviceCode], None],
    sleep: Callable[[float], Awaitable[None]] | None = None,
    max_wait: float = 15 * 60.0,
) -> AuthDotJson:
    """Device-code sign-in: ``on_code`` shows the URL and code; poll (``sleep`` between
    polls, default :func:`asyncio.sleep`); store."""
    # asyncio only in the async flows: `codex doctor` and `codex login status` use this
    # module's synchronous half (start-up).
    import asyncio

    # Imported here so that `codex login status` and `codex logout` never import httpx.
    from codex_admin.auth.oauth import (
        auth_from_tokens,
        complete_device_code,
        ensure_workspace_allowed,
        request_device_code,
    )

    _check_chatgpt_allowed(settings)
    device = await request_device_code(client, settings.issuer, settings.client_id)
    on_code(device)
    tokens = await complete_device_code(
        client,
        settings.issuer,
        settings.client_id,
        device,
        sleep=asyncio.sleep if sleep is None else sleep,
        max_wait=max_wait,
    )
    ensure_workspace_allowed(settings.forced_workspace_ids, tokens.id_token)
    auth = auth_from_tokens(tokens)
    settings.store().save(auth)
    return auth


def logout(settings: AuthSettings) -> bool:
    """Delete the login everywhere it may be: memory, the configured store, the file.

    With ``keyring`` or ``auto`` the keyring entry goes too (an unavailable keyring is an error
    for ``keyring``, skipped for ``auto``). Returns whether anything was removed.
    """
    removed = EphemeralStore(settings.home).delete()
    mode = settings.store_mode
    if mode is CredentialStoreMode.KEYRING:
        removed = KeyringStore(settings.home, settings.environ).delete() or removed
    elif mode is CredentialStoreMode.AUTO:
        with contextlib.suppress(KeyringUnavailable):
            removed = KeyringStore(settings.home, settings.environ).delete() or removed
    if mode is not CredentialStoreMode.EPHEMERAL:
        removed = FileStore(settings.home).delete() or removed
    return removed


def _violation(settings: AuthSettings, auth: AuthDotJson) -> str | None:
    """Why the stored login breaks the admin restrictions (None when it does not)."""
    method = settings.forced_login_method
    if method == "api" and auth.mode is AuthMode.CHATGPT:
        return "API key login is required, but ChatGPT is currently being used. Logging out."
    if method == "chatgpt" and auth.mode is AuthMode.API_KEY:
        return "ChatGPT login is required, but an API key is currently being used. Logging out."
    expected = settings.forced_workspace_ids
    if expected and auth.mode is AuthMode.CHATGPT:
        actual = auth.tokens.claims.account_id if auth.tokens else None
        actual = actual or (auth.tokens.account_id if auth.tokens else None)
        wanted = ", ".join(expected)
        if actual is None:
            return (
                f"Login is restricted to workspace {wanted}, but current credentials lack a"
                " workspace identifier. Logging out."
            )
        if actual not in expected:
            return (
                f"Login is restricted to workspace {wanted}, but current credentials belong to"
                f" {actual}. Logging out."
            )
    return None


def enforce_login_restrictions(
    settings: AuthSettings, *, env_api_key_var: str | None = None
) -> AuthDotJson | None:
    """Apply the admin restrictions; return the (allowed) stored login.

    ``env_api_key_var`` names the environment variable an API key would come from for this
    request (``CODEX_API_KEY`` / ``OPENAI_API_KEY``), if any: under a forced ChatGPT login it is
    refused. A stored login that breaks a restriction is deleted, then :class:`LoginRestricted`.
    """
    if env_api_key_var and settings.forced_login_method == "chatgpt":
        raise LoginRestricted(
            f"ChatGPT login is required, but an API key is set in {env_api_key_var}.",
            hint=f"unset {env_api_key_var} and run `codex login`; {_forced_hint(settings)}",
        )
    auth = load_stored_auth(settings)
    if auth is None:
        return None
    message = _violation(settings, auth)
    if message is None:
        return auth
    try:
        logout(settings)
    except CodexError as err:
        raise LoginRestricted(
            f"{message} Failed to remove the stored login: {err.message}"
        ) from None
    source = settings.forced_login_method_source or settings.forced_workspace_source
    raise LoginRestricted(
        message, hint=f"sign in again with `codex login` (restriction set by {source})"
    )


@dataclass(frozen=True)
class LoginStatus:
    """What `codex login status` reports; ``to_json`` is its `--json` shape (no secrets)."""

    logged_in: bool
    auth_mode: str | None
    api_key: str | None  # masked
    email: str | None
    plan_type: str | None
    account_id: str | None
    store: str
    location: str
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "logged_in": self.logged_in,
            "auth_mode": self.auth_mode,
            "api_key": self.api_key,
            "email": self.email,
            "plan_type": self.plan_type,
            "account_id": self.account_id,
            "store": self.store,
            "location": self.location,
            "reason": self.reason,
        }

    def lines(self) -> list[str]:
        """Codex's human text."""
        if not self.logged_in:
            return ["Not logged in"]
        if self.auth_mode == AuthMode.API_KEY.value:
            return [
                f"API key configured - {self.api_key}",
                "Authentication is checked when you send a request.",
            ]
        return ["Logged in using ChatGPT"]


def login_status(settings: AuthSettings) -> LoginStatus:
    """The stored login as `codex login status` shows it (a restricted login counts as none)."""
    store = settings.store()
    auth = store.load()
    base: dict[str, Any] = {"store": settings.store_mode.value, "location": store.describe()}
    if auth is None:
        return LoginStatus(False, None, None, None, None, None, **base)
    reason = _violation(settings, auth)
    if reason is not None:
        return LoginStatus(False, None, None, None, None, None, reason=reason, **base)
    claims = auth.tokens.claims if auth.tokens else None
    return LoginStatus(
        True,
        auth.mode.value,
        mask_api_key(auth.openai_api_key)
        if auth.mode is AuthMode.API_KEY and auth.openai_api_key
        else None,
        claims.email if claims else None,
        claims.plan_type if claims else None,
        (claims.account_id if claims else None)
        or (auth.tokens.account_id if auth.tokens else None),
        **base,
    )


def describe_credentials(settings: AuthSettings) -> dict[str, Any]:
    """For `codex doctor`: the store in use and whether a login exists. Never raises."""
    info: dict[str, Any] = {
        "store": settings.store_mode.value,
        "auth_home": str(settings.home),
        "keyring_backend": (
            backend_name(settings.environ)
            if settings.store_mode in (CredentialStoreMode.KEYRING, CredentialStoreMode.AUTO)
            else None
        ),
        "location": None,
        "logged_in": False,
        "auth_mode": None,
        "forced_login_method": settings.forced_login_method,
        "forced_chatgpt_workspace_id": list(settings.forced_workspace_ids or []) or None,
        "restriction": None,
        "error": None,
    }
    try:
        status = login_status(settings)
    except CodexError as err:
        info["error"] = err.message
        info["hint"] = err.hint
        return info
    info.update(
        location=status.location,
        logged_in=status.logged_in,
        auth_mode=status.auth_mode,
        restriction=status.reason,
    )
    return info


class ChatGptSession:
    """A stored ChatGPT login that refreshes itself (before expiry, after 8 days, or on 401)."""

    def __init__(
        self,
        settings: AuthSettings,
        auth: AuthDotJson,
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        if auth.tokens is None:
            raise CodexError("the stored ChatGPT login has no tokens", hint="run `codex login`")
        self._settings = settings
        self._auth = auth
        self._now = now
        import asyncio  # start-up: see login_with_device_code

        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"ChatGptSession(account_id={self.account_id!r})"

    @property
    def tokens(self) -> TokenData:
        assert self._auth.tokens is not None
        return self._auth.tokens

    @property
    def account_id(self) -> str | None:
        tokens = self.tokens
        return tokens.account_id or tokens.claims.account_id

    def needs_refresh(self) -> bool:
        now = self._now()
        last = self._auth.last_refresh
        if last is None or now - last >= TOKEN_REFRESH_INTERVAL:
            return True
        expiry = parse_id_token(self.tokens.access_token).expires_at
        return expiry is not None and expiry - now <= _EXPIRY_MARGIN

    async def access_token(self, client: httpx.AsyncClient) -> str:
        """A current access token, refreshed first when due."""
        if self.needs_refresh():
            await self.refresh(client)
        return self.tokens.access_token

    async def refresh(self, client: httpx.AsyncClient) -> None:
        """Refresh now and store the new tokens (a 401 from the issuer is permanent)."""
        # Imported on first refresh only (keeps httpx off the status/logout path).
        from codex_admin.auth.oauth import refresh_tokens, tokens_from_refresh

        async with self._lock:
            settings = self._settings
            fresh = await refresh_tokens(
                client, settings.refresh_token_url, settings.client_id, self.tokens.refresh_token
            )
            tokens = tokens_from_refresh(self.tokens, fresh)
            auth = AuthDotJson(
                self._auth.openai_api_key,
                tokens,
                self._now(),
                self._auth.auth_mode or AuthMode.CHATGPT,
                dict(self._auth.extra),
            )
            settings.store().save(auth)
            self._auth = auth
