"""Which credential a request to a provider carries, in Codex's order.

1. the provider's own: the ``auth`` command's token, else the ``env_key`` variable (missing or
   blank is an error naming the variable, with ``env_key_instructions``), else
   ``experimental_bearer_token``;
2. for providers that use the Codex login (``requires_openai_auth``, e.g. ``openai``):
   ``CODEX_API_KEY`` (``codex exec`` only), then ``OPENAI_API_KEY``, then the stored login
   (API key, or ChatGPT tokens that refresh themselves);
3. otherwise none (local servers).

The admin restrictions (``forced_login_method``, ``forced_chatgpt_workspace_id``) are applied
before the Codex login is used. The ``auth`` command runs with the user's environment, without a
shell, under its timeout; its token is cached for ``refresh_interval_ms`` and re-read once after
a 401. No credential appears in ``repr``, errors or logs (``secrets()`` feeds the redaction).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from codex_admin.providers.errors import AuthenticationFailed, ProviderConfigError, redact
from codex_admin.providers.httpx_lib import httpx
from codex_admin.providers.info import CommandAuth, ProviderInfo

if TYPE_CHECKING:
    from codex_admin.auth import AuthSettings, ChatGptSession

__all__ = [
    "ChatGptCredentials",
    "CommandCredentials",
    "Credentials",
    "NoCredentials",
    "StaticCredentials",
    "resolve_credentials",
]

_MAX_TOKEN_OUTPUT = 64 * 1024


class Credentials(Protocol):
    """What the client asks of a credential source."""

    source: str  # where it came from: "env:NAME", "auth command", "stored API key", ...
    chatgpt: bool  # True: ChatGPT tokens (default base URL is the ChatGPT backend)

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]: ...

    async def on_unauthorized(self, client: httpx.AsyncClient) -> bool:
        """After a 401: refresh if possible; True means "retry the request once"."""
        ...

    def secrets(self) -> list[str]: ...


@dataclass
class NoCredentials:
    """No authentication: nothing is sent."""

    source: str = "none"
    chatgpt: bool = False

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        return {}

    async def on_unauthorized(self, client: httpx.AsyncClient) -> bool:
        return False

    def secrets(self) -> list[str]:
        return []


@dataclass
class StaticCredentials:
    """A fixed bearer token (an API key from the environment or config)."""

    token: str = field(repr=False)
    source: str = "static"
    chatgpt: bool = False

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def on_unauthorized(self, client: httpx.AsyncClient) -> bool:
        return False

    def secrets(self) -> list[str]:
        return [self.token]


class CommandCredentials:
    """The bearer token printed by ``[model_providers.<id>.auth] command``."""

    chatgpt = False

    def __init__(self, provider_id: str, auth: CommandAuth, environ: Mapping[str, str]) -> None:
        self.source = "auth command"
        self._provider = provider_id
        self._auth = auth
        self._environ = dict(environ)
        self._token: str | None = None
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"CommandCredentials(provider={self._provider!r}, command={self._auth.command!r})"

    def _fail(self, message: str) -> ProviderConfigError:
        return ProviderConfigError(
            f"model provider `{self._provider}` auth command {self._auth.command!r} {message}",
            hint="fix [model_providers."
            f"{self._provider}.auth]; the command must print the bearer token on stdout",
            provider=self._provider,
        )

    def _argv(self) -> list[str]:
        command = self._auth.command
        if os.sep in command or (os.altsep and os.altsep in command):
            base = self._auth.cwd or os.getcwd()
            path = command if os.path.isabs(command) else os.path.join(base, command)
            return [path, *self._auth.args]
        found = shutil.which(command, path=self._environ.get("PATH"))
        if found is None:
            raise self._fail("was not found on PATH")
        return [found, *self._auth.args]

    async def _run(self) -> str:
        argv = self._argv()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self._auth.cwd,
                env=self._environ,
            )
        except OSError as err:
            raise self._fail(f"cannot be started: {err.strerror or err}") from None
        try:
            out, err_out = await asyncio.wait_for(proc.communicate(), self._auth.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise self._fail(f"did not finish within {self._auth.timeout:g} s") from None
        token = out[:_MAX_TOKEN_OUTPUT].decode("utf-8", errors="replace").strip()
        if proc.returncode != 0:
            first = err_out.decode("utf-8", errors="replace").strip().splitlines()[:1]
            detail = redact(first[0], [token]) if first else "no output on stderr"
            raise self._fail(f"exited with status {proc.returncode}: {detail}")
        if not token or any(ch.isspace() for ch in token):
            raise self._fail("printed no token (or more than one word) on stdout")
        return token

    async def _current(self, *, force: bool = False) -> str:
        async with self._lock:
            interval = self._auth.refresh_interval
            stale = interval is not None and time.monotonic() - self._fetched >= interval
            if force or self._token is None or stale:
                self._token = await self._run()
                self._fetched = time.monotonic()
            return self._token

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self._current()}"}

    async def on_unauthorized(self, client: httpx.AsyncClient) -> bool:
        previous = self._token
        return await self._current(force=True) != previous

    def secrets(self) -> list[str]:
        return [self._token] if self._token else []


class ChatGptCredentials:
    """The stored ChatGPT login: bearer access token + ``chatgpt-account-id``; refreshes."""

    source = "stored ChatGPT login"
    chatgpt = True

    def __init__(self, session: ChatGptSession, provider_id: str) -> None:
        self._session = session
        self._provider = provider_id
        self._refreshed_after_401 = False

    def __repr__(self) -> str:
        return f"ChatGptCredentials({self._session!r})"

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        # The OAuth module only for a ChatGPT login: an API key never needs it (start-up).
        from codex_admin.auth import RefreshFailed

        try:
            token = await self._session.access_token(client)
        except RefreshFailed as err:
            raise AuthenticationFailed(
                err.message, hint=err.hint, provider=self._provider
            ) from None
        out = {"Authorization": f"Bearer {token}"}
        if self._session.account_id:
            out["chatgpt-account-id"] = self._session.account_id
        return out

    async def on_unauthorized(self, client: httpx.AsyncClient) -> bool:
        if self._refreshed_after_401:
            return False
        self._refreshed_after_401 = True
        from codex_admin.auth import RefreshFailed  # start-up: see headers

        try:
            await self._session.refresh(client)
        except RefreshFailed as err:
            raise AuthenticationFailed(
                err.message, hint=err.hint, provider=self._provider, status=401
            ) from None
        return True

    def secrets(self) -> list[str]:
        tokens = self._session.tokens
        return [tokens.access_token, tokens.refresh_token, tokens.id_token]


def _env_value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value is not None and value.strip() else None


def resolve_credentials(
    provider: ProviderInfo,
    auth: AuthSettings,
    *,
    exec_mode: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """The credential source for ``provider`` (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    if provider.command_auth is not None:
        return CommandCredentials(provider.id, provider.command_auth, env)
    if provider.env_key is not None:
        value = _env_value(env, provider.env_key)
        if value is None:
            text = f"Missing environment variable: `{provider.env_key}`."
            if provider.env_key_instructions:
                text += f" {provider.env_key_instructions}"
            raise ProviderConfigError(
                text,
                hint=f"export {provider.env_key}=... (the API key for provider `{provider.id}`)",
                provider=provider.id,
            )
        return StaticCredentials(value, f"env:{provider.env_key}")
    if provider.experimental_bearer_token:
        return StaticCredentials(provider.experimental_bearer_token, "experimental_bearer_token")
    if not provider.requires_openai_auth:
        return NoCredentials()
    # Imported here: only OpenAI auth reads the stored login (its store, keyring and token
    # model); a provider with its own key or none starts without them (start-up is measured).
    from codex_admin.auth import AuthMode, ChatGptSession, enforce_login_restrictions

    for name in ("CODEX_API_KEY", "OPENAI_API_KEY"):
        if name == "CODEX_API_KEY" and not exec_mode:
            continue
        value = _env_value(env, name)
        if value is not None:
            enforce_login_restrictions(auth, env_api_key_var=name)
            return StaticCredentials(value, f"env:{name}")
    stored = enforce_login_restrictions(auth)
    if stored is None:
        raise AuthenticationFailed(
            f"not logged in: model provider `{provider.id}` needs an OpenAI API key or a ChatGPT"
            " login",
            hint="run `codex login` (or `printenv OPENAI_API_KEY | codex login --with-api-key`),"
            " or set OPENAI_API_KEY",
            provider=provider.id,
        )
    if stored.mode is AuthMode.API_KEY and stored.openai_api_key:
        return StaticCredentials(stored.openai_api_key, "stored API key")
    return ChatGptCredentials(ChatGptSession(auth, stored), provider.id)
