"""The auth knobs of one invocation, read once from the effective config and requirements.

``forced_login_method`` and ``forced_chatgpt_workspace_id`` may be set in any config layer (admins
put them in `managed_config.toml` or MDM) and in requirements; a requirement beats the config.
The ChatGPT issuer is `https://auth.openai.com`; ``CODEX_LOGIN_ISSUER`` (or the login command's
hidden ``--experimental_issuer``) points sign-in and token refresh elsewhere -- a staging issuer or
a test's local mock -- and ``CODEX_REFRESH_TOKEN_URL_OVERRIDE`` moves only the refresh endpoint
(Codex's name). An issuer must be `https://`, or `http://` on a loopback address: tokens and
authorization codes are never sent in clear text over a network.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from codex_admin.auth.home import CredentialStoreMode, auth_home
from codex_admin.config import EffectiveRequirements
from codex_admin.errors import CodexError

if TYPE_CHECKING:
    from codex_admin.auth.store import CredentialStore

__all__ = [
    "CLIENT_ID",
    "DEFAULT_ISSUER",
    "AuthSettings",
    "auth_settings",
    "check_issuer_url",
]

DEFAULT_ISSUER = "https://auth.openai.com"
CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
_METHODS = ("chatgpt", "api")


@dataclass(frozen=True)
class AuthSettings:
    """Everything the credential functions need; build it with :func:`auth_settings`."""

    codex_home: Path
    home: Path  # the auth home: CODEX_AUTH_HOME or CODEX_HOME
    store_mode: CredentialStoreMode = CredentialStoreMode.FILE
    forced_login_method: str | None = None
    forced_login_method_source: str | None = None
    forced_workspace_ids: tuple[str, ...] | None = None
    forced_workspace_source: str | None = None
    issuer: str = DEFAULT_ISSUER
    client_id: str = CLIENT_ID
    refresh_url: str | None = None
    environ: Mapping[str, str] | None = None

    def store(self) -> CredentialStore:
        # Imported here: the stores (tempfile, hashlib, keyring) are needed only when a login is
        # read or written, not to decide that an API key from the environment is used.
        from codex_admin.auth.store import open_store

        return open_store(self.store_mode, self.home, self.environ)

    @property
    def token_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/oauth/token"

    @property
    def refresh_token_url(self) -> str:
        return self.refresh_url or self.token_url


def auth_settings(
    config: Mapping[str, Any],
    *,
    codex_home: Path,
    requirements: EffectiveRequirements | None = None,
    environ: Mapping[str, str] | None = None,
    issuer: str | None = None,
    client_id: str | None = None,
) -> AuthSettings:
    """Read the auth keys of ``config`` (the merged table) and ``requirements``."""
    env = os.environ if environ is None else environ
    mode_raw = config.get("cli_auth_credentials_store") or "file"
    try:
        mode = CredentialStoreMode(mode_raw)
    except ValueError:
        raise CodexError(
            f"invalid cli_auth_credentials_store {mode_raw!r}",
            hint="use one of: file, keyring, auto, ephemeral",
        ) from None
    method, method_source = _pick(config, requirements, "forced_login_method")
    if method is not None and method not in _METHODS:
        raise CodexError(
            f"invalid forced_login_method {method!r} (set by {method_source})",
            hint='use "chatgpt" or "api"',
        )
    workspace, workspace_source = _pick(config, requirements, "forced_chatgpt_workspace_id")
    workspaces: tuple[str, ...] | None = None
    if isinstance(workspace, str):
        workspaces = (workspace.strip(),) if workspace.strip() else None
    elif isinstance(workspace, list):
        workspaces = tuple(w.strip() for w in workspace if isinstance(w, str) and w.strip())
        workspaces = workspaces or None
    chosen_issuer = issuer or env.get("CODEX_LOGIN_ISSUER", "").strip() or DEFAULT_ISSUER
    check_issuer_url(chosen_issuer, "the login issuer")
    refresh = env.get("CODEX_REFRESH_TOKEN_URL_OVERRIDE", "").strip() or None
    if refresh is not None:
        check_issuer_url(refresh, "CODEX_REFRESH_TOKEN_URL_OVERRIDE")
    return AuthSettings(
        codex_home=codex_home,
        home=auth_home(codex_home, env),
        store_mode=mode,
        forced_login_method=method,
        forced_login_method_source=method_source,
        forced_workspace_ids=workspaces,
        forced_workspace_source=workspace_source,
        issuer=chosen_issuer.rstrip("/"),
        client_id=client_id or CLIENT_ID,
        refresh_url=refresh,
        environ=environ,
    )


def _pick(
    config: Mapping[str, Any], requirements: EffectiveRequirements | None, key: str
) -> tuple[Any, str | None]:
    if requirements is not None and key in requirements:
        return requirements.value(key), f"requirements ({requirements.source(key)})"
    if config.get(key) is not None:
        return config[key], "config"
    return None, None


def check_issuer_url(url: str, what: str) -> None:
    """Refuse anything but https, or http to a loopback host (raises CodexError)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and host:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if loopback:
            return
    raise CodexError(
        f"{what} must be an https:// URL (http:// only for a loopback address): {url!r}",
        hint="tokens and authorization codes are never sent in clear text over a network",
    )
