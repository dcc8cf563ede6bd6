"""Model providers: Codex's built-ins plus `[model_providers.<id>]`, resolved and checked once.

Built-ins (their ids are reserved: a config entry with the same id is an error, as in Codex):

* ``openai`` -- Responses wire; base URL ``OPENAI_BASE_URL`` / ``openai_base_url``, else
  `https://api.openai.com/v1` with an API key or `https://chatgpt.com/backend-api/codex` with a
  ChatGPT login; ``version`` header; ``OpenAI-Organization`` <- ``OPENAI_ORGANIZATION`` and
  ``OpenAI-Project`` <- ``OPENAI_PROJECT``; uses the Codex login (``requires_openai_auth``).
* ``ollama`` -- `http://localhost:11434/v1`; ``lmstudio`` -- `http://localhost:1234/v1`; both
  Responses, no credentials. ``CODEX_OSS_BASE_URL`` replaces their base URL, ``CODEX_OSS_PORT``
  only the port.

Selection: ``--oss`` picks ``--local-provider``, else ``oss_provider``, else it is an error;
otherwise ``model_provider`` (default ``openai``). Defaults and caps follow Codex:
``request_max_retries`` 4 (cap 100), ``stream_max_retries`` 5 (cap 100),
``stream_idle_timeout_ms`` 300 000. A base URL must be ``http(s)://host[:port][/path]`` without
credentials, query or fragment (``query_params`` carries the query). Project config cannot set any
of this (`model_providers` is on the project denylist), so a cloned repository cannot redirect
requests or run an ``auth`` command.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from codex_admin import __version__
from codex_admin.config import schema_problems
from codex_admin.providers.errors import ProviderConfigError

__all__ = [
    "BUILT_IN_PROVIDERS",
    "CHATGPT_BASE_URL",
    "OPENAI_BASE_URL",
    "CommandAuth",
    "ProviderInfo",
    "WireApi",
    "built_in_providers",
    "resolve_provider",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"
CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/codex"
BUILT_IN_PROVIDERS = ("openai", "ollama", "lmstudio")
OSS_PROVIDERS = ("lmstudio", "ollama")
_OSS_PORTS = {"ollama": 11434, "lmstudio": 1234}
DEFAULT_REQUEST_MAX_RETRIES = 4
DEFAULT_STREAM_MAX_RETRIES = 5
MAX_RETRIES = 100
DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000
DEFAULT_AUTH_TIMEOUT_MS = 5_000
DEFAULT_AUTH_REFRESH_MS = 300_000


class WireApi(StrEnum):
    RESPONSES = "responses"
    CHAT = "chat"


@dataclass(frozen=True)
class CommandAuth:
    """``[model_providers.<id>.auth]``: run ``command args`` in ``cwd``; stdout is the token."""

    command: str
    args: tuple[str, ...] = ()
    timeout: float = DEFAULT_AUTH_TIMEOUT_MS / 1000
    refresh_interval: float | None = DEFAULT_AUTH_REFRESH_MS / 1000  # None: only after a 401
    cwd: Path | None = None


@dataclass(frozen=True)
class ProviderInfo:
    """A resolved provider. ``base_url`` None means "the OpenAI default for the login mode"."""

    id: str
    name: str
    base_url: str | None = None
    wire_api: WireApi = WireApi.RESPONSES
    env_key: str | None = None
    env_key_instructions: str | None = None
    experimental_bearer_token: str | None = field(default=None, repr=False)
    command_auth: CommandAuth | None = None
    query_params: Mapping[str, str] = field(default_factory=dict)
    http_headers: Mapping[str, str] = field(default_factory=dict)
    env_http_headers: Mapping[str, str] = field(default_factory=dict)
    request_max_retries: int = DEFAULT_REQUEST_MAX_RETRIES
    stream_max_retries: int = DEFAULT_STREAM_MAX_RETRIES
    stream_idle_timeout: float = DEFAULT_STREAM_IDLE_TIMEOUT_MS / 1000
    requires_openai_auth: bool = False

    @property
    def is_openai(self) -> bool:
        return self.id == "openai"

    @property
    def is_azure(self) -> bool:
        """Azure-style Responses endpoints store responses (Codex sends ``store: true``)."""
        base = (self.base_url or "").lower()
        markers = ("openai.azure.", "cognitiveservices.azure.", "azure-api.", "azurefd.")
        return self.name.lower() == "azure" or any(m in base for m in markers)

    def endpoint(self, *, chatgpt: bool = False) -> str:
        """The full request URL: base + ``/responses`` or ``/chat/completions`` + query."""
        base = self.base_url or (CHATGPT_BASE_URL if chatgpt else OPENAI_BASE_URL)
        path = "/chat/completions" if self.wire_api is WireApi.CHAT else "/responses"
        url = base.rstrip("/") + path
        if self.query_params:
            url += "?" + urlencode(sorted(self.query_params.items()))
        return url

    def headers(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Static ``http_headers`` plus ``env_http_headers`` whose variable is set and not blank."""
        env = os.environ if environ is None else environ
        out = dict(self.http_headers)
        for header, var in self.env_http_headers.items():
            value = env.get(var, "")
            if value.strip():
                out[header] = value
        return out

    def to_json(self) -> dict[str, Any]:
        """A description without secrets (the bearer token shows only whether it is set)."""
        return {
            "id": self.id,
            "name": self.name,
            "base_url": self.base_url,
            "wire_api": self.wire_api.value,
            "env_key": self.env_key,
            "experimental_bearer_token": bool(self.experimental_bearer_token),
            "auth_command": self.command_auth.command if self.command_auth else None,
            "query_params": dict(self.query_params),
            "http_headers": sorted(self.http_headers),
            "env_http_headers": dict(self.env_http_headers),
            "request_max_retries": self.request_max_retries,
            "stream_max_retries": self.stream_max_retries,
            "stream_idle_timeout_ms": int(self.stream_idle_timeout * 1000),
            "requires_openai_auth": self.requires_openai_auth,
        }


