"""Model providers: resolve one, get its credentials, stream typed events from it.

Public API (everything else in this package is private)::

    provider = resolve_provider(config, oss=False, local_provider=None)      # ProviderInfo
    credentials = resolve_credentials(provider, auth_settings(...), exec_mode=True)
    async with ModelClient(provider, credentials, originator="codex_exec") as client:
        async for event in client.stream(ModelRequest(model=..., input=[...], ...)):
            ...   # Created, OutputTextDelta, OutputItemDone, Completed, Retrying, ...

* providers -- :func:`resolve_provider`, :func:`built_in_providers`, :class:`ProviderInfo`,
  :class:`WireApi`, :class:`CommandAuth`;
* credentials -- :func:`resolve_credentials` and the :class:`Credentials` protocol;
* requests and events -- :class:`ModelRequest`, :func:`output_schema_format`, the events of
  :mod:`.events` (:data:`ResponseEvent` is their union) and :class:`TokenUsage`;
* the client -- :class:`ModelClient`, :func:`backoff_delay`, :func:`build_http_client` (also
  used for sign-in: custom CA, proxy policy) and :func:`respects_system_proxy` (its switch),
  :func:`check_oss_server`;
* telemetry seam -- :class:`ModelObserver` (``ModelClient(..., observer=...)``) and the
  :class:`ApiAttempt` / :class:`SseObservation` reports it receives;
* errors -- :class:`ModelProviderError` and its subclasses, :class:`ErrorKind`;
* the sans-IO pieces, for tests and other transports -- :class:`SSEDecoder`,
  :class:`ResponsesParser`, :class:`ChatParser`, :func:`chat_messages`.

Module map: ``info``, ``credentials``, ``request``, ``events``, ``errors``, ``sse``,
``responses_wire``, ``chat_wire``, ``http`` (httpx client, CA, proxy), ``client``, ``observer``,
``oss``.
Depends on ``codex_admin.auth``, ``codex_admin.config`` and ``codex_admin.errors``; nothing
here prints. Names resolve lazily (PEP 562): importing the package costs nothing until used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from codex_admin.providers.chat_wire import ChatParser, chat_messages
    from codex_admin.providers.client import ModelClient, backoff_delay
    from codex_admin.providers.credentials import Credentials, resolve_credentials
    from codex_admin.providers.errors import (
        AuthenticationFailed,
        ContextWindowExceeded,
        ErrorKind,
        InvalidResponse,
        ModelProviderError,
        ProviderConfigError,
        QuotaExceeded,
        RateLimited,
        RequestRejected,
        ServerError,
        StreamError,
        TransportError,
        UsageNotIncluded,
    )
    from codex_admin.providers.events import (
        Completed,
        Created,
        OutputItemAdded,
        OutputItemDone,
        OutputTextDelta,
        RateLimits,
        RateLimitSnapshot,
        ReasoningSummaryDelta,
        ReasoningSummaryPartAdded,
        ReasoningTextDelta,
        ResponseEvent,
        Retrying,
        TokenUsage,
    )
    from codex_admin.providers.http import build_http_client, respects_system_proxy
    from codex_admin.providers.info import (
        CommandAuth,
        ProviderInfo,
        WireApi,
        built_in_providers,
        resolve_provider,
    )
    from codex_admin.providers.observer import ApiAttempt, ModelObserver, SseObservation
    from codex_admin.providers.oss import check_oss_server
    from codex_admin.providers.request import ModelRequest, output_schema_format
    from codex_admin.providers.responses_wire import ResponsesParser
    from codex_admin.providers.sse import SSEDecoder, SSEEvent

_EXPORTS: dict[str, str] = {
    "ChatParser": "codex_admin.providers.chat_wire",
    "chat_messages": "codex_admin.providers.chat_wire",
    "ModelClient": "codex_admin.providers.client",
    "backoff_delay": "codex_admin.providers.client",
    "Credentials": "codex_admin.providers.credentials",
    "resolve_credentials": "codex_admin.providers.credentials",
    "AuthenticationFailed": "codex_admin.providers.errors",
    "ContextWindowExceeded": "codex_admin.providers.errors",
    "ErrorKind": "codex_admin.providers.errors",
    "InvalidResponse": "codex_admin.providers.errors",
    "ModelProviderError": "codex_admin.providers.errors",
    "ProviderConfigError": "codex_admin.providers.errors",
    "QuotaExceeded": "codex_admin.providers.errors",
    "RateLimited": "codex_admin.providers.errors",
    "RequestRejected": "codex_admin.providers.errors",
    "ServerError": "codex_admin.providers.errors",
    "StreamError": "codex_admin.providers.errors",
    "TransportError": "codex_admin.providers.errors",
    "UsageNotIncluded": "codex_admin.providers.errors",
    "Completed": "codex_admin.providers.events",
    "Created": "codex_admin.providers.events",
    "OutputItemAdded": "codex_admin.providers.events",
    "OutputItemDone": "codex_admin.providers.events",
    "OutputTextDelta": "codex_admin.providers.events",
    "RateLimits": "codex_admin.providers.events",
    "RateLimitSnapshot": "codex_admin.providers.events",
    "ReasoningSummaryDelta": "codex_admin.providers.events",
    "ReasoningSummaryPartAdded": "codex_admin.providers.events",
    "ReasoningTextDelta": "codex_admin.providers.events",
    "ResponseEvent": "codex_admin.providers.events",
    "Retrying": "codex_admin.providers.events",
    "TokenUsage": "codex_admin.providers.events",
    "build_http_client": "codex_admin.providers.http",
    "respects_system_proxy": "codex_admin.providers.http",
    "CommandAuth": "codex_admin.providers.info",
    "ProviderInfo": "codex_admin.providers.info",
    "WireApi": "codex_admin.providers.info",
    "built_in_providers": "codex_admin.providers.info",
    "resolve_provider": "codex_admin.providers.info",
    "ApiAttempt": "codex_admin.providers.observer",
    "ModelObserver": "codex_admin.providers.observer",
    "SseObservation": "codex_admin.providers.observer",
    "check_oss_server": "codex_admin.providers.oss",
    "ModelRequest": "codex_admin.providers.request",
    "output_schema_format": "codex_admin.providers.request",
    "ResponsesParser": "codex_admin.providers.responses_wire",
    "SSEDecoder": "codex_admin.providers.sse",
    "SSEEvent": "codex_admin.providers.sse",
}

__all__ = [
    "ApiAttempt",
    "AuthenticationFailed",
    "ChatParser",
    "CommandAuth",
    "Completed",
    "ContextWindowExceeded",
    "Created",
    "Credentials",
    "ErrorKind",
    "InvalidResponse",
    "ModelClient",
    "ModelObserver",
    "ModelProviderError",
    "ModelRequest",
    "OutputItemAdded",
    "OutputItemDone",
    "OutputTextDelta",
    "ProviderConfigError",
    "ProviderInfo",
    "QuotaExceeded",
    "RateLimitSnapshot",
    "RateLimited",
    "RateLimits",
    "ReasoningSummaryDelta",
    "ReasoningSummaryPartAdded",
    "ReasoningTextDelta",
    "RequestRejected",
    "ResponseEvent",
    "ResponsesParser",
    "Retrying",
    "SSEDecoder",
    "SSEEvent",
    "ServerError",
    "SseObservation",
    "StreamError",
    "TokenUsage",
    "TransportError",
    "UsageNotIncluded",
    "WireApi",
    "backoff_delay",
    "build_http_client",
    "built_in_providers",
    "chat_messages",
    "check_oss_server",
    "output_schema_format",
    "resolve_credentials",
    "resolve_provider",
    "respects_system_proxy",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
