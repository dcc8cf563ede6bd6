"""Credentials: the stored login (file, OS keyring, auto, ephemeral), sign-in flows, restrictions.

Public API (everything else in this package is private):

* settings -- :func:`auth_settings` reads `cli_auth_credentials_store`, `forced_login_method`,
  `forced_chatgpt_workspace_id` (config, beaten by requirements) and the issuer overrides into an
  :class:`AuthSettings`;
* the stored document -- :class:`AuthDotJson` (Codex's `auth.json`), :class:`TokenData`,
  :class:`AuthMode`, :func:`parse_id_token`;
* stores -- :func:`open_store`, :class:`CredentialStoreMode`, :func:`auth_home`,
  :func:`keyring_account`, :data:`KEYRING_SERVICE`;
* operations -- :func:`login_with_api_key`, :func:`login_with_chatgpt` (PKCE, local callback
  server), :func:`login_with_device_code`, :func:`logout`, :func:`login_status`,
  :func:`enforce_login_restrictions`, :func:`describe_credentials` (for `codex doctor`),
  :func:`mask_api_key`, :class:`ChatGptSession` (refreshing tokens for model requests).

Module map: ``model`` (document, JWT claims), ``store`` (the four stores), ``keyring_backend``
(the deliberately chosen OS keyring), ``settings``, ``manager`` (operations), ``oauth`` (PKCE,
callback server, device code, refresh; imports httpx). Depends on ``codex_admin.config`` and
``codex_admin.errors`` only; nothing here prints. Names resolve lazily (PEP 562) so that
`codex login status` imports neither httpx nor keyring unless it needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from codex_admin.auth.home import CredentialStoreMode, auth_home
    from codex_admin.auth.keyring_backend import KeyringUnavailable
    from codex_admin.auth.manager import (
        ChatGptSession,
        LoginRestricted,
        LoginStatus,
        describe_credentials,
        enforce_login_restrictions,
        load_stored_auth,
        login_status,
        login_with_api_key,
        login_with_chatgpt,
        login_with_device_code,
        logout,
        mask_api_key,
    )
    from codex_admin.auth.model import AuthDotJson, AuthMode, TokenData, parse_id_token
    from codex_admin.auth.oauth import DeviceCode, OAuthError, RefreshFailed
    from codex_admin.auth.settings import CLIENT_ID, DEFAULT_ISSUER, AuthSettings, auth_settings
    from codex_admin.auth.store import (
        AUTH_FILE,
        KEYRING_SERVICE,
        CredentialStore,
        keyring_account,
        open_store,
    )

_EXPORTS: dict[str, str] = {
    "KeyringUnavailable": "codex_admin.auth.keyring_backend",
    "ChatGptSession": "codex_admin.auth.manager",
    "LoginRestricted": "codex_admin.auth.manager",
    "LoginStatus": "codex_admin.auth.manager",
    "describe_credentials": "codex_admin.auth.manager",
    "enforce_login_restrictions": "codex_admin.auth.manager",
    "load_stored_auth": "codex_admin.auth.manager",
    "login_status": "codex_admin.auth.manager",
    "login_with_api_key": "codex_admin.auth.manager",
    "login_with_chatgpt": "codex_admin.auth.manager",
    "login_with_device_code": "codex_admin.auth.manager",
    "logout": "codex_admin.auth.manager",
    "mask_api_key": "codex_admin.auth.manager",
    "AuthDotJson": "codex_admin.auth.model",
    "AuthMode": "codex_admin.auth.model",
    "TokenData": "codex_admin.auth.model",
    "parse_id_token": "codex_admin.auth.model",
    "DeviceCode": "codex_admin.auth.oauth",
    "OAuthError": "codex_admin.auth.oauth",
    "RefreshFailed": "codex_admin.auth.oauth",
    "CLIENT_ID": "codex_admin.auth.settings",
    "DEFAULT_ISSUER": "codex_admin.auth.settings",
    "AuthSettings": "codex_admin.auth.settings",
    "auth_settings": "codex_admin.auth.settings",
    "AUTH_FILE": "codex_admin.auth.store",
    "KEYRING_SERVICE": "codex_admin.auth.store",
    "CredentialStore": "codex_admin.auth.store",
    "CredentialStoreMode": "codex_admin.auth.home",
    "auth_home": "codex_admin.auth.home",
    "keyring_account": "codex_admin.auth.store",
    "open_store": "codex_admin.auth.store",
}

__all__ = [
    "AUTH_FILE",
    "CLIENT_ID",
    "DEFAULT_ISSUER",
    "KEYRING_SERVICE",
    "AuthDotJson",
    "AuthMode",
    "AuthSettings",
    "ChatGptSession",
    "CredentialStore",
    "CredentialStoreMode",
    "DeviceCode",
    "KeyringUnavailable",
    "LoginRestricted",
    "LoginStatus",
    "OAuthError",
    "RefreshFailed",
    "TokenData",
    "auth_home",
    "auth_settings",
    "describe_credentials",
    "enforce_login_restrictions",
    "keyring_account",
    "load_stored_auth",
    "login_status",
    "login_with_api_key",
    "login_with_chatgpt",
    "login_with_device_code",
    "logout",
    "mask_api_key",
    "open_store",
    "parse_id_token",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
