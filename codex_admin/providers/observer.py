"""What :class:`~codex_admin.providers.ModelClient` reports while it works, for telemetry.

The client never imports telemetry; a caller that wants ``codex.api_request`` and
``codex.sse_event`` passes ``ModelClient(..., observer=...)``, an object with two methods:

* ``on_attempt(ApiAttempt)`` -- after **every** HTTP attempt (request retries, the retry after a
  credential refresh and stream retries included): how long until the response head (or the
  failure), the status, the error text (already redacted of the client's secrets), whether an
  authorization header was sent and its name (never its value), the server's request id;
* ``on_sse(SseObservation)`` -- after every server-sent event of an accepted stream: its kind
  (the Responses ``type``, e.g. ``response.output_text.delta``; ``chat.completion.chunk`` on the
  Chat wire; ``unknown`` when a failure is tied to no event, as in Codex), the time since the
  previous event (or since the response head), the error when the event or the stream failed
  (parse error, ``response.failed``, idle timeout, stream closed early) and, on
  ``response.completed``, the token usage.

Without an observer the client does none of this work. Observers run on the client's event loop
and must be cheap and must not raise (telemetry only queues).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # an annotation only: the event types load with the stream (start-up)
    from codex_admin.providers.events import TokenUsage

__all__ = ["ApiAttempt", "ModelObserver", "SseObservation"]


@dataclass(frozen=True)
class ApiAttempt:
    """One HTTP attempt to the provider (``attempt`` counts from 1 within one ``stream()``)."""

    attempt: int
    duration_ms: float
    endpoint: str
    status_code: int | None = None  # None: no response (connection refused, reset, timeout)
    error: str | None = None  # None on a 2xx; redacted of the credentials in use
    auth_header_attached: bool = False
    auth_header_name: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class SseObservation:
    """One streamed event (or the failure of the stream)."""

    kind: str
    duration_ms: float
    error: str | None = None
    usage: TokenUsage | None = None  # set on response.completed


class ModelObserver(Protocol):
    def on_attempt(self, attempt: ApiAttempt) -> None: ...

    def on_sse(self, event: SseObservation) -> None: ...
