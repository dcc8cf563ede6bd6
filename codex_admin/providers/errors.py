"""Typed model-provider errors: one :class:`CodexError` subclass per way a request can fail.

Every error carries a :class:`ErrorKind` (stable spelling, used in JSON and telemetry), whether the
stream-level retry loop may try again (``retryable``), the HTTP ``status`` when there was one, and
``retry_after`` (seconds) when the server said how long to wait.

=====================  ==================  =====  =============================================
class                  kind                retry  raised for
=====================  ==================  =====  =============================================
ProviderConfigError    config              no     unknown provider id, invalid base_url,
                                                  missing/blank env_key, failing auth command
AuthenticationFailed   auth                no     HTTP 401 / 403 (after one token refresh)
ContextWindowExceeded  context_window      no     ``context_length_exceeded``; chat ``length``
QuotaExceeded          quota               no     ``insufficient_quota``, usage limit reached
UsageNotIncluded       usage_not_included  no     ``usage_not_included`` (the plan lacks it)
RateLimited            rate_limit          yes    429 / ``rate_limit_exceeded``, with the
                                                  server's delay ("try again in 1.5s")
ServerError            server              no     5xx after ``request_max_retries``
RequestRejected        request             no     other 4xx; ``invalid_prompt``
TransportError         transport           no     connect/TLS failure after the retries
StreamError            stream              yes    closed before ``response.completed``, idle
                                                  timeout, other ``response.failed``
InvalidResponse        invalid_response    no     non-SSE body, malformed event or JSON
=====================  ==================  =====  =============================================

Secrets never reach an error: server text is passed through :func:`redact` with the request's
credentials before it is put in a message, and is truncated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from codex_admin.errors import CodexError

__all__ = [
    "AuthenticationFailed",
    "ContextWindowExceeded",
    "ErrorKind",
    "InvalidResponse",
    "ModelProviderError",
    "ProviderConfigError",
    "QuotaExceeded",
    "RateLimited",
    "RequestRejected",
    "ServerError",
    "StreamError",
    "TransportError",
    "UsageNotIncluded",
    "parse_retry_after",
    "redact",
]

_MAX_SERVER_TEXT = 500


class ErrorKind(StrEnum):
    CONFIG = "config"
    AUTH = "auth"
    CONTEXT_WINDOW = "context_window"
    QUOTA = "quota"
    USAGE_NOT_INCLUDED = "usage_not_included"
    RATE_LIMIT = "rate_limit"
    SERVER = "server"
    REQUEST = "request"
    TRANSPORT = "transport"
    STREAM = "stream"
    INVALID_RESPONSE = "invalid_response"


class ModelProviderError(CodexError):
    """Base class: ``kind``, ``retryable``, ``status``, ``retry_after``, ``provider``."""

    kind: ErrorKind = ErrorKind.STREAM
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        provider: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.retry_after = retry_after
        self.provider = provider
        self.code = code

    def to_json(self) -> dict[str, object]:
        out = super().to_json()
        out.update(
            kind=self.kind.value,
            retryable=self.retryable,
            status=self.status,
            retry_after=self.retry_after,
            provider=self.provider,
            code=self.code,
        )
        return out


class ProviderConfigError(ModelProviderError):
    kind = ErrorKind.CONFIG


class AuthenticationFailed(ModelProviderError):
    kind = ErrorKind.AUTH


class ContextWindowExceeded(ModelProviderError):
    kind = ErrorKind.CONTEXT_WINDOW


class QuotaExceeded(ModelProviderError):
    kind = ErrorKind.QUOTA


class UsageNotIncluded(ModelProviderError):
    kind = ErrorKind.USAGE_NOT_INCLUDED


class RateLimited(ModelProviderError):
    kind = ErrorKind.RATE_LIMIT
    retryable = True


class ServerError(ModelProviderError):
    kind = ErrorKind.SERVER


class RequestRejected(ModelProviderError):
    kind = ErrorKind.REQUEST


class TransportError(ModelProviderError):
    kind = ErrorKind.TRANSPORT


class StreamError(ModelProviderError):
    kind = ErrorKind.STREAM
    retryable = True


class InvalidResponse(ModelProviderError):
    kind = ErrorKind.INVALID_RESPONSE


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret replaced by a mask, truncated to a readable length."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            masked = "***" if len(secret) <= 13 else f"{secret[:8]}***{secret[-5:]}"
            text = text.replace(secret, masked)
    text = " ".join(text.split())
    if len(text) > _MAX_SERVER_TEXT:
        text = text[:_MAX_SERVER_TEXT] + "…"
    return text


_TRY_AGAIN = re.compile(
    r"(?:try again|retry) in\s*(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|sec|secs|seconds?)\b", re.I
)


def parse_retry_after(message: str | None, header: str | None = None) -> float | None:
    """The delay a server asked for: "try again in 1.5s" / "in 20ms", or a ``Retry-After``."""
    if message:
        match = _TRY_AGAIN.search(message)
        if match:
            value = float(match.group(1))
            return value / 1000.0 if match.group(2).lower().startswith("m") else value
    if header:
        try:
            value = float(header.strip())
        except ValueError:
            return None
        if value >= 0:
            return value
    return None