def _oss_base_url(provider_id: str, env: Mapping[str, str]) -> str:
    base = env.get("CODEX_OSS_BASE_URL", "").strip()
    if base:
        return base
    port = _OSS_PORTS[provider_id]
    raw = env.get("CODEX_OSS_PORT", "").strip()
    if raw.isdigit() and 0 < int(raw) < 65536:
        port = int(raw)
    return f"http://localhost:{port}/v1"


def built_in_providers(
    environ: Mapping[str, str] | None = None, *, openai_base_url: str | None = None
) -> dict[str, ProviderInfo]:
    """Codex's built-in providers for this environment."""
    env = os.environ if environ is None else environ
    openai_base = env.get("OPENAI_BASE_URL", "").strip() or openai_base_url or None
    return {
        "openai": ProviderInfo(
            id="openai",
            name="OpenAI",
            base_url=openai_base,
            http_headers={"version": __version__},
            env_http_headers={
                "OpenAI-Organization": "OPENAI_ORGANIZATION",
                "OpenAI-Project": "OPENAI_PROJECT",
            },
            requires_openai_auth=True,
        ),
        "ollama": ProviderInfo(id="ollama", name="gpt-oss", base_url=_oss_base_url("ollama", env)),
        "lmstudio": ProviderInfo(
            id="lmstudio", name="gpt-oss", base_url=_oss_base_url("lmstudio", env)
        ),
    }


def check_base_url(url: str, provider_id: str) -> str:
    """Validate a base URL (raises ProviderConfigError); returns it without a trailing slash."""
    hint = (
        'use e.g. base_url = "https://gateway.example.com/v1" (query parameters go in query_params)'
    )
    shown = "<redacted: it contains credentials>" if "@" in url else url
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise ProviderConfigError(
            f"invalid base_url for model provider `{provider_id}`: {shown!r}: {err}",
            hint=hint,
            provider=provider_id,
        ) from None
    problem = None
    if parts.scheme not in ("http", "https"):
        problem = "it must start with http:// or https://"
    elif not parts.hostname:
        problem = "it has no host"
    elif parts.username is not None or parts.password is not None:
        problem = "it must not contain credentials (use env_key or auth)"
    elif parts.query or parts.fragment:
        problem = "it must not contain a query or fragment"
    elif port == 0:
        problem = "port 0 is not a valid port"
    if problem:
        raise ProviderConfigError(
            f"invalid base_url for model provider `{provider_id}`: {shown!r}: {problem}",
            hint=hint,
            provider=provider_id,
        )
    return url.strip().rstrip("/")


def _from_config(provider_id: str, raw: Any, where: str) -> ProviderInfo:
    entry = _Entry(_checked_entry(provider_id, raw, where))
    if entry.aws is not None:
        raise ProviderConfigError(
            f"model provider `{provider_id}` uses `aws` (Bedrock SigV4), which is not supported",
            hint="use a gateway that speaks the OpenAI Responses or Chat API with a bearer token",
            provider=provider_id,
        )
    if entry.env_key is not None and not entry.env_key.strip():
        raise ProviderConfigError(
            f"model provider `{provider_id}` has an empty env_key",
            hint="set env_key to the name of the environment variable holding the API key",
            provider=provider_id,
        )
    command = None
    if entry.auth is not None:
        auth = entry.auth
        refresh = auth.refresh_interval_ms
        command = CommandAuth(
            command=auth.command,
            args=tuple(auth.args or ()),
            timeout=(auth.timeout_ms or DEFAULT_AUTH_TIMEOUT_MS) / 1000,
            refresh_interval=(
                DEFAULT_AUTH_REFRESH_MS / 1000
                if refresh is None
                else (refresh / 1000 if refresh > 0 else None)
            ),
            cwd=Path(auth.cwd) if auth.cwd else None,
        )
    base = check_base_url(entry.base_url, provider_id) if entry.base_url is not None else None
    return ProviderInfo(
        id=provider_id,
        name=entry.name or provider_id,
        base_url=base,
        wire_api=WireApi(entry.wire_api or "responses"),
        env_key=entry.env_key,
        env_key_instructions=entry.env_key_instructions,
        experimental_bearer_token=entry.experimental_bearer_token,
        command_auth=command,
        query_params=dict(entry.query_params or {}),
        http_headers=dict(entry.http_headers or {}),
        env_http_headers=dict(entry.env_http_headers or {}),
        request_max_retries=min(
            entry.request_max_retries
            if entry.request_max_retries is not None
            else DEFAULT_REQUEST_MAX_RETRIES,
            MAX_RETRIES,
        ),
        stream_max_retries=min(
            entry.stream_max_retries
            if entry.stream_max_retries is not None
            else DEFAULT_STREAM_MAX_RETRIES,
            MAX_RETRIES,
        ),
        stream_idle_timeout=(entry.stream_idle_timeout_ms or DEFAULT_STREAM_IDLE_TIMEOUT_MS) / 1000,
        requires_openai_auth=bool(entry.requires_openai_auth),
    )


class _Entry:
    """Attribute access to an already validated ``[model_providers.<id>]`` table."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        self._table = table

    def __getattr__(self, name: str) -> Any:
        value = self._table.get(name)
        return _Entry(value) if isinstance(value, Mapping) and name == "auth" else value


def _checked_entry(provider_id: str, raw: Any, where: str) -> Mapping[str, Any]:
    """``raw`` when it is a valid provider entry (the config engine's fast schema check, no
    pydantic on the common path); else the model's error, located at the entry."""
    if isinstance(raw, Mapping) and not schema_problems(
        "config", {"model_providers": {provider_id: raw}}
    ):
        return raw
    # Invalid: pydantic words the problem (imported only on this path).
    from pydantic import ValidationError

    from codex_admin.config import ModelProviderConfig

    try:
        ModelProviderConfig.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        raise ProviderConfigError(
            f"invalid model provider `{provider_id}` in {where}"
            f"{f' at `{loc}`' if loc else ''}: {first.get('msg')}",
            provider=provider_id,
        ) from None
    return raw if isinstance(raw, Mapping) else {}


def resolve_provider(
    config: Mapping[str, Any],
    *,
    provider_id: str | None = None,
    oss: bool = False,
    local_provider: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProviderInfo:
    """The provider this run uses: built-ins merged with ``config["model_providers"]``.

    ``provider_id`` overrides the selection (e.g. the guardian's own reviewer provider).
    Raises :class:`ProviderConfigError` for an unknown id, a reserved id redefined, an invalid
    entry or base URL.
    """
    env = os.environ if environ is None else environ
    openai_base = config.get("openai_base_url")
    providers = built_in_providers(
        env, openai_base_url=openai_base if isinstance(openai_base, str) else None
    )
    configured = config.get("model_providers") or {}
    if not isinstance(configured, Mapping):
        raise ProviderConfigError("`model_providers` must be a table of provider entries")
    reserved = sorted(k for k in configured if k in providers)
    if reserved:
        names = ", ".join(f"`{k}`" for k in reserved)
        raise ProviderConfigError(
            f"model_providers contains reserved built-in provider IDs: {names}. Built-in"
            " providers cannot be overridden. Rename your custom provider (for example,"
            " `openai-custom`).",
        )
    chosen = provider_id
    if chosen is None and oss:
        chosen = local_provider or config.get("oss_provider")
        if not chosen:
            raise ProviderConfigError(
                "No default OSS provider configured. Use --local-provider=provider or set"
                " oss_provider to one of: lmstudio, ollama in config.toml"
            )
        if chosen == "ollama-chat":
            raise ProviderConfigError(
                "`ollama-chat` is no longer supported.",
                hint="replace `ollama-chat` with `ollama` (Ollama serves the Responses API), or"
                ' define your own provider with wire_api = "chat"',
            )
        if chosen not in OSS_PROVIDERS:
            raise ProviderConfigError(
                f"unknown local provider {chosen!r}", hint="use one of: lmstudio, ollama"
            )
    if chosen is None:
        chosen = config.get("model_provider") or "openai"
    if not isinstance(chosen, str):
        raise ProviderConfigError("`model_provider` must be a string")
    if chosen in providers:
        info = providers[chosen]
        if info.base_url is not None:
            info = _replace_base(info, check_base_url(info.base_url, chosen))
        return info
    if chosen in configured:
        return _from_config(chosen, configured[chosen], f"model_providers.{chosen}")
    known = ", ".join(sorted([*providers, *configured]))
    raise ProviderConfigError(
        f"Model provider `{chosen}` not found",
        hint=f"known providers: {known}; define [model_providers.{chosen}] in config.toml",
        provider=chosen,
    )


def _replace_base(info: ProviderInfo, base: str) -> ProviderInfo:
    return replace(info, base_url=base)
